"""Template tags of the staff dashboard: a version's report table and its two pictures."""

from django import template

from gallery import figures

register = template.Library()

# The report's figures in the order: (key in the summary, label, format).
REPORT_COLUMNS = (
    ("rmse_ab", "RMSE_ab", "{:.2f}"),
    ("psnr", "PSNR (dB)", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("colourfulness", "Colourfulness, prediction", "{:.2f}"),
    ("colourfulness_true", "Colourfulness, truth", "{:.2f}"),
    ("delta_colourfulness", "ΔCF", "{:.2f}"),
    ("auc", "AuC", "{:.3f}"),
)


@register.simple_tag
def report_rows(version) -> list[tuple[str, str, str, str]]:
    """(key, label, model, grey baseline) for each figure of the version's test-split report."""
    model, grey = version.summary.get("model", {}), version.summary.get("grey", {})

    def show(values, key, fmt):
        value = values.get(key)
        return fmt.format(value) if isinstance(value, (int, float)) else "–"

    return [(key, label, show(model, key, fmt), show(grey, key, fmt)) for key, label, fmt in REPORT_COLUMNS]


@register.simple_tag
def training_curves(version):
    return figures.training_curves(version.train_log, title=f"{version.label}: loss per epoch")


@register.simple_tag
def rmse_histogram(version):
    return figures.histogram(
        version.summary.get("histogram", {}), title=f"{version.label}: per-image RMSE_ab on the test split"
    )


@register.filter
def duration(seconds) -> str:
    """Seconds as '1 h 05 min', '4 min 10 s' or '12 s'."""
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


@register.filter
def thousands(number) -> str:
    """12345 -> '12,345'."""
    return f"{number:,}" if isinstance(number, int) else ""


@register.filter
def stem(file_name: str) -> str:
    """'0042.jpg' -> '0042': how a test photo's picture is named in its URL."""
    return str(file_name).rsplit(".", 1)[0]


@register.simple_tag
def row_score(row: dict, metric: str) -> str:
    """A report row's score by a leaderboard metric (ml.leaderboard.RANKINGS), for the page and its tests."""
    from ml.leaderboard import RANKINGS

    return f"{RANKINGS[metric][0](row['model']):.6g}"
