import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ml import color
from ml.images import InvalidImage, open_image
from ml.inference import Colorizer, ModelNotAvailable, working_scale
from tests.ml_support import REPO, landscape_photo, write_tiny_model


@pytest.fixture(scope="module")
def colorizer(tmp_path_factory):
    return Colorizer(write_tiny_model(tmp_path_factory.mktemp("tiny")))


def lightness(im: Image.Image) -> np.ndarray:
    return color.rgb_to_l(np.asarray(im.convert("RGB")))


@pytest.mark.parametrize("size", [(1, 1), (150, 150), (301, 203), (1000, 7), (7, 1000), (640, 480)])
def test_output_has_the_input_size_and_keeps_its_lightness(colorizer, size):
    rgb = np.random.default_rng(0).integers(0, 256, size[::-1] + (3,), dtype=np.uint8)
    out = colorizer.colorize(Image.fromarray(rgb))
    assert out.mode == "RGB"
    assert out.size == size
    assert np.abs(lightness(out) - color.rgb_to_l(rgb)).mean() < 1.0


def test_a_large_photo_is_predicted_small_and_merged_at_full_size(colorizer):
    rgb = np.repeat(np.repeat(landscape_photo(0), 16, axis=0), 16, axis=1)  # 2400 x 2400
    out = np.asarray(colorizer.colorize(Image.fromarray(rgb), working_size=128))
    assert out.shape == rgb.shape
    # fine detail survives: the lightness of the output is the original's, not an upsampled one
    assert np.abs(color.fast_rgb_to_l(out) - color.fast_rgb_to_l(rgb)).mean() < 1.0


@pytest.mark.parametrize(
    "height, width, copy",
    [
        (192, 288, (160, 240)),  # a street portrait of the photos test split: the shorter side to 160
        (224, 224, (160, 160)),
        (3000, 4000, (160, 213)),  # a 12 MP upload
        (150, 150, (150, 150)),  # a landscape: never enlarged
        (100, 1000, (64, 640)),  # a panorama: the longer side at most 4 working sizes
    ],
)
def test_the_working_copy_has_its_shorter_side_at_the_working_size(height, width, copy):
    scale = working_scale(height, width, 160)
    assert (round(height * scale), round(width * scale)) == copy


def test_by_default_the_network_sees_the_photo_at_the_size_it_learnt_at(colorizer):
    """160 px on the shorter side, the training photos' size (ml.inference's docstring)."""
    _, small = colorizer.grid_for(np.full((192, 288), 50.0, np.float32))
    assert small == (240, 160)  # (width, height)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16", "1", "I", "F"])
def test_every_common_mode_is_coloured(colorizer, mode):
    src = Image.fromarray(landscape_photo(1))
    im = src.convert("L").convert(mode) if mode in ("I;16", "I", "F", "1") else src.convert(mode)
    out = colorizer.colorize(im)
    assert out.mode == "RGB"
    assert out.size == src.size


def test_exif_orientation_is_applied(colorizer):
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(landscape_photo(2)[:, :100]).save(buf, "JPEG", exif=exif)
    assert colorizer.colorize(buf.getvalue()).size == (150, 100)


def test_sixteen_bit_values_are_scaled_not_clipped():
    im = Image.fromarray(np.full((8, 8), 40000, np.uint16))
    assert np.asarray(open_image(_png(im))).mean() == pytest.approx(40000 / 65535 * 255, abs=1)


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _bomb() -> bytes:
    # A valid PNG header declaring 30000 x 30000 pixels: the pixel cap must refuse it before decoding.
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 30001))
        + chunk(b"IEND", b"")
    )


def _truncated_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(landscape_photo(3)).save(buf, "JPEG")
    return buf.getvalue()[:1500]


@pytest.mark.parametrize(
    "payload,message",
    [
        (b"", "empty"),
        (b"hello, I am a text file", "not an image"),
        (b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "not an image"),
        ("bomb", "megapixels"),
        ("truncated", "damaged or truncated"),
        ("eps", "not accepted"),
    ],
)
def test_bad_input_raises_one_exception_type_with_a_clear_message(payload, message):
    if payload == "bomb":
        payload = _bomb()
    elif payload == "truncated":
        payload = _truncated_jpeg()
    elif payload == "eps":
        buf = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buf, "EPS") if False else Image.new("RGB", (4, 4)).save(buf, "PPM")
        payload = buf.getvalue()
    with pytest.raises(InvalidImage, match=message):
        open_image(payload, max_pixels=50_000_000)


def test_pixel_cap_is_a_parameter():
    with pytest.raises(InvalidImage, match="limit is"):
        open_image(_png(Image.new("RGB", (100, 100))), max_pixels=5_000)


def test_missing_model_is_reported(tmp_path):
    with pytest.raises(ModelNotAvailable, match="missing"):
        Colorizer(tmp_path)
    write_tiny_model(tmp_path)
    (tmp_path / "model.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelNotAvailable, match="cannot be loaded"):
        Colorizer(tmp_path)


def test_cli_colours_good_files_and_reports_bad_ones(tmp_path):
    model = write_tiny_model(tmp_path / "model")
    good = tmp_path / "good.png"
    Image.fromarray(landscape_photo(4)).convert("L").save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"PK\x03\x04 a zip file")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ml",
            "colorize",
            str(bad),
            str(good),
            "--model",
            str(model),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert "bad.jpg: the file is not an image we can read" in run.stderr
    result = Image.open(tmp_path / "out" / "good_color.jpg")
    assert result.size == (150, 150)
    assert result.mode == "RGB"


def test_saturation_scales_the_decoded_chroma(colorizer):
    grid = colorizer.predict_grid(np.full((32, 32), 50.0, np.float32))
    plain = colorizer.decode(grid, saturation=1.0)
    assert np.allclose(colorizer.decode(grid, saturation=1.3), 1.3 * plain, atol=1e-4)


def test_the_saturation_comes_from_the_model_record(colorizer):
    assert colorizer.saturation == colorizer.info.get("saturation", 1.0)


def test_a_saturation_passed_to_colorize_reaches_the_decode(colorizer):
    """The site's colour strength (gallery.colour_strength) travels through colorize_array to decode."""
    rgb = landscape_photo(0)
    l = color.fast_rgb_to_l(rgb)
    plain = colorizer.predict_ab(l, working_size=128, saturation=1.0)
    assert np.allclose(colorizer.predict_ab(l, working_size=128, saturation=1.3), 1.3 * plain, atol=1e-3)
    muted = colorizer.colorize_array(rgb, working_size=128, saturation=0.0)
    assert np.abs(muted.astype(int) - muted[..., :1].astype(int)).max() <= 1  # no chroma left: grey


def test_a_model_without_a_confidence_power_scales_every_photo_alike(colorizer):
    grid = colorizer.predict_grid(color.fast_rgb_to_l(landscape_photo(0)))
    assert colorizer.confidence_factor(grid) == 1.0


def test_a_photo_surer_than_the_reference_gets_more_colour(colorizer):
    """With γ = 0.5 and a reference a quarter of the photo's confidence, its chroma doubles."""
    from ml import bins

    grid = colorizer.predict_grid(color.fast_rgb_to_l(landscape_photo(1)))
    sure = bins.confidence(grid, colorizer.weights)
    info = {**colorizer.info, "confidence_gamma": 0.5, "confidence_reference": sure / 4}
    following = Colorizer.in_memory(colorizer.model, info)
    assert np.allclose(following.decode(grid), 2.0 * colorizer.decode(grid), atol=1e-3)


def test_a_photo_less_sure_than_the_reference_gets_less_colour(colorizer):
    from ml import bins

    grid = colorizer.predict_grid(color.fast_rgb_to_l(landscape_photo(1)))
    sure = bins.confidence(grid, colorizer.weights)
    info = {**colorizer.info, "confidence_gamma": 0.5, "confidence_reference": sure * 4}
    following = Colorizer.in_memory(colorizer.model, info)
    assert np.allclose(following.decode(grid), 0.5 * colorizer.decode(grid), atol=1e-3)
