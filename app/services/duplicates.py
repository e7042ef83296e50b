"""Near-duplicate curation: which sample of each group is kept (and why), and the action that tags the others.

The groups come from the embeddings (`EmbeddingService.duplicate_groups`, connected components of
"cosine >= threshold"). Of each group one sample is kept: the one with the most pixels (the best copy to
train on), ties going to the first imported (lowest id, the original before its re-exports). The user may
name another one per group, and a group whose members but one carry the tag already keeps that one (an
earlier choice stands: the action is idempotent and a reload shows what was kept). The others get the
tag `duplicate`, so "all but duplicates" is the filter `exclude_tag=duplicate` of any view, saved view or
export. A kept sample loses a `duplicate` tag it had (from an earlier run at another threshold, or before
the user changed the kept one).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from app.db import Database
from app.errors import Invalid
from app.services.datasets import require
from app.services.embeddings.index import VectorIndex

DUPLICATE_TAG = "duplicate"
KEEP_RULE = (
    "the one member an earlier run left untagged, else the largest image (width x height), "
    "then the first imported (lowest id)"
)


class KeepNotInGroup(Invalid):
    pass


def _members(db: Database, dataset_id: int, ids: list[int]) -> dict[int, tuple[str, int, int, bool]]:
    """sample id -> (file name, width, height, tagged duplicate) for the given samples."""
    if not ids:
        return {}
    with db.cursor() as cur:
        cur.register("_grouped", pa.table({"id": pa.array(np.asarray(ids, dtype=np.int64))}))
        try:
            rows = cur.execute(
                "SELECT s.id, s.file_name, coalesce(s.width, 0), coalesce(s.height, 0), "
                "EXISTS (SELECT 1 FROM sample_tags t WHERE t.dataset_id = s.dataset_id AND t.sample_id = s.id "
                "AND t.tag = ?) FROM samples s JOIN _grouped g ON g.id = s.id WHERE s.dataset_id = ?",
                [DUPLICATE_TAG, dataset_id],
            ).fetchall()
        finally:
            cur.unregister("_grouped")
    return {int(r[0]): (r[1], int(r[2]), int(r[3]), bool(r[4])) for r in rows}


def _kept(group: list[int], members: dict[int, tuple[str, int, int, bool]]) -> int:
    # an earlier choice stands (the action is idempotent, a reload shows what was kept)
    untagged = [sid for sid in group if sid in members and not members[sid][3]]
    if len(untagged) == 1 and len(group) > 1:
        return untagged[0]
    return min(group, key=lambda sid: (-(members[sid][1] * members[sid][2]) if sid in members else 0, sid))


def _overrides(groups: list[list[int]], keep: list[int]) -> dict[int, int]:
    """group index -> the sample the user keeps; each id must be in a group, one per group."""
    where = {sid: g for g, group in enumerate(groups) for sid in group}
    chosen: dict[int, int] = {}
    for i, sid in enumerate(keep):
        g = where.get(sid)
        if g is None:
            raise KeepNotInGroup(f"keep[{i}]: sample {sid} is in no near-duplicate group at this threshold")
        if g in chosen and chosen[g] != sid:
            raise KeepNotInGroup(f"keep[{i}]: sample {sid} is in the same group as sample {chosen[g]}; keep one")
        chosen[g] = sid
    return chosen


def describe(
    db: Database,
    dataset_id: int,
    index: VectorIndex,
    groups: list[list[int]],
    offset: int = 0,
    limit: int | None = None,
) -> dict[str, Any]:
    """The groups `offset`..`offset+limit` with their members (kept one first), each member's cosine to it."""
    page = groups[offset : None if limit is None else offset + limit]
    members = _members(db, dataset_id, [sid for group in page for sid in group])
    out = []
    for group in page:
        kept = _kept(group, members)
        anchor = index.vectors[index.position(kept)]
        scores = {sid: float(index.vectors[index.position(sid)] @ anchor) for sid in group}
        order = [kept, *sorted((s for s in group if s != kept), key=lambda s: (-scores[s], s))]
        out.append(
            {
                "sample_ids": group,
                "size": len(group),
                "kept": kept,
                "score": round(min(scores[s] for s in group if s != kept), 6),
                "members": [
                    {
                        "sample_id": sid,
                        "file_name": members.get(sid, ("", 0, 0, False))[0],
                        "width": members.get(sid, ("", 0, 0, False))[1] or None,
                        "height": members.get(sid, ("", 0, 0, False))[2] or None,
                        "score": 1.0 if sid == kept else round(scores[sid], 6),
                        "tagged": members.get(sid, ("", 0, 0, False))[3],
                    }
                    for sid in order
                ],
            }
        )
    return {
        "group_count": len(groups),
        "duplicates": sum(len(g) - 1 for g in groups),
        "offset": offset,
        "keep_rule": KEEP_RULE,
        "groups": out,
    }


def tag_duplicates(db: Database, dataset_id: int, groups: list[list[int]], keep: list[int]) -> dict[str, Any]:
    """Tag every sample of every group `duplicate` except the kept one (the rule's, or the user's choice)."""
    chosen = _overrides(groups, keep)
    members = _members(db, dataset_id, [sid for group in groups for sid in group])
    kept = [chosen.get(g, _kept(group, members)) for g, group in enumerate(groups)]
    kept_set = set(kept)
    others = [sid for group in groups for sid in group if sid not in kept_set]
    with db.write() as cur:
        require(cur, dataset_id)
        cur.register("_kept", pa.table({"id": pa.array(np.asarray(kept, dtype=np.int64))}))
        cur.register("_others", pa.table({"id": pa.array(np.asarray(others, dtype=np.int64))}))
        try:
            removed = cur.execute(
                "DELETE FROM sample_tags WHERE dataset_id = ? AND tag = ? AND sample_id IN (SELECT id FROM _kept) "
                "RETURNING sample_id",
                [dataset_id, DUPLICATE_TAG],
            ).fetchall()
            added = cur.execute(
                "INSERT INTO sample_tags SELECT ?, o.id, ? FROM _others o "
                "WHERE EXISTS (SELECT 1 FROM samples s WHERE s.dataset_id = ? AND s.id = o.id) "
                "AND NOT EXISTS (SELECT 1 FROM sample_tags t WHERE t.dataset_id = ? AND t.sample_id = o.id "
                "AND t.tag = ?) RETURNING sample_id",
                [dataset_id, DUPLICATE_TAG, dataset_id, dataset_id, DUPLICATE_TAG],
            ).fetchall()
        finally:
            cur.unregister("_kept")
            cur.unregister("_others")
    return {
        "tag": DUPLICATE_TAG,
        "groups": len(groups),
        "kept": len(kept),
        "tagged": len(others),
        "added": len(added),
        "removed": len(removed),
        "keep_rule": KEEP_RULE,
    }
