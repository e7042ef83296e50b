"""Embedding jobs, vectors in DuckDB, and similarity queries over an in-memory index per dataset.

Vectors are written by one background job at a time (the job manager's worker thread) in batches, so a
cancelled or interrupted run keeps what it finished and a re-run embeds only what is missing. Readers
get a `VectorIndex` loaded lazily from DuckDB and cached per (dataset, model); a cheap row count tells
whether the cache is stale (new vectors, or the dataset was deleted). Derived answers (duplicates at a
threshold, the 2-D projection) are cached on the index object, so they go when the vectors change.

torch runs in the job thread with `torch_threads` intra-op threads; decoding runs on a small thread pool
(PIL releases the GIL) one batch ahead of inference, and the event loop never runs model code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from app import errors
from app.config import Settings
from app.db import Database
from app.services.embeddings.encoder import (
    DEFAULT_MODEL_NAME,
    Encoder,
    ImageUnreadable,
    ModelLoadError,
    decode_bytes,
    decode_image,
)
from app.services.embeddings.index import VectorIndex
from app.services.embeddings.projection import tsne
from app.services.jobs import FINAL_STATES, JobCancelled, JobContext, JobFailed, JobManager
from app.services.paths import FileMissing, PathNotAllowed

log = logging.getLogger(__name__)

JOB_KIND = "embeddings"
PROJECTION_JOB_KIND = "projection"
PROJECTION_METHODS = ("pca", "tsne")
MAX_INDEXES = 4  # datasets whose vectors stay in memory (least recently used goes first)
MAX_DERIVED = 32  # cached duplicate answers / projections
BATCH = 8  # measured best for 1-2 torch threads: activations stay in cache
FLUSH_EVERY = 256  # vectors per write transaction


class NotFound(errors.NotFound):
    """Unknown dataset or sample (404)."""


class NotEmbedded(errors.Conflict):
    """The dataset or sample has no vector for the current model yet (409)."""


class ModelUnavailable(errors.Unavailable):
    """The configured model cannot be loaded (503); the message says why."""


class EmbeddingService:
    def __init__(self, db: Database, jobs: JobManager, settings: Settings) -> None:
        self._db = db
        self._jobs = jobs
        self._roots = settings.data_roots
        self._model_path = settings.embedding_model
        self._precision = settings.embedding_precision
        self._threads = settings.torch_threads
        self._encoder: Encoder | None = None
        self._encoder_lock = threading.Lock()
        self._indexes: dict[tuple[int, str], tuple[int, VectorIndex]] = {}
        self._index_lock = threading.Lock()
        self._derived: dict[tuple[int, str, str], Any] = {}
        self._stopping = threading.Event()
        self._job_ids: set[str] = set()
        self._map_methods: dict[str, str] = {}  # projection job id -> its method
        self._start_lock = threading.Lock()
        self._decoders = ThreadPoolExecutor(max_workers=2, thread_name_prefix="datavisor-decode")
        torch.set_num_threads(self._threads)

    # -- lifecycle ---------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel our jobs (the job manager joins its worker after us) and drop the decoder threads."""
        self._stopping.set()
        for job in self._active_jobs():
            self._jobs.cancel(job["id"])
        self._decoders.shutdown(wait=False, cancel_futures=True)
        self._indexes.clear()
        self._derived.clear()

    def _active_jobs(self, dataset_id: int | None = None) -> list[dict[str, Any]]:
        active = []
        for job_id in list(self._job_ids):
            job = self._jobs.get(job_id)
            if job is None or job["state"] in FINAL_STATES:
                self._job_ids.discard(job_id)
            elif dataset_id is None or job["dataset_id"] == dataset_id:
                active.append(job)
        return active

    # -- the model -----------------------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return self.encoder().name if self._model_path else DEFAULT_MODEL_NAME

    def encoder(self) -> Encoder:
        with self._encoder_lock:
            if self._encoder is None:
                started = time.perf_counter()
                try:
                    self._encoder = Encoder.from_settings(self._model_path, self._precision)
                except ModelLoadError as error:
                    raise ModelUnavailable(str(error)) from error
                log.info(
                    "embedding model %s loaded (dim %d, %s, %d torch thread(s)) in %.2f s",
                    self._encoder.name,
                    self._encoder.dim,
                    "bfloat16" if self._encoder.bfloat16 else "float32",
                    self._threads,
                    time.perf_counter() - started,
                )
            return self._encoder

    # -- jobs --------------------------------------------------------------------------------------------
    def start(self, dataset_id: int) -> str:
        """Queue an embedding run for the dataset (or return the one already queued/running)."""
        self._require_dataset(dataset_id)
        model = self.model_name
        with self._start_lock:  # two quick POSTs must not queue two runs
            running = [j for j in self._active_jobs(dataset_id) if j["kind"] == JOB_KIND]
            if running:
                return running[0]["id"]
            job = self._jobs.submit(
                JOB_KIND, lambda ctx: self._run(ctx, dataset_id), dataset_id=dataset_id, params={"model": model}
            )
            self._job_ids.add(job.id)
            return job.id

    def cancel(self, dataset_id: int) -> list[str]:
        self._require_dataset(dataset_id)
        cancelled = []
        for job in self._active_jobs(dataset_id):  # the map job too: it is work on these vectors
            self._jobs.cancel(job["id"])
            cancelled.append(job["id"])
        return cancelled

    def _run(self, ctx: JobContext, dataset_id: int) -> dict[str, Any]:
        try:
            encoder = self.encoder()
        except ModelUnavailable as error:
            raise JobFailed(str(error)) from None
        with self._db.cursor() as cur:
            todo = cur.execute(
                "SELECT s.id, s.path FROM samples s WHERE s.dataset_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM embeddings e WHERE e.dataset_id = s.dataset_id AND e.sample_id = s.id "
                "AND e.model = ?) ORDER BY s.id",
                [dataset_id, encoder.name],
            ).fetchall()
        total = len(todo)
        ctx.progress(0, total, f"embedding {total} sample(s) with {encoder.name}")
        done = embedded = 0
        skipped: list[tuple[int, str, str]] = []  # (sample id, reason, message)
        pending_ids: list[int] = []
        pending_vecs: list[np.ndarray] = []
        started = time.perf_counter()

        def flush() -> None:
            nonlocal embedded
            if pending_ids:
                self._write_vectors(dataset_id, encoder, pending_ids, np.concatenate(pending_vecs))
                embedded += len(pending_ids)
                pending_ids.clear()
                pending_vecs.clear()

        batches = [todo[i : i + BATCH] for i in range(0, total, BATCH)]
        ahead = self._decode_batch(batches[0]) if batches else None
        try:
            for b in range(len(batches)):
                if self._stopping.is_set():
                    raise JobCancelled()
                ctx.check_cancelled()
                assert ahead is not None
                ids, pixels, bad = self._gather(ahead)
                ahead = self._decode_batch(batches[b + 1]) if b + 1 < len(batches) else None
                skipped.extend(bad)
                if ids:
                    pending_ids.extend(ids)
                    pending_vecs.append(encoder.embed(pixels))
                done += len(batches[b])
                if len(pending_ids) >= FLUSH_EVERY:
                    flush()
                rate = done / max(time.perf_counter() - started, 1e-6)
                ctx.progress(
                    done, total, f"{_tally(embedded + len(pending_ids), skipped, total)} ({rate:.1f} images/s)"
                )
        except JobCancelled:
            for _, future in ahead or []:
                future.cancel()
            flush()  # keep finished work: a re-run continues from here
            raise
        flush()
        with self._db.cursor() as cur:
            have = cur.execute(
                "SELECT count(*) FROM sample_uniqueness WHERE dataset_id = ? AND model = ?",
                [dataset_id, encoder.name],
            ).fetchone()[0]
        index = self.index(dataset_id, encoder.name)
        if embedded or have != len(index):
            ctx.progress(done, total, "computing uniqueness")
            self._write_uniqueness(dataset_id, encoder.name, index, ctx.check_cancelled)
        if self._stored_projection(dataset_id, encoder.name, "pca", len(index)) is None and len(index):
            # the map's first request then reads 16 bytes a point instead of loading every vector
            ctx.progress(done, total, "computing the map (PCA)")
            self._store_projection(dataset_id, index, "pca", index.projection())
        seconds = time.perf_counter() - started
        failed = [s for s in skipped if s[1] in FAILURES]
        not_found = [s for s in skipped if s[1] not in FAILURES]
        reasons: dict[str, int] = {}
        for _, reason, _ in skipped:
            reasons[reason] = reasons.get(reason, 0) + 1
        try:
            ctx.progress(done, total, _tally(embedded, skipped, total))
        except JobCancelled:  # everything is written: too late to cancel
            pass
        return {
            "model": encoder.name,
            "dim": encoder.dim,
            "embedded": embedded,
            "skipped": len(not_found),
            "failed": len(failed),
            "reasons": reasons,
            "skipped_sample_ids": [s[0] for s in not_found[:100]],
            "failed_sample_ids": [s[0] for s in failed[:100]],
            "examples": [{"sample_id": sid, "reason": r, "message": m} for sid, r, m in skipped[:10]],
            "vectors": len(index),
            "seconds": round(seconds, 3),
        }

    def _decode_batch(self, rows: list[tuple[int, str]]) -> list[tuple[int, Future]]:
        """Start decoding a batch on the decoder threads; `_gather` collects it."""

        def one(sample_id: int, path: str) -> np.ndarray | tuple[str, str]:
            """The pixels, or (reason, message) when the sample cannot be embedded."""
            try:
                return decode_image(path, self._roots, entry=f"sample {sample_id}")
            except errors.DataVisorError as error:
                log.warning("cannot embed sample %d: %s", sample_id, error)
                return _reason(error), str(error)

        return [(sid, self._decoders.submit(one, sid, path)) for sid, path in rows]

    @staticmethod
    def _gather(
        futures: list[tuple[int, Future]],
    ) -> tuple[list[int], np.ndarray | None, list[tuple[int, str, str]]]:
        ids, images, bad = [], [], []
        for sid, future in futures:
            try:
                image = future.result()
            except CancelledError:  # the decoder pool was shut down under us: the server is stopping
                raise JobCancelled() from None
            if isinstance(image, tuple):
                bad.append((sid, *image))
            else:
                ids.append(sid)
                images.append(image)
        return ids, (np.stack(images) if images else None), bad

    def _write_vectors(self, dataset_id: int, encoder: Encoder, ids: list[int], vectors: np.ndarray) -> None:
        n, dim = vectors.shape
        flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
        table = pa.table(
            {
                "dataset_id": pa.array(np.full(n, dataset_id, dtype=np.int64)),
                "sample_id": pa.array(np.asarray(ids, dtype=np.int64)),
                "model": pa.array([encoder.name] * n, type=pa.string()),
                "dim": pa.array(np.full(n, dim, dtype=np.int32)),
                "vector": pa.ListArray.from_arrays(pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32)), flat),
                "created_at": pa.array([datetime.now(UTC).replace(tzinfo=None)] * n, type=pa.timestamp("us")),
            }
        )
        with self._db.write() as cur:
            # Only samples that still exist: a delete may have removed the dataset while this batch ran.
            if not cur.execute("SELECT 1 FROM datasets WHERE id = ?", [dataset_id]).fetchall():
                raise JobCancelled()
            cur.register("_new_vectors", table)
            try:
                cur.execute(
                    "INSERT INTO embeddings (dataset_id, sample_id, model, dim, vector, created_at) "
                    "SELECT dataset_id, sample_id, model, dim, vector, created_at FROM _new_vectors v "
                    "WHERE EXISTS (SELECT 1 FROM samples s WHERE s.id = v.sample_id AND s.dataset_id = v.dataset_id)"
                )
            finally:
                cur.unregister("_new_vectors")

    def _write_uniqueness(
        self, dataset_id: int, model: str, index: VectorIndex, check: Callable[[], None] | None = None
    ) -> None:
        scores = index.uniqueness(check=check)
        table = pa.table(
            {
                "dataset_id": pa.array(np.full(len(index), dataset_id, dtype=np.int64)),
                "sample_id": pa.array(index.ids),
                "model": pa.array([model] * len(index), type=pa.string()),
                "uniqueness": pa.array(scores.astype(np.float64)),
            }
        )
        with self._db.write() as cur:
            cur.execute("DELETE FROM sample_uniqueness WHERE dataset_id = ?", [dataset_id])
            cur.register("_uniqueness", table)
            try:
                cur.execute(
                    "INSERT INTO sample_uniqueness (dataset_id, sample_id, model, uniqueness) "
                    "SELECT dataset_id, sample_id, model, uniqueness FROM _uniqueness"
                )
            finally:
                cur.unregister("_uniqueness")

    # -- the index ------------------------------------------------------------------------------------------
    def index(self, dataset_id: int, model: str | None = None) -> VectorIndex:
        model = model or self.model_name
        with self._db.cursor() as cur:
            count = cur.execute(
                "SELECT count(*) FROM embeddings WHERE dataset_id = ? AND model = ?", [dataset_id, model]
            ).fetchone()[0]
        key = (dataset_id, model)
        with self._index_lock:
            cached = self._indexes.get(key)
            if cached is not None and cached[0] == count:
                self._indexes[key] = self._indexes.pop(key)  # most recently used last
                return cached[1]
            started = time.perf_counter()
            with self._db.cursor() as cur:
                cur.execute("BEGIN TRANSACTION")  # one snapshot for the size and the rows
                try:
                    shape = cur.execute(
                        "SELECT count(*), coalesce(max(dim), 0) FROM embeddings WHERE dataset_id = ? AND model = ?",
                        [dataset_id, model],
                    ).fetchall()[0]  # fetchall: a half-read result would block the next statement
                    # Streamed in record batches into one preallocated matrix: peak memory stays near the
                    # matrix itself instead of matrix + Arrow table + copy. No ORDER BY (a sort would
                    # materialise every vector again); rows are written in id order anyway.
                    ids = np.empty(shape[0], dtype=np.int64)
                    vectors = np.empty((shape[0], shape[1]), dtype=np.float32)
                    reader = cur.sql(
                        "SELECT sample_id, vector FROM embeddings WHERE dataset_id = ? AND model = ?",
                        params=[dataset_id, model],
                    ).to_arrow_reader(batch_size=8192)
                    filled = 0
                    for batch in reader:
                        m = batch.num_rows
                        ids[filled : filled + m] = batch.column(0).to_numpy()
                        flat = batch.column(1).flatten().to_numpy(zero_copy_only=False)
                        vectors[filled : filled + m] = flat.reshape(m, -1)
                        filled += m
                finally:
                    cur.execute("COMMIT")
            if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):
                order = np.argsort(ids, kind="stable")
                ids, vectors = ids[order], vectors[order]
            index = VectorIndex(ids, vectors, model)
            self._indexes.pop(key, None)
            while len(self._indexes) >= MAX_INDEXES:
                self._indexes.pop(next(iter(self._indexes)))
            self._indexes[key] = (len(ids), index)
            for derived_key in [k for k in self._derived if k[:2] == key]:
                del self._derived[derived_key]
            log.info(
                "loaded %d vectors of dataset %d (%s) in %.3f s",
                len(ids),
                dataset_id,
                model,
                time.perf_counter() - started,
            )
            return index

    def _embedded_index(self, dataset_id: int) -> VectorIndex:
        index = self.index(dataset_id)
        if len(index) == 0:
            raise NotEmbedded(
                f"dataset {dataset_id} has no embeddings for model {self.model_name}; "
                f"POST /datasets/{dataset_id}/embeddings first"
            )
        return index

    def _require_dataset(self, dataset_id: int) -> None:
        with self._db.cursor() as cur:
            if cur.execute("SELECT 1 FROM datasets WHERE id = ?", [dataset_id]).fetchone() is None:
                raise NotFound(f"dataset {dataset_id} not found")

    # -- queries --------------------------------------------------------------------------------------------
    def similar_to_sample(self, sample_id: int, k: int) -> list[dict[str, Any]]:
        with self._db.cursor() as cur:
            row = cur.execute("SELECT dataset_id FROM samples WHERE id = ?", [sample_id]).fetchone()
        if row is None:
            raise NotFound(f"sample {sample_id} not found")
        index = self._embedded_index(int(row[0]))
        pos = index.position(sample_id)
        if pos is None:
            raise NotEmbedded(
                f"sample {sample_id} has no embedding for model {index.model} (unreadable image, or added "
                f"after the last run); POST /datasets/{row[0]}/embeddings"
            )
        return _hits(index.top_k(index.vectors[pos], k, exclude=pos))

    def similar_to_image(self, dataset_id: int, data: bytes, k: int, name: str = "the upload") -> list[dict[str, Any]]:
        self._require_dataset(dataset_id)
        pixels = decode_bytes(data, name=name)  # before the index: a bad upload is the client's error either way
        index = self._embedded_index(dataset_id)
        query = self.encoder().embed(pixels[None])[0]
        return _hits(index.top_k(query, k))

    def duplicate_groups(self, dataset_id: int, threshold: float) -> tuple[VectorIndex, list[list[int]]]:
        """The index and its near-duplicate groups at the threshold (cached until the vectors change)."""
        self._require_dataset(dataset_id)
        index = self._embedded_index(dataset_id)
        key = (dataset_id, index.model, f"duplicates:{threshold!r}")
        groups = self._derived.get(key)
        if groups is None or groups[0] is not index:
            started = time.perf_counter()
            groups = (index, index.duplicate_groups(threshold))
            log.info(
                "near-duplicates of dataset %d at %.3f over %d vectors in %.2f s",
                dataset_id,
                threshold,
                len(index),
                time.perf_counter() - started,
            )
            self._remember(key, groups)
        return groups

    def duplicates(self, dataset_id: int, threshold: float) -> dict[str, Any]:
        index, groups = self.duplicate_groups(dataset_id, threshold)
        return {
            "model": index.model,
            "threshold": threshold,
            "samples": len(index),
            "groups": [{"sample_ids": g, "size": len(g)} for g in groups],
        }

    def projection(self, dataset_id: int, method: str = "pca") -> dict[str, Any]:
        """Columnar 2-D coordinates: `ids` (int64, ascending), `x`, `y` (float32) of every embedded sample.

        Read from the `projections` table, where the embedding job (PCA) or the map job (t-SNE) stored them
        for the vectors they came from; the vectors themselves are not loaded (at 100K x 1280 that is 0.5 GB
        and most of a minute). Only a PCA missing from the table (vectors written by another path) is
        computed here, once, and stored.
        """
        self._require_dataset(dataset_id)
        model = self.model_name
        with self._db.cursor() as cur:
            count = cur.execute(
                "SELECT count(*) FROM embeddings WHERE dataset_id = ? AND model = ?", [dataset_id, model]
            ).fetchone()[0]
        if count == 0:
            self._embedded_index(dataset_id)  # raises NotEmbedded with what to do
        key = (dataset_id, model, f"projection:{method}")
        cached = self._derived.get(key)
        if cached is None or cached[0] != count:
            stored = self._stored_projection(dataset_id, model, method, count)
            running = [
                j
                for j in self._active_jobs(dataset_id)
                if j["kind"] == PROJECTION_JOB_KIND and self._map_methods.get(j["id"]) == method
            ]
            if stored is None and method == "pca" and not running:
                index = self.index(dataset_id, model)
                self._store_projection(dataset_id, index, method, index.projection())
                stored = self._stored_projection(dataset_id, model, method, len(index))
            if stored is None:
                raise NotEmbedded(
                    f"dataset {dataset_id} has no {method} map of its {count} current vectors"
                    + (
                        "; its job is running"
                        if running
                        else f"; POST /datasets/{dataset_id}/projection?method={method}"
                    )
                )
            cached = (count, stored)
            self._remember(key, cached)
        ids, x, y = cached[1]
        return {"model": model, "method": method, "ids": ids, "x": x, "y": y}

    def _stored_projection(
        self, dataset_id: int, model: str, method: str, vectors: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        with self._db.cursor() as cur:
            stored = cur.execute(
                "SELECT sample_id, x, y FROM projections WHERE dataset_id = ? AND model = ? AND method = ? "
                "AND vectors = ? ORDER BY sample_id",
                [dataset_id, model, method, vectors],
            ).fetchnumpy()
        if len(stored["sample_id"]) == 0:
            return None
        return (
            np.asarray(stored["sample_id"], dtype=np.int64),
            np.asarray(stored["x"], dtype=np.float32),
            np.asarray(stored["y"], dtype=np.float32),
        )

    def _store_projection(self, dataset_id: int, index: VectorIndex, method: str, coords: np.ndarray) -> None:
        """Replace the dataset's map of this model and method, tagged with the vector count it came from."""
        table = pa.table(
            {
                "sample_id": pa.array(index.ids),
                "x": pa.array(np.ascontiguousarray(coords[:, 0], dtype=np.float32)),
                "y": pa.array(np.ascontiguousarray(coords[:, 1], dtype=np.float32)),
            }
        )
        with self._db.write() as cur:
            cur.execute(
                "DELETE FROM projections WHERE dataset_id = ? AND model = ? AND method = ?",
                [dataset_id, index.model, method],
            )
            cur.register("_coords", table)
            try:
                cur.execute(
                    "INSERT INTO projections SELECT ?, ?, ?, ?, c.sample_id, c.x, c.y FROM _coords c "
                    "WHERE EXISTS (SELECT 1 FROM samples s WHERE s.id = c.sample_id AND s.dataset_id = ?)",
                    [dataset_id, index.model, method, len(index), dataset_id],
                )
            finally:
                cur.unregister("_coords")

    def resume_maps(self) -> list[str]:
        """At startup: queue a PCA job for every dataset whose vectors have no stored map (vectors written
        before maps were stored, or by a run cut off before its end), so the map's first request is a read."""
        with self._db.cursor() as cur:
            stale = cur.execute(
                "SELECT e.dataset_id, e.model FROM embeddings e GROUP BY e.dataset_id, e.model "
                "HAVING count(*) <> coalesce((SELECT max(p.vectors) FROM projections p WHERE p.dataset_id = "
                "e.dataset_id AND p.model = e.model AND p.method = 'pca'), -1) ORDER BY e.dataset_id"
            ).fetchall()
        started = []
        for dataset_id, model in stale:
            job = self._jobs.submit(
                PROJECTION_JOB_KIND,
                lambda ctx, d=dataset_id, m=model: self._run_projection(ctx, d, "pca", m),
                dataset_id=dataset_id,
                params={"method": "pca", "model": model},
            )
            self._job_ids.add(job.id)
            self._map_methods[job.id] = "pca"
            started.append(job.id)
        return started

    def start_projection(self, dataset_id: int, method: str) -> str:
        """Queue the job computing the non-linear map of the current vectors (or return the one queued)."""
        self._require_dataset(dataset_id)
        self._embedded_index(dataset_id)
        with self._start_lock:
            for job in self._active_jobs(dataset_id):
                if job["kind"] == PROJECTION_JOB_KIND and self._map_methods.get(job["id"]) == method:
                    return job["id"]
            job = self._jobs.submit(
                PROJECTION_JOB_KIND,
                lambda ctx: self._run_projection(ctx, dataset_id, method),
                dataset_id=dataset_id,
                params={"method": method},
            )
            self._job_ids.add(job.id)
            self._map_methods[job.id] = method
            return job.id

    def _run_projection(
        self, ctx: JobContext, dataset_id: int, method: str, model: str | None = None
    ) -> dict[str, Any]:
        index = self.index(dataset_id, model)
        if len(index) == 0:
            raise JobFailed(f"dataset {dataset_id} has no embeddings; POST /datasets/{dataset_id}/embeddings first")
        started = time.perf_counter()
        ctx.progress(0, 1, f"{method} of {len(index)} vectors")

        def progress(done: int, total: int) -> None:
            if self._stopping.is_set():
                raise JobCancelled()
            ctx.progress(done, total, f"{method}: iteration {done} of {total}")

        coords = tsne(index.vectors, progress, threads=self._threads) if method == "tsne" else index.projection()
        self._store_projection(dataset_id, index, method, coords)
        return {
            "model": index.model,
            "method": method,
            "points": len(index),
            "seconds": round(time.perf_counter() - started, 3),
        }

    def _remember(self, key: tuple[int, str, str], value: Any) -> None:
        with self._index_lock:
            self._derived.pop(key, None)
            while len(self._derived) >= MAX_DERIVED:
                self._derived.pop(next(iter(self._derived)))
            self._derived[key] = value

    def status(self, dataset_id: int) -> dict[str, Any]:
        self._require_dataset(dataset_id)
        with self._db.cursor() as cur:
            samples = cur.execute("SELECT count(*) FROM samples WHERE dataset_id = ?", [dataset_id]).fetchone()[0]
            models = cur.execute(
                "SELECT model, any_value(dim), count(*) FROM embeddings WHERE dataset_id = ? GROUP BY model "
                "ORDER BY model",
                [dataset_id],
            ).fetchall()
        return {
            "dataset_id": dataset_id,
            "model": self.model_name,
            "samples": int(samples),
            "models": [{"model": m, "dim": int(d), "vectors": int(c)} for m, d, c in models],
            "jobs": self._active_jobs(dataset_id),
        }


# Decoding failures (the file is there but is not a usable picture); every other reason is a skip.
FAILURES = frozenset({"undecodable"})


def _reason(error: Exception) -> str:
    if isinstance(error, ImageUnreadable):
        return "undecodable"
    if isinstance(error, PathNotAllowed):
        return "outside_data_roots"
    if isinstance(error, FileMissing):
        return "missing"
    return "not_a_regular_file"


def _tally(embedded: int, problems: list[tuple[int, str, str]], total: int) -> str:
    failed = sum(1 for p in problems if p[1] in FAILURES)
    return f"embedded {embedded}, skipped {len(problems) - failed}, failed {failed} of {total}"


def _hits(pairs: list[tuple[int, float]]) -> list[dict[str, Any]]:
    return [{"sample_id": sid, "score": round(score, 6)} for sid, score in pairs]
