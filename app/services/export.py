"""Export of exactly the samples a query selects, with their current ground-truth boxes (edits
included: it reads the `annotations` table as it is now), in any format of the importer registry
that has an exporter (`app/ingest/formats.py`: COCO JSON, YOLO zip).

Ids are the source's, so files made for the original (a predictions file, a results file) still
apply to a re-imported export: image ids are the imported ids (COCO image id; row number for
YOLO/folders), category ids the imported ones, annotation ids the imported COCO ids. Where the
source has none or they clash (boxes added in DataVisor, two splits reusing an id), DataVisor's own
ids are used instead: new annotations are numbered after the largest imported id.
Image `file_name`s are relative to the dataset's `images_dir`, and each image carries its `split`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

from app.db import Database
from app.errors import Invalid
from app.ingest import ExportData
from app.ingest.formats import EXPORTERS
from app.services.datasets import DatasetNotFound
from app.services.query import SampleFilters, where


@dataclass
class Export:
    body: Iterator[str] | Iterator[bytes]
    media_type: str
    filename: str


MEDIA = {"coco": ("application/json", "json"), "yolo": ("application/zip", "zip")}


def export(db: Database, dataset_id: int, fmt: str, f: SampleFilters) -> Export:
    exporter = EXPORTERS.get(fmt)
    if exporter is None:
        raise Invalid(f"unknown export format {fmt!r}; one of {', '.join(sorted(EXPORTERS))}")
    data = read(db, dataset_id, f)
    media_type, ext = MEDIA.get(fmt, ("application/octet-stream", "bin"))
    return Export(exporter.export(data), media_type, f"dataset-{dataset_id}-{fmt}.{ext}")


def export_coco(db: Database, dataset_id: int, f: SampleFilters) -> Iterator[str]:
    """The COCO document in pieces (kept for callers of the first API)."""
    return EXPORTERS["coco"].export(read(db, dataset_id, f))


def _unique(values: list) -> bool:
    return None not in values and len(set(values)) == len(values)


def read(db: Database, dataset_id: int, f: SampleFilters) -> ExportData:
    clause, params = where(dataset_id, f)
    with db.cursor() as cur:
        row = cur.execute("SELECT name, images_dir, info FROM datasets WHERE id = ?", [dataset_id]).fetchone()
        if row is None:
            raise DatasetNotFound(f"dataset {dataset_id} not found")
        name, images_dir, info = row
        images = cur.execute(
            f"SELECT s.id, s.source_id, s.file_name, s.path, s.width, s.height, s.split FROM samples s "
            f"WHERE {clause} ORDER BY s.id",
            params,
        ).fetchall()
        categories = cur.execute(
            "SELECT id, source_id, name, supercategory FROM categories WHERE dataset_id = ? ORDER BY source_id",
            [dataset_id],
        ).fetchall()
        annotations = cur.execute(
            f"""
            SELECT a.id, a.source_id, a.sample_id, a.category_id, a.x, a.y, a.w, a.h, a.area, a.iscrowd
            FROM annotations a
            WHERE a.dataset_id = ? AND a.source = 'ground_truth'
              AND a.sample_id IN (SELECT s.id FROM samples s WHERE {clause})
            ORDER BY a.sample_id, a.id
            """,
            [dataset_id, *params],
        ).fetchall()
    image_ids = [r[1] for r in images]
    image_id = {r[0]: r[1] for r in images} if _unique(image_ids) else {r[0]: r[0] for r in images}
    category_id = {r[0]: r[1] for r in categories}
    imported = [r[1] for r in annotations if r[1] is not None]
    if len(set(imported)) == len(imported):
        next_id = max(imported, default=0) + 1
        ann_ids = []
        for r in annotations:
            if r[1] is None:
                ann_ids.append(next_id)
                next_id += 1
            else:
                ann_ids.append(r[1])
    else:
        ann_ids = [r[0] for r in annotations]
    info_obj = json.loads(info).get("info") if info else None
    return ExportData(
        name=name,
        info=info_obj,
        images=[(image_id[r[0]], _relative(r[3], r[2], images_dir), r[4], r[5], r[6]) for r in images],
        categories=[(r[1], r[2], r[3]) for r in categories],
        annotations=[
            (ann_ids[i], image_id[r[2]], category_id[r[3]], r[4], r[5], r[6], r[7], r[8], r[9])
            for i, r in enumerate(annotations)
        ],
    )


def _relative(path: str, file_name: str, base: str | None) -> str:
    if base:
        prefix = base.rstrip(os.sep) + os.sep
        if path.startswith(prefix):
            return path[len(prefix) :].replace(os.sep, "/")
    return file_name
