"""Saved views: a named `SampleFilters` per dataset (validated by the same model as the samples query)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from app.db import Database
from app.errors import NotFound
from app.services.datasets import DatasetConflict, require
from app.services.ids import allocate
from app.services.query import SampleFilters


class ViewNotFound(NotFound):
    pass


def _row(r: tuple) -> dict[str, Any]:
    return {
        "id": r[0],
        "dataset_id": r[1],
        "name": r[2],
        "filters": json.loads(r[3]),
        "created_at": r[4].replace(tzinfo=UTC).isoformat(),
    }


def create_view(db: Database, dataset_id: int, name: str, filters: SampleFilters) -> dict[str, Any]:
    with db.write() as cur:
        require(cur, dataset_id)
        if cur.execute("SELECT 1 FROM views WHERE dataset_id = ? AND name = ?", [dataset_id, name]).fetchone():
            raise DatasetConflict(f"a view named {name!r} already exists in dataset {dataset_id}")
        view_id = allocate(cur, "views", 1)
        cur.execute(
            "INSERT INTO views VALUES (?, ?, ?, ?, ?)",
            [
                view_id,
                dataset_id,
                name,
                filters.model_dump_json(exclude_defaults=True),
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
        row = cur.execute("SELECT * FROM views WHERE id = ?", [view_id]).fetchone()
    return _row(row)


def list_views(db: Database, dataset_id: int) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        require(cur, dataset_id)
        rows = cur.execute("SELECT * FROM views WHERE dataset_id = ? ORDER BY name", [dataset_id]).fetchall()
    return [_row(r) for r in rows]


def get_view(db: Database, dataset_id: int, view_id: int) -> dict[str, Any]:
    with db.cursor() as cur:
        require(cur, dataset_id)
        row = cur.execute("SELECT * FROM views WHERE dataset_id = ? AND id = ?", [dataset_id, view_id]).fetchone()
    if row is None:
        raise ViewNotFound(f"view {view_id} not found in dataset {dataset_id}")
    return _row(row)


def delete_view(db: Database, dataset_id: int, view_id: int) -> None:
    with db.write() as cur:
        require(cur, dataset_id)
        rows = cur.execute(
            "DELETE FROM views WHERE dataset_id = ? AND id = ? RETURNING id", [dataset_id, view_id]
        ).fetchall()
    if not rows:
        raise ViewNotFound(f"view {view_id} not found in dataset {dataset_id}")
