"""The activation guard: a version worse than grey or than the active version, on either test split, is
activated only after an explicit confirm on a page showing the figures side by side; a rollback always asks.

Reports are made up (tests/staff_fixtures.py's fake_report) with PSNR set per split, so each case
knows which comparison trips the guard.
"""

import re

import pytest
from django.urls import reverse

from gallery.activation_guard import concerns
from gallery.models import ModelVersion
from tests.staff_fixtures import fake_report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def report(collection: str, model_psnr: float, grey_psnr: float = 22.0) -> dict:
    """A test-split report whose model and grey PSNR are the same on every photo (so are the means)."""
    from ml import metrics
    from ml.evaluate import by_source, compare_with_grey

    made = fake_report(12, seed=3, collection=collection)
    for row in made["rows"]:
        row["model"]["psnr"], row["grey"]["psnr"] = model_psnr, grey_psnr
    made["summary"] = {side: metrics.summarise([r[side] for r in made["rows"]]) for side in ("model", "grey")}
    made.update(compare_with_grey(made["rows"]), by_source=by_source(made["rows"]))
    return made


def version(make_version, label: str, landscape: float, photos: float | None, **fields) -> ModelVersion:
    return make_version(
        label,
        report=report("landscape", landscape),
        photos_report=report("photos", photos) if photos is not None else None,
        **fields,
    )


def activate(client, candidate: ModelVersion, **data):
    return client.post(reverse("staff-version-activate", args=[candidate.pk]), data)


def figures(html: str, collection: str, key: str) -> dict[str, str]:
    row = re.search(rf'<tr data-set="{collection}" data-metric="{key}">.*?</tr>', html, re.S).group(0)
    return {
        cls: re.search(rf'<td class="{cls}[^"]*">([^<]*)', row).group(1).strip()
        for cls in ("candidate", "active", "grey")
    }


# -- what trips the guard --------------------------------------------------------------------------------


def test_a_version_better_everywhere_raises_no_concern(make_version):
    active = version(make_version, "a", 24.0, 23.0, active=True)
    assert concerns(version(make_version, "b", 25.0, 23.5), active) == []


def test_worse_than_grey_on_either_split_is_a_concern(make_version):
    active = version(make_version, "a", 21.0, 21.0, active=True)
    (reason,) = concerns(version(make_version, "b", 23.0, 21.5), active)  # grey is 22.0 on both splits
    assert reason.startswith("b is worse than grey on the everyday-photos test split")
    assert "21.50 dB against grey's 22.00 dB" in reason


def test_worse_than_the_active_version_on_one_split_is_a_concern(make_version):
    active = version(make_version, "a", 24.0, 23.0, active=True)
    (reason,) = concerns(version(make_version, "b", 25.0, 22.9), active)
    assert reason.startswith("b is worse than the active version a on the everyday-photos test split")


def test_a_missing_split_the_active_version_was_scored_on_is_a_concern(make_version):
    active = version(make_version, "a", 24.0, 23.0, active=True)
    (reason,) = concerns(version(make_version, "b", 25.0, None), active)
    assert "b has no report on the everyday-photos test split" in reason


def test_with_no_active_version_only_grey_counts(make_version):
    assert concerns(version(make_version, "b", 23.0, 23.0), None) == []
    assert len(concerns(version(make_version, "c", 21.0, 21.0), None)) == 2


# -- the pages -------------------------------------------------------------------------------------------


def test_activating_a_version_worse_than_grey_shows_the_confirmation_page(role_clients, make_version):
    active = version(make_version, "a", 24.0, 23.0, active=True)
    worse = version(make_version, "b", 21.0, 23.5)
    response = activate(role_clients["admin"], worse)
    assert response.status_code == 200
    assert ModelVersion.active() == active  # nothing changed yet
    html = response.content.decode()
    assert "b is worse than grey on the landscape test split" in html
    landscape = figures(html, "landscape", "psnr")
    assert landscape == {"candidate": "21.00 (worse)", "active": "24.00", "grey": "22.00"}
    assert figures(html, "photos", "psnr") == {"candidate": "23.50", "active": "23.00", "grey": "22.00"}
    for collection in ("landscape", "photos"):  # PSNR, colourfulness and the share beating grey, for both splits
        assert figures(html, collection, "colourfulness")["candidate"] != "–"
        assert figures(html, collection, "beats_grey")["active"] == "100%"
    assert 'name="confirm" value="yes"' in html
    assert f'name="against" value="{active.pk}"' in html
    assert "Activate b anyway" in html


def test_the_explicit_confirm_activates_it(role_clients, make_version):
    active = version(make_version, "a", 24.0, 23.0, active=True)
    worse = version(make_version, "b", 21.0, 23.5)
    response = activate(role_clients["admin"], worse, confirm="yes", against=str(active.pk))
    assert response.status_code == 302
    assert ModelVersion.active() == worse


@pytest.mark.parametrize(
    "data",
    [
        {"against": "{active}"},
        {"confirm": "", "against": "{active}"},
        {"confirm": "yes"},
        {"confirm": "yes", "against": "x"},
    ],
    ids=["no-confirm", "empty-confirm", "no-against", "junk-against"],
)
def test_anything_short_of_the_explicit_confirm_shows_the_page_again(role_clients, make_version, data):
    active = version(make_version, "a", 24.0, 23.0, active=True)
    worse = version(make_version, "b", 21.0, 23.5)
    response = activate(role_clients["admin"], worse, **{k: v.format(active=active.pk) for k, v in data.items()})
    assert response.status_code == 200
    assert ModelVersion.active() == active


def test_a_confirm_given_against_another_active_version_asks_again(role_clients, make_version):
    first = version(make_version, "a", 24.0, 23.0, active=True)
    second = version(make_version, "b", 24.5, 23.5)
    worse = version(make_version, "c", 21.0, 23.8)
    assert second.activate()  # someone else switched while the page was open
    response = activate(role_clients["admin"], worse, confirm="yes", against=str(first.pk))
    assert response.status_code == 200
    assert ModelVersion.active() == second
    assert f'name="against" value="{second.pk}"' in response.content.decode()


def test_a_better_version_is_activated_without_an_extra_step(role_clients, make_version):
    version(make_version, "a", 24.0, 23.0, active=True)
    better = version(make_version, "b", 25.0, 23.5)
    response = activate(role_clients["admin"], better)
    assert response.status_code == 302
    assert ModelVersion.active() == better


def test_rollback_asks_first_then_goes_back(role_clients, make_version):
    older = version(make_version, "a", 24.0, 23.0, active=True)
    newer = version(make_version, "b", 25.0, 23.5)
    assert newer.activate()
    admin = role_clients["admin"]
    page = admin.post(reverse("staff-rollback"))
    assert page.status_code == 200
    assert ModelVersion.active() == newer
    html = page.content.decode()
    assert "Roll back to a?" in html
    assert "a is worse than the active version b on the landscape test split" in html
    assert figures(html, "landscape", "psnr") == {"candidate": "24.00 (worse)", "active": "25.00", "grey": "22.00"}
    assert f'action="{reverse("staff-rollback")}"' in html
    response = admin.post(reverse("staff-rollback"), {"confirm": "yes", "against": str(newer.pk)})
    assert response.status_code == 302
    assert ModelVersion.active() == older


def test_rollback_asks_even_when_the_older_version_is_better(role_clients, make_version):
    version(make_version, "a", 25.0, 23.5, active=True)
    newer = version(make_version, "b", 24.0, 23.0)
    assert (
        activate(role_clients["admin"], newer, confirm="yes", against=str(ModelVersion.active().pk)).status_code == 302
    )
    page = role_clients["admin"].post(reverse("staff-rollback"))
    assert page.status_code == 200
    assert "a is not worse than grey or than b on either test split" in page.content.decode()
    assert ModelVersion.active() == newer


def test_rollback_with_nothing_to_go_back_to_says_so(role_clients, make_version):
    version(make_version, "a", 24.0, 23.0, active=True)
    response = role_clients["admin"].post(reverse("staff-rollback"), follow=True)
    assert "There is no earlier version to go back to." in response.content.decode()


def test_staff_who_are_not_admins_cannot_confirm(role_clients, make_version):
    active = version(make_version, "a", 24.0, 23.0, active=True)
    worse = version(make_version, "b", 21.0, 23.5)
    assert activate(role_clients["staff"], worse, confirm="yes", against=str(active.pk)).status_code == 403
    assert ModelVersion.active() == active
