"""Prediction files -> rows mapped to samples and categories (no server: pure parsing and mapping)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.ingest import IngestError
from app.ingest.predictions import DatasetIndex, load


def index(fmt: str = "yolo") -> DatasetIndex:
    # two images share the stem "a" (train and val); categories' source ids 0, 1 (YOLO) or 1, 3 (COCO)
    return DatasetIndex(
        format=fmt,
        sample_ids=np.array([10, 11, 12]),
        sample_source_ids=np.array([100, 101, 102]),
        file_names=["images/train/a.jpg", "images/val/a.jpg", "images/val/b.png"],
        widths=np.array([200, 100, 50]),
        heights=np.array([100, 100, 50]),
        category_ids=np.array([7, 8]),
        category_source_ids=np.array([0, 1]) if fmt == "yolo" else np.array([1, 3]),
    )


def nothing(*_: object) -> None:
    pass


def test_yolo_maps_by_relative_path_then_unique_stem(tmp_path: Path):
    (tmp_path / "labels/val").mkdir(parents=True)
    (tmp_path / "labels/val/a.txt").write_text("1 0.5 0.5 0.2 0.4 0.75\n\n")
    (tmp_path / "b.txt").write_text("0 0.5 0.5 1 1 0.5\n")  # flat: unique stem
    table = load("yolo", tmp_path, index(), nothing).to_pydict()
    assert table["sample_id"] == [12, 11]  # files sorted: b.txt, labels/val/a.txt
    assert table["category_id"] == [7, 8]
    assert table["x"] == [0.0, 40.0] and table["y"] == [0.0, 30.0]
    assert table["w"] == [50.0, 20.0] and table["h"] == [50.0, 40.0]
    assert table["confidence"] == [0.5, 0.75]


def test_yolo_ambiguous_stem_and_class_index_of_a_coco_dataset(tmp_path: Path):
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.2 0.4 0.9\n")
    with pytest.raises(IngestError, match=r"a.txt: 2 images are named a\.\*"):
        load("yolo", tmp_path, index(), nothing)
    (tmp_path / "a.txt").unlink()
    (tmp_path / "b.txt").write_text("1 0.5 0.5 0.2 0.4 0.9\n")
    # a COCO dataset: YOLO class k is the k-th category by source id
    assert load("yolo", tmp_path, index("coco"), nothing).to_pydict()["category_id"] == [8]
    (tmp_path / "b.txt").write_text("2 0.5 0.5 0.2 0.4 0.9\n")
    with pytest.raises(IngestError, match=r"b.txt box 1: class 2 is not a class"):
        load("yolo", tmp_path, index(), nothing)
    (tmp_path / "b.txt").write_text("0 0.5 0.5 0.2 0.4 0.9\n0 0.5 zero 0.2 0.4 0.9\n")
    with pytest.raises(IngestError, match=r"b.txt line 2: .* is not numeric"):
        load("yolo", tmp_path, index(), nothing)


def test_coco_results_mapping_order_and_errors(tmp_path: Path):
    f = tmp_path / "r.json"
    rows = [
        {"image_id": 102, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.25, "segmentation": []},
        {"image_id": 100, "category_id": 1, "bbox": [5.5, 6, 7, 8], "score": 0.5},
    ]
    f.write_text(json.dumps(rows))
    table = load("coco_results", f, index("coco"), nothing).to_pydict()
    assert table["sample_id"] == [12, 10] and table["category_id"] == [8, 7]  # file order kept
    assert table["x"] == [1.0, 5.5] and table["confidence"] == [0.25, 0.5]
    for broken, message in [
        ([{**rows[0], "bbox": [1, 2, 3]}], r"r.json: entry 1 has no 'bbox' of four numbers"),
        ([rows[1], {**rows[0], "bbox": [1, 2, -3, 4]}], r"entry 2 has a negative bbox width"),
        ([{**rows[0], "category_id": 2}], r"category_id 2 is not a category of this dataset"),
        ({"not": "a list"}, r"r.json: not a COCO results file"),
        # ids that are not integers: read as BIGINT they were 102 and 100 without a word
        (
            [rows[1], {**rows[0], "image_id": 101.5}],
            r"^r.json: entry 2 has a non-integer image_id \(1 entries affected\)$",
        ),
        ([{**rows[0], "image_id": "102"}], r"entry 1 has a non-integer image_id"),
        ([{**rows[0], "category_id": "3"}], r"entry 1 has a non-integer category_id"),
        ([{**rows[0], "category_id": True}], r"entry 1 has a non-integer category_id"),
        ([{**rows[0], "image_id": 2**64 - 1}], r"entry 1 has a non-integer image_id"),
    ]:
        f.write_text(json.dumps(broken))
        with pytest.raises(IngestError, match=message):
            load("coco_results", f, index("coco"), nothing)
    f.write_text(json.dumps([{**rows[0], "image_id": 102.0, "category_id": 3.0}]))  # as pycocotools: 102.0 is 102
    assert load("coco_results", f, index("coco"), nothing).to_pydict()["sample_id"] == [12]
    f.write_text("[]")
    assert load("coco_results", f, index("coco"), nothing).num_rows == 0
