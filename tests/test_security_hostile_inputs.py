"""Hostile input: a corpus the tests make themselves, sent through the API like a script would.

Each file is either coloured correctly (the valid ones, by the real workers with the shipped
model) or refused with a clear message; nothing refused is stored; no answer is a server error
or shows a stack trace or a server path.  HOSTILE_CORPUS is the figure the README states.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from PIL import Image, PngImagePlugin

from gallery.models import ApiToken, Photo
from ml import color
from tests.site_fixtures import encode_image, make_photo, upload_file, wait_for


@dataclass
class Specimen:
    name: str  # the file name sent
    data: bytes
    refused: str | None = None  # the start of the message it must be refused with; None: it must be coloured
    size: tuple[int, int] | None = None  # (width, height) the coloured result must have
    grey: np.ndarray | None = None  # the lightness the result must keep (uint8 RGB of the expected original)


def _png(rgb, **options) -> bytes:
    return encode_image(rgb, "PNG", **options)


def _jpeg(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _zip_archive() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("evil.sh", "rm -rf /\n" * 100)
    return archive.getvalue()


@functools.cache
def hostile_corpus() -> tuple[Specimen, ...]:
    grey = make_photo(96, 64)
    return (*_too_big(grey), *_broken_or_disguised(grey), *_unusual_but_valid(grey), *_polyglot_and_names(grey))


def _too_big(grey) -> list[Specimen]:
    """Bombs and oversized files, and the tiny and extreme shapes that are photos too."""
    corpus = []
    # A decompression bomb: 400 megapixels in 50 kB of PNG.
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, "PNG")
    corpus.append(Specimen("bomb.png", bomb.getvalue(), refused="the image has far more than 50 megapixels"))
    # A PNG whose header alone claims 60 MP (above our cap, below Pillow's own bomb guard): refused before decoding.
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 10_000, 6_000, 8, 0, 0, 0, 0))
    corpus.append(
        Specimen("wide.png", b"\x89PNG\r\n\x1a\n" + ihdr + _png_chunk(b"IEND", b""), refused="the image is damaged")
    )
    # A BMP header claiming 10 gigapixels, with no pixels behind it.
    header = struct.pack("<2sIHHI", b"BM", 54, 0, 0, 54) + struct.pack(
        "<IiiHHIIiiII", 40, 100_000, 100_000, 1, 24, 0, 0, 2835, 2835, 0, 0
    )
    corpus.append(Specimen("huge.bmp", header, refused="the image has far more than 50 megapixels"))
    # More bytes than a file may have: refused from its size, before anything reads it.
    corpus.append(
        Specimen(
            "huge.png",
            _png(grey) + bytes(settings.COLORSITE_MAX_UPLOAD_BYTES),
            refused=f"the file is {len(_png(grey)) + settings.COLORSITE_MAX_UPLOAD_BYTES:,} bytes; "
            f"the limit is {settings.COLORSITE_MAX_UPLOAD_BYTES:,} bytes",
        )
    )
    # Tiny and extreme shapes are photos too.
    one = np.full((1, 1, 3), 128, np.uint8)
    corpus.append(Specimen("1x1.png", _png(one), size=(1, 1), grey=one))
    strip = make_photo(30_000, 1)
    corpus.append(Specimen("strip.png", _png(strip), size=(30_000, 1), grey=strip))
    # Colour photos under 7 pixels on a side (issue 10): scored against their own colours without SSIM.
    for width, height in ((1, 1), (6, 6), (6, 400), (400, 6)):
        tiny = make_photo(width, height, colour=True)
        corpus.append(Specimen(f"colour-{width}x{height}.png", _png(tiny), size=(width, height), grey=tiny))
    return corpus


def _broken_or_disguised(grey) -> list[Specimen]:
    corpus = []
    full = _jpeg(Image.fromarray(make_photo(256, 256)))
    corpus.append(Specimen("truncated.jpg", full[: len(full) // 2], refused="the image is damaged or truncated"))
    corpus.append(
        Specimen(
            "page.png",
            _png(grey)[:33] + b"<html><script>alert(document.cookie)</script></html>" * 20,
            refused="the file is not an image we can read",
        )
    )
    corpus.append(
        Specimen(
            "drawing.svg",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
            b'height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>',
            refused="the file is not an image we can read",
        )
    )
    corpus.append(Specimen("holiday.jpg", _zip_archive(), refused="the file is not an image we can read"))
    corpus.append(Specimen("empty.jpg", b"", refused="the file is empty"))
    corpus.append(
        Specimen(
            "poster.eps",
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\n",
            refused="EPS files are not accepted",
        )
    )  # never handed to Ghostscript
    # A zlib bomb in a PNG text chunk: 20 MB of text in 20 kB.
    text = PngImagePlugin.PngInfo()
    text.add_text("comment", "A" * (20 * 1024 * 1024), zip=True)
    corpus.append(Specimen("text-bomb.png", _png(grey, pnginfo=text), refused="the image is damaged"))
    return corpus


def _unusual_but_valid(grey) -> list[Specimen]:
    """Valid, but unusual: each is coloured, at the size a viewer shows it."""
    corpus = []
    frames = [Image.fromarray(make_photo(64, 48, seed=i)).convert("P") for i in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    corpus.append(
        Specimen(
            "animated.gif",
            gif.getvalue(),
            size=(64, 48),
            grey=np.asarray(Image.open(io.BytesIO(gif.getvalue())).convert("RGB")),
        )
    )
    cmyk = Image.fromarray(make_photo(80, 60)).convert("CMYK")
    cmyk_bytes = _jpeg(cmyk, quality=95)
    corpus.append(
        Specimen(
            "print.jpg", cmyk_bytes, size=(80, 60), grey=np.asarray(Image.open(io.BytesIO(cmyk_bytes)).convert("RGB"))
        )
    )
    deep = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    deep_png = io.BytesIO()
    Image.fromarray(deep).save(deep_png, "PNG")
    expected = np.repeat(np.round(deep / 65535 * 255).astype(np.uint8)[..., None], 3, axis=-1)
    corpus.append(Specimen("16bit.png", deep_png.getvalue(), size=(64, 48), grey=expected))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90° clockwise
    rotated = _jpeg(Image.fromarray(make_photo(120, 60)), exif=exif, quality=95)
    corpus.append(
        Specimen(
            "rotated.jpg",
            rotated,
            size=(60, 120),
            grey=np.asarray(Image.fromarray(make_photo(120, 60)).transpose(Image.Transpose.ROTATE_270)),
        )
    )
    big_exif = Image.Exif()
    big_exif[0x010E] = "A" * 60_000  # ImageDescription: an EXIF block near the 64 kB a JPEG segment holds
    big_exif[0x0131] = "<script>alert(1)</script>"
    corpus.append(Specimen("big-exif.jpg", _jpeg(Image.fromarray(grey), exif=big_exif, quality=95), size=(96, 64)))
    return corpus


def _polyglot_and_names(grey) -> list[Specimen]:
    corpus = []
    # A JPEG with a ZIP appended (a "GIFAR"-style polyglot): coloured, and the ZIP never stored.
    polyglot = _jpeg(Image.fromarray(grey), quality=95) + _zip_archive()
    corpus.append(Specimen("polyglot.jpg", polyglot, size=(96, 64)))
    # Names: a path, unicode, markup; only the last path part is kept, for display, and escaped.
    corpus.append(Specimen("../../../etc/passwd.png", _png(grey), size=(96, 64)))
    corpus.append(Specimen("фото бабушки 👵 1952.png", _png(grey), size=(96, 64)))
    corpus.append(Specimen('<img src=x onerror="alert(1)">.png', _png(grey), size=(96, 64)))
    return corpus


HOSTILE_CORPUS = 26  # files in the corpus: the figure the README states
LEAKS = (b"Traceback", b'File "/', b"site-packages", b"/usr/lib/python", b"Exception Value")


def photo_folders(media) -> set:
    """The photo folders in media: a stored upload makes a new one (the workers write only into existing ones)."""
    root = media / "photos"
    return {p.name for p in root.iterdir()} if root.exists() else set()


@pytest.mark.real
@pytest.mark.django_db(transaction=True)
def test_every_hostile_file_is_coloured_correctly_or_refused_clearly(real_workers, real_media, django_user_model):
    user = django_user_model.objects.create_user("mallory", password="x")
    script = Client(headers={"Authorization": f"Bearer {ApiToken.issue(user)}"})
    corpus, problems, accepted = hostile_corpus(), [], {}
    for specimen in corpus:
        before_folders, before_rows = photo_folders(real_media), Photo.objects.count()
        response = script.post(reverse("api-photos"), {"file": upload_file(specimen.name, specimen.data)})
        body = response.content
        if (
            response.status_code >= 500
            or any(leak in body for leak in LEAKS)
            or str(settings.BASE_DIR).encode() in body
        ):
            problems.append(f"{specimen.name}: {response.status_code} {body[:300]!r}")
            continue
        data = response.json()
        if specimen.refused:
            errors = [r["error"] for r in data.get("rejected", [])]
            if response.status_code != 400 or len(errors) != 1 or not errors[0].startswith(specimen.refused):
                problems.append(
                    f"{specimen.name}: expected refusal {specimen.refused!r}, got "
                    f"{response.status_code} {errors or data}"
                )
            if Photo.objects.count() != before_rows or photo_folders(real_media) != before_folders:
                problems.append(f"{specimen.name}: refused, but something was stored")
        elif response.status_code != 201:
            problems.append(f"{specimen.name}: expected it accepted, got {response.status_code} {data}")
        else:
            accepted[data["photos"][0]["id"]] = specimen

    wait_for(
        lambda: Photo.objects.filter(pk__in=accepted, status__in=Photo.FINAL).count() == len(accepted),
        timeout=300,
        message="the valid files to be coloured",
    )
    for photo in Photo.objects.filter(pk__in=accepted):
        specimen = accepted[str(photo.pk)]
        problems += check_coloured(photo, specimen, real_media)
    assert not problems, "\n".join(problems)
    assert len(accepted) == sum(1 for s in corpus if not s.refused)
    assert len(corpus) == HOSTILE_CORPUS

    # The gallery shows the markup name as text, never as markup.
    page = script.get(reverse("api-photos")).json()
    names = {p["name"] for p in page["photos"]}
    assert {"passwd.png", "фото бабушки 👵 1952.png", '<img src=x onerror="alert(1)">.png'} <= names


def check_coloured(photo: Photo, specimen: Specimen, media) -> list[str]:
    if photo.status != Photo.DONE:
        return [f"{specimen.name}: {photo.status} ({photo.failure_reason})"]
    problems = []
    with Image.open(media / photo.result.name) as result:
        if result.mode != "RGB" or result.size != specimen.size:
            problems.append(f"{specimen.name}: result {result.mode} {result.size}, expected RGB {specimen.size}")
        rgb = np.asarray(result.convert("RGB"))
    if specimen.grey is not None and rgb.shape[:2] == specimen.grey.shape[:2]:
        # The model adds colour and keeps the lightness of what was sent (the JPEG ones within JPEG noise).
        drift = np.abs(color.fast_rgb_to_l(rgb) - color.fast_rgb_to_l(specimen.grey)).mean()
        if drift > 2.0:
            problems.append(f"{specimen.name}: lightness moved by {drift:.1f}")
    with Image.open(media / photo.original.name) as original:
        if original.getexif() or original.info.get("comment") or original.info.get("exif"):
            problems.append(f"{specimen.name}: the stored original kept metadata from the upload")
    stored = (media / photo.original.name).read_bytes()
    if b"PK\x03\x04" in stored or b"<script>" in stored:
        problems.append(f"{specimen.name}: the stored original kept bytes the sender chose")
    if "/" in photo.name or "\\" in photo.name:
        problems.append(f"{specimen.name}: a path survived in the name {photo.name!r}")
    return problems


@pytest.mark.django_db
def test_the_whole_corpus_at_once_through_the_upload_page(owner_client, media_root, monkeypatch):
    """The no-JavaScript form: one request, every file; one message per refused file, no server error."""
    from gallery.tasks import colorize_photo

    monkeypatch.setattr(colorize_photo, "apply_async", lambda args, **options: None)
    corpus = hostile_corpus()
    response = owner_client.post(
        reverse("gallery-upload"), {"file": [upload_file(s.name, s.data) for s in corpus]}, follow=True
    )
    assert response.status_code == 200
    texts = [str(m) for m in response.context["messages"]]
    refused = [s for s in corpus if s.refused]
    for specimen in refused:
        shown = specimen.name.rsplit("/", 1)[-1]
        assert any(t.startswith(f"{shown}: {specimen.refused}") for t in texts), (specimen.name, texts)
    assert f"{len(corpus) - len(refused)} photo(s) queued for colouring." in texts
    assert Photo.objects.count() == len(corpus) - len(refused)
    page = owner_client.get(reverse("gallery-list")).content
    assert b"<img src=x onerror" not in page
    assert b"&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.png" in page
