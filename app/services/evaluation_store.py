"""Prediction runs in the database: import a run (a job), evaluate it, store and read the results.

A run is imported and evaluated in one job: parse the file outside any transaction, evaluate the
predictions against the ground truth in memory (app/services/evaluation.py), then ONE write transaction
replaces everything the run had (its annotations, eval_* rows, prediction_runs row). A bad file or a
failure at any step leaves the dataset exactly as it was; readers never see half a run.

Results at the default IoU (0.5) are computed at import; another IoU is computed on first request and
stored (`ensure_evaluated`), so later requests, sample filters and sorts at that IoU are reads.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from app.config import Settings
from app.db import Database
from app.errors import Conflict, Invalid, NotFound
from app.ingest import IngestError
from app.ingest import predictions as prediction_files
from app.services import evaluation as ev
from app.services.datasets import READY, DatasetNotFound
from app.services.ids import allocate
from app.services.jobs import JobContext, JobFailed, JobManager
from app.services.paths import resolve_in_roots

log = logging.getLogger(__name__)

GROUND_TRUTH = "ground_truth"
DEFAULT_IOU = 0.5
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+@-]{0,99}$")
ALL_SPLITS = ""  # eval_summaries.split for the whole dataset
BACKGROUND = "background"


class RunNotFound(NotFound):
    pass


class InvalidRequest(Invalid):
    """Mapped to 422."""


class RunConflict(Conflict):
    """The dataset is not ready (still importing); mapped to 409 by the router."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def check_iou(iou: float) -> float:
    iou = float(iou)
    if not 0.05 <= iou <= 1.0:
        raise InvalidRequest(f"iou must be between 0.05 and 1.0, got {iou}")
    return iou


# ------------------------------------------------------------------------------------------- loading
@dataclass
class DatasetData:
    sample_ids: np.ndarray  # sorted: the image order of pycocotools' sorted imgIds
    splits: np.ndarray  # object array, None for no split
    category_ids: np.ndarray  # sorted by id
    category_names: dict[int, str]
    gt: ev.GroundTruth


def _arrow(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, np.ndarray]:
    table = cur.execute(sql, params).to_arrow_table()  # a plain result: callers may hold others open
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def load_dataset(cur: duckdb.DuckDBPyConnection, dataset_id: int) -> DatasetData:
    s = _arrow(cur, "SELECT id, split FROM samples WHERE dataset_id = ? ORDER BY id", [dataset_id])
    c = _arrow(cur, "SELECT id, name FROM categories WHERE dataset_id = ? ORDER BY id", [dataset_id])
    # ground truth in file order (ids were allocated in file order): ties in IoU resolve like pycocotools
    g = _arrow(
        cur,
        "SELECT id, sample_id, category_id, x, y, w, h, coalesce(area, w * h) AS area, iscrowd "
        "FROM annotations WHERE dataset_id = ? AND source = ? ORDER BY id",
        [dataset_id, GROUND_TRUTH],
    )
    gt = ev.GroundTruth(
        image=g["sample_id"],
        category=g["category_id"],
        boxes=np.c_[g["x"], g["y"], g["w"], g["h"]] if len(g["id"]) else np.zeros((0, 4)),
        iscrowd=g["iscrowd"].astype(bool),
        area=g["area"].astype(np.float64),
        ids=g["id"],
    )
    return DatasetData(
        sample_ids=s["id"].astype(np.int64),
        splits=np.asarray(s["split"], dtype=object),
        category_ids=c["id"].astype(np.int64),
        category_names={int(i): str(n) for i, n in zip(c["id"], c["name"], strict=True)},
        gt=gt,
    )


def load_run(cur: duckdb.DuckDBPyConnection, dataset_id: int, run: str) -> ev.Predictions:
    d = _arrow(
        cur,
        "SELECT id, sample_id, category_id, x, y, w, h, confidence FROM annotations "
        "WHERE dataset_id = ? AND source = ? ORDER BY id",
        [dataset_id, run],
    )
    return ev.Predictions(
        image=d["sample_id"],
        category=d["category_id"],
        boxes=np.c_[d["x"], d["y"], d["w"], d["h"]] if len(d["id"]) else np.zeros((0, 4)),
        score=d["confidence"].astype(np.float64),
        ids=d["id"],
    )


# ---------------------------------------------------------------------------------------- evaluating
@dataclass
class RunResults:
    """Everything stored for one (run, IoU); prediction ids are filled in when they are known."""

    iou: float
    m: ev.Matching
    errors: ev.ErrorAnalysis
    images: dict[str, np.ndarray]
    summaries: dict[str, dict[str, Any]]

    def tables(self, data: DatasetData, dt: ev.Predictions, dt_ids: np.ndarray) -> tuple[pa.Table, pa.Table]:
        m, e, gt = self.m, self.errors, data.gt
        cats = m.categories
        d_eval = (m.dt_img >= 0) & (m.dt_cat >= 0)
        codes = {name: i for i, name in enumerate(ev.PREDICTION_CATEGORIES)}
        d_status = np.zeros(len(dt), np.int8)  # 0 FP, 1 TP, 2 ignored (see STATUS below)
        d_status[e.dt_code == codes[ev.TP]] = 1
        d_status[np.isin(e.dt_code, [codes[ev.CROWD], codes[ev.OVER_MAX_DETS]])] = 2
        d_partner = np.where(e.dt_partner >= 0, gt.ids[np.maximum(e.dt_partner, 0)], -1) if len(gt) else e.dt_partner
        d_actual = np.where(e.cm_actual >= 0, cats[np.maximum(e.cm_actual, 0)], -1) if len(cats) else e.cm_actual
        g_eval = m.gt_cat >= 0
        g_status = np.full(len(gt), 2, np.int8)  # ignored (crowd)
        g_status[e.gt_partner >= 0] = 1
        g_status[e.gt_missed] = 3
        g_error = np.where(g_status == 1, 0, np.where(g_status == 3, 1, 2)).astype(np.int8)
        g_partner = np.where(e.gt_partner >= 0, dt_ids[np.maximum(e.gt_partner, 0)], -1) if len(dt) else e.gt_partner
        confused = e.gt_confused_by >= 0
        g_partner = np.where(confused, dt_ids[np.maximum(e.gt_confused_by, 0)] if len(dt) else -1, g_partner)
        g_iou = e.gt_iou.copy()
        if confused.any():
            g_iou[confused] = e.dt_iou[e.gt_confused_by[confused]]
        d_rows = np.flatnonzero(d_eval)
        g_rows = np.flatnonzero(g_eval)

        def nullable(values: np.ndarray, mask: np.ndarray) -> pa.Array:
            return pa.array(values, pa.int64(), mask=mask)

        boxes = pa.concat_tables(
            [
                pa.table(
                    {
                        "annotation_id": pa.array(dt_ids[d_rows], pa.int64()),
                        "sample_id": pa.array(dt.image[d_rows], pa.int64()),
                        "category_id": pa.array(dt.category[d_rows], pa.int64()),
                        "is_prediction": pa.array(np.ones(len(d_rows), bool)),
                        "status": _labels(d_status[d_rows], STATUS),
                        "error": _labels(e.dt_code[d_rows], ev.PREDICTION_CATEGORIES),
                        "partner_id": nullable(d_partner[d_rows], d_partner[d_rows] < 0),
                        "match_iou": pa.array(e.dt_iou[d_rows], pa.float64()),
                        "in_matrix": pa.array(e.dt_in_matrix[d_rows]),
                        "cell_actual": nullable(d_actual[d_rows], d_actual[d_rows] < 0),
                        "cell_predicted": pa.array(dt.category[d_rows], pa.int64()),
                    }
                ),
                pa.table(
                    {
                        "annotation_id": pa.array(gt.ids[g_rows], pa.int64()),
                        "sample_id": pa.array(gt.image[g_rows], pa.int64()),
                        "category_id": pa.array(gt.category[g_rows], pa.int64()),
                        "is_prediction": pa.array(np.zeros(len(g_rows), bool)),
                        "status": _labels(g_status[g_rows], STATUS),
                        "error": _labels(g_error[g_rows], (ev.FOUND, ev.MISSED, ev.IGNORED_GT)),
                        "partner_id": nullable(g_partner[g_rows], g_partner[g_rows] < 0),
                        "match_iou": pa.array(g_iou[g_rows], pa.float64()),
                        "in_matrix": pa.array(e.gt_in_matrix[g_rows]),
                        "cell_actual": pa.array(gt.category[g_rows], pa.int64()),
                        "cell_predicted": nullable(np.zeros(len(g_rows), np.int64), np.ones(len(g_rows), bool)),
                    }
                ),
            ]
        )
        images = pa.table(
            {
                "sample_id": pa.array(m.images, pa.int64()),
                **{k: pa.array(self.images[k], pa.int32()) for k in ("tp", "fp", "fn", "errors")},
                "worst": pa.array(self.images["worst"], pa.float64()),
            }
        )
        return boxes, images


STATUS = ("FP", "TP", "ignored", "FN")


def _labels(codes: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    """Small integer codes -> strings through a dictionary array (no Python object per row)."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(names, pa.string())).cast(pa.string())


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


def _store_results(
    cur: duckdb.DuckDBPyConnection,
    dataset_id: int,
    run: str,
    results: RunResults,
    data: DatasetData,
    dt: ev.Predictions,
    dt_ids: np.ndarray,
) -> None:
    boxes, images = results.tables(data, dt, dt_ids)
    iou = results.iou
    for table in ("eval_boxes", "eval_images", "eval_summaries"):
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
    now = _now()
    for split, reply in results.summaries.items():
        cur.execute(
            "INSERT INTO eval_summaries VALUES (?, ?, ?, ?, ?, ?)",
            [dataset_id, run, iou, split, json.dumps(reply), now],
        )


# ------------------------------------------------------------------------------------------ importing
def _dataset_index(cur: duckdb.DuckDBPyConnection, dataset_id: int) -> prediction_files.DatasetIndex:
    fmt = cur.execute("SELECT format FROM datasets WHERE id = ?", [dataset_id]).fetchone()
    s = _arrow(
        cur,
        "SELECT id, coalesce(source_id, -1) AS source_id, file_name, coalesce(width, -1) AS width, "
        "coalesce(height, -1) AS height FROM samples WHERE dataset_id = ? ORDER BY id",
        [dataset_id],
    )
    c = _arrow(cur, "SELECT id, source_id FROM categories WHERE dataset_id = ? ORDER BY source_id, id", [dataset_id])
    return prediction_files.DatasetIndex(
        format=str(fmt[0]) if fmt else "",
        sample_ids=s["id"].astype(np.int64),
        sample_source_ids=s["source_id"].astype(np.int64),
        file_names=[str(f) for f in s["file_name"]],
        widths=s["width"].astype(np.int64),
        heights=s["height"].astype(np.int64),
        category_ids=c["id"].astype(np.int64),
        category_source_ids=c["source_id"].astype(np.int64),
    )


def _require_ready(cur: duckdb.DuckDBPyConnection, dataset_id: int) -> None:
    row = cur.execute("SELECT status FROM datasets WHERE id = ?", [dataset_id]).fetchone()
    if row is None:
        raise DatasetNotFound(f"dataset {dataset_id} not found")
    if row[0] != READY:
        raise RunConflict(f"dataset {dataset_id} is still being imported ({row[0]}); try again when it is ready")


def start_import(
    db: Database, jobs: JobManager, settings: Settings, dataset_id: int, run: str, path: str, fmt: str
) -> str:
    """Validate the request (404/403/409/422 errors), then submit the import-and-evaluate job."""
    if run == GROUND_TRUTH or not RUN_NAME.match(run):
        raise InvalidRequest(
            f"run name {run!r} is not allowed: 1-100 letters, digits and _.:+@- starting with a letter or digit, "
            f"and not {GROUND_TRUTH!r}"
        )
    if fmt not in prediction_files.FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(prediction_files.FORMATS)}")
    with db.cursor() as cur:
        _require_ready(cur, dataset_id)
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
        now = time.perf_counter()
        timings[name] = round(now - started, 3)
        started = now

    with db.cursor() as cur:
        _require_ready(cur, dataset_id)
        index = _dataset_index(cur, dataset_id)
    try:
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
        data = load_dataset(cur, dataset_id)
    lap("load_ground_truth")
    cols = {name: table.column(name).to_numpy() for name in table.column_names}
    dt = ev.Predictions(
        image=cols["sample_id"],
        category=cols["category_id"],
        boxes=np.c_[cols["x"], cols["y"], cols["w"], cols["h"]] if n else np.zeros((0, 4)),
        score=cols["confidence"],
    )
    results = evaluate_run(data, dt, DEFAULT_IOU)
    ctx.check_cancelled()
    lap("evaluate")
    ctx.progress(n, n, "writing")
    with db.write() as cur:
        try:
            _require_ready(cur, dataset_id)
        except (DatasetNotFound, RunConflict) as error:
            raise JobFailed(str(error)) from None
        for table_name in ("eval_boxes", "eval_images", "eval_summaries", "prediction_runs"):
            cur.execute(f"DELETE FROM {table_name} WHERE dataset_id = ? AND run = ?", [dataset_id, run])
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
                "confidence, NULL FROM _p",
                [dataset_id, run],
            )
        finally:
            cur.unregister("_p")
        _store_results(cur, dataset_id, run, results, data, dt, dt_ids)
        cur.execute(
            "INSERT INTO prediction_runs VALUES (?, ?, ?, ?, ?, ?)", [dataset_id, run, fmt, str(path), n, _now()]
        )
    lap("write")
    summary = results.summaries[ALL_SPLITS]
    log.info("prediction run %r of dataset %d: %d predictions, stages %s", run, dataset_id, n, timings)
    ctx.progress(n, n, f"imported {n} predictions; mAP@[.5:.95] {summary['map']}")
    return {
        "dataset_id": dataset_id,
        "run": run,
        "predictions": n,
        "replaced": len(replaced),
        "map": summary["map"],
        "map50": summary["map50"],
        "seconds": timings,
    }


def ensure_evaluated(db: Database, dataset_id: int, run: str, iou: float) -> None:
    """Compute and store results at `iou` if they are not there yet (idempotent)."""
    with db.cursor() as cur:
        _require_run(cur, dataset_id, run)
        if cur.execute(
            "SELECT 1 FROM eval_summaries WHERE dataset_id = ? AND run = ? AND iou = ? LIMIT 1", [dataset_id, run, iou]
        ).fetchone():
            return
        version = _run_version(cur, dataset_id, run)
        data = load_dataset(cur, dataset_id)
        dt = load_run(cur, dataset_id, run)
    results = evaluate_run(data, dt, iou)
    with db.write() as cur:
        _require_run(cur, dataset_id, run)
        if _run_version(cur, dataset_id, run) != version:  # re-imported meanwhile: these results are stale
            raise RunConflict(f"run {run!r} was re-imported while it was being evaluated; try again")
        _store_results(cur, dataset_id, run, results, data, dt, dt.ids)


def _run_version(cur: duckdb.DuckDBPyConnection, dataset_id: int, run: str) -> Any:
    row = cur.execute("SELECT created_at FROM prediction_runs WHERE dataset_id = ? AND run = ?", [dataset_id, run])
    found = row.fetchone()
    return found[0] if found else None


def _require_run(cur: duckdb.DuckDBPyConnection, dataset_id: int, run: str) -> None:
    if cur.execute("SELECT 1 FROM datasets WHERE id = ?", [dataset_id]).fetchone() is None:
        raise DatasetNotFound(f"dataset {dataset_id} not found")
    if (
        cur.execute("SELECT 1 FROM prediction_runs WHERE dataset_id = ? AND run = ?", [dataset_id, run]).fetchone()
        is None
    ):
        raise RunNotFound(f"dataset {dataset_id} has no prediction run {run!r}")


# ------------------------------------------------------------------------------------------- reading
def list_runs(db: Database, dataset_id: int) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        if cur.execute("SELECT 1 FROM datasets WHERE id = ?", [dataset_id]).fetchone() is None:
            raise DatasetNotFound(f"dataset {dataset_id} not found")
        rows = cur.execute(
            "SELECT run, format, path, predictions, created_at FROM prediction_runs WHERE dataset_id = ? ORDER BY run",
            [dataset_id],
        ).fetchall()
    return [
        {"run": r, "format": f, "path": p, "predictions": n, "created_at": c.replace(tzinfo=UTC).isoformat()}
        for r, f, p, n, c in rows
    ]


def delete_run(db: Database, dataset_id: int, run: str) -> None:
    with db.write() as cur:
        _require_run(cur, dataset_id, run)
        for table_name in ("eval_boxes", "eval_images", "eval_summaries", "prediction_runs"):
            cur.execute(f"DELETE FROM {table_name} WHERE dataset_id = ? AND run = ?", [dataset_id, run])
        cur.execute("DELETE FROM annotations WHERE dataset_id = ? AND source = ?", [dataset_id, run])


def _category(cur: duckdb.DuckDBPyConnection, dataset_id: int, value: str) -> int | None:
    """A category given by name or id; None for 'background'."""
    if value.strip().lower() == BACKGROUND:
        return None
    row = cur.execute("SELECT id FROM categories WHERE dataset_id = ? AND name = ?", [dataset_id, value]).fetchone()
    if row is None and value.strip().lstrip("-").isdigit():
        row = cur.execute(
            "SELECT id FROM categories WHERE dataset_id = ? AND id = ?", [dataset_id, int(value)]
        ).fetchone()
    if row is None:
        raise InvalidRequest(f"dataset {dataset_id} has no category {value!r}")
    return int(row[0])


def get_evaluation(
    db: Database, dataset_id: int, run: str, iou: float, split: str | None, category: str | None
) -> dict[str, Any]:
    iou = check_iou(iou)
    ensure_evaluated(db, dataset_id, run, iou)
    with db.cursor() as cur:
        row = cur.execute(
            "SELECT reply FROM eval_summaries WHERE dataset_id = ? AND run = ? AND iou = ? AND split = ?",
            [dataset_id, run, iou, split or ALL_SPLITS],
        ).fetchone()
        if row is None:
            splits = [
                r[0]
                for r in cur.execute(
                    "SELECT split FROM eval_summaries WHERE dataset_id = ? AND run = ? AND iou = ? AND split <> '' "
                    "ORDER BY split",
                    [dataset_id, run, iou],
                ).fetchall()
            ]
            raise InvalidRequest(f"dataset {dataset_id} has no split {split!r} (splits: {', '.join(splits) or 'none'})")
        reply = json.loads(row[0])
        category_id = _category(cur, dataset_id, category) if category else None
        if category and category_id is None:
            raise InvalidRequest("category must be a category of the dataset, not background")
    reply = {"dataset_id": dataset_id, "run": run, "split": split, **reply}
    if category_id is not None:
        reply = _restrict(reply, category_id)
    return reply


def _restrict(reply: dict[str, Any], category_id: int) -> dict[str, Any]:
    """The reply for one category: pycocotools with catIds=[category] gives exactly the per-class numbers."""
    row = next(c for c in reply["per_class"] if c["category_id"] == category_id)
    out = dict(reply)
    out.update(
        category=row["category"],
        map=row["ap"],
        map50=row["ap50"],
        ap_at_iou=row["ap_at_iou"],
        tp=row["tp"],
        fp=row["fp"],
        fn=row["fn"],
        precision=row["precision"],
        recall=row["recall"],
        pr_curve=row["pr_curve"],
        per_class=[row],
    )
    out.pop("map75", None)
    if "errors" in row:
        out["errors"] = row["errors"]
    conf = reply.get("confusion")
    if conf:
        k = conf["category_ids"].index(category_id)
        keep = [k, len(conf["labels"]) - 1]
        out["confusion"] = {
            **conf,
            "labels": [conf["labels"][i] for i in keep],
            "category_ids": [conf["category_ids"][i] for i in keep],
            "matrix": [[conf["matrix"][r][c] for c in keep] for r in keep],
            "note": "only this category's row and column; other classes' cells are left out",
        }
    return out


def confusion_cell(
    db: Database,
    dataset_id: int,
    run: str,
    actual: str,
    predicted: str,
    iou: float = DEFAULT_IOU,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """The samples behind one confusion-matrix cell, with the boxes counted there."""
    iou = check_iou(iou)
    ensure_evaluated(db, dataset_id, run, iou)
    with db.cursor() as cur:
        a = _category(cur, dataset_id, actual)
        p = _category(cur, dataset_id, predicted)
        if a is None and p is None:
            raise InvalidRequest("the (background, background) cell is empty by definition")
        where = ["b.dataset_id = ?", "b.run = ?", "b.iou = ?", "b.in_matrix"]
        params: list[Any] = [dataset_id, run, iou]
        if p is None:  # missed boxes of class `a`
            where += ["NOT b.is_prediction", "b.category_id = ?"]
            params.append(a)
        else:
            where += ["b.is_prediction", "b.category_id = ?"]
            params.append(p)
            if a is None:
                where.append("b.cell_actual IS NULL")
            else:
                where.append("b.cell_actual = ?")
                params.append(a)
        cond = " AND ".join(where)
        total = cur.execute(
            f"SELECT count(*), count(DISTINCT sample_id) FROM eval_boxes b WHERE {cond}", params
        ).fetchone()
        rows = cur.execute(
            f"""
            SELECT b.sample_id, s.file_name, s.split, count(*) AS boxes, list(b.annotation_id ORDER BY b.annotation_id)
            FROM eval_boxes b JOIN samples s ON s.id = b.sample_id
            WHERE {cond}
            GROUP BY b.sample_id, s.file_name, s.split
            ORDER BY boxes DESC, b.sample_id
            LIMIT ? OFFSET ?
            """,
            [*params, limit, offset],
        ).fetchall()
    return {
        "dataset_id": dataset_id,
        "run": run,
        "iou": iou,
        "actual": actual,
        "predicted": predicted,
        "boxes": int(total[0]),
        "total": int(total[1]),
        "samples": [
            {"sample_id": sid, "file_name": fn, "split": sp, "boxes": n, "annotation_ids": list(ids)}
            for sid, fn, sp, n, ids in rows
        ],
    }


def box_results(
    cur: duckdb.DuckDBPyConnection, dataset_id: int, sample_id: int, run: str | None, iou: float = DEFAULT_IOU
) -> dict[int, dict[str, Any]]:
    """Per annotation of one sample: status TP/FP/FN/ignored, error category, matched partner and IoU.

    With `run` None, every run of the dataset that has results at `iou` is reported.
    """
    sql = (
        "SELECT annotation_id, run, status, error, partner_id, match_iou FROM eval_boxes "
        "WHERE dataset_id = ? AND sample_id = ? AND iou = ?"
    )
    params: list[Any] = [dataset_id, sample_id, iou]
    if run is not None:
        sql += " AND run = ?"
        params.append(run)
    out: dict[int, dict[str, Any]] = {}
    for ann, r, status, error, partner, miou in cur.execute(sql, params).fetchall():
        out.setdefault(int(ann), {})[r] = {
            "status": status,
            "error": error,
            "partner_id": partner,
            "iou": miou if partner is not None else None,
        }
    return out


# Samples query integration: SQL over `samples s` (app/services/query.py composes them).
def sample_filter_sql(
    dataset_id: int, run: str, iou: float, has_fp: bool | None, has_fn: bool | None
) -> tuple[list[str], list[Any]]:
    """WHERE conditions on samples `s` for has_fp / has_fn of `run` at `iou` (eval_run alone filters nothing)."""
    where: list[str] = []
    params: list[Any] = []
    for flag, column in ((has_fp, "fp"), (has_fn, "fn")):
        if flag is None:
            continue
        op = ">" if flag else "="
        where.append(
            "s.id IN (SELECT ei.sample_id FROM eval_images ei WHERE ei.dataset_id = ? AND ei.run = ? AND ei.iou = ? "
            f"AND ei.{column} {op} 0)"
        )
        params += [dataset_id, run, iou]
    return where, params


def sample_sort_expr(run: str, iou: float, sort_by: str) -> str:
    """ORDER BY expression ranking samples by error count or worst-image score of `run` at `iou`.

    ORDER BY takes no parameters in the query composer, so the run name goes in as an escaped literal.
    """
    column = {"errors": "errors", "worst": "worst"}[sort_by]
    literal = "'" + run.replace("'", "''") + "'"
    return (
        f"coalesce((SELECT ei.{column} FROM eval_images ei WHERE ei.dataset_id = s.dataset_id AND ei.sample_id = s.id "
        f"AND ei.run = {literal} AND ei.iou = '{float(iou)!r}'::DOUBLE), 0)"
    )
