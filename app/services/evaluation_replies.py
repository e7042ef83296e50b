"""Reading evaluation results: the runs of a dataset, the evaluation reply, a confusion cell, per-box marks."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import duckdb

from app.db import Database
from app.services.datasets import DatasetNotFound
from app.services.evaluation_checks import ALL_SPLITS, DEFAULT_IOU, InvalidRequest, category, check_iou
from app.services.evaluation_store import RECOMPUTED, ensure_evaluated


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


def get_evaluation(
    db: Database, dataset_id: int, run: str, iou: float, split: str | None, category_name: str | None
) -> dict[str, Any]:
    iou = check_iou(iou)
    how = ensure_evaluated(db, dataset_id, run, iou)
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
        category_id = category(cur, dataset_id, category_name) if category_name else None
        if category_name and category_id is None:
            raise InvalidRequest("category must be a category of the dataset, not background")
    # recomputed: ground-truth edits had made the stored results stale and this read brought them up to date
    reply = {"dataset_id": dataset_id, "run": run, "split": split, **reply, "recomputed": how == RECOMPUTED}
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
        a = category(cur, dataset_id, actual)
        p = category(cur, dataset_id, predicted)
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
