"""COCO instances files, read by DuckDB's own JSON reader and validated in SQL (no Python loop per box).

Only what DataVisor stores is read (images, categories, boxes); segmentation, licenses and other keys
are ignored. An image may carry an optional `split` key (DataVisor's exports write it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import duckdb

from app.ingest import (
    ANNOTATIONS_SCHEMA,
    CATEGORIES_SCHEMA,
    SAMPLES_SCHEMA,
    IngestError,
    ParsedDataset,
    Progress,
    image_size,
)

COLUMNS = {
    "images": "STRUCT(id BIGINT, file_name VARCHAR, width INTEGER, height INTEGER, split VARCHAR)[]",
    "annotations": (
        "STRUCT(id BIGINT, image_id BIGINT, category_id BIGINT, bbox DOUBLE[], area DOUBLE, iscrowd INTEGER)[]"
    ),
    "categories": "STRUCT(id BIGINT, name VARCHAR, supercategory VARCHAR)[]",
    "info": "JSON",
}
MAX_FILE_BYTES = 4_000_000_000


def _clean(message: str) -> str:
    message = re.sub(r"^[A-Za-z ]*Error: ", "", message.strip())
    return message.split("\nTry setting", 1)[0].strip()


def _first(con: duckdb.DuckDBPyConnection, sql: str) -> tuple | None:
    return con.execute(sql).fetchone()


def default_images_dir(ann_file: Path) -> Path:
    """Where images usually sit: `images/` next to the file, `../images`, `../<split>` or the file's folder."""
    folder = ann_file.parent
    stem = ann_file.stem
    candidates = [folder / "images", folder.parent / "images"]
    for prefix in ("instances_", "person_keypoints_", "captions_"):
        if stem.startswith(prefix):
            candidates.insert(0, folder.parent / stem.removeprefix(prefix))
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return folder


def load(ann_file: Path, images_dir: Path, split: str | None, progress: Progress, roots: list[Path]) -> ParsedDataset:
    name = ann_file.name
    if not ann_file.is_file():
        raise IngestError(f"{ann_file}: not a file")
    if ann_file.stat().st_size == 0:
        raise IngestError(f"{name}: the file is empty")
    con = duckdb.connect()  # parsing happens in a private in-memory database: nothing touches the real one
    try:
        try:
            con.execute(
                "CREATE TABLE raw AS SELECT * FROM read_json(?, columns = ?, format = 'unstructured', "
                "maximum_object_size = ?)",
                [str(ann_file), COLUMNS, MAX_FILE_BYTES],
            )
        except duckdb.Error as error:
            raise IngestError(f"{name}: not a valid COCO file: {_clean(str(error))}") from None
        rows = _first(con, "SELECT count(*) FROM raw")[0]
        if rows != 1:
            raise IngestError(f"{name}: expected one JSON object, found {rows}")
        if _first(con, "SELECT images IS NULL FROM raw")[0]:
            raise IngestError(f"{name}: no 'images' list")
        if _first(con, "SELECT categories IS NULL FROM raw")[0]:
            raise IngestError(f"{name}: no 'categories' list")
        progress(0, None, f"validating {name}")
        con.execute("CREATE TABLE img AS SELECT unnest(images, recursive := true) FROM raw")
        con.execute("CREATE TABLE cat AS SELECT unnest(categories, recursive := true) FROM raw")
        con.execute(
            "CREATE TABLE ann AS SELECT unnest(annotations, recursive := true) FROM raw WHERE annotations IS NOT NULL"
        )
        if not con.execute("SELECT count(*) FROM ann").fetchone()[0]:  # unnest of an empty list: no columns
            con.execute(
                "CREATE OR REPLACE TABLE ann (id BIGINT, image_id BIGINT, category_id BIGINT, bbox DOUBLE[], "
                "area DOUBLE, iscrowd INTEGER)"
            )
        info = _first(con, "SELECT info FROM raw")[0]
        con.execute("DROP TABLE raw")
        _validate(con, name)

        # Index rows by id order so annotations can point at them; missing sizes come from headers.
        con.execute("CREATE TABLE img2 AS SELECT (row_number() OVER (ORDER BY id) - 1)::BIGINT AS idx, * FROM img")
        base = str(images_dir)
        sizes_missing = con.execute(
            "SELECT idx, id, file_name FROM img2 WHERE width IS NULL OR height IS NULL"
        ).fetchall()
        for done, (idx, image_id, file_name) in enumerate(sizes_missing):
            w, h = image_size(Path(base) / file_name, roots, f"image {image_id} in {name}, which gives no width/height")
            con.execute("UPDATE img2 SET width = ?, height = ? WHERE idx = ?", [w, h, idx])
            if done % 200 == 0:
                progress(done, len(sizes_missing), "reading image sizes")
        samples = con.sql(
            f"""
            SELECT file_name, {_sql_str(base + os.sep)} || file_name AS path, width::INTEGER AS width,
                   height::INTEGER AS height, coalesce(split, {_sql_str(split)}) AS split, id AS source_id
            FROM img2 ORDER BY idx
            """
        ).to_arrow_table()
        con.execute("CREATE TABLE cat2 AS SELECT (row_number() OVER (ORDER BY id) - 1)::BIGINT AS idx, * FROM cat")
        categories = con.sql("SELECT id AS source_id, name, supercategory FROM cat2 ORDER BY idx").to_arrow_table()
        annotations = con.sql(
            """
            SELECT i.idx AS sample_idx, c.idx AS category_idx, a.bbox[1] AS x, a.bbox[2] AS y,
                   a.bbox[3] AS w, a.bbox[4] AS h, coalesce(a.area, a.bbox[3] * a.bbox[4]) AS area,
                   coalesce(a.iscrowd, 0) <> 0 AS iscrowd, a.id AS source_id
            FROM ann a JOIN img2 i ON i.id = a.image_id JOIN cat2 c ON c.id = a.category_id
            ORDER BY i.idx, a.id
            """
        ).to_arrow_table()
    finally:
        con.close()
    return ParsedDataset(
        samples.cast(SAMPLES_SCHEMA),
        annotations.cast(ANNOTATIONS_SCHEMA),
        categories.cast(CATEGORIES_SCHEMA),
        {"info": json.loads(info)} if info else {},
    )


def _sql_str(value: str | None) -> str:
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


def _validate(con: duckdb.DuckDBPyConnection, name: str) -> None:
    checks = [
        ("SELECT count(*) FROM img", None, lambda r: r[0] == 0, lambda r: f"{name}: 'images' is empty"),
        (
            "SELECT id, file_name FROM img WHERE id IS NULL OR file_name IS NULL OR file_name = '' LIMIT 1",
            None,
            None,
            lambda r: f"{name}: an image has no id or no file_name (id={r[0]}, file_name={r[1]!r})",
        ),
        (
            "SELECT id FROM img GROUP BY id HAVING count(*) > 1 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: image id {r[0]} appears more than once",
        ),
        (
            "SELECT id, file_name FROM img WHERE file_name LIKE '/%' OR file_name LIKE '%\\%' "
            "OR list_contains(string_split(file_name, '/'), '..') LIMIT 1",
            None,
            None,
            lambda r: f"{name}: image {r[0]} file_name {r[1]!r} must be a relative path without '..'",
        ),
        (
            "SELECT id, width, height FROM img WHERE width <= 0 OR height <= 0 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: image {r[0]} has a non-positive size {r[1]}x{r[2]}",
        ),
        (
            "SELECT id, name FROM cat WHERE id IS NULL OR name IS NULL OR name = '' LIMIT 1",
            None,
            None,
            lambda r: f"{name}: a category has no id or no name (id={r[0]}, name={r[1]!r})",
        ),
        (
            "SELECT id FROM cat GROUP BY id HAVING count(*) > 1 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: category id {r[0]} appears more than once",
        ),
        (
            "SELECT name FROM cat GROUP BY name HAVING count(*) > 1 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: category name {r[0]!r} appears more than once",
        ),
        (
            "SELECT id, image_id FROM ann WHERE image_id IS NULL OR image_id NOT IN (SELECT id FROM img) LIMIT 1",
            None,
            None,
            lambda r: f"{name}: annotation {r[0]} points at image id {r[1]}, which is not in 'images'",
        ),
        (
            "SELECT id, category_id FROM ann "
            "WHERE category_id IS NULL OR category_id NOT IN (SELECT id FROM cat) LIMIT 1",
            None,
            None,
            lambda r: f"{name}: annotation {r[0]} has unknown category_id {r[1]}",
        ),
        (
            "SELECT id, bbox FROM ann WHERE bbox IS NULL OR len(bbox) <> 4 OR list_count(bbox) <> 4 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: annotation {r[0]} has no valid bbox [x, y, width, height] (got {r[1]})",
        ),
        (
            "SELECT id, bbox FROM ann WHERE bbox[1] < 0 OR bbox[2] < 0 OR bbox[3] < 0 OR bbox[4] < 0 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: annotation {r[0]} has a negative box {r[1]}",
        ),
        (
            "SELECT id FROM ann WHERE id IS NOT NULL GROUP BY id HAVING count(*) > 1 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: annotation id {r[0]} appears more than once",
        ),
    ]
    for sql, _, predicate, message in checks:
        row = con.execute(sql).fetchone()
        if row is None:
            continue
        if predicate is None or predicate(row):
            raise IngestError(message(row))
