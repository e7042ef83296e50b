"""Prediction runs: names, limits and the checks every evaluation request goes through (no computing here).

The errors are the service's: `RunNotFound` (404), `InvalidRequest` (422), `RunConflict` (409).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import duckdb

from app.errors import Conflict, Invalid, NotFound
from app.ingest import predictions as prediction_files
from app.services.datasets import READY, DatasetNotFound

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
    """The dataset is not ready (still importing), or a run changed under a computation: 409."""


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def check_iou(iou: float) -> float:
    iou = float(iou)
    if not 0.05 <= iou <= 1.0:
        raise InvalidRequest(f"iou must be between 0.05 and 1.0, got {iou}")
    return iou


def check_run_request(run: str, fmt: str) -> None:
    if run == GROUND_TRUTH or not RUN_NAME.match(run):
        raise InvalidRequest(
            f"run name {run!r} is not allowed: 1-100 letters, digits and _.:+@- starting with a letter or digit, "
            f"and not {GROUND_TRUTH!r}"
        )
    if fmt not in prediction_files.FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(prediction_files.FORMATS)}")


def require_ready(cur: duckdb.DuckDBPyConnection, dataset_id: int) -> None:
    row = cur.execute("SELECT status FROM datasets WHERE id = ?", [dataset_id]).fetchone()
    if row is None:
        raise DatasetNotFound(f"dataset {dataset_id} not found")
    if row[0] != READY:
        raise RunConflict(f"dataset {dataset_id} is still being imported ({row[0]}); try again when it is ready")


def require_run(cur: duckdb.DuckDBPyConnection, dataset_id: int, run: str) -> None:
    if cur.execute("SELECT 1 FROM datasets WHERE id = ?", [dataset_id]).fetchone() is None:
        raise DatasetNotFound(f"dataset {dataset_id} not found")
    if (
        cur.execute("SELECT 1 FROM prediction_runs WHERE dataset_id = ? AND run = ?", [dataset_id, run]).fetchone()
        is None
    ):
        raise RunNotFound(f"dataset {dataset_id} has no prediction run {run!r}")


def run_version(cur: duckdb.DuckDBPyConnection, dataset_id: int, run: str) -> Any:
    """When the run was (re)imported: results computed against another version are stale."""
    row = cur.execute("SELECT created_at FROM prediction_runs WHERE dataset_id = ? AND run = ?", [dataset_id, run])
    found = row.fetchone()
    return found[0] if found else None


def category(cur: duckdb.DuckDBPyConnection, dataset_id: int, value: str) -> int | None:
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
