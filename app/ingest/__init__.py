"""Importers, one module per format, all producing the same `ParsedDataset` (Arrow tables).

- `coco.py`: a COCO instances file (read by DuckDB's own JSON reader, validated in SQL)
- `yolo.py`: a YOLO root (data.yaml or classes.txt, images/ + labels/)
- `folders.py`: a classification tree (one folder per class, optionally under split folders)
- `detect.py`: which format a path holds, and its splits

Importers never write: `app.services.datasets` assigns ids and writes everything in one transaction.
A malformed input raises `IngestError` with a message naming the file and the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from app.errors import Invalid

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

# Split folder / file names as they appear in common layouts, and the split name we store.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "train2014": "train",
    "train2017": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "val2014": "val",
    "val2017": "val",
    "test": "test",
    "testing": "test",
    "test2017": "test",
}

SAMPLES_SCHEMA = pa.schema(
    [
        ("file_name", pa.string()),
        ("path", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("split", pa.string()),
        ("source_id", pa.int64()),
    ]
)
ANNOTATIONS_SCHEMA = pa.schema(
    [
        ("sample_idx", pa.int64()),
        ("category_idx", pa.int64()),
        ("x", pa.float64()),
        ("y", pa.float64()),
        ("w", pa.float64()),
        ("h", pa.float64()),
        ("area", pa.float64()),
        ("iscrowd", pa.bool_()),
        ("source_id", pa.int64()),
    ]
)
CATEGORIES_SCHEMA = pa.schema([("source_id", pa.int64()), ("name", pa.string()), ("supercategory", pa.string())])

Progress = Callable[[int, int | None, str], None]


class IngestError(Invalid):
    """A malformed input; the message names the file and the problem and is shown to the user."""


@dataclass
class ParsedDataset:
    """What an importer read. Annotations point at samples and categories by row index."""

    samples: pa.Table
    annotations: pa.Table
    categories: pa.Table
    info: dict = field(default_factory=dict)


def from_columns(samples: dict[str, list], annotations: dict[str, list], class_names: list[str]) -> ParsedDataset:
    """A ParsedDataset from column lists, with categories numbered by class index (YOLO, folders)."""
    categories = pa.table(
        {"source_id": list(range(len(class_names))), "name": class_names, "supercategory": [None] * len(class_names)},
        schema=CATEGORIES_SCHEMA,
    )
    return ParsedDataset(
        pa.table(samples, schema=SAMPLES_SCHEMA), pa.table(annotations, schema=ANNOTATIONS_SCHEMA), categories
    )


def image_size(path: Path, roots: list[Path], entry: str) -> tuple[int, int]:
    """Displayed width and height (EXIF orientation applied) from the header of a confined file."""
    from app.services.pixels import displayed_size

    return displayed_size(path, roots, entry)


def split_name(name: str) -> str:
    return SPLIT_ALIASES.get(name.lower(), name)


def concat(parts: list[ParsedDataset]) -> ParsedDataset:
    """Merge parts (splits) into one dataset; categories are merged by (source id, name)."""
    if len(parts) == 1:
        return parts[0]
    categories: dict[int, tuple[str, str | None]] = {}
    for part in parts:
        columns = (part.categories.column(c).to_pylist() for c in CATEGORIES_SCHEMA.names)
        for cid, name, sup in zip(*columns, strict=True):
            known = categories.get(cid)
            if known is not None and known[0] != name:
                raise IngestError(f"category id {cid} is called {known[0]!r} in one split and {name!r} in another")
            categories.setdefault(cid, (name, sup))
    ordered = sorted(categories)
    index = {cid: i for i, cid in enumerate(ordered)}
    samples, annotations, offset = [], [], 0

    for part in parts:
        samples.append(part.samples)
        mapping = np.array([index[c] for c in part.categories.column("source_id").to_pylist()], dtype=np.int64)
        ann = part.annotations
        if ann.num_rows:
            cat_idx = mapping[ann.column("category_idx").to_numpy()]
            ann = ann.set_column(1, "category_idx", pa.array(cat_idx, pa.int64()))
            ann = ann.set_column(0, "sample_idx", pc.add(ann.column("sample_idx"), offset))
        annotations.append(ann)
        offset += part.samples.num_rows
    cats = pa.table(
        {
            "source_id": pa.array(ordered, pa.int64()),
            "name": [categories[c][0] for c in ordered],
            "supercategory": [categories[c][1] for c in ordered],
        },
        schema=CATEGORIES_SCHEMA,
    )
    info = parts[0].info
    return ParsedDataset(pa.concat_tables(samples), pa.concat_tables(annotations), cats, info)
