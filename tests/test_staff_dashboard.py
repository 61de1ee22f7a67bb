"""The dashboard shows the stored report's figures and pictures; leaderboards follow the stored scores."""

import re
import time

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from gallery import figures
from gallery.models import ModelVersion, Photo
from gallery.tasks import colorize_photo
from tests.site_fixtures import FakeColorizer, make_photo
from tests.staff_fixtures import FAKE_LOG, fake_report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def nothing_is_computed(monkeypatch):
    """Pages must read stored reports: loading a model or evaluating fails the test.

    ml.leaderboard binds Colorizer when first imported; importing it here, before the patch,
    keeps a page's first import of it from binding the refusal for the rest of the session.
    """
    import ml.evaluate
    import ml.inference
    import ml.leaderboard

    def refuse(*args, **kwargs):
        raise AssertionError("a page computed something from a model")

    monkeypatch.setattr(ml.inference, "Colorizer", refuse)
    monkeypatch.setattr(ml.leaderboard, "Colorizer", refuse)
    monkeypatch.setattr(ml.evaluate, "evaluate", refuse)


def section(html: str, cls: str) -> str:
    """The markup of the first element whose class list starts with ``cls`` (up to its closing tag)."""
    start = html.index(f'class="{cls}')
    tag = html.rfind("<", 0, start)
    name = re.match(r"<(\w+)", html[tag:]).group(1)
    return html[tag : html.index(f"</{name}>", start)]


# -- the dashboard -------------------------------------------------------------------------------------


def test_the_dashboard_shows_the_report_beside_the_grey_baseline(role_clients, make_version, nothing_is_computed):
    report = fake_report(12)
    version = make_version("v1", active=True, report=report)
    html = role_clients["staff"].get(reverse("staff-dashboard")).content.decode()
    formats = {
        "rmse_ab": "{:.2f}",
        "psnr": "{:.2f}",
        "ssim": "{:.3f}",
        "colourfulness": "{:.2f}",
        "colourfulness_true": "{:.2f}",
        "delta_colourfulness": "{:.2f}",
        "auc": "{:.3f}",
    }
    for key, fmt in formats.items():
        row = re.search(rf'<tr data-metric="{key}">.*?</tr>', html).group(0)
        assert f'<td class="model">{fmt.format(report["summary"]["model"][key])}</td>' in row
        assert f'<td class="grey">{fmt.format(report["summary"]["grey"][key])}</td>' in row
    assert "test split, 12 photos" in html
    assert str(version.pk) in html


DECODING = {"temperature": 0.55, "correction": 1.0, "saturation": 1.45}


def test_the_dashboard_names_the_decodes_confidence_power(role_clients, make_version):
    report = {**fake_report(12), "decoding": {**DECODING, "confidence_gamma": 0.25, "confidence_reference": 0.31}}
    make_version("v1", active=True, report=report)
    html = role_clients["staff"].get(reverse("staff-dashboard")).content.decode()
    assert "following the network's confidence with γ = 0.25" in html


def test_a_decode_without_a_confidence_power_does_not_mention_one(role_clients, make_version):
    make_version("v1", active=True, report={**fake_report(12), "decoding": DECODING})
    html = role_clients["staff"].get(reverse("staff-dashboard")).content.decode()
    assert "saturation × 1.45" in html
    assert "confidence with γ" not in html


def test_the_training_curves_plot_every_logged_epoch(role_clients, make_version):
    make_version("v1", active=True)
    html = role_clients["staff"].get(reverse("staff-dashboard")).content.decode()
    curves = section(html, "chart chart-curves")
    for row in FAKE_LOG:
        for key in ("loss", "val_loss"):
            assert f'data-series="{key}" data-epoch="{row["epoch"]}" data-value="{row[key]:.6g}"' in curves
    assert curves.count("<polyline") == 2


def test_the_histogram_counts_every_test_photo_once(role_clients, make_version):
    report = fake_report(12)
    make_version("v1", active=True, report=report)
    html = role_clients["staff"].get(reverse("staff-dashboard")).content.decode()
    bars = section(html, "chart chart-histogram")
    for series in ("model", "grey"):
        counts = [int(c) for c in re.findall(rf'data-series="{series}" data-count="(\d+)"', bars)]
        assert sum(counts) == 12
        assert len(counts) == ModelVersion.HISTOGRAM_BINS
    # the bars match an independent count of the stored per-image RMSE_ab
    edges = np.linspace(0, max(max(r[k]["rmse_ab"] for r in report["rows"]) for k in ("model", "grey")), 21)
    expected = np.histogram([r["model"]["rmse_ab"] for r in report["rows"]], edges)[0].tolist()
    assert [int(c) for c in re.findall(r'data-series="model" data-count="(\d+)"', bars)] == expected


def test_two_versions_side_by_side(role_clients, make_version):
    a = make_version("a", active=True, report=fake_report(12, seed=1))
    b = make_version("b", report=fake_report(12, seed=2))
    html = role_clients["staff"].get(reverse("staff-dashboard"), {"a": a.pk, "b": b.pk}).content.decode()
    reports = re.findall(r'<article class="version-report" data-version="([0-9a-f-]+)"', html)
    assert reports == [str(a.pk), str(b.pk)]
    for v in (a, b):
        assert f"{v.summary['model']['rmse_ab']:.2f}" in html
    assert html.count("chart chart-curves") == 2
    assert html.count("chart chart-histogram") == 2


def test_the_dashboard_reads_no_per_image_rows_and_a_few_queries(
    role_clients, make_version, django_assert_max_num_queries
):
    for i in range(5):
        make_version(f"v{i}", active=i == 0)
    client = role_clients["staff"]
    with django_assert_max_num_queries(5):  # session, user, versions, the user's permissions (user, groups)
        response = client.get(reverse("staff-dashboard"))
    assert response.status_code == 200
    assert all("evaluation" in v.get_deferred_fields() for v in response.context["versions"])


def test_only_admins_see_the_training_form_and_buttons(role_clients, make_version):
    make_version("a", active=True)
    make_version("b")
    staff = role_clients["staff"].get(reverse("staff-dashboard")).content.decode()
    admin = role_clients["admin"].get(reverse("staff-dashboard")).content.decode()
    for marker in ('action="' + reverse("staff-train") + '"', "Activate</button>"):
        assert marker not in staff
        assert marker in admin


def test_a_run_in_progress_shows_its_progress_bar(role_clients, make_version):
    make_version("a", active=True)
    run = make_version(
        "run",
        state=ModelVersion.TRAINING,
        progress={
            "stage": "epoch",
            "epoch": 2,
            "epochs_done": 2,
            "epochs": 4,
            "loss": 2.5,
            "val_loss": 3.0,
            # 10 s of loading and half of 40 s of training done: 30 % of the plan, in two minutes
            "plan": {
                "loading": 10,
                "training": 40,
                "validating": 10,
                "evaluating:landscape": 20,
                "evaluating:photos": 20,
            },
            "since": time.time() - 120,
        },
    )
    html = role_clients["admin"].get(reverse("staff-dashboard")).content.decode()
    bar = section(html, "run")
    assert f'data-progress-url="{reverse("staff-version-progress", args=[run.pk])}"' in bar
    assert 'value="0.3"' in bar
    assert "about 5 minutes left" in bar  # 70 % more at that pace: 280 s
    assert "epoch 2 of 4" in bar
    assert "2.500" in bar
    assert "3.000" in bar
    assert reverse("staff-version-cancel", args=[run.pk]) in bar


def test_nice_ticks_cover_the_range_with_round_steps():
    assert figures.nice_ticks(0, 9.3) == [0, 2, 4, 6, 8, 10]
    assert figures.nice_ticks(2.43, 3.9) == [2.0, 2.5, 3.0, 3.5, 4.0]
    assert figures.nice_ticks(1, 14, 6) == [0, 5, 10, 15]
    assert figures.nice_ticks(5, 5) == [5, 5.2, 5.4, 5.6, 5.8, 6.0]  # one value: a unit range above it
    assert figures.nice_ticks(1, 2, 6, integer=True) == [1, 2]  # epochs


def test_a_version_without_log_or_report_says_so(role_clients, make_version):
    make_version("bare", active=True, train_log=[], report={"rows": [], "summary": {"model": {}, "grey": {}}})
    html = role_clients["staff"].get(reverse("staff-dashboard")).content.decode()
    assert "No training log for this version." in html
    assert "No evaluation report for this version." in html


# -- leaderboards ----------------------------------------------------------------------------------------


def ranked_files(html: str, board: str) -> list[str]:
    return re.findall(r'<li data-file="([^"]+)"', section(html, f"board board-{board}"))


METRICS = {  # independent of ml.leaderboard: the score of a row and whether higher is better
    "rmse_ab": (lambda m: m["rmse_ab"], False),
    "psnr": (lambda m: m["psnr"], True),
    "colourfulness_gap": (lambda m: abs(m["colourfulness"] - m["colourfulness_true"]), False),
}


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_leaderboard_order_equals_the_order_of_the_stored_scores(
    role_clients, make_version, settings, metric, nothing_is_computed
):
    settings.COLORSITE_LEADERBOARD_SIZE = 5
    version = make_version("v1", active=True, report=fake_report(12, seed=3))
    rows = version.evaluation["rows"]
    score, higher = METRICS[metric]
    ordered = [r["file"] for r in sorted(rows, key=lambda r: score(r["model"]), reverse=higher)]
    html = (
        role_clients["staff"]
        .get(reverse("staff-leaderboard", args=[version.pk]), {"metric": metric, "n": 4})
        .content.decode()
    )
    assert ranked_files(html, "best") == ordered[:4]
    assert ranked_files(html, "worst") == ordered[::-1][:4]
    scores = [float(s) for s in re.findall(r'data-score="([^"]+)"', section(html, "board board-best"))]
    assert scores == sorted(scores, reverse=higher)


def test_leaderboard_size_is_clamped_to_the_setting(role_clients, make_version, settings):
    settings.COLORSITE_LEADERBOARD_SIZE = 3
    version = make_version("v1", active=True)
    html = role_clients["staff"].get(reverse("staff-leaderboard", args=[version.pk]), {"n": 50}).content.decode()
    assert len(ranked_files(html, "best")) == 3


def test_a_leaderboard_asks_for_its_pictures_once(role_clients, make_version, django_capture_on_commit_callbacks):
    version = make_version("v1", active=True)
    url = reverse("staff-leaderboard", args=[version.pk])
    with django_capture_on_commit_callbacks() as callbacks:
        html = role_clients["staff"].get(url).content.decode()
    assert len(callbacks) == 1
    assert "being drawn" in html
    assert ModelVersion.objects.get(pk=version.pk).pictures_state == ModelVersion.PICTURES_QUEUED
    with django_capture_on_commit_callbacks() as callbacks:
        role_clients["staff"].get(url)
    assert callbacks == []  # one request per version, not one per view


def test_pictures_are_drawn_once_and_served_from_storage(role_clients, make_version, settings, media_root):
    settings.COLORSITE_LEADERBOARD_SIZE = 2
    version = make_version("v1", active=True, report=fake_report(12))
    version.render_pictures(FakeColorizer())
    version.refresh_from_db()
    # the best and worst 2 by each metric, every one drawn once
    expected = {row["file"] for metric in METRICS for rows in version.ranked(metric, 2) for row in rows}
    assert set(version.pictures) == expected
    assert version.pictures_state == ModelVersion.PICTURES_READY
    html = role_clients["staff"].get(reverse("staff-leaderboard", args=[version.pk]), {"n": 2}).content.decode()
    first = ranked_files(html, "best")[0]
    src = re.search(rf'<li data-file="{first}"[^>]*>\s*<img src="([^"]+)"', html).group(1)
    response = role_clients["staff"].get(src)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    with Image.open(media_root / version.pictures[first]) as picture:
        assert picture.size == (3 * 150 + 8, 150)  # grey | prediction | target, 4 px apart
    assert role_clients["staff"].get(reverse("staff-leaderboard-picture", args=[version.pk, "nope"])).status_code == 404


def test_a_version_that_is_not_ready_has_no_leaderboard(role_clients, make_version):
    run = make_version("run", state=ModelVersion.TRAINING)
    assert role_clients["staff"].get(reverse("staff-leaderboard", args=[run.pk])).status_code == 404


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_colour_uploads_are_ranked_by_their_own_scores(role_clients, make_version, users, fake_colorizer, metric):
    version = make_version("v1", active=True)
    other = make_version("v2")
    rng = np.random.default_rng(0)
    for i in range(5):
        tint = rng.uniform(0.3, 1.0, 3)
        rgb = (make_photo(96, 64, seed=i).astype(np.float32) * tint).clip(0, 255).astype(np.uint8)
        photo = Photo.create_from_upload(users.owner, f"c{i}.png", Image.fromarray(rgb), "PNG", 1)
        colorize_photo(str(photo.pk))
    Photo.objects.filter(name="c4.png").update(model_version=other)  # coloured by another version: left out
    done = [p for p in Photo.objects.filter(model_version=version)]
    assert len(done) == 4
    assert all(p.rmse_ab is not None for p in done)
    score, higher = METRICS[metric]
    ordered = [p.pk for p in sorted(done, key=lambda p: score(vars(p)), reverse=higher)]
    html = (
        role_clients["staff"]
        .get(reverse("staff-leaderboard", args=[version.pk]), {"metric": metric, "n": 3})
        .content.decode()
    )
    best = re.findall(r'<li data-photo="([0-9a-f-]+)"', section(html, "board board-uploads-best"))
    worst = re.findall(r'<li data-photo="([0-9a-f-]+)"', section(html, "board board-uploads-worst"))
    assert best == [str(pk) for pk in ordered[:3]]
    assert worst == [str(pk) for pk in ordered[::-1][:3]]
    grey = reverse("staff-upload-file", args=[ordered[0], "grey"])
    assert grey in html
    assert role_clients["staff"].get(grey).status_code == 200


# -- both test splits (issue 8): landscape the headline, the everyday photos with their source sets ------


def mean(values) -> float:
    return sum(values) / len(values)


def photos_report(n: int = 20, seed: int = 5) -> dict:
    return fake_report(n, seed=seed, collection="photos")


def test_the_dashboard_shows_both_reports_landscape_first(role_clients, make_version, nothing_is_computed):
    landscape, photos = fake_report(12, collection="landscape"), photos_report(20)
    make_version("v1", active=True, report=landscape, photos_report=photos)
    html = role_clients["staff"].get(reverse("staff-dashboard")).content.decode()
    assert html.index("report report-landscape") < html.index("report report-photos")  # the headline first
    table = section(html, "report report-photos")
    for key in ("rmse_ab", "psnr", "auc", "colourfulness"):
        row = re.search(rf'<tr data-photos-metric="{key}">.*?</tr>', table, re.S).group(0)
        fmt = "{:.3f}" if key == "auc" else "{:.2f}"
        assert f'<td class="model">{fmt.format(mean([r["model"][key] for r in photos["rows"]]))}</td>' in row
        assert f'<td class="grey">{fmt.format(mean([r["grey"][key] for r in photos["rows"]]))}</td>' in row
    share = mean([r["model"]["psnr"] > r["grey"]["psnr"] for r in photos["rows"]])
    beats = re.search(r'<tr data-photos-metric="beats_grey">.*?</tr>', table, re.S).group(0)
    assert f'<td class="model">{share:.0%}</td>' in beats
    landscape_psnr = mean([r["model"]["psnr"] for r in landscape["rows"]])
    assert f'<td class="model">{landscape_psnr:.2f}</td>' in section(html, "report report-landscape")


def test_the_photos_report_has_a_row_per_source_set(role_clients, make_version):
    photos = photos_report(30)
    make_version("v1", active=True, photos_report=photos)
    html = role_clients["staff"].get(reverse("staff-dashboard")).content.decode()
    table = section(html, "sources")
    groups: dict[str, list[dict]] = {}
    for row in photos["rows"]:  # the source set is the file name's prefix, counted here independently
        groups.setdefault(row["file"].split("-test-")[0], []).append(row)
    assert len(groups) >= 5
    assert re.findall(r'<tr data-source="([^"]+)"', table) == sorted(groups)
    for source, rows in groups.items():
        line = re.search(rf'<tr data-source="{source}".*?</tr>', table, re.S).group(0)
        assert f'<td class="images">{len(rows)}</td>' in line
        assert f'<td class="psnr-model">{mean([r["model"]["psnr"] for r in rows]):.2f}</td>' in line
        assert f'<td class="psnr-grey">{mean([r["grey"]["psnr"] for r in rows]):.2f}</td>' in line
        gains = np.array([r["model"]["psnr"] - r["grey"]["psnr"] for r in rows])
        spread = f" ± {gains.std(ddof=1) / np.sqrt(len(gains)):.2f}" if len(gains) > 1 else ""  # none for one photo
        assert f'<td class="vs-grey">{gains.mean():+.2f}{spread}</td>' in line
        assert f'<td class="beats-grey">{mean([r["model"]["psnr"] > r["grey"]["psnr"] for r in rows]):.0%}</td>' in line


def test_a_photos_report_from_before_the_gain_over_grey_shows_a_dash_for_it(role_clients, make_version):
    photos = photos_report(30)
    for part in photos["by_source"].values():
        del part["psnr_vs_grey"], part["psnr_vs_grey_se"]
    make_version("v1", active=True, photos_report=photos)
    table = section(role_clients["staff"].get(reverse("staff-dashboard")).content.decode(), "sources")
    assert set(re.findall(r'<td class="vs-grey">([^<]*)</td>', table)) == {"–"}


def test_a_version_with_only_the_old_landscape_report_says_it_has_no_photos_report(role_clients, make_version):
    make_version("old", active=True)  # the first engine's report: no collection, no share, no sources
    html = role_clients["staff"].get(reverse("staff-dashboard")).content.decode()
    assert "No everyday-photos report for this version" in html
    assert 'class="report report-photos"' not in html
    assert '<td class="photos-psnr">–</td>' in html
    assert '<td class="photos-beats-grey">–</td>' in html


def compared(html: str, collection: str, key: str) -> dict:
    row = re.search(rf'<tr data-set="{collection}" data-metric="{key}">.*?</tr>', html, re.S).group(0)
    return {
        cls: re.search(rf'<td class="{cls}[^"]*">([^<]*)</td>', row).group(1) for cls in ("candidate", "active")
    } | {"difference": re.search(r'<td class="difference[^"]*">([^<]*)</td>', row).group(1)}


def test_a_new_ready_version_is_shown_against_the_active_one_before_activation(role_clients, make_version):
    active = make_version(
        "a", active=True, report=fake_report(12, 1, "landscape"), photos_report=photos_report(20, seed=1)
    )
    new = make_version("b", report=fake_report(12, 2, "landscape"), photos_report=photos_report(20, seed=2))
    html = role_clients["admin"].get(reverse("staff-dashboard")).content.decode()
    panel = section(html, "before-activation")
    assert f'data-candidate="{new.pk}" data-active="{active.pk}"' in html
    for collection, summaries in (("landscape", "summary"), ("photos", "photos_summary")):
        mine, theirs = getattr(new, summaries), getattr(active, summaries)
        psnr = compared(panel, collection, "psnr")
        assert psnr["candidate"] == f"{mine['model']['psnr']:.2f}"
        assert psnr["active"] == f"{theirs['model']['psnr']:.2f}"
        gap = mine["model"]["psnr"] - theirs["model"]["psnr"]
        assert psnr["difference"].startswith(f"{gap:+.2f}")
        assert ("(better)" in psnr["difference"]) == (gap > 0)
        for key in ("rmse_ab", "auc", "colourfulness", "delta_colourfulness"):
            assert compared(panel, collection, key)["candidate"] != "–"
        beats = compared(panel, collection, "beats_grey")
        assert beats["candidate"] == f"{mine['beats_grey']:.0%}"
        assert beats["active"] == f"{theirs['beats_grey']:.0%}"
    assert reverse("staff-version-activate", args=[new.pk]) in panel


def test_the_comparison_follows_the_version_looked_at_and_not_the_active_one(role_clients, make_version):
    make_version("a", active=True)
    older = make_version("b")
    make_version("c")
    html = role_clients["staff"].get(reverse("staff-dashboard"), {"a": older.pk}).content.decode()
    assert f'data-candidate="{older.pk}"' in html
    assert "Activate</button>" not in section(html, "before-activation")  # staff read; only admins activate
    alone = role_clients["staff"].get(reverse("staff-dashboard"), {"a": ModelVersion.active().pk}).content.decode()
    assert 'data-candidate="' in alone  # the newest ready one, c, since the active one is being looked at


def test_no_comparison_without_a_newer_ready_version(role_clients, make_version):
    make_version("a", active=True)
    make_version("run", state=ModelVersion.TRAINING)
    html = role_clients["staff"].get(reverse("staff-dashboard")).content.decode()
    assert "before-activation" not in html


def test_the_photos_leaderboard_ranks_the_photos_rows(role_clients, make_version, settings, nothing_is_computed):
    settings.COLORSITE_LEADERBOARD_SIZE = 5
    photos = photos_report(20, seed=7)
    version = make_version("v1", active=True, photos_report=photos)
    ordered = [r["file"] for r in sorted(photos["rows"], key=lambda r: r["model"]["psnr"], reverse=True)]
    html = (
        role_clients["staff"]
        .get(reverse("staff-leaderboard", args=[version.pk]), {"set": "photos", "metric": "psnr", "n": 4})
        .content.decode()
    )
    assert ranked_files(html, "best") == ordered[:4]
    assert ranked_files(html, "worst") == ordered[::-1][:4]
    assert '<option value="photos" selected>' in html
    assert "everyday photos test photos" in html
    landscape = {r["file"] for r in version.evaluation["rows"]}
    assert not landscape & set(ranked_files(html, "best"))


@pytest.mark.parametrize(
    "query",
    [
        {"set": "nonsense"},
        {"set": "<script>"},
        {"metric": "nonsense"},
        {"n": "many"},
        {"n": "-3"},
        {"set": ["photos", "x"], "n": "1e9"},
    ],
)
def test_junk_leaderboard_parameters_fall_back_to_defaults(role_clients, make_version, query):
    version = make_version("v1", active=True, photos_report=photos_report(10))
    response = role_clients["staff"].get(reverse("staff-leaderboard", args=[version.pk]), query)
    assert response.status_code == 200
    assert response.context["set"] == "landscape"  # a repeated parameter counts by its last value, like Django
    assert response.context["metric"] == "rmse_ab"
    assert 1 <= response.context["n"] <= 10
    assert set(ranked_files(response.content.decode(), "best")) <= {r["file"] for r in version.evaluation["rows"]}


def test_a_version_without_a_photos_report_has_an_empty_photos_leaderboard(role_clients, make_version):
    version = make_version("old", active=True)
    response = role_clients["staff"].get(reverse("staff-leaderboard", args=[version.pk]), {"set": "photos"})
    assert response.status_code == 200
    assert "This version has no" in response.content.decode()
    assert ranked_files(response.content.decode(), "best") == []


def test_pictures_are_drawn_for_both_test_splits(role_clients, make_version, settings, media_root):
    settings.COLORSITE_LEADERBOARD_SIZE = 2
    version = make_version("v1", active=True, report=fake_report(12), photos_report=photos_report(12, seed=3))
    version.render_pictures(FakeColorizer())
    version.refresh_from_db()
    expected = {
        row["file"]
        for collection in ("landscape", "photos")
        for metric in METRICS
        for rows in version.ranked(metric, 2, collection)
        for row in rows
    }
    assert set(version.pictures) == expected
    photos_files = {r["file"] for r in version.photos_evaluation["rows"]}
    assert set(version.pictures) & photos_files  # the photos split has pictures too
    html = (
        role_clients["staff"]
        .get(reverse("staff-leaderboard", args=[version.pk]), {"set": "photos", "n": 2})
        .content.decode()
    )
    first = ranked_files(html, "best")[0]
    assert first in photos_files
    src = re.search(rf'<li data-file="{first}"[^>]*>\s*<img src="([^"]+)"', html).group(1)
    response = role_clients["staff"].get(src)
    assert response.status_code == 200
    with Image.open(media_root / version.pictures[first]) as picture:
        assert picture.width > 2 * picture.height  # grey | prediction | target side by side
