"""Background jobs (imports, embeddings, prediction runs) with progress, events and cancellation.

Jobs run one at a time on a worker thread: DuckDB has one writer, and a second CPU-bound job would
only slow the first. Progress lives in memory (cheap to update per sample) and is persisted on every
state change; listeners (server-sent events) are woken on every update. On shutdown running jobs are
asked to stop, and anything left queued or running is recorded as failed, so a restart never shows a
job as forever running.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.db import Database, DatabaseClosed

log = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
FINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED})


class JobCancelled(Exception):
    """Raised inside a job function when cancellation was requested."""


class JobFailed(Exception):
    """Raised by a job function to fail with a message meant for the user (no traceback logged)."""


@dataclass
class Job:
    id: str
    kind: str
    dataset_id: int | None = None
    state: str = QUEUED
    done: int = 0
    total: int | None = None
    message: str | None = None
    error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    version: int = 0
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "dataset_id": self.dataset_id,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "message": self.message,
            "error": self.error,
            "result": self.result,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def _text(value: str) -> str:
    """Text a JSON reply can carry: a file name that is not UTF-8 (lone surrogates) quoted in a job's error
    made every GET of the job a 500; such characters are written as `\\udcff` escapes instead."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


class JobContext:
    """What a job function sees: progress reporting and cooperative cancellation."""

    def __init__(self, manager: JobManager, job: Job) -> None:
        self._manager = manager
        self.job = job

    @property
    def cancelled(self) -> bool:
        return self.job.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.job.cancel_event.is_set():
            raise JobCancelled()

    def progress(self, done: int | None = None, total: int | None = None, message: str | None = None) -> None:
        self.check_cancelled()
        self._manager._update(self.job, done=done, total=total, message=message)


JobFunction = Callable[[JobContext], dict[str, Any] | None]


class JobManager:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Condition()
        self._queue: queue.Queue[tuple[Job, JobFunction] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._current: Job | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        with self._db.write() as cur:
            cur.execute(
                "UPDATE jobs SET state = ?, error = 'interrupted: the server stopped before the job ended', "
                "finished_at = now() WHERE state IN (?, ?)",
                [FAILED, QUEUED, RUNNING],
            )
        self._worker = threading.Thread(target=self._run, name="datavisor-jobs", daemon=True)
        self._worker.start()

    def shutdown(self, timeout: float = 3.0) -> None:
        """Cancel what is queued or running and wait (bounded) for the worker to let go of the database."""
        with self._lock:
            pending = [job for job in self._jobs.values() if job.state not in FINAL_STATES]
        for job in pending:
            job.cancel_event.set()
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.warning("job worker still busy after %.0f s; the database will interrupt it", timeout)
        for job in pending:
            if job.state not in FINAL_STATES:
                self._finish(job, FAILED, error="interrupted: the server is shutting down")

    def join(self, timeout: float) -> bool:
        """Wait for the worker thread to end (after the database closed, its next query fails fast).

        The process must not exit while the worker is inside native code (DuckDB, Arrow): Python would
        tear the thread down mid-call and the C++ runtime aborts the process.
        """
        if self._worker is None:
            return True
        self._worker.join(timeout)
        if self._worker.is_alive():
            log.error("job worker did not stop within %.0f s after the database closed", timeout)
            return False
        return True

    # -- API ---------------------------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        fn: JobFunction,
        *,
        dataset_id: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> Job:
        job = Job(id=uuid.uuid4().hex, kind=kind, dataset_id=dataset_id, params=params or {})
        with self._db.write() as cur:
            cur.execute(
                "INSERT INTO jobs (id, kind, state, dataset_id, done, total, params, created_at) "
                "VALUES (?, ?, ?, ?, 0, NULL, ?, ?)",
                [
                    job.id,
                    kind,
                    QUEUED,
                    dataset_id,
                    json.dumps(job.params),
                    job.created_at.replace(tzinfo=None),
                ],
            )
        with self._lock:
            self._jobs[job.id] = job
        self._queue.put((job, fn))
        return job

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                return job.public()
        with self._db.cursor() as cur:
            row = cur.execute(
                "SELECT id, kind, dataset_id, state, done, total, message, error, created_at, started_at, "
                "finished_at FROM jobs WHERE id = ?",
                [job_id],
            ).fetchone()
        if row is None:
            return None
        keys = ["id", "kind", "dataset_id", "state", "done", "total", "message", "error"]
        out = dict(zip(keys, row[:8], strict=True))
        out["result"] = None
        for key, value in zip(["created_at", "started_at", "finished_at"], row[8:], strict=True):
            out[key] = value.replace(tzinfo=UTC).isoformat() if value else None
        return out

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return self.get(job_id)
        if job.state not in FINAL_STATES:
            job.cancel_event.set()
            if job.state == QUEUED:
                self._finish(job, CANCELLED, message="cancelled before it started")
        return job.public()

    def active_for(self, dataset_id: int, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                job.public()
                for job in self._jobs.values()
                if job.dataset_id == dataset_id and job.state not in FINAL_STATES and (kind is None or job.kind == kind)
            ]

    def wait_for_change(self, job_id: str, seen_version: int, timeout: float) -> tuple[int, dict[str, Any]] | None:
        """Block until the job's version passes `seen_version` (or timeout); for event streams."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                job = self._jobs.get(job_id)
                if job is None:
                    return None
                if job.version > seen_version or job.state in FINAL_STATES:
                    return job.version, job.public()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return job.version, job.public()
                self._lock.wait(remaining)

    # -- internals ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job, fn = item
            if job.state in FINAL_STATES:
                continue
            self._current = job
            try:
                self._execute(job, fn)
            finally:
                self._current = None

    def _execute(self, job: Job, fn: JobFunction) -> None:
        job.started_at = datetime.now(UTC)
        self._update(job, state=RUNNING, persist=True)
        try:
            if job.cancel_event.is_set():
                raise JobCancelled()
            job.result = fn(JobContext(self, job))
        except JobCancelled:
            self._finish(job, CANCELLED, message="cancelled")
        except JobFailed as error:
            self._finish(job, FAILED, error=str(error))
        except DatabaseClosed:
            self._finish(job, FAILED, error="interrupted: the server is shutting down")
        except Exception as error:  # noqa: BLE001 - a job must never take the worker down
            if job.cancel_event.is_set():
                self._finish(job, CANCELLED, message="cancelled")
            else:
                log.exception("job %s (%s) failed", job.id, job.kind)
                self._finish(job, FAILED, error=f"{type(error).__name__}: {error}")
        else:
            self._finish(job, SUCCEEDED)

    def _finish(self, job: Job, state: str, *, message: str | None = None, error: str | None = None) -> None:
        job.finished_at = datetime.now(UTC)
        self._update(job, state=state, message=message, error=error, persist=True)

    def _update(
        self,
        job: Job,
        *,
        state: str | None = None,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
        error: str | None = None,
        persist: bool = False,
    ) -> None:
        with self._lock:
            if state is not None:
                job.state = state
            if done is not None:
                job.done = done
            if total is not None:
                job.total = total
            if message is not None:
                job.message = _text(message)
            if error is not None:
                job.error = _text(error)
            job.version += 1
            self._lock.notify_all()
        if persist:
            try:
                with self._db.write() as cur:
                    cur.execute(
                        "UPDATE jobs SET state = ?, done = ?, total = ?, message = ?, error = ?, "
                        "started_at = ?, finished_at = ? WHERE id = ?",
                        [
                            job.state,
                            job.done,
                            job.total,
                            job.message,
                            job.error,
                            job.started_at.replace(tzinfo=None) if job.started_at else None,
                            job.finished_at.replace(tzinfo=None) if job.finished_at else None,
                            job.id,
                        ],
                    )
            except DatabaseClosed:
                log.warning("job %s ended as %s after the database closed; state not persisted", job.id, job.state)
