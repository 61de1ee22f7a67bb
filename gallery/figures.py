"""The dashboard's pictures as inline SVG, drawn on the server from numbers already stored.

No plotting library and no image files: a training curve is a polyline per series and a
histogram a rect per bin, from a version's ``train_log`` and the histogram counted once when
its report was stored (ModelVersion._set_report).  Every number that reaches the markup is
formatted by us and every label is escaped, so the SVG is safe to put in the page as is.
"""

from __future__ import annotations

import math

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 440, 250
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 40  # margins for the axes' labels
COLOURS = {"loss": "#c2410c", "val_loss": "#1d4ed8", "model": "#c2410c", "grey": "#9ca3af"}


def nice_ticks(low: float, high: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Round ticks covering [low, high]: the finest step of 1, 2 or 5 × 10^k with at most ``count`` intervals."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        high = low + 1.0
    magnitude = 10 ** math.floor(math.log10((high - low) / count))
    if integer:  # epochs: no tick between two whole numbers
        magnitude = max(magnitude, 1)
    for step in (m * magnitude for m in (1, 2, 5, 10, 20)):
        first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
        if last - first <= count:
            break
    return [round(i * step, 10) for i in range(first, last + 1)]


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


class _Frame:
    """Maps data coordinates to the drawing area and draws the axes with their ticks."""

    def __init__(self, x_ticks: list[float], y_ticks: list[float]):
        self.x0, self.x1 = x_ticks[0], x_ticks[-1]
        self.y0, self.y1 = y_ticks[0], y_ticks[-1]
        self.x_ticks, self.y_ticks = x_ticks, y_ticks

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return LEFT + (value - self.x0) / span * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return HEIGHT - BOTTOM - (value - self.y0) / span * (HEIGHT - TOP - BOTTOM)

    def axes(self, x_label: str, y_label: str, x_tick_labels: bool = True) -> list[str]:
        parts = [
            f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}"/>',
            f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}"/>',
        ]
        for tick in self.y_ticks:
            y = self.y(tick)
            parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
            parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
        if x_tick_labels:
            for tick in self.x_ticks:
                parts.append(
                    f'<text x="{self.x(tick):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{_fmt(tick)}</text>'
                )
        parts.append(
            f'<text class="label" x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" '
            f'text-anchor="middle">{escape(x_label)}</text>'
        )
        parts.append(
            f'<text class="label" transform="translate(12 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" '
            f'text-anchor="middle">{escape(y_label)}</text>'
        )
        return parts


def _svg(kind: str, title: str, parts: list[str], legend: list[tuple[str, str]]) -> SafeString:
    keys = "".join(
        f'<span class="key"><i style="background:{colour}"></i>{escape(name)}</span>' for name, colour in legend
    )
    return mark_safe(
        f'<figure class="chart chart-{kind}"><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(parts)
        + f"</svg><figcaption>{escape(title)} {keys}</figcaption></figure>"
    )


def training_curves(train_log: list[dict], title: str = "Training curves") -> SafeString:
    """Loss and validation loss per epoch: one polyline (and a dot per epoch) for each."""
    series = [
        (
            key,
            [
                (row["epoch"], row[key])
                for row in train_log
                if isinstance(row.get(key), (int, float)) and math.isfinite(row[key])
            ],
        )
        for key in ("loss", "val_loss")
    ]
    series = [(key, points) for key, points in series if points]
    if not series:
        return mark_safe('<p class="hint chart-empty">No training log for this version.</p>')
    xs = [x for _, points in series for x, _ in points]
    ys = [y for _, points in series for _, y in points]
    frame = _Frame(nice_ticks(1, max(max(xs), 2), 6, integer=True), nice_ticks(min(ys), max(ys)))
    parts = frame.axes("epoch", "loss")
    for key, points in series:
        coords = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in points)
        parts.append(
            f'<polyline class="series" data-series="{key}" fill="none" stroke="{COLOURS[key]}" '
            f'stroke-width="2" points="{coords}"/>'
        )
        parts += [
            f'<circle data-series="{key}" data-epoch="{x}" data-value="{y:.6g}" cx="{frame.x(x):.1f}" '
            f'cy="{frame.y(y):.1f}" r="2.5" fill="{COLOURS[key]}"/>'
            for x, y in points
        ]
    labels = {"loss": "training loss", "val_loss": "validation loss"}
    return _svg("curves", title, parts, [(labels[key], COLOURS[key]) for key, _ in series])


def histogram(hist: dict, title: str = "Per-image RMSE_ab on the test split") -> SafeString:
    """Counts per RMSE_ab bin for the model, with the grey baseline's counts behind them."""
    edges, model, grey = hist.get("edges") or [], hist.get("model") or [], hist.get("grey") or []
    if len(edges) < 2 or not sum(model):
        return mark_safe('<p class="hint chart-empty">No evaluation report for this version.</p>')
    top = max(max(model), max(grey, default=0), 1)
    frame = _Frame(nice_ticks(edges[0], edges[-1], 6), nice_ticks(0, top))
    # bars sit on the true bin edges; the x ticks are round numbers over the same range
    frame.x0, frame.x1 = min(frame.x0, edges[0]), max(frame.x1, edges[-1])
    parts = frame.axes("RMSE_ab (Lab units)", "test photos")
    for name, counts, inset in (("grey", grey, 0.0), ("model", model, 0.18)):
        for left, right, count in zip(edges, edges[1:], counts):
            x, x_end = frame.x(left), frame.x(right)
            pad = (x_end - x) * inset
            y = frame.y(count)
            parts.append(
                f'<rect class="bar" data-series="{name}" data-count="{count}" data-from="{left:.4g}" '
                f'x="{x + pad:.1f}" y="{y:.1f}" width="{max(x_end - x - 2 * pad - 1, 0.5):.1f}" '
                f'height="{frame.y(0) - y:.1f}" fill="{COLOURS[name]}"/>'
            )
    return _svg("histogram", title, parts, [("model", COLOURS["model"]), ("grey baseline", COLOURS["grey"])])
