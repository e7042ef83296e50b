"""Id allocation: blocks of ids from `id_counters`, taken inside the caller's write transaction.

Ids are global per kind (a sample id is unique across datasets) and never reused after a delete, so
caches keyed by id (thumbnails, embeddings) can never show another sample's data.
"""

from __future__ import annotations

import duckdb

KINDS = frozenset({"datasets", "samples", "annotations", "categories", "views", "history", "selections"})


def allocate(cur: duckdb.DuckDBPyConnection, kind: str, count: int) -> int:
    """Reserve `count` consecutive ids of `kind`; returns the first. Call inside `db.write()`."""
    if kind not in KINDS:
        raise ValueError(f"unknown id kind {kind!r}")
    row = cur.execute("SELECT next_id FROM id_counters WHERE name = ?", [kind]).fetchone()
    assert row is not None, f"id_counters has no row {kind!r}"
    first = int(row[0])
    cur.execute("UPDATE id_counters SET next_id = ? WHERE name = ?", [first + count, kind])
    return first
