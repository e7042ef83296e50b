"""Sample tags: bulk add/remove in one transaction (a separate table, no list-column UPDATEs)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from app.db import Database
from app.services.datasets import require

MAX_IDS = 10_000


def edit_tags(
    db: Database,
    dataset_id: int,
    sample_ids: list[int],
    add: list[str],
    remove: list[str],
    selection: int | None = None,
) -> dict[str, Any]:
    """Tags on the listed samples, or (`selection`) on every sample of a stored selection."""
    ids = list(dict.fromkeys(sample_ids))
    add = list(dict.fromkeys(t for t in add))
    remove = [t for t in dict.fromkeys(remove) if t not in add]
    with db.write() as cur:
        require(cur, dataset_id)
        cur.register("_ids", pa.table({"id": pa.array(ids, pa.int64())}))
        cur.register("_add", pa.table({"tag": pa.array(add, pa.string())}))
        try:
            if selection is None:
                cur.execute(
                    "CREATE TEMP TABLE _targets AS SELECT s.id FROM samples s "
                    "WHERE s.dataset_id = ? AND s.id IN (SELECT id FROM _ids)",
                    [dataset_id],
                )
            else:
                cur.execute(
                    "CREATE TEMP TABLE _targets AS SELECT s.id FROM samples s WHERE s.dataset_id = ? AND s.id IN "
                    "(SELECT x.sample_id FROM selection_samples x WHERE x.dataset_id = ? AND x.selection_id = ?)",
                    [dataset_id, dataset_id, selection],
                )
            matched = cur.execute("SELECT count(*) FROM _targets").fetchone()[0]
            removed_rows = []
            if remove:
                marks = ", ".join("?" for _ in remove)
                removed_rows = cur.execute(
                    f"DELETE FROM sample_tags WHERE dataset_id = ? AND tag IN ({marks}) "
                    "AND sample_id IN (SELECT id FROM _targets) RETURNING sample_id",
                    [dataset_id, *remove],
                ).fetchall()
            added_rows = []
            if add:
                added_rows = cur.execute(
                    """
                    INSERT INTO sample_tags
                    SELECT ?, t.id, a.tag FROM _targets t CROSS JOIN _add a
                    WHERE NOT EXISTS (
                        SELECT 1 FROM sample_tags x WHERE x.dataset_id = ? AND x.sample_id = t.id AND x.tag = a.tag
                    )
                    RETURNING sample_id
                    """,
                    [dataset_id, dataset_id],
                ).fetchall()
            cur.execute("DROP TABLE _targets")
        finally:
            cur.unregister("_ids")
            cur.unregister("_add")
    affected = len({r[0] for r in removed_rows} | {r[0] for r in added_rows})
    return {
        "affected": affected,
        "matched": int(matched),
        "added": len(added_rows),
        "removed": len(removed_rows),
    }
