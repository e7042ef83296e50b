"""Evaluation results in the database: compute a (run, IoU) with the engine and store it, or read that it is there.

Results are derived data keyed by (dataset_id, run, iou) in eval_boxes / eval_images / eval_summaries
(app/schema.py, version 4). The default IoU (0.5) is computed when a run is imported
(app/services/evaluation_import.py); another IoU is computed on first request and stored
(`ensure_evaluated`), so later requests, sample filters and sorts at that IoU are reads.

Evaluation follows edits: a ground-truth edit marks every stored (run, IoU) of the dataset stale for the
edited sample (`mark_dirty`, rows in eval_dirty, in the edit's transaction). The next read brings it up to
date before answering and says so (`recomputed`). With the engine state behind the stored results (in
memory, or on disk after a restart: app/services/evaluation_engines.py) only the edited images are
re-matched and only the classes they touch re-accumulated (`ev.rematch_images`): at 100K images / 1M boxes
that is well under the full evaluation's seconds (bench/edit_eval.py). Otherwise (no state, a new category,
many edited samples) everything is evaluated again.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np

from app.db import Database
from app.services import evaluation as ev
from app.services import evaluation_engines
from app.services.evaluation_arrow import (
    DatasetData,
    load_dataset,
    load_ground_truth_of,
    load_run,
    result_tables,
)
from app.services.evaluation_checks import ALL_SPLITS, RunConflict, now, require_run, run_version
from app.services.evaluation_engines import Engine, forget, recall, remember

log = logging.getLogger(__name__)

RESULT_TABLES = ("eval_boxes", "eval_images", "eval_summaries", "eval_dirty")
MAX_INCREMENTAL_SAMPLES = 2_000  # beyond this many edited samples a full evaluation is as quick

# how a read found the results: already current, computed for the first time, brought up to date after edits
STORED, COMPUTED, RECOMPUTED = "stored", "computed", "recomputed"


@dataclass
class RunResults:
    """Everything stored for one (run, IoU)."""

    iou: float
    m: ev.Matching
    errors: ev.ErrorAnalysis
    images: dict[str, np.ndarray]
    summaries: dict[str, dict[str, Any]]
    accumulated: dict[str, ev.Accumulated] = field(default_factory=dict)  # per split, for incremental updates
    masks: dict[str, np.ndarray | None] = field(default_factory=dict)


def _split_masks(data: DatasetData) -> dict[str, np.ndarray | None]:
    split_names = sorted({s for s in data.splits if s is not None})
    masks: dict[str, np.ndarray | None] = {ALL_SPLITS: None}
    if len(split_names) > 1 or (split_names and any(s is None for s in data.splits)):
        masks.update({s: data.splits == s for s in split_names})
    elif split_names:
        masks[split_names[0]] = None  # one split covering everything: same numbers
    return masks


def _summarise(
    data: DatasetData,
    dt: ev.Predictions,
    iou: float,
    m: ev.Matching,
    errors: ev.ErrorAnalysis,
    per_image: dict[str, np.ndarray] | None = None,
    previous: RunResults | None = None,
    classes: np.ndarray | None = None,
    samples: np.ndarray | None = None,
) -> RunResults:
    """Accumulate and summarise every split; with `previous`, only the touched classes of the splits that hold
    one of the re-matched `samples` (the other splits' numbers cannot have changed)."""
    if per_image is None:
        per_image = ev.image_scores(m, data.gt, dt, errors)
    masks = previous.masks if previous is not None else _split_masks(data)
    summaries: dict[str, dict[str, Any]] = {}
    accumulated: dict[str, ev.Accumulated] = {}
    edited = np.isin(data.sample_ids, samples) if samples is not None else None
    everything: str | None = None  # the first split whose mask is None (all images): later ones are the same numbers
    for split, mask in masks.items():
        before = previous.accumulated.get(split) if previous is not None else None
        if before is not None and edited is not None and mask is not None and not (mask & edited).any():
            accumulated[split], summaries[split] = before, previous.summaries[split]  # type: ignore[union-attr]
            continue
        if mask is None and everything is not None:
            # one split covering every image: accumulating it again would repeat the whole-dataset work
            accumulated[split], summaries[split] = accumulated[everything], dict(summaries[everything])
            continue
        acc = ev.accumulate(m, data.gt, dt, image_mask=mask, previous=before, classes=classes if before else None)
        accumulated[split] = acc
        summaries[split] = ev.summarise(m, acc, iou, errors=errors, category_names=data.category_names, image_mask=mask)
        if mask is None:
            everything = split
    return RunResults(iou, m, errors, per_image, summaries, accumulated, masks)


def evaluate_run(data: DatasetData, dt: ev.Predictions, iou: float) -> RunResults:
    m = ev.match(data.gt, dt, ev.thresholds_for(iou), categories=data.category_ids, images=data.sample_ids)
    errors = ev.analyse(m, data.gt, dt, iou)
    return _summarise(data, dt, iou, m, errors)


def update_run(
    data: DatasetData, dt: ev.Predictions, results: RunResults, samples: np.ndarray, new_gt: ev.GroundTruth
) -> tuple[DatasetData, RunResults]:
    """The results after the ground truth of `samples` became `new_gt`: re-match those images only.

    Consumes `results` (its engine state is updated in place): on failure the caller forgets it."""
    p = ev.rematch_images(data.gt, dt, results.m, results.errors, results.images, samples, new_gt)
    new_data = DatasetData(data.sample_ids, data.splits, data.category_ids, data.category_names, p.gt)
    summary = _summarise(
        new_data, dt, results.iou, p.m, p.errors, p.images, previous=results, classes=p.classes, samples=samples
    )
    return new_data, summary


compute_lock = threading.Lock()  # one evaluation at a time: they are CPU-bound and big


def token(cur: duckdb.DuckDBPyConnection, dataset_id: int, run: str, iou: float) -> tuple[Any, Any]:
    """(run version, time the stored results were written): a cached engine state matches stored results."""
    row = cur.execute(
        "SELECT created_at FROM eval_summaries WHERE dataset_id = ? AND run = ? AND iou = ? AND split = ''",
        [dataset_id, run, iou],
    ).fetchone()
    return run_version(cur, dataset_id, run), (row[0] if row else None)


def store_results(
    cur: duckdb.DuckDBPyConnection,
    dataset_id: int,
    run: str,
    results: RunResults,
    data: DatasetData,
    dt: ev.Predictions,
    dt_ids: np.ndarray,
    samples: np.ndarray | None = None,
) -> None:
    """Replace the stored results of (run, results.iou) inside the caller's write transaction: all of them,
    or the per-box and per-image rows of `samples` only (plus every summary)."""
    boxes, images = result_tables(results.m, results.errors, results.images, data.gt, dt, dt_ids, samples)
    iou = results.iou
    key = [dataset_id, run, iou]
    if samples is None:
        for table in ("eval_boxes", "eval_images", "eval_summaries"):
            cur.execute(f"DELETE FROM {table} WHERE dataset_id = ? AND run = ? AND iou = ?", key)
    else:
        ids = [int(x) for x in samples]
        for table in ("eval_boxes", "eval_images"):
            cur.execute(
                f"DELETE FROM {table} WHERE dataset_id = ? AND run = ? AND iou = ? "
                "AND sample_id IN (SELECT unnest(?::BIGINT[]))",
                [*key, ids],
            )
        cur.execute("DELETE FROM eval_summaries WHERE dataset_id = ? AND run = ? AND iou = ?", key)
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


# history actions that change ground truth (undo/redo of a triage is counted too: harmless, rare)
_NOT_GROUND_TRUTH = ("triage", "review", "category")


def edit_mark(cur: duckdb.DuckDBPyConnection, dataset_id: int) -> int:
    """The dataset's latest history entry: read before loading ground truth for a computation."""
    row = cur.execute("SELECT coalesce(max(id), 0) FROM edit_history WHERE dataset_id = ?", [dataset_id]).fetchone()
    return int(row[0])


def keep_dirty_since(cur: duckdb.DuckDBPyConnection, dataset_id: int, run: str, iou: float, mark: int) -> None:
    """In the transaction storing results computed from ground truth read after `mark`: samples edited
    since then may or may not be in them, so they stay stale (the next read re-does them)."""
    cur.execute(
        "INSERT INTO eval_dirty SELECT DISTINCT dataset_id, ?, ?, sample_id FROM edit_history "
        "WHERE dataset_id = ? AND id > ? AND target = 'annotation' AND sample_id IS NOT NULL "
        "AND action NOT IN (?, ?, ?)",
        [run, iou, dataset_id, mark, *_NOT_GROUND_TRUTH],
    )


def edited_since(cur: duckdb.DuckDBPyConnection, dataset_id: int, mark: int) -> list[int]:
    """Samples whose ground truth an edit after history entry `mark` changed."""
    rows = cur.execute(
        "SELECT DISTINCT sample_id FROM edit_history "
        "WHERE dataset_id = ? AND id > ? AND target = 'annotation' AND sample_id IS NOT NULL "
        "AND action NOT IN (?, ?, ?)",
        [dataset_id, mark, *_NOT_GROUND_TRUTH],
    ).fetchall()
    return [int(r[0]) for r in rows]


def _status(cur: duckdb.DuckDBPyConnection, dataset_id: int, run: str, iou: float) -> tuple[bool, list[int]]:
    """(results stored?, edited samples they are stale for: one entry per edit)."""
    require_run(cur, dataset_id, run)
    have = cur.execute(
        "SELECT 1 FROM eval_summaries WHERE dataset_id = ? AND run = ? AND iou = ? LIMIT 1", [dataset_id, run, iou]
    ).fetchone()
    dirty = cur.execute(
        "SELECT sample_id FROM eval_dirty WHERE dataset_id = ? AND run = ? AND iou = ?", [dataset_id, run, iou]
    ).fetchall()
    return have is not None, [int(r[0]) for r in dirty]


def ensure_evaluated(db: Database, dataset_id: int, run: str, iou: float) -> str:
    """Make the stored results at `iou` current: compute them if missing, bring them up to date after edits.

    Returns STORED (nothing to do), COMPUTED (first time) or RECOMPUTED (edits since; incremental when the
    engine state is in memory). Idempotent; an edit made while this computes stays stale for the next read.
    """
    with db.cursor() as cur:
        have, dirty = _status(cur, dataset_id, run, iou)
    if have and not dirty:
        return STORED
    key = (dataset_id, run, iou)
    with compute_lock:
        with db.cursor() as cur:
            have, dirty = _status(cur, dataset_id, run, iou)
            if have and not dirty:
                return STORED
            mark = edit_mark(cur, dataset_id)
            current = token(cur, dataset_id, run, iou)
            engine = recall(key)
            if engine is not None and engine.token != current:
                engine = None
            restored = False
            if engine is None and have:  # after a restart: the state on disk, brought up to its edits
                engine = evaluation_engines.load(db, key, current[0])
                if engine is not None:
                    restored = True
                    dirty = [*dirty, *edited_since(cur, dataset_id, engine.mark)]
            samples = np.unique(np.asarray(dirty, np.int64))
            categories = cur.execute(
                "SELECT id FROM categories WHERE dataset_id = ? ORDER BY id", [dataset_id]
            ).fetchall()
            incremental = (
                have
                and engine is not None
                and 0 < len(samples) <= MAX_INCREMENTAL_SAMPLES
                and [c[0] for c in categories] == engine.data.category_ids.tolist()
            )
            if incremental:
                assert engine is not None
                new_gt = load_ground_truth_of(cur, dataset_id, samples)
            else:
                data = load_dataset(cur, dataset_id)
                dt = load_run(cur, dataset_id, run)
            since_saved = (
                len(edited_since(cur, dataset_id, engine.saved_mark))
                if incremental and engine is not None and engine.saved_mark is not None and not restored
                else None
            )
        if incremental:
            assert engine is not None
            forget(key)  # updated in place below: never reused unless it is stored again
            dt = engine.dt
            data, results = update_run(engine.data, dt, engine.results, samples, new_gt)
        else:
            results = evaluate_run(data, dt, iou)
        with db.write() as cur:
            require_run(cur, dataset_id, run)
            if run_version(cur, dataset_id, run) != current[0]:  # re-imported meanwhile: these results are stale
                raise RunConflict(f"run {run!r} was re-imported while it was being evaluated; try again")
            store_results(cur, dataset_id, run, results, data, dt, dt.ids, samples if incremental else None)
            cur.execute("DELETE FROM eval_dirty WHERE dataset_id = ? AND run = ? AND iou = ?", list(key))
            keep_dirty_since(cur, dataset_id, run, iou, mark)  # edits that landed while we computed
            stored = token(cur, dataset_id, run, iou)
        saved = engine.saved_mark if incremental and engine is not None else None
        if restored:
            saved = engine.mark if engine is not None else None
        updated = Engine(stored, data, dt, results, mark=mark, saved_mark=saved)
        remember(key, updated)
        # on disk: after a full evaluation, and once a restart would re-match many images
        if not incremental or (since_saved is not None and since_saved >= evaluation_engines.REWRITE_AFTER):
            evaluation_engines.save(db, key, updated, compute_lock)
    log.info(
        "evaluation of run %r (dataset %d, IoU %s): %s%s",
        run,
        dataset_id,
        iou,
        (f"incremental over {len(samples)} edited samples" + (" (state from disk)" if restored else ""))
        if incremental
        else "full",
        "" if dirty else " (first time)",
    )
    return RECOMPUTED if dirty else COMPUTED


def delete_results(cur: duckdb.DuckDBPyConnection, dataset_id: int, run: str) -> None:
    """Every stored result of the run, at every IoU (inside the caller's write transaction)."""
    for table in RESULT_TABLES:
        cur.execute(f"DELETE FROM {table} WHERE dataset_id = ? AND run = ?", [dataset_id, run])


def mark_dirty(cur: duckdb.DuckDBPyConnection, dataset_id: int, sample_id: int) -> list[dict[str, Any]]:
    """The ground truth of `sample_id` changed: every stored (run, IoU) of the dataset is now stale there.

    Called inside the edit's transaction; returns the (run, iou) pairs marked.
    """
    pairs = cur.execute(
        "SELECT DISTINCT run, iou FROM eval_summaries WHERE dataset_id = ? ORDER BY run, iou", [dataset_id]
    ).fetchall()
    if pairs:
        cur.execute(
            "INSERT INTO eval_dirty SELECT DISTINCT dataset_id, run, iou, ? FROM eval_summaries WHERE dataset_id = ?",
            [sample_id, dataset_id],
        )
    return [{"run": r, "iou": i} for r, i in pairs]
