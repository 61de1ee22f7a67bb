"""Template tags of the staff dashboard: a version's report tables and its pictures."""

from django import template

from gallery import figures, reports

register = template.Library()


@register.simple_tag
def report_rows(version, collection: str = "landscape") -> list[tuple[str, str, str, str]]:
    """(key, label, model, grey baseline) for each figure of the version's report on one test split."""
    return reports.report_rows(version.summary_of(collection))


@register.simple_tag
def source_rows(version, collection: str = "photos") -> list[dict]:
    """The per-source-set table of one test split (photos: faces, pets, rooms …)."""
    return reports.source_rows(version.summary_of(collection))


@register.simple_tag
def compare_rows(candidate, active) -> list[dict]:
    """A ready version's figures against the active version's, on both test splits."""
    return reports.comparison(candidate, active)


@register.simple_tag
def training_curves(version):
    return figures.training_curves(version.train_log, title=f"{version.label}: loss per epoch")


@register.simple_tag
def rmse_histogram(version, collection: str = "landscape"):
    title = f"{version.label}: per-image RMSE_ab on the {reports.SET_TITLES[collection].lower()}"
    return figures.histogram(version.summary_of(collection).get("histogram", {}), title=title)


@register.filter
def thousands(number) -> str:
    """12345 -> '12,345'."""
    return f"{number:,}" if isinstance(number, int) else ""


@register.filter
def percent(share) -> str:
    """0.634 -> '63 %'; a missing share (an older report) -> '–'."""
    return reports.show(share, "{:.0%}")


@register.filter
def stem(file_name: str) -> str:
    """'0042.jpg' -> '0042': how a test photo's picture is named in its URL."""
    return str(file_name).rsplit(".", 1)[0]


@register.simple_tag
def row_score(row: dict, metric: str) -> str:
    """A report row's score by a leaderboard metric (ml.leaderboard.RANKINGS), for the page and its tests."""
    from ml.leaderboard import RANKINGS

    return f"{RANKINGS[metric][0](row['model']):.6g}"
