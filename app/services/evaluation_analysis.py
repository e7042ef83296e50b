"""What the evaluation view reads besides the stored reply: precision/recall per score threshold, and the
boxes of a confusion cell or error category on given samples (the grid highlights them).

Both read the stored per-box results (eval_boxes), brought up to date first like every evaluation read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.db import Database
from app.services.evaluation_checks import InvalidRequest, category, check_iou, require_run
from app.services.evaluation_sql import box_condition
from app.services.evaluation_store import ensure_evaluated

SCORE_STEPS = 100  # thresholds 0.00, 0.01, ..., 1.00
MAX_SAMPLES = 500  # sample ids per boxes request: one grid page and more


def thresholds(
    db: Database, dataset_id: int, run: str, iou: float, split: str | None = None, category_name: str | None = None
) -> dict[str, Any]:
    """TP / FP / precision / recall of the predictions scoring at least t, for t = 0, 0.01, ..., 1.

    COCO matches predictions greedily in descending score order, so a prediction's TP/FP status does not
    depend on lower-scored ones: keeping only scores >= t leaves the statuses of the rest unchanged, and
    these counts are exactly those of the run cut at t. Ignored predictions (crowd, beyond maxDets) count
    in neither.
    """
    iou = check_iou(iou)
    ensure_evaluated(db, dataset_id, run, iou)
    where = ["b.dataset_id = ?", "b.run = ?", "b.iou = ?"]
    params: list[Any] = [dataset_id, run, iou]
    with db.cursor() as cur:
        require_run(cur, dataset_id, run)
        if category_name is not None:
            cid = category(cur, dataset_id, category_name)
            if cid is None:
                raise InvalidRequest("category must be a category of the dataset, not background")
            where.append("b.category_id = ?")
            params.append(cid)
        if split is not None:
            where.append("b.sample_id IN (SELECT s.id FROM samples s WHERE s.dataset_id = ? AND s.split = ?)")
            params += [dataset_id, split]
        cond = " AND ".join(where)
        ground_truth: int = cur.execute(
            f"SELECT count(*) FROM eval_boxes b WHERE {cond} AND NOT b.is_prediction AND b.status IN ('TP', 'FN')",
            params,
        ).fetchone()[0]
        tp_at, fp_at = _score_counts(cur, dataset_id, run, cond, params)
    scores, tps, fps, precision, recall = [], [], [], [], []
    tp = fp = 0
    for step in range(SCORE_STEPS, -1, -1):  # from the top: counts of scores >= step / 100
        tp += int(tp_at[step])
        fp += int(fp_at[step])
        scores.append(step / SCORE_STEPS)
        tps.append(tp)
        fps.append(fp)
        precision.append(tp / (tp + fp) if tp + fp else None)
        recall.append(tp / ground_truth if ground_truth else None)
    rev = slice(None, None, -1)  # ascending thresholds
    return {
        "dataset_id": dataset_id,
        "run": run,
        "iou": iou,
        "split": split,
        "category": category_name,
        "ground_truth": ground_truth,
        "score": scores[rev],
        "tp": tps[rev],
        "fp": fps[rev],
        "precision": precision[rev],
        "recall": recall[rev],
    }


# a run's prediction ids come in one block (allocated at its import): scores are looked up by position in a
# dense array when the block is at most this many times the number of predictions, else through a join
MAX_SPAN_FACTOR = 4


def _score_counts(cur: Any, dataset_id: int, run: str, cond: str, params: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """TP and FP predictions per score step (floor(score * 100), clipped to 0..100) among `cond`'s boxes.

    Two column scans joined in numpy by id: a SQL join of 1M evaluated boxes to their 1M scores took
    ~20 times as long as both scans together.
    """
    steps = SCORE_STEPS + 1
    boxes = cur.execute(
        f"SELECT b.annotation_id, b.status = 'TP' AS tp FROM eval_boxes b "
        f"WHERE {cond} AND b.is_prediction AND b.status IN ('TP', 'FP')",
        params,
    ).fetchnumpy()
    ids = np.asarray(boxes["annotation_id"], dtype=np.int64)
    if not len(ids):
        return np.zeros(steps, np.int64), np.zeros(steps, np.int64)
    lo, hi = int(ids.min()), int(ids.max())
    if hi - lo + 1 <= MAX_SPAN_FACTOR * len(ids):
        scored = cur.execute(
            "SELECT a.id, a.confidence FROM annotations a WHERE a.dataset_id = ? AND a.source = ? "
            "AND a.id BETWEEN ? AND ?",
            [dataset_id, run, lo, hi],
        ).fetchnumpy()
        dense = np.zeros(hi - lo + 1, np.float64)
        dense[np.asarray(scored["id"], dtype=np.int64) - lo] = np.ma.filled(scored["confidence"], 0.0)
        score = dense[ids - lo]
    else:
        joined = cur.execute(
            f"SELECT a.confidence FROM eval_boxes b JOIN annotations a ON a.id = b.annotation_id "
            f"WHERE {cond} AND b.is_prediction AND b.status IN ('TP', 'FP') ORDER BY b.annotation_id",
            params,
        ).fetchnumpy()
        order = np.argsort(ids, kind="stable")
        score = np.empty(len(ids), np.float64)
        score[order] = np.ma.filled(joined["confidence"], 0.0)
    step = np.clip(np.floor(score * SCORE_STEPS), 0, SCORE_STEPS).astype(np.int64)
    tp = np.asarray(boxes["tp"], dtype=bool)
    return np.bincount(step[tp], minlength=steps), np.bincount(step[~tp], minlength=steps)


def highlighted_boxes(
    db: Database,
    dataset_id: int,
    run: str,
    iou: float,
    sample_ids: list[int],
    actual: str | None,
    predicted: str | None,
    error: str | None,
) -> dict[str, Any]:
    """Per given sample, the annotation ids counted in the cell (actual, predicted) and/or error category."""
    iou = check_iou(iou)
    if (actual is None) != (predicted is None):
        raise InvalidRequest("a confusion cell needs both actual and predicted")
    if actual is None and error is None:
        raise InvalidRequest("give a confusion cell (actual and predicted) or an error category")
    if len(sample_ids) > MAX_SAMPLES:
        raise InvalidRequest(f"at most {MAX_SAMPLES} sample ids per request, got {len(sample_ids)}")
    ensure_evaluated(db, dataset_id, run, iou)
    with db.cursor() as cur:
        require_run(cur, dataset_id, run)
        for name in (actual, predicted):
            if name is not None:
                category(cur, dataset_id, name)  # unknown names are a 422, not an empty answer
        if (actual, predicted) == ("background", "background"):
            raise InvalidRequest("the (background, background) cell is empty by definition")
        cond, params = box_condition(dataset_id, run, iou, actual, predicted, error)
        rows = cur.execute(
            f"""
            SELECT b.sample_id, list(b.annotation_id ORDER BY b.annotation_id)
            FROM eval_boxes b WHERE {cond} AND b.sample_id IN (SELECT unnest(?::BIGINT[]))
            GROUP BY b.sample_id ORDER BY b.sample_id
            """,
            [*params, sample_ids],
        ).fetchall()
    return {
        "dataset_id": dataset_id,
        "run": run,
        "iou": iou,
        "items": [{"sample_id": int(s), "annotation_ids": [int(i) for i in ids]} for s, ids in rows],
    }
