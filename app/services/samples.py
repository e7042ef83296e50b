"""Browsing: a page of samples for a query, and one sample with its annotations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from app.db import Database
from app.errors import NotFound
from app.services import evaluation_replies, evaluation_store
from app.services.datasets import DatasetNotFound
from app.services.evaluation_checks import RunNotFound
from app.services.query import SampleFilters, SampleQuery, order_by, where
from app.services.read_cache import ReadCache


class SampleNotFound(NotFound):
    pass


# dataset id -> (it exists, its prediction runs); dataset id -> {category id: name}
_DATASETS = ReadCache(256)
_CATEGORIES = ReadCache(64)
_TAGGED = ReadCache(256)  # dataset id -> whether any of its samples has a tag


def page_json(db: Database, dataset_id: int, q: SampleQuery, boxes: bool = False, runs: Sequence[str] = ()) -> bytes:
    """A page of samples as the JSON document of the route's reply (`SamplesPage`).

    With `boxes` the page also carries the boxes of its items, ground truth and those of `runs`, as flat
    per-page columns (`PageBoxes`): item by item, ground truth first, then each run by name, each by
    annotation id, as the sample view lists them; without, `boxes` is null. Columns, not one JSON object
    per box (~3,000 a page, seven keys each): a third of the bytes and of the encoding time
    (bench/page_boxes.py). Which samples a page holds comes from the query's whole order, kept per
    (dataset, filter, sort) until the next write (`_page_ids`); what every page asks again (the dataset
    and its runs, its category names, whether it has tags) is kept per generation of the database.
    """
    if q.eval_run is not None:  # results at this IoU are computed once, on first use
        evaluation_store.ensure_evaluated(db, dataset_id, q.eval_run, q.eval_iou)
    sources = ["ground_truth", *sorted(set(runs))]
    with db.cursor() as cur:
        _require(db, cur, dataset_id, sources[1:])
        ids, total = _page_ids(db, cur, dataset_id, q)
        items = _items_json(db, cur, dataset_id, ids)
        box_json = _boxes_json(db, cur, dataset_id, ids, sources) if boxes else "null"
    head = f'{{"total":{total},"offset":{q.offset},"limit":{q.limit},"items":'
    return b"".join((head.encode(), items.encode(), b',"boxes":', box_json.encode(), b"}"))


# (dataset, WHERE clause, its parameters, ORDER BY) -> every matching id in order (8 MB at 1M samples)
_ORDERS = ReadCache(16)


def _page_ids(db: Database, cur: Any, dataset_id: int, q: SampleQuery) -> tuple[list[int], int]:
    """The ids of the page `q` asks for, in order, and how many samples match.

    The first page of the unfiltered query is a top-N and a count (unless its order is already at hand);
    any other page caches the query's whole order (one sort, about the cost of a top-N) until the next
    committed write, so scrolling on is a slice, however deep (OFFSET n re-sorts at least n rows each
    time), and a filter's first page scans once where the top-N and the count scanned twice (a category
    filter: 12 ms instead of 21 at 100K samples).
    """
    clause, params = where(dataset_id, q.filters())
    order = order_by(q)
    key = (dataset_id, clause, params, order)
    if q.offset == 0 and q.filters() == SampleFilters() and _ORDERS.peek(db, _order_key(*key)) is None:
        rows = cur.execute(
            f"SELECT s.id FROM samples s WHERE {clause} ORDER BY {order} LIMIT ?", [*params, q.limit]
        ).fetchall()
        if len(rows) < q.limit:
            return [r[0] for r in rows], len(rows)
        (total,) = cur.execute(f"SELECT count(*) FROM samples s WHERE {clause}", params).fetchone()
        return [r[0] for r in rows], total

    ordered = _ordered_ids(db, cur, *key)
    return ordered[q.offset : q.offset + q.limit].tolist(), len(ordered)


def _ordered_ids(db: Database, cur: Any, dataset_id: int, clause: str, params: list[Any], order: str) -> np.ndarray:
    """Every id matching the WHERE clause, in `order` (kept until the next committed write)."""

    def load() -> np.ndarray:
        ordered = cur.execute(f"SELECT s.id FROM samples s WHERE {clause} ORDER BY {order}", params).fetchnumpy()
        return np.asarray(ordered["id"], dtype=np.int64)

    return _ORDERS.get(db, _order_key(dataset_id, clause, params, order), load)


def _order_key(dataset_id: int, clause: str, params: list[Any], order: str) -> tuple:
    return (dataset_id, clause, repr(params), order)


def matching_ids(db: Database, cur: Any, dataset_id: int, f: SampleFilters) -> np.ndarray:
    """Every sample id matching `f`, ascending (read-only): the order the samples page keeps for its default
    sort, so a filter change's page and facets share one scan of the filter."""
    clause, params = where(dataset_id, f)
    return _ordered_ids(db, cur, dataset_id, clause, params, order_by(SampleQuery(**f.model_dump())))


def _id_list(ids: list[int]) -> str:
    # Integers from our own query, so they can go into the SQL text: a constant IN list becomes a filter
    # inside the scan (only the matching rows' other columns are read), where a joined list probes
    # every row of the table.
    return ", ".join(str(int(i)) for i in ids)


def _items_json(db: Database, cur: Any, dataset_id: int, ids: list[int]) -> str:
    if not ids:
        return "[]"
    # Plain rows, assembled here: DuckDB building the JSON (a list aggregate ordered by the page's order)
    # cost five times the query itself (bench/page_boxes.py).
    rows = cur.execute(
        "SELECT s.id, s.file_name, s.width, s.height, s.split, s.annotation_count FROM samples s "
        f"WHERE s.id IN ({_id_list(ids)}) AND s.dataset_id = ?",
        [dataset_id],
    ).fetchall()
    tags = _tags_of(cur, dataset_id, ids) if has_tags(db, cur, dataset_id) else {}
    by_id = {r[0]: r for r in rows}
    items = [
        {
            "id": r[0],
            "file_name": r[1],
            "width": r[2],
            "height": r[3],
            "split": r[4],
            "tags": tags.get(r[0], []),
            "annotation_count": r[5],
        }
        for r in (by_id.get(i) for i in ids)
        if r is not None
    ]
    return _dumps(items)


def has_tags(db: Database, cur: Any, dataset_id: int) -> bool:
    """Whether any sample of the dataset has a tag: most have none, and asking per page cost a query."""

    def load() -> bool:
        return cur.execute("SELECT EXISTS (SELECT 1 FROM sample_tags WHERE dataset_id = ?)", [dataset_id]).fetchone()[0]

    return _TAGGED.get(db, dataset_id, load)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _boxes_json(db: Database, cur: Any, dataset_id: int, ids: list[int], sources: list[str]) -> str:
    """`PageBoxes` of the samples `ids` (in that order) as JSON: one column per field, one entry per box.

    One plain scan fetches the boxes as columns, numpy puts them in order (item, source, id) and the JSON
    is joined here: seven ordered list aggregates and DuckDB's JSON encoding cost three times the scan
    (bench/page_boxes.py).
    """
    empty = {"sources": sources, "categories": [], **{k: [] for k in _BOX_COLUMNS}}
    if not ids:
        return _dumps(empty)
    # The range lets zone maps skip row groups. A page of neighbouring ids (the default order) is read as
    # that range and trimmed here, which costs less than a 100-constant IN list inside the scan; scattered
    # ids add that list (a range over the whole table would read every box).
    lo, hi = min(ids), max(ids)
    scattered = hi - lo + 1 > 2 * len(ids)
    listed = f"AND a.sample_id IN ({_id_list(ids)})" if scattered else ""
    cols = cur.execute(
        f"""
        SELECT a.sample_id, list_position(?::VARCHAR[], a.source) - 1 AS src, a.id, a.category_id,
               concat_ws(',', a.x, a.y, a.w, a.h) AS bbox, coalesce(a.confidence::VARCHAR, 'null') AS confidence,
               a.iscrowd
        FROM annotations a
        WHERE a.sample_id BETWEEN ? AND ? {listed} AND a.dataset_id = ? AND list_contains(?::VARCHAR[], a.source)
        """,
        [sources, lo, hi, dataset_id, sources],
    ).fetchnumpy()
    page = np.asarray(ids, dtype=np.int64)
    sample_id = np.asarray(cols["sample_id"], dtype=np.int64)
    if not scattered:
        on_page = np.isin(sample_id, page)
        if not on_page.all():
            cols = {k: v[on_page] for k, v in cols.items()}
            sample_id = sample_id[on_page]
    by_id = np.argsort(page, kind="stable")
    item = by_id[np.searchsorted(page[by_id], sample_id)]
    src = np.asarray(cols["src"], dtype=np.int64)
    box_id = np.asarray(cols["id"], dtype=np.int64)
    order = np.lexsort((box_id, src, item))
    category_id = np.asarray(cols["category_id"], dtype=np.int64)[order]
    # DuckDB writes the numbers (shortest round-trip form, as JSON would): Python's float repr of ~15,000
    # numbers a page cost more than the query
    bbox = ",".join(cols["bbox"][order].tolist())
    confidence = ",".join(cols["confidence"][order].tolist())
    distinct = np.unique(category_id).tolist()
    names = _category_names(db, cur, dataset_id)
    if any(i not in names for i in distinct):  # not expected (boxes use their dataset's categories): ask
        names = dict(cur.execute(f"SELECT id, name FROM categories WHERE id IN ({_id_list(distinct)})").fetchall())
    head = _dumps({"sources": sources, "categories": [{"id": i, "name": names[i]} for i in distinct]})
    ints = ",".join(
        f'"{key}":{_dumps(values.tolist())}'
        for key, values in (
            ("item", item[order]),
            ("id", box_id[order]),
            ("category_id", category_id),
            ("source", src[order]),
        )
    )
    crowd = _dumps(np.asarray(cols["iscrowd"], dtype=bool)[order].tolist())
    return f'{head[:-1]},{ints},"bbox":[{bbox}],"confidence":[{confidence}],"crowd":{crowd}}}'


def _category_names(db: Database, cur: Any, dataset_id: int) -> dict[int, str]:
    def load() -> dict[int, str]:
        return dict(cur.execute("SELECT id, name FROM categories WHERE dataset_id = ?", [dataset_id]).fetchall())

    return _CATEGORIES.get(db, dataset_id, load)


_BOX_COLUMNS = ("item", "id", "category_id", "source", "bbox", "confidence", "crowd")


def list_samples(
    db: Database, dataset_id: int, q: SampleQuery, boxes: bool = False, runs: Sequence[str] = ()
) -> dict[str, Any]:
    """`page_json` decoded, for callers in Python."""
    return json.loads(page_json(db, dataset_id, q, boxes, runs))


def _require(db: Database, cur: Any, dataset_id: int, runs: list[str]) -> None:
    """The dataset exists and has every run of `runs` (asked once per generation of the database)."""

    def load() -> tuple[bool, frozenset[str]]:
        exists, known = cur.execute(
            "SELECT (SELECT count(*) FROM datasets WHERE id = ?), "
            "(SELECT list(run) FROM prediction_runs WHERE dataset_id = ?)",
            [dataset_id, dataset_id],
        ).fetchone()
        return bool(exists), frozenset(known or ())

    exists, known = _DATASETS.get(db, dataset_id, load)
    if not exists:
        raise DatasetNotFound(f"dataset {dataset_id} not found")
    missing = [run for run in runs if run not in known]
    if missing:
        names = ", ".join(repr(run) for run in missing)
        raise RunNotFound(f"dataset {dataset_id} has no prediction run {names}")


def _tags_of(cur: Any, dataset_id: int, ids: list[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    rows = cur.execute(
        "SELECT sample_id, list(tag ORDER BY tag) FROM sample_tags "
        f"WHERE dataset_id = ? AND sample_id IN ({_id_list(ids)}) GROUP BY sample_id",
        [dataset_id],
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def sample_row(db: Database, sample_id: int) -> dict[str, Any]:
    """The stored sample (path included) or SampleNotFound."""
    with db.cursor() as cur:
        row = cur.execute(
            "SELECT id, dataset_id, file_name, path, width, height, split, annotation_count, fields, "
            "coalesce(review_status, 'unreviewed') FROM samples WHERE id = ?",
            [sample_id],
        ).fetchone()
    if row is None:
        raise SampleNotFound(f"sample {sample_id} not found")
    keys = ["id", "dataset_id", "file_name", "path", "width", "height", "split", "annotation_count", "fields"]
    keys.append("review_status")
    return dict(zip(keys, row, strict=True))


_IMAGE_PATHS = ReadCache(50_000)  # sample id -> its stored path (~150 bytes an entry)


def image_path(db: Database, sample_id: int) -> str:
    """The stored path of a sample's image (or SampleNotFound), asked once per generation of the database:
    a screen of the grid asks for ~30 thumbnails, and looking each sample up again cost more than sending it."""

    def load() -> str:
        with db.cursor() as cur:
            row = cur.execute("SELECT path FROM samples WHERE id = ?", [sample_id]).fetchone()
        if row is None:
            raise SampleNotFound(f"sample {sample_id} not found")
        return row[0]

    return _IMAGE_PATHS.get(db, sample_id, load)


def known_image_path(db: Database, sample_id: int) -> str | None:
    """`image_path` if it is at hand (asks the database nothing), else None."""
    return _IMAGE_PATHS.peek(db, sample_id)


def get_sample(db: Database, sample_id: int, eval_iou: float = 0.5) -> dict[str, Any]:
    sample = sample_row(db, sample_id)
    with db.cursor() as cur:
        annotations = cur.execute(
            """
            SELECT a.id, c.name, a.x, a.y, a.w, a.h, a.area, a.iscrowd, a.source, a.confidence, a.category_id,
                   coalesce(a.version, 1), a.verdict
            FROM annotations a JOIN categories c ON c.id = a.category_id
            WHERE a.dataset_id = ? AND a.sample_id = ?
            ORDER BY a.source <> 'ground_truth', a.source, a.id
            """,
            [sample["dataset_id"], sample_id],
        ).fetchall()
        tags = _tags_of(cur, sample["dataset_id"], [sample_id]).get(sample_id, [])
        marks = evaluation_replies.box_results(cur, sample["dataset_id"], sample_id, None, eval_iou)
    sample.pop("path")
    fields = sample.pop("fields")
    sample["fields"] = json.loads(fields) if fields else {}
    sample["tags"] = tags
    sample["annotations"] = [
        {
            "id": r[0],
            "category": r[1],
            "bbox": [r[2], r[3], r[4], r[5]],
            "area": r[6],
            "iscrowd": bool(r[7]),
            "source": r[8],
            "confidence": r[9],
            "category_id": r[10],
            "version": r[11],  # send it back with an edit (optimistic concurrency)
            "verdict": r[12],  # triage verdict or None
            # per prediction run: TP/FP/FN/ignored, error category, matched partner and IoU
            "evaluation": marks.get(r[0], {}),
        }
        for r in annotations
    ]
    return sample


__all__ = [
    "DatasetNotFound",
    "SampleNotFound",
    "get_sample",
    "has_tags",
    "image_path",
    "known_image_path",
    "list_samples",
    "matching_ids",
    "page_json",
    "sample_row",
]
