"""DuckDB ownership: one connection per process, one cursor per unit of work, CHECKPOINT on close.

DuckDB allows one writing process per file. Inside the process every request thread and background job
takes its own cursor (a connection sharing the same database instance) through `Database.cursor()`;
writes additionally go through `Database.write()`, which serialises writers so optimistic-concurrency
conflicts never reach users. `close()` refuses new work, lets running work finish (bounded), interrupts
what is still running, then CHECKPOINTs and closes: the WAL is folded into the file and removed.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from app.errors import Unavailable
from app.schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)


# Bounded waits at close: work that outlived uvicorn's graceful drain gets this long to finish, then it is
# interrupted and gets INTERRUPT_SECONDS to unwind. Both count against the stop budget (see README).
SETTLE_SECONDS = 3.0
INTERRUPT_SECONDS = 2.0


_GENERATIONS = itertools.count(1)


class DatabaseClosed(Unavailable):
    """The database is shutting down or not open; callers map this to 503."""


class Database:
    def __init__(self, path: Path, config: dict[str, str] | None = None) -> None:
        self.path = path
        self._config = {k: v for k, v in (config or {}).items() if v}
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._state = threading.Condition()
        self._active: set[duckdb.DuckDBPyConnection] = set()
        self._closing = False
        self._write_lock = threading.RLock()
        self.schema_version = 0
        # Moves at every committed write transaction (and at open): a cache of something read from the
        # database is valid while this has not moved (app/services/samples.py keeps the order of a filtered,
        # sorted query by it). Drawn from one process-wide counter, so no two databases share a value.
        self.generation = next(_GENERATIONS)
        # Called with the seconds of every CHECKPOINT this process asks for (metrics observe it).
        self.on_checkpoint: Callable[[float], None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        wal = self.wal_path
        replaying = wal.exists()
        started = time.perf_counter()
        self._conn = duckdb.connect(str(self.path), config=self._config)
        self.generation = next(_GENERATIONS)
        if replaying:
            log.info("replayed write-ahead log %s in %.3f s", wal, time.perf_counter() - started)
        self._migrate()

    @property
    def wal_path(self) -> Path:
        return self.path.with_name(self.path.name + ".wal")

    @property
    def is_open(self) -> bool:
        return self._conn is not None and not self._closing

    @property
    def is_current(self) -> bool:
        return self.is_open and self.schema_version == SCHEMA_VERSION

    def _migrate(self) -> None:
        assert self._conn is not None
        conn = self._conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        # fetchall, not fetchone: a result left half-read keeps its transaction open on the process-wide
        # connection, and an open transaction older than later writes makes every CHECKPOINT (backups)
        # fail with "other write transactions active" until the server restarts.
        rows = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()
        current = int(rows[0][0]) if rows else 0
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"database {self.path} has schema version {current}, newer than this release "
                f"({SCHEMA_VERSION}); refusing to open it with older code"
            )
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            conn.execute("BEGIN TRANSACTION")
            try:
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (?, now())", [version])
                conn.execute("COMMIT")
            except Exception:
                conn.execute("ROLLBACK")
                raise
            log.info("applied schema migration %d", version)
            current = version
        self.schema_version = current

    def close(self, wait_seconds: float = SETTLE_SECONDS) -> float | None:
        """Stop accepting work, settle running work, CHECKPOINT and close. Returns checkpoint seconds."""
        if self._conn is None:
            return None
        with self._state:
            self._closing = True
            deadline = time.monotonic() + wait_seconds
            while self._active and time.monotonic() < deadline:
                self._state.wait(timeout=max(0.0, deadline - time.monotonic()))
            stragglers = list(self._active)
        for cursor in stragglers:
            log.warning("interrupting a query still running at shutdown")
            try:
                cursor.interrupt()
            except duckdb.Error:
                pass
        with self._state:
            deadline = time.monotonic() + INTERRUPT_SECONDS
            while self._active and time.monotonic() < deadline:
                self._state.wait(timeout=max(0.0, deadline - time.monotonic()))
        conn = self._conn
        started = time.perf_counter()
        try:
            conn.execute("CHECKPOINT")
        except duckdb.Error as error:
            # A transaction is still open somewhere (a thread we could not stop): FORCE aborts it; its
            # work was never acknowledged, everything committed is kept.
            log.warning("CHECKPOINT failed (%s); running FORCE CHECKPOINT", error)
            conn.execute("FORCE CHECKPOINT")
        elapsed = time.perf_counter() - started
        log.info("checkpoint completed in %.3f s", elapsed)
        self._observe_checkpoint(elapsed)
        conn.close()
        self._conn = None
        return elapsed

    def _observe_checkpoint(self, seconds: float) -> None:
        if self.on_checkpoint is not None:
            try:
                self.on_checkpoint(seconds)
            except Exception:  # noqa: BLE001 - an observer must never break a checkpoint
                log.exception("checkpoint observer failed")

    @contextmanager
    def quiesced(self) -> Iterator[float]:
        """Hold off every writer, CHECKPOINT, and yield the checkpoint seconds.

        While inside, the database file is complete (the WAL is folded in) and does not change: no
        writer can commit and DuckDB only writes the file at a checkpoint. Readers are not blocked.
        Every write acknowledged before this is entered is in the file (writers hold the same lock
        until their COMMIT returns).
        """
        with self._write_lock, self.cursor() as cur:
            started = time.perf_counter()
            try:
                cur.execute("CHECKPOINT")
            except duckdb.Error as error:
                raise Unavailable(f"CHECKPOINT of {self.path} failed: {error}") from None
            elapsed = time.perf_counter() - started
            self._observe_checkpoint(elapsed)
            wal = self.wal_path
            if wal.exists() and wal.stat().st_size > 0:
                raise Unavailable(f"CHECKPOINT left {wal} non-empty; the database file is not complete")
            yield elapsed

    # -- work ------------------------------------------------------------------------------------------
    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._state:
            if self._conn is None or self._closing:
                raise DatabaseClosed("the database is not open (starting up or shutting down)")
            cur = self._conn.cursor()
            self._active.add(cur)
        try:
            yield cur
        finally:
            try:
                cur.close()
            finally:
                with self._state:
                    self._active.discard(cur)
                    self._state.notify_all()

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction, serialised with every other writer; commits on success."""
        with self._write_lock, self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:  # already aborted (e.g. interrupted): nothing left to undo
                    pass
                raise
            try:
                cur.execute("COMMIT")
            finally:  # a failed COMMIT may still have changed something: count it too
                self.generation = next(_GENERATIONS)
