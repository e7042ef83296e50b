"""Between DuckDB and the evaluation engine: rows -> numpy columns -> engine inputs, results -> Arrow tables.

Everything crosses as Arrow (one columnar transfer each way, never a Python object per box).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from app.ingest import predictions as prediction_files
from app.services import evaluation as ev
from app.services.evaluation_checks import GROUND_TRUTH

STATUS = ("FP", "TP", "ignored", "FN")  # eval_boxes.status


@dataclass
class DatasetData:
    sample_ids: np.ndarray  # sorted: the image order of pycocotools' sorted imgIds
    splits: np.ndarray  # object array, None for no split
    category_ids: np.ndarray  # sorted by id
    category_names: dict[int, str]
    gt: ev.GroundTruth


def columns(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, np.ndarray]:
    table = cur.execute(sql, params).to_arrow_table()  # a plain result: callers may hold others open
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def _boxes(c: dict[str, np.ndarray]) -> np.ndarray:
    return np.c_[c["x"], c["y"], c["w"], c["h"]] if len(c["x"]) else np.zeros((0, 4))


def load_dataset(cur: duckdb.DuckDBPyConnection, dataset_id: int) -> DatasetData:
    s = columns(cur, "SELECT id, split FROM samples WHERE dataset_id = ? ORDER BY id", [dataset_id])
    c = columns(cur, "SELECT id, name FROM categories WHERE dataset_id = ? ORDER BY id", [dataset_id])
    # ground truth in id order (file order at import; edits get new, higher ids): ties in IoU resolve
    # like pycocotools over the same annotation list
    g = columns(
        cur,
        "SELECT id, sample_id, category_id, x, y, w, h, coalesce(area, w * h) AS area, iscrowd "
        "FROM annotations WHERE dataset_id = ? AND source = ? ORDER BY id",
        [dataset_id, GROUND_TRUTH],
    )
    gt = ev.GroundTruth(
        image=g["sample_id"],
        category=g["category_id"],
        boxes=_boxes(g),
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


def load_ground_truth_of(cur: duckdb.DuckDBPyConnection, dataset_id: int, samples: np.ndarray) -> ev.GroundTruth:
    """The ground truth of some samples as it is now (id order, like `load_dataset`)."""
    g = columns(
        cur,
        "SELECT id, sample_id, category_id, x, y, w, h, coalesce(area, w * h) AS area, iscrowd "
        "FROM annotations WHERE dataset_id = ? AND source = ? AND sample_id IN (SELECT unnest(?::BIGINT[])) "
        "ORDER BY id",
        [dataset_id, GROUND_TRUTH, [int(x) for x in samples]],
    )
    return ev.GroundTruth(
        image=g["sample_id"],
        category=g["category_id"],
        boxes=_boxes(g),
        iscrowd=g["iscrowd"].astype(bool),
        area=g["area"].astype(np.float64),
        ids=g["id"],
    )


def load_run(cur: duckdb.DuckDBPyConnection, dataset_id: int, run: str) -> ev.Predictions:
    d = columns(
        cur,
        "SELECT id, sample_id, category_id, x, y, w, h, confidence FROM annotations "
        "WHERE dataset_id = ? AND source = ? ORDER BY id",
        [dataset_id, run],
    )
    return ev.Predictions(
        image=d["sample_id"],
        category=d["category_id"],
        boxes=_boxes(d),
        score=d["confidence"].astype(np.float64),
        ids=d["id"],
    )


def predictions_from_table(table: pa.Table) -> ev.Predictions:
    """A parsed predictions file (app/ingest/predictions) as engine input; ids are given once allocated."""
    cols = {name: table.column(name).to_numpy() for name in table.column_names}
    return ev.Predictions(
        image=cols["sample_id"], category=cols["category_id"], boxes=_boxes(cols), score=cols["confidence"]
    )


def dataset_index(cur: duckdb.DuckDBPyConnection, dataset_id: int) -> prediction_files.DatasetIndex:
    """What a predictions file is resolved against: the dataset's images and categories."""
    fmt = cur.execute("SELECT format FROM datasets WHERE id = ?", [dataset_id]).fetchone()
    s = columns(
        cur,
        "SELECT id, coalesce(source_id, -1) AS source_id, file_name, coalesce(width, -1) AS width, "
        "coalesce(height, -1) AS height FROM samples WHERE dataset_id = ? ORDER BY id",
        [dataset_id],
    )
    c = columns(cur, "SELECT id, source_id FROM categories WHERE dataset_id = ? ORDER BY source_id, id", [dataset_id])
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


def _labels(codes: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    """Small integer codes -> strings through a dictionary array (no Python object per row)."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(names, pa.string())).cast(pa.string())


def result_tables(
    m: ev.Matching,
    e: ev.ErrorAnalysis,
    per_image: dict[str, np.ndarray],
    gt: ev.GroundTruth,
    dt: ev.Predictions,
    dt_ids: np.ndarray,
    samples: np.ndarray | None = None,
) -> tuple[pa.Table, pa.Table]:
    """The eval_boxes and eval_images rows of one (run, IoU), without the key columns; only the rows of
    `samples` if given (an incremental update rewrites just those)."""
    cats = m.categories
    d_eval = (m.dt_img >= 0) & (m.dt_cat >= 0)
    codes = {name: i for i, name in enumerate(ev.PREDICTION_CATEGORIES)}
    d_status = np.zeros(len(dt), np.int8)  # 0 FP, 1 TP, 2 ignored (see STATUS)
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
    img_rows = np.arange(len(m.images))
    if samples is not None:
        d_eval = d_eval & np.isin(dt.image, samples)
        g_eval = g_eval & np.isin(gt.image, samples)
        img_rows = np.flatnonzero(np.isin(m.images, samples))
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
            "sample_id": pa.array(m.images[img_rows], pa.int64()),
            **{k: pa.array(per_image[k][img_rows], pa.int32()) for k in ("tp", "fp", "fn", "errors")},
            "worst": pa.array(per_image["worst"][img_rows], pa.float64()),
        }
    )
    return boxes, images
