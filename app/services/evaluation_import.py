"""Prediction runs in and out: validate an import request, then one job parses, evaluates and writes the run;
delete a run.

The job parses the file outside any transaction, evaluates the predictions against the ground truth in
memory (app/services/evaluation.py), then ONE write transaction replaces everything the run had (its
annotations, eval_* rows, prediction_runs row). A bad file or a failure at any step leaves the dataset
exactly as it was; readers never see half a run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from app.config import Settings
from app.db import Database
from app.ingest import EXAMPLES, NOT_UTF8, IngestError, not_utf8_names
from app.ingest import predictions as prediction_files
from app.services import evaluation_engines
from app.services.datasets import DatasetNotFound
from app.services.evaluation_arrow import dataset_index, load_dataset, predictions_from_table
from app.services.evaluation_checks import (
    ALL_SPLITS,
    DEFAULT_IOU,
    InvalidRequest,
    RunConflict,
    check_run_request,
    now,
    require_ready,
    require_run,
)
from app.services.evaluation_engines import Engine, remember
from app.services.evaluation_store import (
    compute_lock,
    delete_results,
    edit_mark,
    evaluate_run,
    keep_dirty_since,
    store_results,
    token,
)
from app.services.ids import allocate
from app.services.jobs import JobContext, JobFailed, JobManager
from app.services.paths import resolve_in_roots

log = logging.getLogger(__name__)


def start_import(
    db: Database, jobs: JobManager, settings: Settings, dataset_id: int, run: str, path: str, fmt: str
) -> str:
    """Validate the request (404/403/409/422 errors), then submit the import-and-evaluate job."""
    check_run_request(run, fmt)
    with db.cursor() as cur:
        require_ready(cur, dataset_id)
    resolved = resolve_in_roots(path, settings.data_roots)
    if not resolved.exists():
        raise InvalidRequest(f"path {path!r} does not exist")
    params = {"run": run, "format": fmt, "path": str(resolved)}
    job = jobs.submit(
        "predictions",
        lambda ctx: import_run(ctx, db, dataset_id, run, resolved, fmt),
        dataset_id=dataset_id,
        params=params,
    )
    return job.id


def import_run(ctx: JobContext, db: Database, dataset_id: int, run: str, path: Path, fmt: str) -> dict[str, Any]:
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal started
        t = time.perf_counter()
        timings[name] = round(t - started, 3)
        started = t

    with db.cursor() as cur:
        require_ready(cur, dataset_id)
        index = dataset_index(cur, dataset_id)
    try:
        with not_utf8_names() as unnamed:  # label files the walk left out: counted in the result
            table = prediction_files.load(fmt, path, index, ctx.progress)
    except IngestError as error:
        raise JobFailed(str(error)) from None
    except RunConflict as error:
        raise JobFailed(str(error)) from None
    ctx.check_cancelled()
    lap("parse")
    n = table.num_rows
    ctx.progress(0, n, f"evaluating {n} predictions")
    with db.cursor() as cur:
        mark = edit_mark(cur, dataset_id)
        data = load_dataset(cur, dataset_id)
    lap("load_ground_truth")
    dt = predictions_from_table(table)
    results = evaluate_run(data, dt, DEFAULT_IOU)
    ctx.check_cancelled()
    lap("evaluate")
    ctx.progress(n, n, "writing")
    with db.write() as cur:
        try:
            require_ready(cur, dataset_id)
        except (DatasetNotFound, RunConflict) as error:
            raise JobFailed(str(error)) from None
        delete_results(cur, dataset_id, run)
        cur.execute("DELETE FROM prediction_runs WHERE dataset_id = ? AND run = ?", [dataset_id, run])
        replaced = cur.execute(
            "DELETE FROM annotations WHERE dataset_id = ? AND source = ? RETURNING 1", [dataset_id, run]
        ).fetchall()
        a0 = allocate(cur, "annotations", n)
        dt_ids = np.arange(a0, a0 + n, dtype=np.int64)
        cur.register("_p", table.append_column("id", pa.array(dt_ids)))
        try:
            cur.execute(
                "INSERT INTO annotations (id, dataset_id, sample_id, category_id, x, y, w, h, area, iscrowd, source, "
                "confidence, source_id) SELECT id, ?, sample_id, category_id, x, y, w, h, w * h, false, ?, "
                "confidence, NULL FROM _p ORDER BY sample_id, id",  # by sample: zonemaps prune page reads
                [dataset_id, run],
            )
        finally:
            cur.unregister("_p")
        store_results(cur, dataset_id, run, results, data, dt, dt_ids)
        keep_dirty_since(cur, dataset_id, run, DEFAULT_IOU, mark)  # ground truth edited during the evaluation
        cur.execute(
            "INSERT INTO prediction_runs VALUES (?, ?, ?, ?, ?, ?)", [dataset_id, run, fmt, str(path), n, now()]
        )
        dt.ids = dt_ids
        stored = token(cur, dataset_id, run, DEFAULT_IOU)
    # edits after this are patched into these results instead of evaluating everything again, also after a
    # restart (the state goes to disk in the background)
    key = (dataset_id, run, DEFAULT_IOU)
    engine = Engine(stored, data, dt, results, mark=mark)
    remember(key, engine)
    evaluation_engines.save(db, key, engine, compute_lock)
    lap("write")
    summary = results.summaries[ALL_SPLITS]
    log.info("prediction run %r of dataset %d: %d predictions, stages %s", run, dataset_id, n, timings)
    skipped = sorted(unnamed)
    note = f"; skipped {len(skipped)} files whose name is not UTF-8 (first: {skipped[0]})" if skipped else ""
    ctx.progress(n, n, f"imported {n} predictions; mAP@[.5:.95] {summary['map']}{note}")
    return {
        "dataset_id": dataset_id,
        "run": run,
        "predictions": n,
        "replaced": len(replaced),
        "map": summary["map"],
        "map50": summary["map50"],
        "seconds": timings,
        "skipped": {NOT_UTF8: len(skipped)} if skipped else {},
        "skipped_examples": {NOT_UTF8: skipped[:EXAMPLES]} if skipped else {},
    }


def delete_run(db: Database, dataset_id: int, run: str) -> None:
    """The run's predictions, results and row, in one transaction."""
    with db.write() as cur:
        require_run(cur, dataset_id, run)
        delete_results(cur, dataset_id, run)
        cur.execute("DELETE FROM prediction_runs WHERE dataset_id = ? AND run = ?", [dataset_id, run])
        cur.execute("DELETE FROM annotations WHERE dataset_id = ? AND source = ?", [dataset_id, run])
