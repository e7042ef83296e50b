"""COCO export of exactly the samples a query selects, with their ground-truth boxes.

Image `file_name`s are relative to the dataset's `images_dir` (so the file re-imports with that
folder as `images_dir`), image ids are DataVisor sample ids, category ids the imported ones, and each
image carries its `split` (read back by the COCO importer).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from app.db import Database
from app.services.datasets import DatasetNotFound
from app.services.query import SampleFilters, where

CHUNK = 5000


def export_coco(db: Database, dataset_id: int, f: SampleFilters) -> Iterator[str]:
    """Yields the JSON document in pieces (the first piece is produced before the response starts)."""
    clause, params = where(dataset_id, f)
    with db.cursor() as cur:
        row = cur.execute("SELECT name, images_dir, info FROM datasets WHERE id = ?", [dataset_id]).fetchone()
        if row is None:
            raise DatasetNotFound(f"dataset {dataset_id} not found")
        name, images_dir, info = row
        images = cur.execute(
            f"SELECT s.id, s.file_name, s.path, s.width, s.height, s.split FROM samples s WHERE {clause} ORDER BY s.id",
            params,
        ).fetchall()
        categories = cur.execute(
            "SELECT source_id, name, supercategory FROM categories WHERE dataset_id = ? ORDER BY source_id",
            [dataset_id],
        ).fetchall()
        annotations = cur.execute(
            f"""
            SELECT a.id, a.sample_id, c.source_id, a.x, a.y, a.w, a.h, a.area, a.iscrowd
            FROM annotations a JOIN categories c ON c.id = a.category_id
            WHERE a.dataset_id = ? AND a.source = 'ground_truth'
              AND a.sample_id IN (SELECT s.id FROM samples s WHERE {clause})
            ORDER BY a.sample_id, a.id
            """,
            [dataset_id, *params],
        ).fetchall()
    return _document(name, images_dir, info, images, categories, annotations)


def _relative(path: str, file_name: str, base: str | None) -> str:
    if base:
        prefix = base.rstrip(os.sep) + os.sep
        if path.startswith(prefix):
            return path[len(prefix) :].replace(os.sep, "/")
    return file_name


def _document(
    name: str, images_dir: str | None, info: Any, images: list, categories: list, annotations: list
) -> Iterator[str]:
    info_obj = json.loads(info).get("info") if info else None
    head = {"info": info_obj or {"description": f"DataVisor export of {name}"}, "licenses": []}
    yield json.dumps(head)[:-1] + ', "categories": '
    yield json.dumps([{"id": c[0], "name": c[1], "supercategory": c[2]} for c in categories])
    yield ', "images": ['
    for start in range(0, len(images), CHUNK):
        part = [
            {
                "id": r[0],
                "file_name": _relative(r[2], r[1], images_dir),
                "width": r[3],
                "height": r[4],
                **({"split": r[5]} if r[5] is not None else {}),
            }
            for r in images[start : start + CHUNK]
        ]
        yield ("," if start else "") + json.dumps(part)[1:-1]
    yield '], "annotations": ['
    for start in range(0, len(annotations), CHUNK):
        part = [
            {
                "id": r[0],
                "image_id": r[1],
                "category_id": r[2],
                "bbox": [r[3], r[4], r[5], r[6]],
                "area": r[7],
                "iscrowd": int(bool(r[8])),
            }
            for r in annotations[start : start + CHUNK]
        ]
        yield ("," if start else "") + json.dumps(part)[1:-1]
    yield "]}"
