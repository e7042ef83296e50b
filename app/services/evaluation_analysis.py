"""What the evaluation view reads besides the stored reply: precision/recall per score threshold, and the
boxes of a confusion cell or error category on given samples (the grid highlights them).

Both read the stored per-box results (eval_boxes), brought up to date first like every evaluation read.
"""

from __future__ import annotations

from typing import Any

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
    in neither. One pass over the run's evaluated boxes joined to their scores.
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
        rows = cur.execute(
            f"""
            SELECT CASE WHEN b.is_prediction THEN least(greatest(floor(a.confidence * {SCORE_STEPS}), 0),
                        {SCORE_STEPS})::INTEGER END AS step,
                   count(*) FILTER (WHERE b.is_prediction AND b.status = 'TP'),
                   count(*) FILTER (WHERE b.is_prediction AND b.status = 'FP'),
                   count(*) FILTER (WHERE NOT b.is_prediction AND b.status IN ('TP', 'FN'))
            FROM eval_boxes b LEFT JOIN annotations a ON a.id = b.annotation_id AND b.is_prediction
            WHERE {cond}
            GROUP BY step
            """,
            params,
        ).fetchall()
    tp_at = [0] * (SCORE_STEPS + 1)
    fp_at = [0] * (SCORE_STEPS + 1)
    ground_truth = 0
    for step, tp, fp, gt in rows:
        if step is None:
            ground_truth += int(gt)
        else:
            tp_at[step] += int(tp)
            fp_at[step] += int(fp)
    scores, tps, fps, precision, recall = [], [], [], [], []
    tp = fp = 0
    for step in range(SCORE_STEPS, -1, -1):  # from the top: counts of scores >= step / 100
        tp += tp_at[step]
        fp += fp_at[step]
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
