"""Editing labels: ground-truth boxes, categories, triage verdicts, review status; undo and redo.

Every edit is one write transaction that checks, changes the row, keeps the sample's derived columns right
(`annotation_count`, `gt_category_ids`), marks the stored evaluations of the dataset stale for that sample
(app/services/evaluation_store.py) and appends the history entry (app/services/history.py). Either all of
that is committed or none of it.

Optimistic concurrency: an annotation carries a `version` (+1 on every change); an update or delete names
the version it applies to. A stale version is a 409 naming the current one and changes nothing; a missing
one is a 428. Predictions are never edited, only triaged or promoted to ground truth.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

from app.db import Database
from app.errors import Conflict, Invalid, NotFound, PreconditionRequired
from app.services import evaluation_store, history
from app.services.datasets import require
from app.services.ids import allocate
from app.services.query import REVIEW_STATUSES

GROUND_TRUTH = "ground_truth"
PREDICTION_VERDICTS = ("correct", "wrong_class", "bad_box", "duplicate", "not_an_error")
GT_VERDICTS = ("correct", "wrong_label", "missing_object", "ignore")
EDGE_TOLERANCE = 1e-6  # pixels: a box drawn to the image edge may land a rounding error past it


class AnnotationNotFound(NotFound):
    pass


class SampleNotFound(NotFound):
    pass


class InvalidEdit(Invalid):
    pass


class StaleVersion(Conflict):
    pass


class VersionRequired(PreconditionRequired):
    pass


class NothingToDo(Conflict):
    """Undo with an empty undo stack, redo with an empty redo stack, or a target changed outside the stack."""


_ROW = (
    "SELECT a.id, a.dataset_id, a.sample_id, a.category_id, c.name, a.x, a.y, a.w, a.h, a.area, a.iscrowd, "
    "a.source, a.confidence, a.source_id, a.version, a.verdict "
    "FROM annotations a LEFT JOIN categories c ON c.id = a.category_id WHERE a.id = ?"
)


def _state(cur: duckdb.DuckDBPyConnection, annotation_id: int) -> dict[str, Any] | None:
    row = cur.execute(_ROW, [annotation_id]).fetchone()
    if row is None:
        return None
    keys = ["id", "dataset_id", "sample_id", "category_id", "category", "x", "y", "w", "h", "area", "iscrowd"]
    keys += ["source", "confidence", "source_id", "version", "verdict"]
    s = dict(zip(keys, row, strict=True))
    s["bbox"] = [s.pop("x"), s.pop("y"), s.pop("w"), s.pop("h")]
    s["iscrowd"] = bool(s["iscrowd"])
    s["version"] = int(s["version"] or 1)
    return s


def _require_annotation(cur: duckdb.DuckDBPyConnection, annotation_id: int) -> dict[str, Any]:
    state = _state(cur, annotation_id)
    if state is None:
        raise AnnotationNotFound(f"annotation {annotation_id} not found")
    return state


def _sample(cur: duckdb.DuckDBPyConnection, sample_id: int) -> tuple[int, int | None, int | None, str]:
    row = cur.execute(
        "SELECT dataset_id, width, height, coalesce(review_status, 'unreviewed') FROM samples WHERE id = ?",
        [sample_id],
    ).fetchone()
    if row is None:
        raise SampleNotFound(f"sample {sample_id} not found")
    return int(row[0]), row[1], row[2], row[3]


def _check_version(state: dict[str, Any], version: int | None) -> None:
    if version is None:
        raise VersionRequired(
            f"annotation {state['id']}: send the version you are editing (current version {state['version']})",
            current_version=state["version"],
        )
    if version != state["version"]:
        raise StaleVersion(
            f"annotation {state['id']} was changed by someone else: you sent version {version}, "
            f"the current version is {state['version']}; reload it and edit again",
            current_version=state["version"],
        )


def _check_box(bbox: list[float], sample_id: int, width: int | None, height: int | None) -> list[float]:
    if len(bbox) != 4:
        raise InvalidEdit(f"sample {sample_id}: bbox must be [x, y, width, height], got {len(bbox)} numbers")
    x, y, w, h = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise InvalidEdit(f"sample {sample_id}: bbox {bbox} has a value that is not a finite number")
    if w <= 0 or h <= 0:
        raise InvalidEdit(f"sample {sample_id}: bbox {bbox} must have a positive width and height")
    if x < -EDGE_TOLERANCE or y < -EDGE_TOLERANCE:
        raise InvalidEdit(f"sample {sample_id}: bbox {bbox} starts outside the image (x and y must be >= 0)")
    if width is not None and x + w > width + EDGE_TOLERANCE:
        raise InvalidEdit(f"sample {sample_id}: bbox {bbox} ends at x = {x + w:g}, past the image width {width}")
    if height is not None and y + h > height + EDGE_TOLERANCE:
        raise InvalidEdit(f"sample {sample_id}: bbox {bbox} ends at y = {y + h:g}, past the image height {height}")
    return [max(x, 0.0), max(y, 0.0), w, h]


def _category(cur: duckdb.DuckDBPyConnection, dataset_id: int, category_id: int | None, name: str | None) -> int:
    if category_id is None and name is None:
        raise InvalidEdit("give the box's class: category (name) or category_id")
    if category_id is not None:
        row = cur.execute(
            "SELECT id, name FROM categories WHERE dataset_id = ? AND id = ?", [dataset_id, category_id]
        ).fetchone()
        if row is None:
            raise InvalidEdit(f"dataset {dataset_id} has no category id {category_id}; add it first")
        if name is not None and row[1] != name:
            raise InvalidEdit(f"category_id {category_id} is {row[1]!r}, not {name!r}")
        return int(row[0])
    row = cur.execute("SELECT id FROM categories WHERE dataset_id = ? AND name = ?", [dataset_id, name]).fetchone()
    if row is None:
        raise InvalidEdit(f"dataset {dataset_id} has no category {name!r}; add it first (POST .../categories)")
    return int(row[0])


def refresh_sample(cur: duckdb.DuckDBPyConnection, sample_id: int) -> None:
    """annotation_count and gt_category_ids of the sample from its ground truth as it is now."""
    cur.execute(
        """
        UPDATE samples SET
            annotation_count = (SELECT count(*) FROM annotations a WHERE a.sample_id = ? AND a.source = ?),
            gt_category_ids = coalesce((SELECT list(DISTINCT a.category_id ORDER BY a.category_id) FROM annotations a
                                        WHERE a.sample_id = ? AND a.source = ?), [])
        WHERE id = ?
        """,
        [sample_id, GROUND_TRUTH, sample_id, GROUND_TRUTH, sample_id],
    )


def _ground_truth_changed(cur: duckdb.DuckDBPyConnection, dataset_id: int, sample_id: int) -> list[dict[str, Any]]:
    refresh_sample(cur, sample_id)
    # the per-category summary written at import no longer holds: statistics are computed live from now on
    cur.execute(
        "UPDATE datasets SET info = json_merge_patch(info, '{\"summary\": null}'), updated_at = now() "
        "WHERE id = ? AND (info->'summary') IS NOT NULL",
        [dataset_id],
    )
    return evaluation_store.mark_dirty(cur, dataset_id, sample_id)


def _write(cur: duckdb.DuckDBPyConnection, annotation_id: int, state: dict[str, Any] | None) -> None:
    """Make the stored row equal `state` (None: no row)."""
    cur.execute("DELETE FROM annotations WHERE id = ?", [annotation_id])
    if state is None:
        return
    x, y, w, h = state["bbox"]
    cur.execute(
        "INSERT INTO annotations (id, dataset_id, sample_id, category_id, x, y, w, h, area, iscrowd, source, "
        "confidence, source_id, version, verdict) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            annotation_id,
            state["dataset_id"],
            state["sample_id"],
            state["category_id"],
            x,
            y,
            w,
            h,
            state["area"],
            state["iscrowd"],
            state["source"],
            state["confidence"],
            state["source_id"],
            state["version"],
            state["verdict"],
        ],
    )


def _reply(entry_id: int, state: Any, stale: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "history_id": entry_id,
        "annotation": state,
        "evaluation": {"state": "stale" if stale else "unchanged", "runs": stale},
    }


# ------------------------------------------------------------------------------------------------ edits
def create(
    db: Database,
    sample_id: int,
    *,
    bbox: list[float],
    category_id: int | None,
    category: str | None,
    iscrowd: bool,
    user: str,
    action: str = "create",
    promoted_from: int | None = None,
) -> dict[str, Any]:
    with db.write() as cur:
        dataset_id, width, height, _ = _sample(cur, sample_id)
        box = _check_box(bbox, sample_id, width, height)
        cat = _category(cur, dataset_id, category_id, category)
        new_id = allocate(cur, "annotations", 1)
        state = {
            "id": new_id,
            "dataset_id": dataset_id,
            "sample_id": sample_id,
            "category_id": cat,
            "bbox": box,
            "area": box[2] * box[3],
            "iscrowd": bool(iscrowd),
            "source": GROUND_TRUTH,
            "confidence": None,
            "source_id": None,
            "version": 1,
            "verdict": None,
        }
        _write(cur, new_id, state)
        state = _require_annotation(cur, new_id)
        stale = _ground_truth_changed(cur, dataset_id, sample_id)
        after = {**state, "promoted_from": promoted_from} if promoted_from is not None else state
        entry = history.record(
            cur,
            dataset_id=dataset_id,
            sample_id=sample_id,
            user=user,
            action=action,
            target="annotation",
            target_id=new_id,
            before=None,
            after=after,
        )
        return _reply(entry, state, stale)


def update(
    db: Database,
    annotation_id: int,
    *,
    version: int | None,
    bbox: list[float] | None,
    category_id: int | None,
    category: str | None,
    iscrowd: bool | None,
    user: str,
) -> dict[str, Any]:
    with db.write() as cur:
        before = _require_annotation(cur, annotation_id)
        _check_version(before, version)
        if before["source"] != GROUND_TRUTH:
            raise InvalidEdit(
                f"annotation {annotation_id} is a prediction of run {before['source']!r}: predictions are not "
                "edited; triage it or promote it to ground truth"
            )
        if bbox is None and category_id is None and category is None and iscrowd is None:
            raise InvalidEdit(f"annotation {annotation_id}: nothing to change (give bbox, category or iscrowd)")
        dataset_id, width, height, _ = _sample(cur, before["sample_id"])
        after = dict(before)
        if bbox is not None:
            after["bbox"] = _check_box(bbox, before["sample_id"], width, height)
            after["area"] = after["bbox"][2] * after["bbox"][3]
        if category_id is not None or category is not None:
            after["category_id"] = _category(cur, dataset_id, category_id, category)
        if iscrowd is not None:
            after["iscrowd"] = bool(iscrowd)
        after["version"] = before["version"] + 1
        _write(cur, annotation_id, after)
        after = _require_annotation(cur, annotation_id)
        stale = _ground_truth_changed(cur, dataset_id, before["sample_id"])
        entry = history.record(
            cur,
            dataset_id=dataset_id,
            sample_id=before["sample_id"],
            user=user,
            action="update",
            target="annotation",
            target_id=annotation_id,
            before=before,
            after=after,
        )
        return _reply(entry, after, stale)


def delete(db: Database, annotation_id: int, *, version: int | None, user: str) -> dict[str, Any]:
    with db.write() as cur:
        before = _require_annotation(cur, annotation_id)
        _check_version(before, version)
        if before["source"] != GROUND_TRUTH:
            raise InvalidEdit(
                f"annotation {annotation_id} is a prediction of run {before['source']!r}: predictions are not "
                "deleted one by one; triage it (e.g. not_an_error) or delete the run"
            )
        _write(cur, annotation_id, None)
        stale = _ground_truth_changed(cur, before["dataset_id"], before["sample_id"])
        entry = history.record(
            cur,
            dataset_id=before["dataset_id"],
            sample_id=before["sample_id"],
            user=user,
            action="delete",
            target="annotation",
            target_id=annotation_id,
            before=before,
            after=None,
        )
        return _reply(entry, None, stale)


def triage(db: Database, annotation_id: int, *, verdict: str | None, version: int | None, user: str) -> dict[str, Any]:
    """The verdict of a box (None clears it). The version is optional here: a verdict never moves a box."""
    with db.write() as cur:
        before = _require_annotation(cur, annotation_id)
        if version is not None:
            _check_version(before, version)
        allowed = GT_VERDICTS if before["source"] == GROUND_TRUTH else PREDICTION_VERDICTS
        kind = "ground-truth box" if before["source"] == GROUND_TRUTH else "prediction"
        if verdict is not None and verdict not in allowed:
            raise InvalidEdit(
                f"annotation {annotation_id} is a {kind}: verdict must be one of {', '.join(allowed)} (or null)"
            )
        after = {**before, "verdict": verdict, "version": before["version"] + 1}
        _write(cur, annotation_id, after)
        after = _require_annotation(cur, annotation_id)
        entry = history.record(
            cur,
            dataset_id=before["dataset_id"],
            sample_id=before["sample_id"],
            user=user,
            action="triage",
            target="annotation",
            target_id=annotation_id,
            before=before,
            after=after,
        )
        return _reply(entry, after, [])


def promote(db: Database, annotation_id: int, *, user: str) -> dict[str, Any]:
    """A prediction becomes a ground-truth box (same box and class): one edit, in history, undoable."""
    with db.cursor() as cur:
        pred = _require_annotation(cur, annotation_id)
    if pred["source"] == GROUND_TRUTH:
        raise InvalidEdit(f"annotation {annotation_id} is already ground truth")
    with db.cursor() as cur:
        _, width, height, _ = _sample(cur, pred["sample_id"])
    # predictions may poke out of the image a little; the ground truth is clipped to it
    x, y, w, h = pred["bbox"]
    x0, y0 = max(x, 0.0), max(y, 0.0)
    x1 = min(x + w, float(width)) if width is not None else x + w
    y1 = min(y + h, float(height)) if height is not None else y + h
    return create(
        db,
        pred["sample_id"],
        bbox=[x0, y0, x1 - x0, y1 - y0],
        category_id=pred["category_id"],
        category=None,
        iscrowd=False,
        user=user,
        action="promote",
        promoted_from=annotation_id,
    )


def set_review(db: Database, sample_id: int, *, status: str, user: str) -> dict[str, Any]:
    if status not in REVIEW_STATUSES:
        raise InvalidEdit(f"sample {sample_id}: review status must be one of {', '.join(REVIEW_STATUSES)}")
    with db.write() as cur:
        dataset_id, _, _, current = _sample(cur, sample_id)
        cur.execute("UPDATE samples SET review_status = ? WHERE id = ?", [status, sample_id])
        entry = history.record(
            cur,
            dataset_id=dataset_id,
            sample_id=sample_id,
            user=user,
            action="review",
            target="sample",
            target_id=sample_id,
            before={"review_status": current},
            after={"review_status": status},
        )
    return {"history_id": entry, "sample_id": sample_id, "review_status": status}


def add_category(db: Database, dataset_id: int, *, name: str, supercategory: str | None, user: str) -> dict[str, Any]:
    name = name.strip()
    if not name:
        raise InvalidEdit("category name must not be empty")
    with db.write() as cur:
        require(cur, dataset_id)
        if cur.execute("SELECT 1 FROM categories WHERE dataset_id = ? AND name = ?", [dataset_id, name]).fetchone():
            raise Conflict(f"dataset {dataset_id} already has a category {name!r}")
        # the next source id after the dataset's own (COCO category ids stay as they were for export)
        source_id = cur.execute(
            "SELECT coalesce(max(source_id), 0) + 1 FROM categories WHERE dataset_id = ?", [dataset_id]
        ).fetchone()[0]
        cid = allocate(cur, "categories", 1)
        cur.execute(
            "INSERT INTO categories (id, dataset_id, source_id, name, supercategory) VALUES (?, ?, ?, ?, ?)",
            [cid, dataset_id, source_id, name, supercategory],
        )
        state = {"id": cid, "name": name, "supercategory": supercategory, "source_id": int(source_id)}
        entry = history.record(
            cur,
            dataset_id=dataset_id,
            sample_id=None,
            user=user,
            action="category",
            target="category",
            target_id=cid,
            before=None,
            after=state,
            state=history.FINAL,
        )
    return {"history_id": entry, "category": state}


# ------------------------------------------------------------------------------------------ undo / redo
def _current(cur: duckdb.DuckDBPyConnection, entry: dict[str, Any]) -> dict[str, Any] | None:
    if entry["target"] == "sample":
        _, _, _, status = _sample(cur, entry["target_id"])
        return {"review_status": status}
    return _state(cur, entry["target_id"])


def _same(current: dict[str, Any] | None, expected: dict[str, Any] | None) -> bool:
    if current is None or expected is None:
        return current is None and expected is None
    if "version" in expected:
        return current.get("version") == expected["version"]
    return current == expected


def _apply(
    cur: duckdb.DuckDBPyConnection, entry: dict[str, Any], current: dict[str, Any] | None, goal: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Bring the entry's target to `goal` (its before or after state); returns the new state, stale runs."""
    if entry["target"] == "sample":
        assert goal is not None
        cur.execute("UPDATE samples SET review_status = ? WHERE id = ?", [goal["review_status"], entry["target_id"]])
        return goal, []
    if goal is None:
        new = None
    else:
        base = current["version"] if current is not None else goal["version"]
        new = {k: v for k, v in goal.items() if k != "promoted_from"}
        new["version"] = int(base) + 1  # a clock that never goes back: stale copies stay stale
    _write(cur, entry["target_id"], new)
    state = _state(cur, entry["target_id"]) if new is not None else None
    moved = entry["action"] != "triage"
    stale = _ground_truth_changed(cur, entry["dataset_id"], entry["sample_id"]) if moved else []
    return state, stale


def _step(db: Database, dataset_id: int, user: str, *, undo: bool) -> dict[str, Any]:
    word = "undo" if undo else "redo"
    with db.write() as cur:
        require(cur, dataset_id)
        entry = history.top_of_undo(cur, dataset_id) if undo else history.top_of_redo(cur, dataset_id)
        if entry is None:
            raise NothingToDo(f"dataset {dataset_id}: nothing to {word}")
        current = _current(cur, entry)
        if undo:
            expected, goal = entry["after"], entry["before"]
        else:
            last = history.last_undo_of(cur, entry["id"])
            expected, goal = (last["after"] if last else entry["before"]), entry["after"]
        if not _same(current, expected):
            raise NothingToDo(
                f"dataset {dataset_id}: cannot {word} history entry {entry['id']} ({entry['action']} of "
                f"{entry['target']} {entry['target_id']}): it was changed outside the edit history since"
            )
        state, stale = _apply(cur, entry, current, goal)
        history.set_state(cur, entry["id"], history.UNDONE if undo else history.DONE)
        record_id = history.record(
            cur,
            dataset_id=dataset_id,
            sample_id=entry["sample_id"],
            user=user,
            action=word,
            target=entry["target"],
            target_id=entry["target_id"],
            before=current,
            after=state,
            state=history.FINAL,
            refers_to=entry["id"],
        )
        sizes = history.stack_sizes(cur, dataset_id)
    return {
        "history_id": record_id,
        "applied": {k: entry[k] for k in ("id", "action", "target", "target_id", "sample_id", "user")},
        "state": state,
        "evaluation": {"state": "stale" if stale else "unchanged", "runs": stale},
        **sizes,
    }


def undo(db: Database, dataset_id: int, user: str) -> dict[str, Any]:
    return _step(db, dataset_id, user, undo=True)


def redo(db: Database, dataset_id: int, user: str) -> dict[str, Any]:
    return _step(db, dataset_id, user, undo=False)


# ----------------------------------------------------------------------------------------------- checks
def require_dataset(db: Database, dataset_id: int) -> int:
    with db.cursor() as cur:
        require(cur, dataset_id)
    return dataset_id


def require_sample(db: Database, sample_id: int) -> int:
    with db.cursor() as cur:
        _sample(cur, sample_id)
    return sample_id
