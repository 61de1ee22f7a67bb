"""Uploads: every rejected kind of file gets its own message; good files are re-encoded by us and queued."""

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from gallery.forms import PhotoFileForm
from gallery.models import Photo
from tests.site_fixtures import make_photo, upload_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def check(name, data):
    form = PhotoFileForm(files={"file": upload_file(name, data)})
    return form, form.is_valid()


# -- the form, one rejected kind at a time ------------------------------------------------------------


def test_a_file_over_the_byte_cap_is_refused_with_the_sizes(settings, image_bytes):
    settings.COLORSITE_MAX_UPLOAD_BYTES = 1000
    form, ok = check("big.png", image_bytes("PNG", 200, 200))
    assert not ok
    # Both in bytes: in megabytes they would both read "0.0 MB".
    assert form.error_message() == f"the file is {len(image_bytes('PNG', 200, 200)):,} bytes; the limit is 1,000 bytes"


def test_an_empty_file_is_refused():
    form, ok = check("empty.jpg", b"")
    assert not ok
    assert form.error_message() == "the file is empty"


def test_a_file_that_is_not_an_image_is_refused():
    form, ok = check("notes.jpg", b"<html><script>alert(1)</script></html>" * 10)
    assert not ok
    assert form.error_message() == "the file is not an image we can read"


def test_a_format_outside_the_allowlist_is_refused():
    buffer = io.BytesIO()
    Image.fromarray(make_photo()).save(buffer, "PPM")
    form, ok = check("photo.ppm", buffer.getvalue())
    assert not ok
    assert form.error_message() == "PPM files are not accepted; send JPEG, PNG, WebP, BMP, TIFF or GIF"


def test_an_image_over_the_pixel_cap_is_refused_before_decoding(settings, image_bytes):
    settings.COLORSITE_MAX_PIXELS = 1000
    form, ok = check("wide.png", image_bytes("PNG", 100, 50))
    assert not ok
    assert form.error_message() == "the image is 100×50 = 0 megapixels; the limit is 0 megapixels"


def test_a_decompression_bomb_is_refused_from_its_header():
    buffer = io.BytesIO()
    Image.new("1", (20_000, 10_000)).save(buffer, "PNG")  # 200 megapixels in a few kilobytes
    form, ok = check("bomb.png", buffer.getvalue())
    assert len(buffer.getvalue()) < 100_000
    assert not ok
    assert form.error_message() == "the image has far more than 50 megapixels, the limit"


def test_a_truncated_jpeg_is_refused(image_bytes):
    data = image_bytes("JPEG", 256, 256)
    form, ok = check("cut.jpg", data[: len(data) // 2])
    assert not ok
    assert form.error_message().startswith("the image is damaged or truncated")


def test_a_png_header_followed_by_html_is_not_an_image(image_bytes):
    polyglot = image_bytes("PNG")[:33] + b"<html><body>not pixels</body></html>" * 20
    form, ok = check("polyglot.png", polyglot)
    assert not ok
    assert form.error_message() == "the file is not an image we can read"


def test_a_png_whose_end_is_html_is_refused_by_verify(image_bytes):
    """The header and pixels are fine, so Image.open succeeds; verify() reads on and finds the rest broken."""
    polyglot = image_bytes("PNG")[:-12] + b"<html><body>not pixels</body></html>" * 20
    form, ok = check("polyglot.png", polyglot)
    assert not ok
    assert form.error_message().startswith("the image is damaged")


@pytest.mark.parametrize(
    "fmt, name",
    [("JPEG", "a.jpg"), ("PNG", "a.png"), ("WEBP", "a.webp"), ("BMP", "a.bmp"), ("TIFF", "a.tif"), ("GIF", "a.gif")],
)
def test_every_allowed_format_is_accepted(fmt, name, image_bytes):
    form, ok = check(name, image_bytes(fmt, 80, 60))
    assert ok, form.errors
    assert form.image.mode == "RGB"
    assert form.image.size == (80, 60)
    assert form.source_format == fmt


def test_exif_orientation_is_applied(image_bytes):
    rgb = make_photo(120, 60)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", exif=exif)
    form, ok = check("rotated.jpg", buffer.getvalue())
    assert ok
    assert form.image.size == (60, 120)


# -- the upload page --------------------------------------------------------------------------------------


def test_a_batch_keeps_the_good_files_and_names_each_bad_one(owner_client, users, image_bytes):
    files = [
        upload_file("good.png", image_bytes("PNG")),
        upload_file("bad.txt", b"hello world"),
        upload_file("good2.jpg", image_bytes("JPEG")),
        upload_file("empty.png", b""),
    ]
    response = owner_client.post(reverse("gallery-upload"), {"file": files}, follow=True)
    assert response.status_code == 200
    texts = [str(m) for m in response.context["messages"]]
    assert "bad.txt: the file is not an image we can read" in texts
    assert "empty.png: the file is empty" in texts
    assert "2 photo(s) queued for colouring." in texts
    assert sorted(Photo.objects.filter(owner=users.owner).values_list("name", flat=True)) == ["good.png", "good2.jpg"]


def test_an_accepted_upload_is_stored_re_encoded_under_our_names(
    owner_client, users, media_root, django_capture_on_commit_callbacks
):
    rgb = make_photo(90, 70, colour=True)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG", pnginfo=None)
    with django_capture_on_commit_callbacks() as callbacks:
        owner_client.post(reverse("gallery-upload"), {"file": upload_file("../../etc/passwd.png", buffer.getvalue())})
    photo = Photo.objects.get()
    assert photo.name == "passwd.png"
    assert photo.status == Photo.QUEUED
    assert photo.owner == users.owner
    assert (photo.width, photo.height, photo.upload_bytes) == (90, 70, len(buffer.getvalue()))
    assert photo.has_colour
    for field in ("original", "thumb", "preview", "grey_preview"):
        name = getattr(photo, field).name
        assert name.startswith(f"photos/{photo.pk}/")
        assert (media_root / name).is_file()
    stored = np.asarray(Image.open(media_root / photo.original.name))
    assert photo.original.name.endswith(".png")
    assert np.array_equal(stored, rgb)  # lossless source -> PNG
    assert len(callbacks) == 1  # the colouring task is enqueued only once the transaction commits


def test_a_grey_jpeg_is_stored_as_jpeg_and_not_taken_for_colour(owner_client, image_bytes, media_root):
    owner_client.post(reverse("gallery-upload"), {"file": upload_file("old.jpg", image_bytes("JPEG", 300, 200))})
    photo = Photo.objects.get()
    assert photo.original.name.endswith(".jpg")
    assert not photo.has_colour
    assert not photo.grey_preview
    with Image.open(media_root / photo.thumb.name) as thumb:
        assert max(thumb.size) <= 400


def test_the_upload_page_needs_a_login(client):
    response = client.get(reverse("gallery-upload"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_upload_page_shows_the_limits(owner_client):
    response = owner_client.get(reverse("gallery-upload"))
    assert response.status_code == 200
    assert b'type="file" name="file" multiple' in response.content
    assert b"50 megapixels" in response.content


# -- the form with nothing usable in it (issue 10, defect 5) -------------------------------------------------


def multipart(*parts: tuple[str, bytes]) -> tuple[bytes, str]:
    """A multipart body with a "file" part per (file name, bytes), as a browser or a script sends it."""
    boundary = "----colorsite-test"
    body = b""
    for name, data in parts:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post_page(client, *parts: tuple[str, bytes]):
    body, content_type = multipart(*parts)
    return client.post(reverse("gallery-upload"), body, content_type=content_type, follow=True)


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_an_empty_submission_says_no_photo_arrived(owner_client):
    from gallery.photo_io import NO_FILES

    # What a browser sends when the form is submitted with no file chosen: a part with an empty name and no bytes.
    response = post_page(owner_client, ("", b""))
    assert response.status_code == 200
    assert shown(response) == [NO_FILES]
    assert shown(owner_client.post(reverse("gallery-upload"), {}, follow=True)) == [NO_FILES]
    assert not Photo.objects.exists()


@pytest.mark.parametrize("name", ["", ".", "..", "../..", "photos/.."])
def test_a_file_whose_name_django_drops_gets_a_clear_message(owner_client, image_bytes, name):
    from gallery.photo_io import NO_FILES

    response = post_page(owner_client, (name, image_bytes()))
    assert response.status_code == 200
    assert shown(response) == [NO_FILES]
    assert 'named "." or ".."' in NO_FILES
    assert not Photo.objects.exists()


def test_a_dropped_name_beside_a_good_file_still_uploads_the_good_one(owner_client, image_bytes):
    response = post_page(owner_client, ("..", image_bytes()), ("good.png", image_bytes()))
    assert shown(response) == ["1 photo(s) queued for colouring."]
    assert [p.name for p in Photo.objects.all()] == ["good.png"]


def test_too_many_files_for_the_page_is_a_readable_page(owner_client, settings):
    files = [upload_file(f"{i}.png", b"x") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)]
    response = owner_client.post(reverse("gallery-upload"), {"file": files})
    assert response.status_code == 400
    assert b"send fewer files at once" in response.content
    assert not Photo.objects.exists()
