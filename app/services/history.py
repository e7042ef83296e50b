"""Edit history: every edit appended in its own transaction, the per-dataset undo/redo stacks, paged reads.

An entry holds the state of its target before and after the edit (JSON of the row, NULL where the row did
not or no longer exists). The undo stack of a dataset is its entries in state 'done' (newest on top), the
redo stack its entries in state 'undone' (the most recently undone on top = the lowest id among them,
since undo walks down). A new edit empties the redo stack (those entries become 'discarded'), as in every
editor. Undo and redo are themselves appended as 'final' entries that name the entry they applied, so the
history reads as what happened, in order.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb

from app.db import Database
from app.services.ids import allocate

DONE, UNDONE, DISCARDED, FINAL = "done", "undone", "discarded", "final"
MAX_PAGE = 500
_COLUMNS = "id, dataset_id, sample_id, edited_at, user_name, action, target, target_id, before, after, state, refers_to"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def record(
    cur: duckdb.DuckDBPyConnection,
    *,
    dataset_id: int,
    sample_id: int | None,
    user: str,
    action: str,
    target: str,
    target_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    state: str = DONE,
    refers_to: int | None = None,
) -> int:
    """Append one entry inside the caller's write transaction; a new undoable edit empties the redo stack."""
    if state == DONE:
        cur.execute(
            "UPDATE edit_history SET state = ? WHERE dataset_id = ? AND state = ?", [DISCARDED, dataset_id, UNDONE]
        )
    entry_id = allocate(cur, "history", 1)
    cur.execute(
        f"INSERT INTO edit_history ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            entry_id,
            dataset_id,
            sample_id,
            _now(),
            user,
            action,
            target,
            target_id,
            None if before is None else json.dumps(before),
            None if after is None else json.dumps(after),
            state,
            refers_to,
        ],
    )
    return entry_id


def _entry(row: tuple) -> dict[str, Any]:
    keys = [c.strip() for c in _COLUMNS.split(",")]
    out = dict(zip(keys, row, strict=True))
    out["at"] = out.pop("edited_at").replace(tzinfo=UTC).isoformat()
    out["user"] = out.pop("user_name")
    for key in ("before", "after"):
        out[key] = json.loads(out[key]) if out[key] is not None else None
    return out


def top_of_undo(cur: duckdb.DuckDBPyConnection, dataset_id: int) -> dict[str, Any] | None:
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM edit_history WHERE dataset_id = ? AND state = ? ORDER BY id DESC LIMIT 1",
        [dataset_id, DONE],
    ).fetchone()
    return _entry(row) if row else None


def top_of_redo(cur: duckdb.DuckDBPyConnection, dataset_id: int) -> dict[str, Any] | None:
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM edit_history WHERE dataset_id = ? AND state = ? ORDER BY id ASC LIMIT 1",
        [dataset_id, UNDONE],
    ).fetchone()
    return _entry(row) if row else None


def last_undo_of(cur: duckdb.DuckDBPyConnection, entry_id: int) -> dict[str, Any] | None:
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM edit_history WHERE refers_to = ? AND action = 'undo' ORDER BY id DESC LIMIT 1",
        [entry_id],
    ).fetchone()
    return _entry(row) if row else None


def set_state(cur: duckdb.DuckDBPyConnection, entry_id: int, state: str) -> None:
    cur.execute("UPDATE edit_history SET state = ? WHERE id = ?", [state, entry_id])


def stack_sizes(cur: duckdb.DuckDBPyConnection, dataset_id: int) -> dict[str, int]:
    row = cur.execute(
        "SELECT count(*) FILTER (WHERE state = ?), count(*) FILTER (WHERE state = ?) FROM edit_history "
        "WHERE dataset_id = ?",
        [DONE, UNDONE, dataset_id],
    ).fetchone()
    return {"can_undo": int(row[0]), "can_redo": int(row[1])}


def page(db: Database, *, dataset_id: int | None = None, sample_id: int | None = None, limit: int, offset: int) -> dict:
    """Newest first: the entries of a dataset, or of one sample."""
    column, value = ("sample_id", sample_id) if sample_id is not None else ("dataset_id", dataset_id)
    with db.cursor() as cur:
        total = cur.execute(f"SELECT count(*) FROM edit_history WHERE {column} = ?", [value]).fetchone()[0]
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM edit_history WHERE {column} = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            [value, limit, offset],
        ).fetchall()
    return {"total": int(total), "offset": offset, "limit": limit, "items": [_entry(r) for r in rows]}
