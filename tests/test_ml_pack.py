"""The compact data copy for a GPU box: parts, their archives, and what the last part lists."""

import json
import tarfile

import pytest
from PIL import Image, JpegImagePlugin

from ml.pack import pack


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    return pack(tmp_path_factory.mktemp("pack"), parts=2, max_train=4)


def test_each_part_has_its_archive(parts):
    assert all(folder.with_suffix(".tgz").is_file() for folder in parts)


def test_an_archive_holds_its_parts_split_list(parts):
    with tarfile.open(parts[0].with_suffix(".tgz")) as archive:
        assert "./photos/splits.json" in archive.getnames()


def test_the_first_part_lists_only_its_own_photos(parts):
    assert len(json.loads((parts[0] / "photos" / "splits.json").read_text())["train"]) == 2


def test_the_last_part_lists_every_parts_photos(parts):
    assert len(json.loads((parts[1] / "photos" / "splits.json").read_text())["train"]) == 4


def test_the_last_part_carries_the_encoder_weights(parts):
    assert (parts[1] / "encoder.npz").is_file()


def test_packed_photos_keep_their_chroma_at_full_resolution(parts):
    photo = next((parts[0] / "photos" / "train").iterdir())
    with Image.open(photo) as image:
        assert JpegImagePlugin.get_sampling(image) == 0  # 4:4:4
