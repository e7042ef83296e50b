"""Displayed orientation and bit depth: all eight EXIF orientations give the same picture, size and
boxes for import sizes, thumbnails, the original as served, embeddings and plugin pixels; 16-bit and
float images are scaled to 8 bits (mid-grey stays mid-grey)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from app.plugins import Sample
from app.plugins.registry import PluginRegistry
from app.services import pixels
from app.services.embeddings.encoder import decode_image
from tests.support.datasets import import_dataset

ROOT = Path(__file__).resolve().parents[2]
QUADRANTS = {"tl": (220, 30, 30), "tr": (30, 200, 30), "bl": (30, 30, 220), "br": (240, 240, 240)}
W, H = 96, 48  # stored (raw) size: landscape, so a 90-degree turn is visible in the size


def raw_picture() -> Image.Image:
    array = np.zeros((H, W, 3), np.uint8)
    array[: H // 2, : W // 2] = QUADRANTS["tl"]
    array[: H // 2, W // 2 :] = QUADRANTS["tr"]
    array[H // 2 :, : W // 2] = QUADRANTS["bl"]
    array[H // 2 :, W // 2 :] = QUADRANTS["br"]
    return Image.fromarray(array)


def write_oriented(path: Path, orientation: int) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    raw_picture().save(path, format="JPEG", quality=95, exif=exif.tobytes())
    return path


def expected(orientation: int) -> Image.Image:
    """What a browser shows: the raw pixels with the EXIF transform applied (PIL's reference)."""
    image = raw_picture()
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.info["exif"] = exif.tobytes()
    image.getexif()[0x0112] = orientation
    return ImageOps.exif_transpose(image)


def quadrant_colors(image: Image.Image) -> list[str]:
    """The named colour nearest to the middle of each quadrant (JPEG ringing at the borders ignored)."""
    array = np.asarray(image.convert("RGB"), dtype=np.float64)
    h, w = array.shape[:2]
    names = []
    for rows, cols in (
        (slice(0, h // 2), slice(0, w // 2)),
        (slice(0, h // 2), slice(w // 2, w)),
        (slice(h // 2, h), slice(0, w // 2)),
        (slice(h // 2, h), slice(w // 2, w)),
    ):
        cell = array[rows, cols]
        ch, cw = cell.shape[:2]
        mean = cell[ch // 4 : ch - ch // 4, cw // 4 : cw - cw // 4].mean(axis=(0, 1))
        names.append(min(QUADRANTS, key=lambda n: float(np.sum((np.array(QUADRANTS[n]) - mean) ** 2))))
    return names


def same_picture(got: Image.Image, orientation: int) -> None:
    want = expected(orientation)
    assert got.size[0] * want.size[1] == got.size[1] * want.size[0], (got.size, want.size)  # same aspect
    assert quadrant_colors(got) == quadrant_colors(want), orientation


ORIENTATIONS = list(range(1, 9))


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_header_size_plugin_pixels_and_embedding_input_use_the_displayed_orientation(tmp_path, orientation) -> None:
    path = write_oriented(tmp_path / f"o{orientation}.jpg", orientation)
    assert pixels.displayed_size(path, [tmp_path]) == expected(orientation).size
    same_picture(pixels.load_rgb(path, [tmp_path]), orientation)
    same_picture(Sample(file_name=path.name, path=path, width=None, height=None, roots=[tmp_path]).image(), orientation)
    # the embedding input is the displayed picture resized to 224 x 224
    want = np.asarray(expected(orientation).resize((224, 224), Image.BILINEAR), dtype=np.float64)
    got = decode_image(path, [tmp_path]).astype(np.float64)
    assert np.abs(got - want).mean() < 12, orientation


def test_import_thumbnails_and_original_agree_with_the_displayed_orientation(server) -> None:
    root = server.state_dir / "datasets" / "phones"
    images = [
        {"id": o, "file_name": write_oriented(root / "images" / f"o{o}.jpg", o).name} for o in ORIENTATIONS
    ]  # no width/height: read from the headers at import
    box = {"bbox": [0, 0, 10, 10], "category_id": 1, "area": 100, "iscrowd": 0}
    data = {
        "images": images,
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [{"id": o, "image_id": o, **box} for o in ORIENTATIONS],
    }
    (root / "annotations.json").write_text(json.dumps(data))
    with server.client() as client:
        job = import_dataset(client, "phones", root / "annotations.json")
        assert job["state"] == "succeeded", job
        items = client.get(f"/datasets/{job['dataset_id']}/samples", params={"limit": 50}).json()["items"]
        for item in items:
            orientation = int(item["file_name"][1])
            want = expected(orientation)
            assert (item["width"], item["height"]) == want.size, item
            original = client.get(f"/images/{item['id']}", params={"size": "original"})
            assert original.status_code == 200
            served = Image.open(io.BytesIO(original.content))
            # a browser applies EXIF again: what it draws must still be the displayed picture
            assert pixels.orientation(served) == 1, orientation
            assert served.size == want.size == (item["width"], item["height"])
            same_picture(served, orientation)
            for size in ("small", "large"):
                thumb = Image.open(io.BytesIO(client.get(f"/images/{item['id']}", params={"size": size}).content))
                same_picture(thumb, orientation)


# -- bit depth ------------------------------------------------------------------------------------
def grey_16(path: Path, mode: str, value: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        Image.fromarray(np.full((32, 48), value, np.uint16)).save(path)  # PNG, 16-bit grey
    elif mode == "I;16B":
        Image.frombytes("I;16B", (48, 32), np.full((32, 48), value, ">u2").tobytes()).save(path, format="TIFF")
    elif mode == "I":
        Image.fromarray(np.full((32, 48), value, np.int32), "I").save(path, format="TIFF")
    else:
        Image.fromarray(np.full((32, 48), value, np.float32), "F").save(path, format="TIFF")
    return path


CASES = [("I;16", "png", 32768), ("I;16B", "tif", 32768), ("I", "tif", 32768), ("F", "tif", 0.5)]


@pytest.mark.parametrize(("mode", "ext", "value"), CASES)
def test_high_bit_depth_mid_grey_stays_mid_grey(tmp_path, mode, ext, value) -> None:
    path = grey_16(tmp_path / f"grey.{ext}", mode, value)
    with Image.open(path) as raw:
        assert raw.mode.startswith(mode.split(";")[0]), raw.mode
    picture = np.asarray(pixels.load_rgb(path, [tmp_path]))
    assert picture.shape == (32, 48, 3) and abs(picture.mean() - 128) < 2, picture.mean()
    assert abs(decode_image(path, [tmp_path]).mean() - 128) < 2
    registry = PluginRegistry.discover(ROOT / "plugins", ["brightness"])
    sample = Sample(file_name=path.name, path=path, width=None, height=None, roots=[tmp_path])
    sample = registry.sample_ingested(None, sample)
    assert abs(sample.fields["brightness"] - 128) < 2 and sample.tags == [], (sample.fields, sample.tags)


def test_a_16_bit_thumbnail_is_grey_not_white(server) -> None:
    root = server.state_dir / "datasets" / "deep"
    grey_16(root / "grey" / "a.png", "I;16", 32768)
    grey_16(root / "grey" / "b.tif", "I;16B", 16384)
    with server.client() as client:
        job = import_dataset(client, "deep", root, fmt="folders")
        assert job["state"] == "succeeded", job
        items = client.get(f"/datasets/{job['dataset_id']}/samples").json()["items"]
        means = {}
        for item in items:
            thumb = Image.open(io.BytesIO(client.get(f"/images/{item['id']}", params={"size": "small"}).content))
            means[item["file_name"]] = np.asarray(thumb.convert("L")).mean()
            assert "overexposed" not in item.get("tags", []), item
        assert abs(means["grey/a.png"] - 128) < 3 and abs(means["grey/b.tif"] - 64) < 3, means
