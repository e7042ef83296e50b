"""Browsing: a page of samples for a query, and one sample with its annotations."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from app.db import Database
from app.errors import NotFound
from app.services import evaluation_replies, evaluation_store
from app.services.datasets import DatasetNotFound
from app.services.evaluation_checks import RunNotFound
from app.services.query import SampleQuery, order_by, where


class SampleNotFound(NotFound):
    pass


def page_json(db: Database, dataset_id: int, q: SampleQuery, boxes: bool = False, runs: Sequence[str] = ()) -> bytes:
    """A page of samples as the JSON document of the route's reply (`SamplesPage`).

    With `boxes` the page also carries the boxes of its items, ground truth and those of `runs`, as flat
    per-page columns (`PageBoxes`): item by item, ground truth first, then each run by name, each by
    annotation id, as the sample view lists them; without, `boxes` is null. DuckDB encodes both parts:
    one JSON object per box (~3,000 a page, seven keys each) cost as much as the query, the columns are
    a third of the bytes (bench/page_boxes.py). Which samples a page holds comes from the query's
    whole order, kept per (dataset, filter, sort) until the next write (`_page_ids`).
    """
    if q.eval_run is not None:  # results at this IoU are computed once, on first use
        evaluation_store.ensure_evaluated(db, dataset_id, q.eval_run, q.eval_iou)
    sources = ["ground_truth", *sorted(set(runs))]
    with db.cursor() as cur:
        _require(cur, dataset_id, sources[1:])
        ids, total = _page_ids(db, cur, dataset_id, q)
        items = _items_json(cur, dataset_id, ids)
        box_json = _boxes_json(cur, dataset_id, ids, sources) if boxes else "null"
    head = f'{{"total":{total},"offset":{q.offset},"limit":{q.limit},"items":'
    return b"".join((head.encode(), items.encode(), b',"boxes":', box_json.encode(), b"}"))


# (database file, dataset, WHERE clause, its parameters, ORDER BY) -> (Database.generation, every matching id in order)
_ORDERS: OrderedDict[tuple, tuple[int, np.ndarray]] = OrderedDict()
_ORDERS_LOCK = threading.Lock()
_MAX_ORDERS = 16  # 8 MB each at 1M samples


def _page_ids(db: Database, cur: Any, dataset_id: int, q: SampleQuery) -> tuple[list[int], int]:
    """The ids of the page `q` asks for, in order, and how many samples match.

    The first page of a query is a top-N and a count; a later page caches the query's whole order (one
    sort, about the cost of a top-N) until the next committed write, so scrolling on is a slice, however
    deep: OFFSET n re-sorts at least n rows each time.
    """
    clause, params = where(dataset_id, q.filters())
    order = order_by(q)
    key = (str(db.path), dataset_id, clause, repr(params), order)
    generation = db.generation  # read before the query: a write meanwhile only makes the entry stale
    with _ORDERS_LOCK:
        hit = _ORDERS.get(key)
        if hit is not None and hit[0] == generation:
            _ORDERS.move_to_end(key)
            return hit[1][q.offset : q.offset + q.limit].tolist(), len(hit[1])
    if q.offset == 0:
        rows = cur.execute(
            f"SELECT s.id FROM samples s WHERE {clause} ORDER BY {order} LIMIT ?", [*params, q.limit]
        ).fetchall()
        if len(rows) < q.limit:
            return [r[0] for r in rows], len(rows)
        (total,) = cur.execute(f"SELECT count(*) FROM samples s WHERE {clause}", params).fetchone()
        return [r[0] for r in rows], total
    ordered = cur.execute(f"SELECT s.id FROM samples s WHERE {clause} ORDER BY {order}", params).fetchnumpy()["id"]
    ordered = np.asarray(ordered, dtype=np.int64)
    with _ORDERS_LOCK:
        _ORDERS[key] = (generation, ordered)
        _ORDERS.move_to_end(key)
        while len(_ORDERS) > _MAX_ORDERS:
            _ORDERS.popitem(last=False)
    return ordered[q.offset : q.offset + q.limit].tolist(), len(ordered)


def _id_list(ids: list[int]) -> str:
    # Integers from our own query, so they can go into the SQL text: a constant IN list becomes a filter
    # inside the scan (only the matching rows' other columns are read), where a joined list probes
    # every row of the table.
    return ", ".join(str(int(i)) for i in ids)


def _items_json(cur: Any, dataset_id: int, ids: list[int]) -> str:
    if not ids:
        return "[]"
    (body,) = cur.execute(
        f"""
        SELECT to_json(list({{
                   id: s.id, file_name: s.file_name, width: s.width, height: s.height, split: s.split,
                   tags: coalesce(g.tags, []::VARCHAR[]), annotation_count: s.annotation_count
               }} ORDER BY list_position(?::BIGINT[], s.id)))::VARCHAR
        FROM samples s LEFT JOIN (
            SELECT t.sample_id, list(t.tag ORDER BY t.tag) AS tags FROM sample_tags t
            WHERE t.dataset_id = ? AND t.sample_id IN ({_id_list(ids)}) GROUP BY t.sample_id
        ) g ON g.sample_id = s.id
        WHERE s.id IN ({_id_list(ids)}) AND s.dataset_id = ?
        """,
        [ids, dataset_id, dataset_id],
    ).fetchone()
    return body


def _boxes_json(cur: Any, dataset_id: int, ids: list[int], sources: list[str]) -> str:
    """`PageBoxes` of the samples `ids` (in that order) as JSON: one column per field, one entry per box."""
    if not ids:
        return json.dumps({**{k: [] for k in _BOX_COLUMNS}, "sources": sources, "categories": []})
    # The range lets zone maps skip row groups. One flat aggregate: planning a query of CTEs and
    # subqueries cost more than running it.
    order = "ORDER BY r.item, r.src, r.id"
    (body,) = cur.execute(
        f"""
        SELECT to_json({{
            sources: ?::VARCHAR[],
            categories: list(DISTINCT {{id: r.category_id, name: r.name}}),
            item: list(r.item {order}), id: list(r.id {order}), category_id: list(r.category_id {order}),
            source: list(r.src {order}), bbox: flatten(list([r.x, r.y, r.w, r.h] {order})),
            confidence: list(r.confidence {order}), crowd: list(r.iscrowd {order})
        }})::VARCHAR
        FROM (
            SELECT list_position(?::BIGINT[], a.sample_id) - 1 AS item, a.id, a.category_id, c.name,
                   list_position(?::VARCHAR[], a.source) - 1 AS src, a.x, a.y, a.w, a.h, a.confidence, a.iscrowd
            FROM annotations a JOIN categories c ON c.id = a.category_id
            WHERE a.sample_id IN ({_id_list(ids)}) AND a.sample_id BETWEEN ? AND ?
              AND a.dataset_id = ? AND list_contains(?::VARCHAR[], a.source)
        ) r
        """,
        [sources, ids, sources, min(ids), max(ids), dataset_id, sources],
    ).fetchone()
    if body is None or '"item":null' in body:  # no box on the whole page: every list aggregate is NULL
        return _boxes_json(cur, dataset_id, [], sources)
    return body


_BOX_COLUMNS = ("item", "id", "category_id", "source", "bbox", "confidence", "crowd")


def list_samples(
    db: Database, dataset_id: int, q: SampleQuery, boxes: bool = False, runs: Sequence[str] = ()
) -> dict[str, Any]:
    """`page_json` decoded, for callers in Python."""
    return json.loads(page_json(db, dataset_id, q, boxes, runs))


def _require(cur: Any, dataset_id: int, runs: list[str]) -> None:
    """The dataset exists and has every run of `runs` (one query for both, the simplest to plan)."""
    exists, known = cur.execute(
        "SELECT (SELECT count(*) FROM datasets WHERE id = ?), "
        "(SELECT list(run) FROM prediction_runs WHERE dataset_id = ?)",
        [dataset_id, dataset_id],
    ).fetchone()
    if not exists:
        raise DatasetNotFound(f"dataset {dataset_id} not found")
    missing = [run for run in runs if run not in (known or [])]
    if missing:
        names = ", ".join(repr(run) for run in missing)
        raise RunNotFound(f"dataset {dataset_id} has no prediction run {names}")


def _tags_of(cur: Any, dataset_id: int, ids: list[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    rows = cur.execute(
        "SELECT sample_id, list(tag ORDER BY tag) FROM sample_tags "
        "WHERE dataset_id = ? AND sample_id IN (SELECT unnest(?::BIGINT[])) GROUP BY sample_id",
        [dataset_id, ids],
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


__all__ = ["DatasetNotFound", "SampleNotFound", "get_sample", "list_samples", "page_json", "sample_row"]
