"""Model predictions for an existing dataset: COCO results files and YOLO txt folders with confidences.

Both produce one Arrow table (PREDICTIONS_SCHEMA) with boxes in pixels (COCO xywh) already mapped to the
dataset's sample and category ids, in file order (file order breaks score ties, as in pycocotools).

- `coco_results`: a JSON array of {"image_id", "category_id", "bbox": [x, y, w, h], "score"} as written by
  detectron2/mmdet/`COCO.loadRes`. `image_id` is the COCO image id the dataset was imported with
  (samples.source_id), `category_id` the COCO category id (categories.source_id). Read by DuckDB's JSON
  reader and validated in SQL; other keys (segmentation, area...) are ignored.
- `yolo`: a folder of `<image stem>.txt` files (searched recursively), one line per box:
  `class cx cy w h confidence`, normalised to the image size, as written by `yolo predict save_txt=True
  save_conf=True`. A file maps to the sample whose file name (without extension) ends with the same
  relative path, or else has the same stem if that is unique. `class` is the YOLO class index: the
  category's source id for YOLO datasets, the position in categories ordered by source id otherwise.

Any problem raises IngestError naming the file (and line or entry) so the user can fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import duckdb
import numpy as np
import pyarrow as pa

from app.errors import DataVisorError
from app.ingest import BIGINT_OF_JSON, INTEGER_JSON, IngestError, Progress, confined_to, walk_files
from app.services import paths

FORMATS = ("coco_results", "yolo")
PREDICTIONS_SCHEMA = pa.schema(
    [
        ("sample_id", pa.int64()),
        ("category_id", pa.int64()),
        ("x", pa.float64()),
        ("y", pa.float64()),
        ("w", pa.float64()),
        ("h", pa.float64()),
        ("confidence", pa.float64()),
    ]
)
MAX_FILE_BYTES = 4_000_000_000


@dataclass
class DatasetIndex:
    """What mapping predictions needs to know about the dataset (read by the caller from the database)."""

    format: str
    sample_ids: np.ndarray
    sample_source_ids: np.ndarray  # COCO image id, -1 if none
    file_names: list[str]
    widths: np.ndarray  # -1 if unknown
    heights: np.ndarray
    category_ids: np.ndarray  # ordered by source id
    category_source_ids: np.ndarray


def _clean(message: str) -> str:
    message = re.sub(r"^[A-Za-z ]*Error: ", "", message.strip())
    return message.split("\nTry setting", 1)[0].strip()


def load(fmt: str, path: Path, index: DatasetIndex, progress: Progress, roots: list[Path] | None = None) -> pa.Table:
    """`path` is already confined by the caller; files below it must stay inside `roots` (default:
    inside `path` itself), so a label file symlinked elsewhere is refused (app/services/paths.py)."""
    roots = roots or [path if path.is_dir() else path.parent]
    if fmt == "coco_results":
        return load_coco_results(path, index, progress, roots)
    if fmt == "yolo":
        with confined_to(roots):
            return load_yolo(path, index, progress, roots)
    raise IngestError(f"unknown predictions format {fmt!r}; expected one of {', '.join(FORMATS)}")


# -------------------------------------------------------------------------------------------------- COCO
def load_coco_results(path: Path, index: DatasetIndex, progress: Progress, roots: list[Path]) -> pa.Table:
    name = path.name
    if not path.is_file():
        raise IngestError(f"{path}: not a file (coco_results expects one JSON file)")
    path, info = paths.regular_file(path, roots)  # DuckDB opens it below: a FIFO must never get there
    if info.st_size == 0:
        raise IngestError(f"{name}: the file is empty")
    with paths.open_file(path, roots) as handle:
        head = handle.read(64).removeprefix(b"\xef\xbb\xbf").lstrip()
    if head and head[:1] not in (b"[", b"{"):
        raise IngestError(f"{name}: not a COCO results file: it does not start with a JSON array (entry 1)")
    progress(0, None, f"reading {name}")
    con = duckdb.connect()  # a private in-memory database: nothing touches the real one
    try:
        try:
            con.execute(
                "CREATE TABLE raw AS SELECT row_number() OVER () AS entry, * FROM read_json(?, format = 'array', "
                "columns = {image_id: 'JSON', category_id: 'JSON', bbox: 'DOUBLE[]', score: 'DOUBLE'}, "
                "maximum_object_size = ?)",
                [str(path), _object_size_limit(path)],
            )
        except duckdb.Error as error:
            raise IngestError(
                f"{name}: not a COCO results file (a JSON array of objects with image_id, category_id, bbox, "
                f"score): {_clean(str(error))}"
            ) from None
        checks = [
            ("image_id IS NULL", "has no 'image_id'"),
            ("category_id IS NULL", "has no 'category_id'"),
            ("score IS NULL", "has no 'score'"),
            ("NOT isfinite(score)", "has a score that is not a finite number"),
            ("bbox IS NULL OR len(bbox) <> 4", "has no 'bbox' of four numbers [x, y, width, height]"),
            (
                "list_has_any(bbox, [NULL]) OR NOT (isfinite(bbox[1]) AND isfinite(bbox[2]) AND isfinite(bbox[3]) "
                "AND isfinite(bbox[4]))",
                "has a bbox value that is not a finite number",
            ),
            ("bbox[3] < 0 OR bbox[4] < 0", "has a negative bbox width or height"),
        ]
        for condition, problem in checks:
            row = con.execute(f"SELECT entry, count(*) OVER () FROM raw WHERE {condition} ORDER BY entry LIMIT 1")
            found = row.fetchall()  # read to the end: the connection then has no unfinished result
            hit = found[0] if found else None
            if hit:
                raise IngestError(f"{name}: entry {hit[0]} {problem} ({hit[1]} entries affected)")
        _integer_ids(con, name)
        con.register("_img", pa.table({"sample_id": index.sample_ids, "source_id": index.sample_source_ids}))
        con.register("_cat", pa.table({"category_id": index.category_ids, "source_id": index.category_source_ids}))
        unknown = [
            (
                "image_id",
                "_img",
                "is not an image of this dataset (image_id must be the COCO image id the dataset was imported with)",
            ),
            ("category_id", "_cat", "is not a category of this dataset"),
        ]
        for column, known, problem in unknown:
            value, count = con.execute(
                f"SELECT min(r.{column}), count(*) FROM raw r ANTI JOIN {known} k ON r.{column} = k.source_id"
            ).fetchall()[0]
            if count:
                raise IngestError(f"{name}: {column} {value} {problem}; {count} entries affected")
        table = con.sql(
            """
            SELECT i.sample_id, c.category_id, r.bbox[1] AS x, r.bbox[2] AS y, r.bbox[3] AS w, r.bbox[4] AS h,
                   r.score AS confidence
            FROM raw r JOIN _img i ON r.image_id = i.source_id JOIN _cat c ON r.category_id = c.source_id
            ORDER BY r.entry
            """
        ).to_arrow_table()
    finally:
        con.close()
    return table.cast(PREDICTIONS_SCHEMA)


def _integer_ids(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """image_id and category_id are integers (42.0 counts as 42, as in pycocotools), then cast. The exact
    check runs only where the quick one (JSON integers) finds something else, or the cast fails."""
    ids = ("image_id", "category_id")

    def exact(column: str) -> None:
        hit = con.execute(
            f"SELECT entry, count(*) OVER () FROM raw WHERE {column} IS NOT NULL "
            f"AND NOT {INTEGER_JSON.format(c=column)} ORDER BY entry LIMIT 1"
        ).fetchall()
        if hit:
            raise IngestError(f"{name}: entry {hit[0][0]} has a non-integer {column} ({hit[0][1]} entries affected)")

    doubles = set()
    for column in ids:
        if con.execute(f"SELECT count(*) FROM raw WHERE json_type({column}) NOT IN ('BIGINT', 'UBIGINT')").fetchone()[
            0
        ]:
            exact(column)
            doubles.add(column)
    casts = ", ".join(f"{BIGINT_OF_JSON.format(c=c) if c in doubles else f'{c}::BIGINT'} AS {c}" for c in ids)
    try:
        con.execute(f"CREATE OR REPLACE TABLE raw AS SELECT * REPLACE ({casts}) FROM raw")
    except duckdb.Error:  # beyond BIGINT: name it
        for column in ids:
            exact(column)
        raise


# -------------------------------------------------------------------------------------------------- YOLO
def _sample_lookup(index: DatasetIndex) -> tuple[dict[str, int], dict[str, list[int]]]:
    by_path: dict[str, int] = {}
    by_stem: dict[str, list[int]] = {}
    for i, file_name in enumerate(index.file_names):
        p = PurePosixPath(file_name.replace("\\", "/"))
        by_path[str(p.with_suffix(""))] = i
        by_stem.setdefault(p.stem, []).append(i)
    return by_path, by_stem


def _find_sample(rel: PurePosixPath, by_path: dict[str, int], by_stem: dict[str, list[int]]) -> int | None:
    parts = list(rel.with_suffix("").parts)
    # the longest suffix of the label path that names an image (labels/val/a.txt ~ images/val/a.jpg)
    for start in range(len(parts)):
        key = "/".join(parts[start:])
        if key in by_path:
            return by_path[key]
        swapped = "/".join("images" if p == "labels" else p for p in parts[start:])
        if swapped in by_path:
            return by_path[swapped]
    stems = by_stem.get(rel.stem, [])
    if len(stems) == 1:
        return stems[0]
    if len(stems) > 1:
        raise IngestError(
            f"{rel}: {len(stems)} images are named {rel.stem}.*; put the label files in the same folder "
            "structure as the images so they can be told apart"
        )
    return None


def load_yolo(path: Path, index: DatasetIndex, progress: Progress, roots: list[Path]) -> pa.Table:
    if not path.is_dir():
        raise IngestError(f"{path}: not a folder (yolo predictions are a folder of <image>.txt files)")
    # the imports' walk (app/ingest): each folder once, names that are not UTF-8 left out
    files = sorted(p for p in walk_files(path) if p.suffix == ".txt" and p.name != "classes.txt")
    if not files:
        raise IngestError(f"{path}: no .txt label files found")
    by_path, by_stem = _sample_lookup(index)
    if index.format == "yolo":
        class_to_category = {int(s): int(c) for s, c in zip(index.category_source_ids, index.category_ids, strict=True)}
    else:
        class_to_category = {i: int(c) for i, c in enumerate(index.category_ids)}
    cls_lookup_keys = np.array(sorted(class_to_category), dtype=np.int64)
    cls_lookup_vals = np.array([class_to_category[k] for k in cls_lookup_keys], dtype=np.int64)

    parts: list[tuple[int, np.ndarray]] = []
    for done, file in enumerate(files):
        rel = PurePosixPath(file.relative_to(path).as_posix())
        sample = _find_sample(rel, by_path, by_stem)
        if sample is None:
            raise IngestError(f"{rel}: no image of this dataset is named {rel.stem}.*")
        try:
            text = paths.read_text(file, roots, f"predictions for {rel.stem}")
        except DataVisorError as error:  # not UTF-8, not a regular file: a bad input, named
            raise IngestError(str(error)) from None
        values = _parse_lines(text, rel)
        if len(values):
            cls = values[:, 0]
            bad = (cls != np.round(cls)) | ~np.isin(cls, cls_lookup_keys)
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise IngestError(
                    f"{rel} box {k + 1}: class {cls[k]:g} is not a class of this dataset "
                    f"(expected 0..{len(cls_lookup_keys) - 1})"
                )
            parts.append((sample, values))
        if done % 2000 == 0:
            progress(done, len(files), "reading label files")

    if not parts:
        return PREDICTIONS_SCHEMA.empty_table()
    rows = np.concatenate([v for _, v in parts])
    sample_idx = np.concatenate([np.full(len(v), s, np.int64) for s, v in parts])
    pos = np.searchsorted(cls_lookup_keys, rows[:, 0].astype(np.int64))
    widths = index.widths[sample_idx].astype(np.float64)
    heights = index.heights[sample_idx].astype(np.float64)
    if np.any(widths <= 0) or np.any(heights <= 0):
        bad = int(np.flatnonzero((widths <= 0) | (heights <= 0))[0])
        raise IngestError(f"image {index.file_names[sample_idx[bad]]} has no known size; cannot place YOLO boxes")
    cx, cy, w, h, conf = (rows[:, i] for i in range(1, 6))
    table = pa.table(
        {
            "sample_id": index.sample_ids[sample_idx],
            "category_id": cls_lookup_vals[pos],
            "x": (cx - w / 2) * widths,
            "y": (cy - h / 2) * heights,
            "w": w * widths,
            "h": h * heights,
            "confidence": conf,
        },
        schema=PREDICTIONS_SCHEMA,
    )
    progress(len(files), len(files), f"read {len(files)} label files")
    return table


def _parse_lines(text: str, rel: PurePosixPath) -> np.ndarray:
    tokens = text.split()
    if not tokens:
        return np.zeros((0, 6))
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        values = None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if values is None or len(values) != 6 * len(lines):
        for number, line in enumerate(text.splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 6:
                hint = " (no confidence: export with save_conf=True)" if len(fields) == 5 else ""
                raise IngestError(
                    f"{rel} line {number}: expected 6 values 'class cx cy w h confidence', found {len(fields)}{hint}"
                )
            try:
                [float(f) for f in fields]
            except ValueError:
                raise IngestError(f"{rel} line {number}: {line.strip()!r} is not numeric") from None
        raise IngestError(f"{rel}: could not be parsed")  # unreachable in practice
    values = values.reshape(-1, 6)
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        raise IngestError(f"{rel} box {bad + 1}: values must be finite numbers")
    if np.any(values[:, 3:5] < 0):
        bad = int(np.flatnonzero((values[:, 3:5] < 0).any(axis=1))[0])
        raise IngestError(f"{rel} box {bad + 1}: negative box width or height")
    return values


def _object_size_limit(path: Path) -> int:
    """read_json's maximum_object_size: no object is larger than the file. DuckDB allocates about twice this
    up front, so a fixed 4 GB asked 7.4 GiB of every import and failed under any memory limit below that."""
    return min(MAX_FILE_BYTES, max(16 << 20, path.stat().st_size + 1))
