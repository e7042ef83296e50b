"""Stored selections: a set of samples (a lasso on the embeddings map) kept under an id.

A selection is too big for a URL (10,000 ids and more), so the app stores it once and every filter refers
to it as `selection=<id>` (app/services/query.py): the grid, facets, statistics, export and saved views
all read the same rows. Selections are immutable and live until their dataset is deleted (a saved view
may name one).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from app.db import Database
from app.errors import Invalid, NotFound
from app.services.datasets import require
from app.services.ids import allocate
from app.services.query import SampleFilters

MAX_IDS = 1_000_000


class SelectionNotFound(NotFound):
    pass


class NotInDataset(Invalid):
    pass


def create_selection(db: Database, dataset_id: int, sample_ids: list[int]) -> dict[str, Any]:
    """Store the samples (duplicates collapse); every id must be a sample of the dataset."""
    ids = np.asarray(sample_ids, dtype=np.int64)
    unique = np.unique(ids)
    with db.write() as cur:
        require(cur, dataset_id)
        cur.register("_given", pa.table({"id": pa.array(unique)}))
        try:
            missing = cur.execute(
                "SELECT g.id FROM _given g WHERE NOT EXISTS "
                "(SELECT 1 FROM samples s WHERE s.dataset_id = ? AND s.id = g.id) ORDER BY g.id LIMIT 1",
                [dataset_id],
            ).fetchall()
            if missing:
                bad = int(missing[0][0])
                at = int(np.flatnonzero(ids == bad)[0])
                raise NotInDataset(f"sample_ids[{at}]: sample {bad} is not in dataset {dataset_id}")
            selection_id = allocate(cur, "selections", 1)
            cur.execute(
                "INSERT INTO selections VALUES (?, ?, ?, ?)",
                [selection_id, dataset_id, len(unique), datetime.now(UTC).replace(tzinfo=None)],
            )
            cur.execute(
                "INSERT INTO selection_samples SELECT ?, ?, g.id FROM _given g ORDER BY g.id",
                [dataset_id, selection_id],
            )
        finally:
            cur.unregister("_given")
    return {"id": selection_id, "dataset_id": dataset_id, "size": len(unique)}


def get_selection(db: Database, dataset_id: int, selection_id: int) -> dict[str, Any]:
    with db.cursor() as cur:
        require(cur, dataset_id)
        row = cur.execute(
            "SELECT size FROM selections WHERE dataset_id = ? AND id = ?", [dataset_id, selection_id]
        ).fetchall()
        if not row:
            raise SelectionNotFound(f"selection {selection_id} not found in dataset {dataset_id}")
        ids = cur.execute(
            "SELECT sample_id FROM selection_samples WHERE dataset_id = ? AND selection_id = ? ORDER BY sample_id",
            [dataset_id, selection_id],
        ).fetchnumpy()["sample_id"]
    return {"id": selection_id, "dataset_id": dataset_id, "size": int(row[0][0]), "sample_ids": ids.tolist()}


def check_filters(db: Database, dataset_id: int, f: SampleFilters) -> None:
    """A filter naming a selection that does not exist (or belongs to another dataset) is a 404, not 0 rows."""
    if f.selection is None:
        return
    with db.cursor() as cur:
        found = cur.execute(
            "SELECT 1 FROM selections WHERE dataset_id = ? AND id = ?", [dataset_id, f.selection]
        ).fetchall()
        if not found and cur.execute("SELECT 1 FROM datasets WHERE id = ?", [dataset_id]).fetchall():
            raise SelectionNotFound(f"selection: selection {f.selection} not found in dataset {dataset_id}")
