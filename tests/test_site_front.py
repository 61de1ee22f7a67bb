"""The front page (issue 11): what a visitor meets at /, its sample examples, and the favicon.

The samples are coloured by the shipped model in one test here (in this process, no worker);
the others use the stand-in colorizer of tests/site_fixtures.py.  The page's movement and
layout are tested in a real browser: tests/test_site_look_browser.py.
"""

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from gallery import samples
from gallery.models import Photo
from gallery.tasks import colorize_photo, colour_samples
from ml import color
from tests.site_fixtures import FakeColorizer, make_photo, shipped_model_dir

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def chroma(rgb: np.ndarray) -> float:
    """Mean Lab chroma: 0 for grey, tens for a colourful photo."""
    lab = color.rgb_to_lab(np.asarray(rgb, np.uint8))
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def stored_pixels(name: str) -> np.ndarray:
    with default_storage.open(name, "rb") as fileobj:
        return np.asarray(Image.open(fileobj).convert("RGB"))


def test_a_visitor_gets_the_front_page_with_the_way_in(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Bring old black-and-white photos back to colour" in response.content
    assert f'href="{reverse("signup")}"'.encode() in response.content
    assert f'href="{reverse("login")}"'.encode() in response.content


def test_before_any_example_exists_the_front_page_shows_none(client):
    assert b"front-demo" not in client.get("/").content


def test_a_logged_in_person_still_goes_to_their_upload_page(owner_client):
    response = owner_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery-upload")


def test_the_samples_are_the_examples_and_are_served_to_anybody(client):
    samples.make(FakeColorizer(), "fake")
    response = client.get("/")
    examples = response.context["examples"]
    assert [e["title"] for e in examples] == [s.title for s in samples.SAMPLES]
    served = client.get(examples[0]["after"])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    size = Image.open(io.BytesIO(b"".join(served.streaming_content))).size
    assert size == (examples[0]["width"], examples[0]["height"])


def test_an_unknown_sample_is_404(client):
    samples.make(FakeColorizer(), "fake")
    assert client.get(reverse("gallery-sample", args=["camera", "grey"])).status_code == 404


def test_without_samples_public_photos_are_the_examples(client, users, fake_colorizer):
    photo = Photo.create_from_upload(users.owner, "harbour.png", Image.fromarray(make_photo(90, 60)), "PNG", 1000)
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    photo.set_public(True)
    examples = client.get("/").context["examples"]
    assert [e["title"] for e in examples] == ["harbour.png"]
    assert client.get(examples[0]["after"]).status_code == 200


def test_a_private_photo_is_never_an_example(client, users, fake_colorizer):
    photo = Photo.create_from_upload(users.owner, "secret.png", Image.fromarray(make_photo(90, 60)), "PNG", 1000)
    colorize_photo(str(photo.pk))
    assert b"secret.png" not in client.get("/").content


def test_the_samples_are_grey_before_and_coloured_after_by_the_shipped_model(settings):
    from ml.inference import Colorizer

    settings.COLORSITE_MODEL_DIR = str(shipped_model_dir())
    index = samples.make(Colorizer(settings.COLORSITE_MODEL_DIR), "shipped")
    entry = index["samples"][0]
    grey, coloured = (stored_pixels(entry["files"][kind]) for kind in samples.KINDS)
    assert grey.shape[:2] == samples.sample_pixels(entry["name"]).shape[:2]
    assert chroma(grey) < 2  # JPEG leaves a trace of colour at most
    assert chroma(coloured) > 4  # clearly coloured: twice the trace a grey JPEG keeps


def test_the_task_colours_the_samples_once_per_model(fake_colorizer):
    colour_samples()
    first = samples.current()
    colour_samples()  # same model: nothing to do
    assert samples.current() == first


def test_forcing_colours_them_again_and_removes_the_old_files(fake_colorizer):
    colour_samples()
    old = [name for entry in samples.current()["samples"] for name in entry["files"].values()]
    colour_samples(force=True)
    assert not any(default_storage.exists(name) for name in old)


def test_the_management_command_says_what_it_made(fake_colorizer, capsys):
    call_command("colour_samples")
    assert capsys.readouterr().out.startswith(f"{len(samples.SAMPLES)} samples, coloured by ")


def test_favicon_ico_leads_to_the_static_icon(client):
    response = client.get("/favicon.ico", follow=True)
    assert response.redirect_chain[0][1] == 302
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"


def test_every_page_names_the_icon(client):
    assert b'rel="icon"' in client.get(reverse("login")).content
