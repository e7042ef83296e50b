"""Datasets: create (validate the request, start the import job), import, list, get, delete.

An import is one job and one write transaction: the dataset row is created as 'importing' when the
request is accepted (so its id can be returned at once); the job parses outside any transaction, runs
the plugin hooks, then writes samples, categories, annotations and tags from Arrow tables and marks the
dataset 'ready' in a single `db.write()`. Any failure deletes the row again: nothing partial is left.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from app.config import Settings
from app.db import Database
from app.errors import Conflict, DataVisorError, Invalid, NotFound
from app.ingest import IngestError, ParsedDataset, Source, formats
from app.plugins import IngestContext, PluginRegistry, Sample
from app.services import summary
from app.services.ids import allocate
from app.services.jobs import FINAL_STATES, JobCancelled, JobContext, JobFailed, JobManager
from app.services.paths import FileMissing, kind_of, regular_file, resolve_in_roots

log = logging.getLogger(__name__)

IMPORTING, READY = "importing", "ready"
DELETE_WAIT_SECONDS = 30.0


class DatasetNotFound(NotFound):
    pass


class DatasetConflict(Conflict):
    pass


class InvalidImport(Invalid):
    """The request cannot start an import (path holds no such format); mapped to 422."""


@dataclass
class ImportRequest:
    name: str
    format: str
    path: str
    images_dir: str | None = None
    split: str | None = None
    annotations_only: bool = False  # no image file needs to exist (evaluation-only datasets)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def recover_interrupted(db: Database) -> int:
    """At startup: imports that were running when the process died never committed; drop their rows."""
    with db.write() as cur:
        rows = cur.execute("DELETE FROM datasets WHERE status = ? RETURNING id", [IMPORTING]).fetchall()
    if rows:
        log.warning("removed %d dataset(s) whose import was interrupted by a restart", len(rows))
    return len(rows)


def start_import(
    db: Database, jobs: JobManager, plugins: PluginRegistry, settings: Settings, req: ImportRequest
) -> tuple[int, str]:
    """Validate paths (PathNotAllowed -> 403), detect the format, create the row, submit the job."""
    roots = settings.data_roots
    path = resolve_in_roots(req.path, roots)
    try:
        if kind_of(path) == "other":  # a FIFO or a device: never opened (it would block or never end)
            regular_file(path, roots)
    except FileMissing:
        pass  # detection says what it expected there
    images_dir = resolve_in_roots(req.images_dir, roots) if req.images_dir else None
    if images_dir is not None and not images_dir.is_dir():
        raise InvalidImport(f"images_dir {req.images_dir!r} is not a folder")
    try:
        sources = formats.detect(req.format, path, images_dir, req.split, roots)
    except IngestError as error:
        raise InvalidImport(str(error)) from None
    fmt = sources[0].format
    base = images_dir or (sources[0].images_dir if len(sources) == 1 else None) or (path if path.is_dir() else None)
    with db.write() as cur:
        if cur.execute("SELECT 1 FROM datasets WHERE name = ?", [req.name]).fetchone():
            raise DatasetConflict(f"a dataset named {req.name!r} already exists")
        dataset_id = allocate(cur, "datasets", 1)
        now = _now()
        cur.execute(
            "INSERT INTO datasets (id, name, format, path, images_dir, status, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [dataset_id, req.name, fmt, str(path), str(base) if base else None, IMPORTING, now, now],
        )
    params = {"name": req.name, "format": fmt, "path": str(path), "splits": [s.split for s in sources]}

    def run(ctx: JobContext) -> dict[str, Any]:
        try:
            return _import(ctx, db, plugins, settings, dataset_id, req, fmt, path, sources)
        except BaseException:
            try:
                with db.write() as cur:
                    cur.execute("DELETE FROM datasets WHERE id = ? AND status = ?", [dataset_id, IMPORTING])
            except Exception:  # noqa: BLE001 - the restart recovery removes it otherwise
                log.exception("could not remove the row of failed import %d", dataset_id)
            raise

    job = jobs.submit("import", run, dataset_id=dataset_id, params=params)
    return dataset_id, job.id


def _import(
    ctx: JobContext,
    db: Database,
    plugins: PluginRegistry,
    settings: Settings,
    dataset_id: int,
    req: ImportRequest,
    fmt: str,
    path: Path,
    sources: list[Source],
) -> dict[str, Any]:
    def progress(done: int, total: int | None, message: str) -> None:
        ctx.progress(done, total, message)

    started = time.perf_counter()
    try:
        parsed = formats.load(sources, progress, settings.data_roots, require_images=not req.annotations_only)
    except DataVisorError as error:  # IngestError, or a confinement refusal naming the file
        raise JobFailed(str(error)) from None
    parsed_at = time.perf_counter()
    n = parsed.samples.num_rows
    ictx = IngestContext(dataset_id=dataset_id, dataset_name=req.name, format=fmt, path=path, total=n)
    plugins.ingest_started(ictx)
    fields, tags = _run_sample_hooks(ctx, plugins, ictx, parsed, settings.data_roots)
    hooks_at = time.perf_counter()
    ctx.progress(n, n, "writing")
    summary = write(db, dataset_id, parsed, fields, tags)
    log.info(
        "import %d (%s): %d samples, %d boxes; parse %.2f s, plugins %.2f s, write %.2f s",
        dataset_id,
        fmt,
        n,
        parsed.annotations.num_rows,
        parsed_at - started,
        hooks_at - parsed_at,
        time.perf_counter() - hooks_at,
    )
    # Committed: a cancellation arriving now is too late and must not report the job as cancelled.
    plugins.ingest_completed(ictx, summary)
    try:
        ctx.progress(n, n, _done_message(summary))
    except JobCancelled:
        pass
    return summary


def _done_message(result: dict[str, Any]) -> str:
    text = f"imported {result['samples']} samples, {result['annotations']} annotations"
    issues = result["issues"]
    if issues["missing_images"]:
        text += f"; {issues['missing_images']} image files not found (first: {issues['missing_examples'][0]})"
    if issues["skipped"]:
        text += "; skipped " + ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in issues["skipped"].items())
    return text


def _run_sample_hooks(
    ctx: JobContext, plugins: PluginRegistry, ictx: IngestContext, parsed: ParsedDataset, roots: list[Path]
) -> tuple[list[str | None] | None, list[tuple[int, str]]]:
    """Per-sample plugin hook (skipped entirely when no plugin implements it): fields and tags."""
    if not plugins.wants_samples:
        return None, []
    n = parsed.samples.num_rows
    cols = {c: parsed.samples.column(c).to_pylist() for c in ("file_name", "path", "width", "height", "split")}
    counts = np.bincount(parsed.annotations.column("sample_idx").to_numpy(), minlength=n) if n else []
    fields: list[str | None] = [None] * n
    tags: list[tuple[int, str]] = []
    for i in range(n):
        sample = Sample(
            file_name=cols["file_name"][i],
            path=Path(cols["path"][i]),
            width=cols["width"][i],
            height=cols["height"][i],
            split=cols["split"][i],
            annotation_count=int(counts[i]),
            roots=roots,
        )
        sample = plugins.sample_ingested(ictx, sample)
        if sample.fields:
            try:
                fields[i] = json.dumps(sample.fields)
            except (TypeError, ValueError):
                log.warning("plugin fields of %s are not JSON; dropped", sample.file_name)
        for tag in dict.fromkeys(str(t) for t in sample.tags if str(t).strip()):
            tags.append((i, tag))
        if i % 500 == 0:
            ctx.progress(i, n, "running plugins")
        else:
            ctx.check_cancelled()
    return fields, tags


def _category_lists(sample_idx: np.ndarray, category_idx: np.ndarray, n: int, k: int, c0: int) -> pa.ListArray:
    """Per sample, the sorted distinct category ids of its boxes (samples.gt_category_ids)."""
    pairs = (
        np.unique(sample_idx.astype(np.int64) * max(k, 1) + category_idx) if len(sample_idx) else np.zeros(0, np.int64)
    )
    owners, ids = np.divmod(pairs, max(k, 1))
    offsets = np.searchsorted(owners, np.arange(n + 1)).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(ids + c0, pa.int64()))


def write(
    db: Database,
    dataset_id: int,
    parsed: ParsedDataset,
    fields: list[str | None] | None,
    tags: list[tuple[int, str]],
) -> dict[str, Any]:
    """One transaction: ids, samples, categories, annotations, tags, status -> ready."""
    samples, annotations, categories = parsed.samples, parsed.annotations, parsed.categories
    n, m, k = samples.num_rows, annotations.num_rows, categories.num_rows
    with db.write() as cur:
        row = cur.execute("SELECT status FROM datasets WHERE id = ?", [dataset_id]).fetchone()
        if row is None or row[0] != IMPORTING:
            raise JobFailed("the dataset was deleted while it was being imported")
        s0 = allocate(cur, "samples", n)
        a0 = allocate(cur, "annotations", m)
        c0 = allocate(cur, "categories", k)
        sample_idx = annotations.column("sample_idx").to_numpy()
        counts = np.bincount(sample_idx, minlength=n).astype(np.int32) if n else np.zeros(0, np.int32)
        s_tab = samples.append_column("id", pa.array(np.arange(s0, s0 + n, dtype=np.int64)))
        s_tab = s_tab.append_column("annotation_count", pa.array(counts))
        s_tab = s_tab.append_column("fields", pa.array(fields if fields is not None else [None] * n, pa.string()))
        s_tab = s_tab.append_column(
            "gt_category_ids", _category_lists(sample_idx, annotations.column("category_idx").to_numpy(), n, k, c0)
        )
        c_tab = categories.append_column("id", pa.array(np.arange(c0, c0 + k, dtype=np.int64)))
        a_tab = annotations.append_column("id", pa.array(np.arange(a0, a0 + m, dtype=np.int64)))
        a_tab = a_tab.set_column(0, "sample_id", pa.array(sample_idx + s0))
        a_tab = a_tab.set_column(1, "category_id", pa.array(annotations.column("category_idx").to_numpy() + c0))
        t_tab = pa.table(
            {
                "sample_id": pa.array([s0 + i for i, _ in tags], pa.int64()),
                "tag": pa.array([t for _, t in tags], pa.string()),
            }
        )
        cur.register("_s", s_tab)
        cur.register("_c", c_tab)
        cur.register("_a", a_tab)
        cur.register("_t", t_tab)
        try:
            cur.execute(
                "INSERT INTO samples (id, dataset_id, file_name, path, width, height, split, annotation_count, "
                "source_id, fields, gt_category_ids) SELECT id, ?, file_name, path, width, height, split, "
                "annotation_count, source_id, fields::JSON, gt_category_ids FROM _s",
                [dataset_id],
            )
            cur.execute(
                "INSERT INTO categories (id, dataset_id, source_id, name, supercategory) "
                "SELECT id, ?, source_id, name, supercategory FROM _c",
                [dataset_id],
            )
            cur.execute(
                "INSERT INTO annotations (id, dataset_id, sample_id, category_id, x, y, w, h, area, iscrowd, "
                "source, confidence, source_id) SELECT id, ?, sample_id, category_id, x, y, w, h, area, "
                "iscrowd, 'ground_truth', NULL, source_id FROM _a",
                [dataset_id],
            )
            cur.execute("INSERT INTO sample_tags SELECT ?, sample_id, tag FROM _t", [dataset_id])
        finally:
            for name in ("_s", "_c", "_a", "_t"):
                cur.unregister(name)
        issues = parsed.issues.public()
        info = {**parsed.info, "summary": summary.compute(parsed, c0), "issues": issues}
        cur.execute(
            "UPDATE datasets SET status = ?, updated_at = ?, info = ?, images_dir = coalesce(?, images_dir) "
            "WHERE id = ?",
            [READY, _now(), json.dumps(info), str(parsed.images_dir) if parsed.images_dir else None, dataset_id],
        )
    return {
        "dataset_id": dataset_id,
        "samples": n,
        "annotations": m,
        "categories": k,
        "tags": len(tags),
        "issues": issues,
    }


# -- reads ---------------------------------------------------------------------------------------------
def _dataset_row(row: tuple) -> dict[str, Any]:
    keys = ["id", "name", "format", "path", "images_dir", "status", "created_at", "updated_at"]
    out = dict(zip(keys, row, strict=True))
    for key in ("created_at", "updated_at"):
        out[key] = out[key].replace(tzinfo=UTC).isoformat() if out[key] else None
    return out


_COLUMNS = "id, name, format, path, images_dir, status, created_at, updated_at"


def list_datasets(db: Database) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        rows = cur.execute(f"SELECT {_COLUMNS} FROM datasets ORDER BY id").fetchall()
        counts = dict(
            (r[0], r[1:])
            for r in cur.execute(
                "SELECT dataset_id, count(*), sum(annotation_count) FROM samples GROUP BY dataset_id"
            ).fetchall()
        )
    out = []
    for row in rows:
        item = _dataset_row(row)
        samples, annotations = counts.get(item["id"], (0, 0))
        item["counts"] = {"samples": int(samples or 0), "annotations": int(annotations or 0)}
        out.append(item)
    return out


def require(cur: Any, dataset_id: int) -> None:
    if not cur.execute("SELECT 1 FROM datasets WHERE id = ?", [dataset_id]).fetchall():
        raise DatasetNotFound(f"dataset {dataset_id} not found")


def get_dataset(db: Database, dataset_id: int) -> dict[str, Any]:
    with db.cursor() as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM datasets WHERE id = ?", [dataset_id]).fetchone()
        if row is None:
            raise DatasetNotFound(f"dataset {dataset_id} not found")
        item = _dataset_row(row)
        per_split = cur.execute(
            "SELECT split, count(*), sum(annotation_count) FROM samples WHERE dataset_id = ? "
            "GROUP BY split ORDER BY split NULLS LAST",
            [dataset_id],
        ).fetchall()
        categories = cur.execute("SELECT count(*) FROM categories WHERE dataset_id = ?", [dataset_id]).fetchone()
        info = cur.execute("SELECT info FROM datasets WHERE id = ?", [dataset_id]).fetchone()[0]
    samples = sum(r[1] for r in per_split)
    annotations = sum(int(r[2] or 0) for r in per_split)
    item["counts"] = {
        "samples": samples,
        "annotations": annotations,
        "categories": int(categories[0]) if categories else 0,
        "splits": {
            (r[0] if r[0] is not None else "none"): {"samples": r[1], "annotations": int(r[2] or 0)} for r in per_split
        },
    }
    item["issues"] = issues_of(info)
    return item


def issues_of(info: Any) -> dict[str, Any]:
    """What the import could not use (datasets.info["issues"]); empty for datasets imported before."""
    stored = (json.loads(info) if isinstance(info, str) else info or {}).get("issues") or {}
    return {
        "missing_images": int(stored.get("missing_images", 0)),
        "missing_examples": list(stored.get("missing_examples", [])),
        "skipped": dict(stored.get("skipped", {})),
        "skipped_examples": dict(stored.get("skipped_examples", {})),
    }


def delete_dataset(db: Database, jobs: JobManager, dataset_id: int) -> None:
    """Delete the dataset and its rows in every table keyed by dataset_id or sample_id (later features too).

    Its running jobs (an import, an embedding run) are cancelled and waited for first: a job that is
    still flushing would otherwise write vectors of a dataset that no longer exists.
    """
    with db.cursor() as cur:
        require(cur, dataset_id)
    active = jobs.active_for(dataset_id)
    for job in active:
        jobs.cancel(job["id"])
    deadline = time.monotonic() + DELETE_WAIT_SECONDS
    for job in active:
        version = -1
        while True:
            seen = jobs.wait_for_change(job["id"], version, max(0.0, deadline - time.monotonic()))
            if seen is None or seen[1]["state"] in FINAL_STATES:
                break
            if time.monotonic() >= deadline:
                raise DatasetConflict(
                    f"dataset {dataset_id}: job {job['id']} ({job['kind']}) did not stop within "
                    f"{DELETE_WAIT_SECONDS:.0f} s of being cancelled; try the delete again"
                )
            version = seen[0]
    with db.write() as cur:
        if active and not cur.execute("SELECT 1 FROM datasets WHERE id = ?", [dataset_id]).fetchall():
            return  # its cancelled import removed it (the half import leaves nothing): deleted, not a 404
        require(cur, dataset_id)
        columns = cur.execute(
            "SELECT table_name, list(column_name) FROM information_schema.columns "
            "WHERE table_schema = 'main' GROUP BY table_name"
        ).fetchall()
        skip = {"datasets", "jobs", "samples"}
        by_sample = [t for t, cols in columns if t not in skip and "sample_id" in cols and "dataset_id" not in cols]
        by_dataset = [t for t, cols in columns if t not in skip and "dataset_id" in cols]
        for table in sorted(by_sample):
            cur.execute(
                f'DELETE FROM "{table}" WHERE sample_id IN (SELECT id FROM samples WHERE dataset_id = ?)',
                [dataset_id],
            )
        for table in sorted(by_dataset):
            cur.execute(f'DELETE FROM "{table}" WHERE dataset_id = ?', [dataset_id])
        cur.execute("DELETE FROM samples WHERE dataset_id = ?", [dataset_id])
        cur.execute("DELETE FROM datasets WHERE id = ?", [dataset_id])
