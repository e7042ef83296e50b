"""Browsing: a page of samples for a query, and one sample with its annotations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from app.db import Database
from app.errors import NotFound
from app.services import evaluation_replies, evaluation_store
from app.services.datasets import DatasetNotFound, require
from app.services.evaluation_checks import RunNotFound
from app.services.query import SampleQuery, order_by, where


class SampleNotFound(NotFound):
    pass


def list_samples(
    db: Database, dataset_id: int, q: SampleQuery, boxes: bool = False, runs: Sequence[str] = ()
) -> dict[str, Any]:
    """A page of samples; with `boxes` every item carries its ground-truth boxes and those of `runs`."""
    if q.eval_run is not None:  # results at this IoU are computed once, on first use
        evaluation_store.ensure_evaluated(db, dataset_id, q.eval_run, q.eval_iou)
    clause, params = where(dataset_id, q.filters())
    runs = list(dict.fromkeys(runs))
    with db.cursor() as cur:
        require(cur, dataset_id)
        if runs:
            _require_runs(cur, dataset_id, runs)
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
        by_sample = _boxes_of(cur, dataset_id, [r[0] for r in rows], runs) if boxes else None
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
    if by_sample is not None:
        for item in items:
            item["boxes"] = by_sample.get(item["id"], [])
    return {"total": int(total), "offset": q.offset, "limit": q.limit, "items": items}


def _require_runs(cur: Any, dataset_id: int, runs: list[str]) -> None:
    known = {
        r[0]
        for r in cur.execute(
            "SELECT run FROM prediction_runs WHERE dataset_id = ? AND run IN (SELECT unnest(?::VARCHAR[]))",
            [dataset_id, runs],
        ).fetchall()
    }
    missing = [run for run in runs if run not in known]
    if missing:
        names = ", ".join(repr(run) for run in missing)
        raise RunNotFound(f"dataset {dataset_id} has no prediction run {names}")


def _boxes_of(cur: Any, dataset_id: int, ids: list[int], runs: list[str]) -> dict[int, list[dict[str, Any]]]:
    """Boxes of the page's samples in one query: ground truth first, then each run, by annotation id.

    Rows are written sorted by sample (ground truth at import, each prediction run at its import), so the
    sample_id range lets DuckDB skip every row group outside the page by its zonemap. A page of consecutive
    ids (the default order) needs nothing more; a scattered page (another sort, a filter) adds the exact id
    set as a semi-join. Ordering happens in numpy: an ORDER BY here cost more than the scan itself.
    """
    if not ids:
        return {}
    low, high = min(ids), max(ids)
    sources = ["ground_truth", *runs]
    scattered = high - low + 1 > 2 * len(ids)
    exact = "AND a.sample_id IN (SELECT unnest(?::BIGINT[]))" if scattered else ""
    cols = cur.execute(
        f"""
        SELECT a.sample_id, a.id, a.category_id, c.name, a.x, a.y, a.w, a.h, a.source, a.confidence, a.iscrowd
        FROM annotations a JOIN categories c ON c.id = a.category_id
        WHERE a.dataset_id = ? AND a.sample_id BETWEEN ? AND ? {exact}
          AND a.source IN (SELECT unnest(?::VARCHAR[]))
        """,
        [dataset_id, low, high, *([ids] if scattered else []), sources],
    ).fetchnumpy()
    sample = cols["sample_id"]
    if not len(sample):
        return {}
    keep = np.isin(sample, np.asarray(ids, dtype=sample.dtype)) if not scattered else slice(None)
    rank = {source: i for i, source in enumerate(["ground_truth", *sorted(runs)])}
    source = cols["source"][keep]
    source_rank = np.fromiter((rank[s] for s in source), dtype=np.int64, count=len(source))
    order = np.lexsort((cols["id"][keep], source_rank, sample[keep]))

    def column(name: str) -> list[Any]:
        values = cols[name][keep][order]
        if np.ma.isMaskedArray(values):  # NULL confidences of ground truth
            data = values.data.astype(object)
            data[np.ma.getmaskarray(values)] = None
            return data.tolist()
        return values.tolist()

    sample_ids, box_ids, category_ids, names, xs, ys, ws, hs, sources_, confidences, crowd = (
        column(name)
        for name in ("sample_id", "id", "category_id", "name", "x", "y", "w", "h", "source", "confidence", "iscrowd")
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for i, sample_id in enumerate(sample_ids):
        out.setdefault(sample_id, []).append(
            {
                "id": box_ids[i],
                "category_id": category_ids[i],
                "category": names[i],
                "bbox": [xs[i], ys[i], ws[i], hs[i]],
                "source": sources_[i],
                "confidence": confidences[i],
                "iscrowd": crowd[i],
            }
        )
    return out


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
    import json

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


__all__ = ["DatasetNotFound", "SampleNotFound", "get_sample", "list_samples", "sample_row"]
