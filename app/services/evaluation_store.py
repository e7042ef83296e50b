"""Evaluation results in the database: compute a (run, IoU) with the engine and store it, or read that it is there.

Results are derived data keyed by (dataset_id, run, iou) in eval_boxes / eval_images / eval_summaries
(app/schema.py, version 4). The default IoU (0.5) is computed when a run is imported
(app/services/evaluation_import.py); another IoU is computed on first request and stored
(`ensure_evaluated`), so later requests, sample filters and sorts at that IoU are reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from app.db import Database
from app.services import evaluation as ev
from app.services.evaluation_arrow import DatasetData, load_dataset, load_run, result_tables
from app.services.evaluation_checks import ALL_SPLITS, RunConflict, now, require_run, run_version

RESULT_TABLES = ("eval_boxes", "eval_images", "eval_summaries")


@dataclass
class RunResults:
    """Everything stored for one (run, IoU)."""

    iou: float
    m: ev.Matching
    errors: ev.ErrorAnalysis
    images: dict[str, np.ndarray]
    summaries: dict[str, dict[str, Any]]


def evaluate_run(data: DatasetData, dt: ev.Predictions, iou: float) -> RunResults:
    m = ev.match(data.gt, dt, ev.thresholds_for(iou), categories=data.category_ids, images=data.sample_ids)
    errors = ev.analyse(m, data.gt, dt, iou)
    per_image = ev.image_scores(m, data.gt, dt, errors)
    summaries: dict[str, dict[str, Any]] = {}
    split_names = sorted({s for s in data.splits if s is not None})
    masks: dict[str, np.ndarray | None] = {ALL_SPLITS: None}
    if len(split_names) > 1 or (split_names and any(s is None for s in data.splits)):
        masks.update({s: data.splits == s for s in split_names})
    elif split_names:
        masks[split_names[0]] = None  # one split covering everything: same numbers
    for split, mask in masks.items():
        acc = ev.accumulate(m, data.gt, dt, image_mask=mask)
        summaries[split] = ev.summarise(m, acc, iou, errors=errors, category_names=data.category_names, image_mask=mask)
    return RunResults(iou=iou, m=m, errors=errors, images=per_image, summaries=summaries)


def store_results(
    cur: duckdb.DuckDBPyConnection,
    dataset_id: int,
    run: str,
    results: RunResults,
    data: DatasetData,
    dt: ev.Predictions,
    dt_ids: np.ndarray,
) -> None:
    """Replace the stored results of (run, results.iou) inside the caller's write transaction."""
    boxes, images = result_tables(results.m, results.errors, results.images, data.gt, dt, dt_ids)
    iou = results.iou
    for table in RESULT_TABLES:
        cur.execute(f"DELETE FROM {table} WHERE dataset_id = ? AND run = ? AND iou = ?", [dataset_id, run, iou])
    cur.register("_eb", boxes)
    cur.register("_ei", images)
    try:
        cur.execute(
            "INSERT INTO eval_boxes SELECT ?, ?, ?, annotation_id, sample_id, category_id, is_prediction, status, "
            "error, partner_id, match_iou, in_matrix, cell_actual, cell_predicted FROM _eb",
            [dataset_id, run, iou],
        )
        cur.execute(
            "INSERT INTO eval_images SELECT ?, ?, ?, sample_id, tp, fp, fn, errors, worst FROM _ei",
            [dataset_id, run, iou],
        )
    finally:
        cur.unregister("_eb")
        cur.unregister("_ei")
    at = now()
    for split, reply in results.summaries.items():
        cur.execute(
            "INSERT INTO eval_summaries VALUES (?, ?, ?, ?, ?, ?)",
            [dataset_id, run, iou, split, json.dumps(reply), at],
        )


def ensure_evaluated(db: Database, dataset_id: int, run: str, iou: float) -> None:
    """Compute and store results at `iou` if they are not there yet (idempotent)."""
    with db.cursor() as cur:
        require_run(cur, dataset_id, run)
        if cur.execute(
            "SELECT 1 FROM eval_summaries WHERE dataset_id = ? AND run = ? AND iou = ? LIMIT 1", [dataset_id, run, iou]
        ).fetchone():
            return
        version = run_version(cur, dataset_id, run)
        data = load_dataset(cur, dataset_id)
        dt = load_run(cur, dataset_id, run)
    results = evaluate_run(data, dt, iou)
    with db.write() as cur:
        require_run(cur, dataset_id, run)
        if run_version(cur, dataset_id, run) != version:  # re-imported meanwhile: these results are stale
            raise RunConflict(f"run {run!r} was re-imported while it was being evaluated; try again")
        store_results(cur, dataset_id, run, results, data, dt, dt.ids)


def delete_results(cur: duckdb.DuckDBPyConnection, dataset_id: int, run: str) -> None:
    """Every stored result of the run, at every IoU (inside the caller's write transaction)."""
    for table in RESULT_TABLES:
        cur.execute(f"DELETE FROM {table} WHERE dataset_id = ? AND run = ?", [dataset_id, run])
