"""COCO instances files, read by DuckDB's own JSON reader and validated in SQL (no Python loop per box);
the COCO exporter is at the end, so a file written by DataVisor re-imports with the same ids.

Only what DataVisor stores is read (images, categories, boxes); licenses and other keys are ignored.
Annotations without a `bbox` (segmentation-only, keypoints-only) are skipped and counted; panoptic
files (annotations carrying `segments_info`) are refused with a message saying so. An image may
carry an optional `split` key (DataVisor's exports write it).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb

from app.errors import DataVisorError
from app.ingest import (
    ANNOTATIONS_SCHEMA,
    BIGINT_OF_JSON,
    CATEGORIES_SCHEMA,
    INTEGER_JSON,
    SAMPLES_SCHEMA,
    SPLIT_ALIASES,
    ExportData,
    IngestError,
    Issues,
    ParsedDataset,
    Progress,
    Source,
    image_size,
    is_dir,
    is_file,
    scan,
    split_name,
)
from app.services import paths

COLUMNS = {
    # ids as JSON: checked to be integers, then cast (`_integer_ids`)
    "images": "STRUCT(id JSON, file_name VARCHAR, width INTEGER, height INTEGER, split VARCHAR)[]",
    "annotations": (
        "STRUCT(id JSON, image_id JSON, category_id JSON, bbox DOUBLE[], area DOUBLE, iscrowd INTEGER, "
        "segments_info JSON)[]"
    ),
    "categories": "STRUCT(id JSON, name VARCHAR, supercategory VARCHAR)[]",
    "info": "JSON",
}
MAX_FILE_BYTES = 4_000_000_000


def _clean(message: str) -> str:
    message = re.sub(r"^[A-Za-z ]*Error: ", "", message.strip())
    return message.split("\nTry setting", 1)[0].strip()


def _first(con: duckdb.DuckDBPyConnection, sql: str) -> tuple | None:
    return con.execute(sql).fetchone()


ANNOTATION_FOLDERS = ("annotations", "annotation", "annots")
ANNOTATION_PREFIXES = ("instances_", "person_keypoints_")
SNIFF_BYTES = 4 << 20
SAMPLE_NAMES = 20  # file names tried per candidate images folder


def _split_of(ann_file: Path) -> tuple[str | None, str | None]:
    """(raw, normalised) split named by the file: instances_val2017.json, val.json; else (None, None)."""
    stem = ann_file.stem
    for prefix in ANNOTATION_PREFIXES:
        if stem.startswith(prefix):
            raw = stem.removeprefix(prefix)
            return raw, split_name(raw)
    if stem.lower() in SPLIT_ALIASES:
        return stem, split_name(stem)
    return None, None


def candidate_dirs(ann_file: Path) -> tuple[Path, ...]:
    """Where a file's images usually are, best first; only existing folders."""
    folder = ann_file.parent
    root = folder.parent if folder.name.lower() in ANNOTATION_FOLDERS else folder
    raw, split = _split_of(ann_file)
    candidates: list[Path] = []
    if ann_file.name == "_annotations.coco.json":  # Roboflow: the images sit beside the file
        candidates.append(folder)
    if raw:
        candidates += [root / raw, root / "images" / raw, root / "images" / str(split), root / str(split)]
    candidates += [folder / "images", root / "images", root.parent / "images", folder, root]
    seen: dict[Path, None] = {}
    for candidate in candidates:
        if candidate not in seen and is_dir(candidate):
            seen[candidate] = None
    return tuple(seen) or (folder,)


def looks_like_coco(file: Path, roots: list[Path]) -> bool:
    """A JSON object with "images" or "annotations" in its first 4 MB (results files are arrays)."""
    try:
        with paths.open_file(file, roots) as handle:
            head = handle.read(SNIFF_BYTES)
    except Exception:  # noqa: BLE001 - unreadable: not a candidate (loading it would say why)
        return False
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return text[:1] == b"{" and (b'"images"' in text or b'"annotations"' in text)


def _json_files(folder: Path, roots: list[Path]) -> list[Path]:
    return [
        Path(e.path)
        for e in scan(folder)
        if is_file(e)
        and e.name.lower().endswith(".json")
        and not e.name.startswith(".")
        and looks_like_coco(Path(e.path), roots)
    ]


def _source(ann_file: Path, evidence: str) -> Source:
    return Source("coco", ann_file, _split_of(ann_file)[1], evidence, candidates=candidate_dirs(ann_file))


def _several(files: list[Path], where: Path) -> list[Source]:
    """Several COCO files in one folder: splits when each names one, else ambiguous."""
    instances = [f for f in files if f.stem.startswith(ANNOTATION_PREFIXES[0])]
    chosen = instances or files
    if len(chosen) == 1:
        return [_source(chosen[0], chosen[0].name)]
    splits = [_split_of(f)[1] for f in chosen]
    if all(splits) and len(set(splits)) == len(splits):
        return [_source(f, f.name) for f in chosen]
    names = ", ".join(f.name for f in chosen)
    raise IngestError(f"{where}: several COCO files and no way to tell which to import ({names}); give one as path")


class CocoFormat:
    name = "coco"
    title = "COCO instances JSON"
    not_found = "no COCO annotation file found (give the .json file as path)"
    layouts = (
        "a COCO `.json` file given as `path`; images in `images/` next to it, `../images/`, or its folder",
        "`annotations/instances_<split>.json` with images in `<split>/` (COCO 2017), `images/<split>/` or `images/`",
        "one COCO `.json` (any name, e.g. `annotations.json`) next to `images/`, or in `annotations/`",
        "Roboflow: `<split>/_annotations.coco.json` with the images beside it",
    )

    def find(self, path: Path, roots: list[Path]) -> list[Source]:
        if is_file(path):
            return [_source(path, path.name)] if path.suffix.lower() == ".json" else []
        for folder in (path / name for name in ANNOTATION_FOLDERS):
            if is_dir(folder):
                files = _json_files(folder, roots)
                if files:
                    return _several(files, folder)
        roboflow = [
            Path(e.path) / "_annotations.coco.json"
            for e in scan(path)
            if is_dir(e) and is_file(Path(e.path) / "_annotations.coco.json")
        ]
        if roboflow:
            return [
                Source("coco", f, split_name(f.parent.name), f"{f.parent.name}/{f.name}", candidates=(f.parent,))
                for f in roboflow
            ]
        files = _json_files(path, roots)
        return _several(files, path) if files else []

    def load(self, source: Source, progress: Progress, roots: list[Path]) -> ParsedDataset:
        return load(source, progress, roots)

    def export(self, data: ExportData) -> Iterator[str]:
        return export(data)


FORMAT = CocoFormat()


def _pick_images_dir(source: Source, file_names: list[str], roots: list[Path]) -> tuple[Path, tuple[Path, ...]]:
    """The user's folder, or the candidate holding most of the first file names (inside the roots)."""
    if source.images_dir is not None:
        return source.images_dir, ()
    allowed = []
    for candidate in source.candidates:
        try:
            allowed.append(paths.confine(candidate, roots))
        except paths.PathNotAllowed:  # a guessed folder above the root is not what the user asked for
            continue
    allowed = allowed or [source.path.parent]
    names = file_names[:SAMPLE_NAMES]
    best, best_hits = allowed[0], 0
    for candidate in allowed:
        hits = sum(1 for n in names if _exists(os.path.join(candidate, n)))
        if hits > best_hits:
            best, best_hits = candidate, hits
    return best, tuple(c for c in allowed if c != best)


def _exists(path: str) -> bool:
    try:
        return os.path.exists(path)
    except (OSError, ValueError):
        return False


def load(source: Source, progress: Progress, roots: list[Path]) -> ParsedDataset:
    ann_file, split = source.path, source.split
    name = ann_file.name
    ann_file, info_stat = paths.regular_file(ann_file, roots)  # DuckDB opens it: never a FIFO or device
    if info_stat.st_size == 0:
        raise IngestError(f"{name}: the file is empty")
    issues = Issues()
    con = duckdb.connect()  # parsing happens in a private in-memory database: nothing touches the real one
    try:
        try:
            con.execute(
                "CREATE TABLE raw AS SELECT * FROM read_json(?, columns = ?, format = 'unstructured', "
                "maximum_object_size = ?)",
                [str(ann_file), COLUMNS, _object_size_limit(ann_file)],
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
                "CREATE OR REPLACE TABLE ann (id JSON, image_id JSON, category_id JSON, bbox DOUBLE[], "
                "area DOUBLE, iscrowd INTEGER, segments_info JSON)"
            )
        _integer_ids(con, name)
        info = _first(con, "SELECT info FROM raw")[0]
        con.execute("DROP TABLE raw")
        panoptic = con.execute("SELECT image_id FROM ann WHERE segments_info IS NOT NULL LIMIT 1").fetchall()
        if panoptic:
            raise IngestError(
                f"{name}: a COCO panoptic file (annotations carry segments_info, not boxes); DataVisor imports "
                f"COCO instances files with a bbox per annotation (annotation of image {panoptic[0][0]})"
            )
        no_box = con.execute("SELECT id FROM ann WHERE bbox IS NULL ORDER BY id").fetchall()
        if no_box:
            issues.skip("annotation_without_bbox", f"{name}: annotation {no_box[0][0]}", len(no_box))
            con.execute("DELETE FROM ann WHERE bbox IS NULL")
        _validate(con, name)

        # Index rows by id order so annotations can point at them; missing sizes come from headers.
        con.execute("CREATE TABLE img2 AS SELECT (row_number() OVER (ORDER BY id) - 1)::BIGINT AS idx, * FROM img")
        file_names = [
            r[0] for r in con.execute("SELECT file_name FROM img2 ORDER BY idx LIMIT ?", [SAMPLE_NAMES]).fetchall()
        ]
        images_dir, searched = _pick_images_dir(source, file_names, roots)
        base = str(images_dir)
        sizes_missing = con.execute(
            "SELECT idx, id, file_name FROM img2 WHERE width IS NULL OR height IS NULL"
        ).fetchall()
        for done, (idx, image_id, file_name) in enumerate(sizes_missing):
            entry = f"image {image_id}, which gives no width/height"
            try:
                w, h = image_size(Path(base) / file_name, roots, entry)
            except paths.PathNotAllowed:
                raise
            except paths.FileMissing:
                continue  # counted with the other missing files by check_images; the size stays unknown
            except DataVisorError as error:  # undecodable, not a regular file: keep the boxes, say why
                issues.skip("image_size_unreadable", str(error))
                continue
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
        issues,
        images_dir,
        searched,
    )


# (table, id column, what names the entry, how the entry is named)
ID_COLUMNS = (
    ("img", "id", "file_name", "image with file_name {!r}"),
    ("cat", "id", "name", "category {!r}"),
    ("ann", "id", "image_id", "annotation of image {}"),
    ("ann", "image_id", "id", "annotation {}"),
    ("ann", "category_id", "id", "annotation {}"),
)


def _integer_ids(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Every id is an integer (42.0 counts as 42), else `<file>: <what> (<entry>)`; then the ids are cast.
    The exact check runs only where the quick one (JSON integers) finds something else or the cast fails:
    it costs ~0.3 s per million annotations."""
    doubles: set[tuple[str, str]] = set()
    for table, column, *_ in ID_COLUMNS:
        others = con.execute(
            f"SELECT count(*) FROM {table} WHERE json_type({column}) NOT IN ('BIGINT', 'UBIGINT')"
        ).fetchone()[0]
        if others:
            _check_ids(con, name, table, column)  # raises unless they are integral numbers
            doubles.add((table, column))
    for table, columns in (("img", ["id"]), ("cat", ["id"]), ("ann", ["id", "image_id", "category_id"])):
        casts = ", ".join(
            f"{BIGINT_OF_JSON.format(c=c) if (table, c) in doubles else f'{c}::BIGINT'} AS {c}" for c in columns
        )
        try:
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * REPLACE ({casts}) FROM {table}")
        except duckdb.Error:  # beyond BIGINT: name it
            for column in columns:
                _check_ids(con, name, table, column)
            raise


def _check_ids(con: duckdb.DuckDBPyConnection, name: str, table: str, column: str) -> None:
    _, _, named_by, entry = next(c for c in ID_COLUMNS if c[:2] == (table, column))
    bad = con.execute(
        f"SELECT {column}, {named_by}, count(*) OVER () FROM {table} "
        f"WHERE {column} IS NOT NULL AND NOT {INTEGER_JSON.format(c=column)} LIMIT 1"
    ).fetchall()
    if bad:
        value, label, count = bad[0]
        label = json.loads(label) if table == "ann" and label is not None else label
        what = "image" if table == "img" else "category" if table == "cat" else "annotation"
        field = f"{what} id" if column == "id" else column
        raise IngestError(
            f"{name}: {field} {value} is not an integer ({entry.format(label)}; {count} entries affected)"
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
            lambda r: f"{name}: an image has no id or no file_name (image id={r[0]}, file_name={r[1]!r})",
        ),
        (
            "SELECT id FROM img GROUP BY id HAVING count(*) > 1 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: image id appears more than once (image {r[0]})",
        ),
        (
            "SELECT id, file_name FROM img WHERE strpos(file_name, chr(0)) > 0 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: file_name {paths.shown(r[1])!r} contains a NUL character (image {r[0]})",
        ),
        (
            "SELECT id, file_name FROM img WHERE file_name LIKE '/%' OR file_name LIKE '%\\%' "
            "OR list_contains(string_split(file_name, '/'), '..') LIMIT 1",
            None,
            None,
            lambda r: f"{name}: file_name {paths.shown(r[1])!r} must be a relative path without '..' (image {r[0]})",
        ),
        (
            "SELECT id, width, height FROM img WHERE width <= 0 OR height <= 0 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: non-positive size {r[1]}x{r[2]} (image {r[0]})",
        ),
        (
            "SELECT id, name FROM cat WHERE id IS NULL OR name IS NULL OR name = '' LIMIT 1",
            None,
            None,
            lambda r: f"{name}: a category has no id or no name (category id={r[0]}, name={r[1]!r})",
        ),
        (
            "SELECT id FROM cat GROUP BY id HAVING count(*) > 1 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: category id appears more than once (category {r[0]})",
        ),
        (
            "SELECT name FROM cat GROUP BY name HAVING count(*) > 1 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: category name appears more than once (category {r[0]!r})",
        ),
        (
            "SELECT id, image_id FROM ann WHERE image_id IS NULL OR image_id NOT IN (SELECT id FROM img) LIMIT 1",
            None,
            None,
            lambda r: f"{name}: image_id {r[1]} is not in 'images' (annotation {r[0]})",
        ),
        (
            "SELECT id, category_id FROM ann "
            "WHERE category_id IS NULL OR category_id NOT IN (SELECT id FROM cat) LIMIT 1",
            None,
            None,
            lambda r: f"{name}: unknown category_id {r[1]} (annotation {r[0]})",
        ),
        (
            "SELECT id, bbox FROM ann WHERE len(bbox) <> 4 OR list_count(bbox) <> 4 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: bbox {r[1]} is not [x, y, width, height] (annotation {r[0]})",
        ),
        (
            "SELECT id, bbox FROM ann WHERE bbox[1] < 0 OR bbox[2] < 0 OR bbox[3] < 0 OR bbox[4] < 0 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: negative box {r[1]} (annotation {r[0]})",
        ),
        (
            "SELECT id FROM ann WHERE id IS NOT NULL GROUP BY id HAVING count(*) > 1 LIMIT 1",
            None,
            None,
            lambda r: f"{name}: annotation id appears more than once (annotation {r[0]})",
        ),
    ]
    for sql, _, predicate, message in checks:
        row = con.execute(sql).fetchone()
        if row is None:
            continue
        if predicate is None or predicate(row):
            raise IngestError(message(row))


# -- export -----------------------------------------------------------------------------------------
CHUNK = 5000


def export(data: ExportData) -> Iterator[str]:
    """The COCO document in pieces, with the source's image, category and annotation ids."""
    head = {"info": data.info or {"description": f"DataVisor export of {data.name}"}, "licenses": []}
    yield json.dumps(head)[:-1] + ', "categories": '
    yield json.dumps([{"id": c[0], "name": c[1], "supercategory": c[2]} for c in data.categories])
    yield ', "images": ['
    for start in range(0, len(data.images), CHUNK):
        part = [
            {
                "id": r[0],
                "file_name": r[1],
                **({"width": r[2]} if r[2] is not None else {}),
                **({"height": r[3]} if r[3] is not None else {}),
                **({"split": r[4]} if r[4] is not None else {}),
            }
            for r in data.images[start : start + CHUNK]
        ]
        yield ("," if start else "") + json.dumps(part)[1:-1]
    yield '], "annotations": ['
    for start in range(0, len(data.annotations), CHUNK):
        part = [
            {
                "id": r[0],
                "image_id": r[1],
                "category_id": r[2],
                "bbox": [r[3], r[4], r[5], r[6]],
                "area": r[7],
                "iscrowd": int(bool(r[8])),
            }
            for r in data.annotations[start : start + CHUNK]
        ]
        yield ("," if start else "") + json.dumps(part)[1:-1]
    yield "]}"


def _object_size_limit(path: Path) -> int:
    """read_json's maximum_object_size: no object is larger than the file. DuckDB allocates about twice this
    up front, so a fixed 4 GB asked 7.4 GiB of every import and failed under any memory limit below that."""
    return min(MAX_FILE_BYTES, max(16 << 20, path.stat().st_size + 1))
