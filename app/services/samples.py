"""Browsing: a page of samples for a query, and one sample with its annotations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.db import Database
from app.errors import NotFound
from app.services import evaluation_replies, evaluation_store
from app.services.datasets import DatasetNotFound
from app.services.evaluation_checks import RunNotFound
from app.services.query import SampleQuery, order_by, where


class SampleNotFound(NotFound):
    pass


def page_json(db: Database, dataset_id: int, q: SampleQuery, boxes: bool = False, runs: Sequence[str] = ()) -> bytes:
    """A page of samples as the JSON document of the route's reply (`SamplesPage`), built by one query.

    With `boxes` every item carries its ground-truth boxes and those of `runs` (ground truth first, then
    each run by name, each by annotation id, as the sample view lists them); without, `boxes` is null.
    DuckDB encodes the whole reply: building ~3,000 box dicts in Python and encoding them cost 3x the
    query (bench/page_boxes.py). The page's ids go into the boxes join as a hash-join filter, so a page
    of consecutive ids (rows are stored by sample) reads only the row groups of that id range.
    """
    if q.eval_run is not None:  # results at this IoU are computed once, on first use
        evaluation_store.ensure_evaluated(db, dataset_id, q.eval_run, q.eval_iou)
    clause, params = where(dataset_id, q.filters())
    runs = list(dict.fromkeys(runs))
    box_cte, box_params, box_value, box_join = "", [], "NULL", ""
    if boxes:
        box_cte = f""",
        boxes AS (
            SELECT a.sample_id,
                   list({{{_BOX_FIELDS}}} ORDER BY a.source <> 'ground_truth', a.source, a.id) AS boxes
            FROM annotations a SEMI JOIN page p ON a.sample_id = p.id
            JOIN categories c ON c.id = a.category_id
            WHERE a.dataset_id = ? AND a.source IN (SELECT unnest(?::VARCHAR[]))
            GROUP BY a.sample_id
        )"""
        box_params = [dataset_id, ["ground_truth", *runs]]
        box_value = f"coalesce(b.boxes, []::{_BOX_TYPE}[])"
        box_join = "LEFT JOIN boxes b ON b.sample_id = p.id"
    with db.cursor() as cur:
        _require(cur, dataset_id, runs)
        (body,) = cur.execute(
            f"""
            WITH page AS (
                SELECT s.id, s.file_name, s.width, s.height, s.split, s.annotation_count,
                       row_number() OVER () AS ord
                FROM (SELECT s.* FROM samples s WHERE {clause} ORDER BY {order_by(q)} LIMIT ? OFFSET ?) s
            ),
            tags AS (
                SELECT t.sample_id, list(t.tag ORDER BY t.tag) AS tags
                FROM sample_tags t SEMI JOIN page p ON t.sample_id = p.id
                WHERE t.dataset_id = ? GROUP BY t.sample_id
            ){box_cte},
            items AS (
                SELECT list({{
                    id: p.id, file_name: p.file_name, width: p.width, height: p.height, split: p.split,
                    tags: coalesce(g.tags, []::VARCHAR[]), annotation_count: p.annotation_count,
                    boxes: {box_value}
                }} ORDER BY p.ord) AS items
                FROM page p LEFT JOIN tags g ON g.sample_id = p.id {box_join}
            )
            SELECT to_json({{
                total: (SELECT count(*) FROM samples s WHERE {clause}),
                "offset": ?::BIGINT, "limit": ?::BIGINT, items: coalesce(items.items, [])
            }})::VARCHAR
            FROM items
            """,
            [*params, q.limit, q.offset, dataset_id, *box_params, *params, q.offset, q.limit],
        ).fetchone()
    return body.encode()


# The reply model's SampleBox, field for field (app/routers/samples.py; tests/test_samples_boxes.py holds
# the two together).
_BOX_FIELDS = (
    "id: a.id, category_id: a.category_id, category: c.name, bbox: [a.x, a.y, a.w, a.h], source: a.source, "
    "confidence: a.confidence, iscrowd: a.iscrowd"
)
_BOX_TYPE = (
    "STRUCT(id BIGINT, category_id BIGINT, category VARCHAR, bbox DOUBLE[], source VARCHAR, confidence DOUBLE, "
    "iscrowd BOOLEAN)"
)


def list_samples(
    db: Database, dataset_id: int, q: SampleQuery, boxes: bool = False, runs: Sequence[str] = ()
) -> dict[str, Any]:
    """`page_json` decoded, for callers in Python."""
    return json.loads(page_json(db, dataset_id, q, boxes, runs))


def _require(cur: Any, dataset_id: int, runs: list[str]) -> None:
    """The dataset exists and has every run of `runs` (one query for both)."""
    exists, known = cur.execute(
        "SELECT EXISTS (SELECT 1 FROM datasets WHERE id = ?), "
        "(SELECT list(run) FROM prediction_runs WHERE dataset_id = ? AND run IN (SELECT unnest(?::VARCHAR[])))",
        [dataset_id, dataset_id, runs],
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
