"""Browsing: a page of samples for a query, and one sample with its annotations."""

from __future__ import annotations

from typing import Any

from app.db import Database
from app.errors import NotFound
from app.services import evaluation_replies, evaluation_store
from app.services.datasets import DatasetNotFound, require
from app.services.query import SampleQuery, order_by, where


class SampleNotFound(NotFound):
    pass


def list_samples(db: Database, dataset_id: int, q: SampleQuery) -> dict[str, Any]:
    if q.eval_run is not None:  # results at this IoU are computed once, on first use
        evaluation_store.ensure_evaluated(db, dataset_id, q.eval_run, q.eval_iou)
    clause, params = where(dataset_id, q.filters())
    with db.cursor() as cur:
        require(cur, dataset_id)
        rows = cur.execute(
            f"""
            SELECT s.id, s.file_name, s.width, s.height, s.split, s.annotation_count, count(*) OVER () AS total
            FROM samples s WHERE {clause}
            ORDER BY {order_by(q)} LIMIT ? OFFSET ?
            """,
            [*params, q.limit, q.offset],
        ).fetchall()
        if rows:
            total = rows[0][6]
        elif q.offset:
            total = cur.execute(f"SELECT count(*) FROM samples s WHERE {clause}", params).fetchone()[0]
        else:
            total = 0
        tags = _tags_of(cur, dataset_id, [r[0] for r in rows])
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
        for r in rows
    ]
    return {"total": int(total), "offset": q.offset, "limit": q.limit, "items": items}


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
            "SELECT id, dataset_id, file_name, path, width, height, split, annotation_count, fields "
            "FROM samples WHERE id = ?",
            [sample_id],
        ).fetchone()
    if row is None:
        raise SampleNotFound(f"sample {sample_id} not found")
    keys = ["id", "dataset_id", "file_name", "path", "width", "height", "split", "annotation_count", "fields"]
    return dict(zip(keys, row, strict=True))


def get_sample(db: Database, sample_id: int, eval_iou: float = 0.5) -> dict[str, Any]:
    import json

    sample = sample_row(db, sample_id)
    with db.cursor() as cur:
        annotations = cur.execute(
            """
            SELECT a.id, c.name, a.x, a.y, a.w, a.h, a.area, a.iscrowd, a.source, a.confidence
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
            # per prediction run: TP/FP/FN/ignored, error category, matched partner and IoU
            "evaluation": marks.get(r[0], {}),
        }
        for r in annotations
    ]
    return sample


__all__ = ["DatasetNotFound", "SampleNotFound", "get_sample", "list_samples", "sample_row"]
