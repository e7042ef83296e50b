"""A zoo of dataset layouts, generated here, through the importer registry (no server: detection and
loading are pure functions of the tree): what `auto` recognises, what it refuses and why, and what is
skipped (counted per reason, never silently)."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from app.ingest import IngestError, formats
from app.ingest import predictions as prediction_files
from tests.support.datasets import coco_dict, write_image

ROOT = Path(__file__).resolve().parents[2]


def noop(*_: object) -> None:
    pass


def detect(path: Path, fmt: str = "auto", split: str | None = None, images_dir: Path | None = None):
    return formats.detect(fmt, path, images_dir, split, [path if path.is_dir() else path.parent])


def load(path: Path, fmt: str = "auto", split: str | None = None, images_dir: Path | None = None):
    roots = [path if path.is_dir() else path.parent]
    return formats.load(formats.detect(fmt, path, images_dir, split, roots), noop, roots)


def coco_tree(root: Path, images: Path, ann: Path, n: int = 3, first_id: int = 1) -> dict:
    data = coco_dict(n)
    for i, image in enumerate(data["images"]):
        image["id"] = first_id + i
        write_image(images / image["file_name"], (image["width"], image["height"]))
    for a in data["annotations"]:
        a["image_id"] = first_id + (a["image_id"] - 100)
    ann.parent.mkdir(parents=True, exist_ok=True)
    ann.write_text(json.dumps(data))
    return data


def yolo_labels(labels: Path, names: dict[str, str]) -> None:
    for name, text in names.items():
        (labels / name).parent.mkdir(parents=True, exist_ok=True)
        (labels / name).write_text(text)


def splits_of(parsed) -> dict[str | None, int]:
    out: dict[str | None, int] = {}
    for split in parsed.samples.column("split").to_pylist():
        out[split] = out.get(split, 0) + 1
    return out


# -- COCO --------------------------------------------------------------------------------------------
def test_annotations_json_next_to_images_is_coco_not_a_class_called_images(tmp_path) -> None:
    coco_tree(tmp_path, tmp_path / "images", tmp_path / "annotations.json")
    sources = detect(tmp_path)
    assert [s.format for s in sources] == ["coco"]
    parsed = load(tmp_path)
    assert parsed.samples.num_rows == 3 and parsed.issues.missing == 0
    assert parsed.categories.column("name").to_pylist() == ["cat", "dog", "bird"]


def test_instances_split_json_next_to_images_split_folder_finds_the_images(tmp_path) -> None:
    """annotations/instances_val.json + images/val/: every image must be found (not 404 later)."""
    coco_tree(tmp_path, tmp_path / "images" / "val", tmp_path / "annotations" / "instances_val.json")
    coco_tree(tmp_path, tmp_path / "images" / "train", tmp_path / "annotations" / "instances_train.json", 2, 50)
    parsed = load(tmp_path)
    assert splits_of(parsed) == {"train": 2, "val": 3}
    assert parsed.issues.missing == 0, parsed.issues.missing_examples
    assert all("/images/val/" in p or "/images/train/" in p for p in parsed.samples.column("path").to_pylist())


def test_coco2017_and_roboflow_layouts(tmp_path) -> None:
    a = tmp_path / "coco2017"
    coco_tree(a, a / "train2017", a / "annotations" / "instances_train2017.json", 2)
    coco_tree(a, a / "val2017", a / "annotations" / "instances_val2017.json", 1, 10)
    assert splits_of(load(a)) == {"train": 2, "val": 1}
    b = tmp_path / "roboflow"
    for i, split in enumerate(("train", "valid", "test")):
        coco_tree(b, b / split, b / split / "_annotations.coco.json", i + 1, 10 * i)
    assert splits_of(load(b)) == {"train": 1, "val": 2, "test": 3}


def test_a_single_coco_json_with_any_name_in_annotations_folder(tmp_path) -> None:
    coco_tree(tmp_path, tmp_path / "images", tmp_path / "annotations" / "labels_export.json")
    assert load(tmp_path).issues.missing == 0


def test_several_unrelated_coco_files_are_ambiguous(tmp_path) -> None:
    coco_tree(tmp_path, tmp_path / "images", tmp_path / "first.json")
    coco_tree(tmp_path, tmp_path / "images", tmp_path / "second.json")
    with pytest.raises(IngestError, match=r"several COCO files .*first\.json, second\.json"):
        detect(tmp_path)


def test_segmentation_only_annotations_are_skipped_and_counted(tmp_path) -> None:
    data = coco_tree(tmp_path, tmp_path / "images", tmp_path / "annotations.json", 4)
    del data["annotations"][0]["bbox"]
    (tmp_path / "annotations.json").write_text(json.dumps(data))
    parsed = load(tmp_path)
    assert parsed.annotations.num_rows == len(data["annotations"]) - 1
    assert dict(parsed.issues.skipped) == {"annotation_without_bbox": 1}


def test_panoptic_coco_says_so(tmp_path) -> None:
    data = coco_tree(tmp_path, tmp_path / "images", tmp_path / "panoptic.json", 2)
    data["annotations"] = [{"image_id": 1, "file_name": "img_000.png", "segments_info": [{"id": 5, "category_id": 1}]}]
    (tmp_path / "panoptic.json").write_text(json.dumps(data))
    with pytest.raises(IngestError) as raised:
        load(tmp_path / "panoptic.json")
    message = str(raised.value)
    assert message.startswith("panoptic.json: a COCO panoptic file") and "(annotation of image 1)" in message
    assert "None" not in message


def test_coco_errors_read_file_what_entry(tmp_path) -> None:
    data = coco_tree(tmp_path, tmp_path / "images", tmp_path / "instances.json", 3)
    data["annotations"][0]["category_id"] = 77
    (tmp_path / "instances.json").write_text(json.dumps(data))
    with pytest.raises(IngestError, match=r"^instances\.json: unknown category_id 77 \(annotation 1\)$"):
        load(tmp_path / "instances.json")


def test_coco_ids_that_are_not_integers_read_file_what_entry(tmp_path) -> None:
    """Read as BIGINT, an id of 1.5 became 2 and "42" became 42 without a word (a results file then matched
    other images than pycocotools would); 7.0 is 7, as pycocotools compares ids."""
    data = coco_tree(tmp_path, tmp_path / "images", tmp_path / "instances.json", 3)
    for change, message in [
        (lambda d: d["images"][1].update(id=2.5), r"^instances\.json: image id 2\.5 is not an integer \(image with"),
        (lambda d: d["images"][1].update(id="2"), r"image id \"2\" is not an integer \(image with file_name 'img_001"),
        (lambda d: d["categories"][0].update(id="1"), r"category id \"1\" is not an integer \(category 'cat'"),
        (lambda d: d["annotations"][0].update(id=1.25), r"annotation id 1\.25 is not an integer \(annotation of image"),
        (lambda d: d["annotations"][0].update(image_id="1"), r"image_id \"1\" is not an integer \(annotation 1;"),
        (lambda d: d["annotations"][0].update(category_id=2**64), r"category_id .* is not an integer \(annotation 1;"),
    ]:
        broken = json.loads(json.dumps(data))
        change(broken)
        (tmp_path / "instances.json").write_text(json.dumps(broken))
        with pytest.raises(IngestError, match=message):
            load(tmp_path / "instances.json")
    fine = json.loads(json.dumps(data))
    for image in fine["images"]:
        image["id"] = float(image["id"])
    (tmp_path / "instances.json").write_text(json.dumps(fine))
    parsed = load(tmp_path / "instances.json")
    assert parsed.samples.column("source_id").to_pylist() == [i["id"] for i in data["images"]]
    assert parsed.annotations.num_rows == len(data["annotations"])


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_skipped_naming_the_file(tmp_path) -> None:
    write_image(tmp_path / "cat" / "fine.png", (8, 8))
    (tmp_path / "cat" / "bomb.png").write_bytes(_png_header(20000, 20000))
    parsed = load(tmp_path, "folders")
    assert parsed.samples.num_rows == 1
    assert dict(parsed.issues.skipped) == {"undecodable_image": 1}
    example = parsed.issues.skipped_examples["undecodable_image"][0]
    assert "bomb.png" in example and "too many pixels" in example, example


# -- YOLO --------------------------------------------------------------------------------------------
def ultralytics(root: Path, splits=("train", "val")) -> Path:
    for i, split in enumerate(splits):
        write_image(root / "images" / split / f"{split}_a.jpg", (100, 50))
        yolo_labels(root / "labels" / split, {f"{split}_a.txt": f"{i} 0.5 0.5 0.2 0.4\n"})
    (root / "data.yaml").write_text(
        yaml.safe_dump({"path": ".", **{s: f"images/{s}" for s in splits}, "names": {0: "cat", 1: "dog"}})
    )
    return root


def test_yolo_split_selects_one_split_of_a_data_yaml(tmp_path) -> None:
    root = ultralytics(tmp_path)
    assert splits_of(load(root)) == {"train": 1, "val": 1}
    assert splits_of(load(root, split="val")) == {"val": 1}
    assert splits_of(load(root, split="validation")) == {"val": 1}
    with pytest.raises(IngestError, match=r"no split 'test' in this dataset \(it has train, val\)"):
        detect(root, split="test")


def test_yolo_polygons_become_their_bounding_box_and_obb_files_are_counted(tmp_path) -> None:
    root = ultralytics(tmp_path, ("train",))
    # a segmentation polygon: the box is its extent, as Ultralytics computes it
    (root / "labels" / "train" / "train_a.txt").write_text("1 0.1 0.2 0.5 0.2 0.5 0.6 0.1 0.6\n")
    yolo_labels(root / "labelTxt", {"train_a.txt": "10 10 20 10 20 20 10 20 cat 0\n"})
    yolo_labels(root / "labels" / "train", {"orphan.txt": "0 0.5 0.5 0.1 0.1\n"})
    parsed = load(root)
    box = [round(parsed.annotations.column(c)[0].as_py(), 6) for c in ("x", "y", "w", "h")]
    assert box == [10.0, 10.0, 40.0, 20.0]
    assert dict(parsed.issues.skipped) == {"label_without_image": 1, "obb_label_file_labelTxt": 1}


def test_yolo_label_errors_read_file_what_line(tmp_path) -> None:
    root = ultralytics(tmp_path, ("val",))
    (root / "labels" / "val" / "val_a.txt").write_text("1 0.5 0.5 1.0 1.0\n7 0.5 0.5 0.1 0.1\n")
    with pytest.raises(IngestError, match=r"^labels/val/val_a\.txt: unknown class 7, names has 2 classes \(line 2\)$"):
        load(root)


def test_darknet_yolo_is_yolo_not_class_folders(tmp_path) -> None:
    data = tmp_path / "obj_train_data"
    for name in ("a", "b"):
        write_image(data / f"{name}.jpg", (80, 40))
    (data / "a.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (data / "b.txt").write_text("1 0.25 0.25 0.5 0.5\n")
    (tmp_path / "obj.names").write_text("person\ncar\n")
    (tmp_path / "obj.data").write_text("classes = 2\ntrain = data/train.txt\nnames = data/obj.names\n")
    (tmp_path / "train.txt").write_text("data/obj_train_data/a.jpg\ndata/obj_train_data/b.jpg\n")
    assert [s.format for s in detect(tmp_path)] == ["yolo"]
    parsed = load(tmp_path)
    assert parsed.samples.num_rows == 2 and parsed.annotations.num_rows == 2
    assert parsed.categories.column("name").to_pylist() == ["person", "car"]
    assert splits_of(parsed) == {"train": 2} and parsed.issues.missing == 0


def test_classes_txt_flat_yolo(tmp_path) -> None:
    write_image(tmp_path / "images" / "a.jpg", (64, 64))
    yolo_labels(tmp_path / "labels", {"a.txt": "0 0.5 0.5 0.5 0.5\n"})
    (tmp_path / "classes.txt").write_text("thing\n")
    parsed = load(tmp_path)
    assert parsed.annotations.num_rows == 1 and splits_of(parsed) == {None: 1}


# -- class folders -----------------------------------------------------------------------------------
def test_class_folders_keep_nested_images_and_count_non_images(tmp_path) -> None:
    write_image(tmp_path / "cat" / "a.jpg", (10, 10))
    write_image(tmp_path / "cat" / "indoor" / "b.jpg", (10, 10))
    write_image(tmp_path / "cat" / "indoor" / "deep" / "c.png", (10, 10))
    write_image(tmp_path / "dog" / "d.jpg", (10, 10))
    (tmp_path / "dog" / "notes.txt").write_text("not a picture")
    parsed = load(tmp_path)
    names = sorted(parsed.samples.column("file_name").to_pylist())
    assert names == ["cat/a.jpg", "cat/indoor/b.jpg", "cat/indoor/deep/c.png", "dog/d.jpg"]
    assert dict(parsed.issues.skipped) == {"not_an_image_file": 1}


def test_names_that_are_not_utf8_are_counted_not_only_logged(tmp_path) -> None:
    """A file or folder whose name is not UTF-8 cannot be stored or named, so the walk leaves it out; it was
    only logged, the import result said nothing. Each is counted once (the walks of detection and loading
    see it several times), shown with U+FFFD for the bytes that are not UTF-8."""
    write_image(tmp_path / "cat" / "a.jpg", (10, 10))
    raw = os.fsencode(tmp_path)
    os.makedirs(raw + b"/\xffbird")
    os.link(tmp_path / "cat" / "a.jpg", raw + b"/\xffbird/b.jpg")
    os.link(tmp_path / "cat" / "a.jpg", raw + b"/cat/\xfe.jpg")
    parsed = load(tmp_path, "folders")
    assert parsed.samples.column("file_name").to_pylist() == ["cat/a.jpg"]
    assert dict(parsed.issues.skipped) == {"file_name_not_utf8": 2}
    shown = [f"{tmp_path}/cat/\ufffd.jpg", f"{tmp_path}/\ufffdbird"]
    assert parsed.issues.skipped_examples["file_name_not_utf8"] == shown
    # YOLO: an image and a label file
    yolo = tmp_path / "yolo"
    ultralytics(yolo, ("train",))
    os.link(yolo / "images" / "train" / "train_a.jpg", os.fsencode(yolo) + b"/images/train/\xff.jpg")
    os.rename(yolo / "labels" / "train" / "train_a.txt", os.fsencode(yolo) + b"/labels/train/\xfe.txt")
    parsed = load(yolo)
    assert dict(parsed.issues.skipped) == {"file_name_not_utf8": 2}, parsed.issues.skipped


def test_class_folders_with_split_folders_share_one_class_list(tmp_path) -> None:
    write_image(tmp_path / "train" / "cat" / "a.jpg", (10, 10))
    write_image(tmp_path / "train" / "dog" / "b.jpg", (10, 10))
    write_image(tmp_path / "val" / "dog" / "c.jpg", (10, 10))
    parsed = load(tmp_path)
    assert splits_of(parsed) == {"train": 2, "val": 1}
    assert parsed.categories.column("name").to_pylist() == ["cat", "dog"]
    assert sorted(parsed.samples.column("source_id").to_pylist()) == [0, 1, 2]


def test_layout_folders_are_never_classes(tmp_path) -> None:
    for folder in ("images", "JPEGImages", "labels"):
        write_image(tmp_path / folder / "a.jpg", (10, 10))
    with pytest.raises(IngestError, match="cannot detect the format"):
        detect(tmp_path)


def test_an_ambiguous_tree_names_the_candidates(tmp_path) -> None:
    coco_tree(tmp_path, tmp_path / "images", tmp_path / "annotations.json")
    write_image(tmp_path / "cat" / "x.jpg", (10, 10))
    with pytest.raises(IngestError, match=r"ambiguous layout: looks like coco \(annotations\.json\); folders \(class"):
        detect(tmp_path)
    assert [s.format for s in detect(tmp_path, "folders")] == ["folders"]


def test_missing_images_are_counted_and_all_missing_fails_saying_where(tmp_path) -> None:
    coco_tree(tmp_path, tmp_path / "images", tmp_path / "annotations.json", 4)
    (tmp_path / "images" / "img_002.jpg").unlink()
    parsed = load(tmp_path)
    assert parsed.issues.missing == 1 and parsed.issues.missing_examples[0].endswith("images/img_002.jpg")
    for file in (tmp_path / "images").iterdir():
        file.unlink()
    with pytest.raises(IngestError, match=r"none of the 4 image files was found; looked in .*images"):
        load(tmp_path)


# -- the registry --------------------------------------------------------------------------------------
def test_router_and_readme_list_the_registry_formats() -> None:
    from app.routers.datasets import CreateDataset

    assert CreateDataset.model_json_schema()["properties"]["format"]["enum"] == list(formats.CHOICES)
    readme = (ROOT / "README.md").read_text()
    assert formats.readme_table() in readme, "regenerate: python -m app.ingest.formats"


# -- predictions files ---------------------------------------------------------------------------------
def test_a_jpeg_given_as_predictions_names_the_file(tmp_path) -> None:
    jpeg = write_image(tmp_path / "photo.jpg", (16, 16))
    index = prediction_files.DatasetIndex.__new__(prediction_files.DatasetIndex)
    with pytest.raises(IngestError) as raised:
        prediction_files.load("coco_results", jpeg, index, noop)
    assert str(raised.value).startswith("photo.jpg: ") and "Unicode" not in str(raised.value)
    folder = tmp_path / "preds"
    folder.mkdir()
    (folder / "a.txt").write_bytes(jpeg.read_bytes())
    index = prediction_files.DatasetIndex(
        format="yolo",
        sample_ids=np.array([1]),
        sample_source_ids=np.array([0]),
        file_names=["a.jpg"],
        widths=np.array([16]),
        heights=np.array([16]),
        category_ids=np.array([7]),
        category_source_ids=np.array([0]),
    )
    with pytest.raises(IngestError) as raised:
        prediction_files.load("yolo", folder, index, noop)
    assert str(raised.value).startswith("a.txt: not UTF-8 text (line "), str(raised.value)
