"""Backups of the DuckDB file, taken inside the process that owns it.

DuckDB allows one read-write process per file, and a copy made from outside while the server runs can
catch the file between checkpoints (half of it in the WAL). So the server itself takes the copy:
`Database.quiesced()` holds off writers, CHECKPOINTs (the WAL is folded into the file) and, while the
file cannot change, it is copied to a temporary name in the destination, fsynced, opened read-only
once as a check and renamed into place. Readers are never blocked; writers wait for the copy only.

Guarantee: every write acknowledged before the backup was requested is in the backup (writers hold
the write lock until their COMMIT returns, and the backup takes that lock before it checkpoints).

Names are `datavisor-<UTC timestamp>[-<label>].duckdb`, so a listing sorts oldest first; `keep`
prunes the oldest of those with the same label in the same directory, nothing else.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from app import __version__
from app.db import Database
from app.errors import Invalid, Unavailable

log = logging.getLogger(__name__)

PREFIX = "datavisor-"
SUFFIX = ".duckdb"
_LABEL = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")
_NAME = re.compile(rf"{PREFIX}(\d{{8}}T\d{{6}}\.\d{{6}}Z)(?:-([a-z0-9._-]+))?{re.escape(SUFFIX)}")


class BackupFailed(Unavailable):
    """The copy could not be made (disk full, destination not writable, database closing)."""


@dataclass
class BackupResult:
    path: str
    bytes: int
    seconds: float
    checkpoint_seconds: float
    writers_paused_seconds: float
    schema_version: int
    version: str
    created_at: str
    pruned: list[str] = field(default_factory=list)

    def public(self) -> dict[str, object]:
        return asdict(self)


def backup_name(now: datetime, label: str | None) -> str:
    stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{PREFIX}{stamp}-{label}{SUFFIX}" if label else f"{PREFIX}{stamp}{SUFFIX}"


def list_backups(dest: Path, label: str | None = None) -> list[Path]:
    """Backups in `dest` carrying `label` (None: unlabelled ones), oldest first."""
    if not dest.is_dir():
        return []
    found = []
    for entry in dest.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match and match.group(2) == label and entry.is_file():
            found.append((match.group(1), entry))
    return [path for _, path in sorted(found)]


def prune(dest: Path, keep: int, label: str | None = None) -> list[Path]:
    """Delete all but the `keep` newest backups with `label` in `dest`; returns what was deleted."""
    if keep < 1:
        raise Invalid(f"keep must be at least 1 (got {keep})")
    doomed = list_backups(dest, label)[:-keep]
    for path in doomed:
        path.unlink(missing_ok=True)
        log.info("pruned backup %s", path)
    return doomed


def check_backup(path: Path) -> int:
    """Open a backup read-only and return its schema version (raises if DuckDB cannot read it)."""
    conn = duckdb.connect(str(path), read_only=True)
    try:
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    finally:
        conn.close()
    return int(row[0]) if row else 0


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def take_backup(db: Database, dest: Path, keep: int | None = None, label: str | None = None) -> BackupResult:
    """Write a consistent copy of `db` into `dest` (created 0750 if missing), then prune to `keep`."""
    if label is not None and not _LABEL.fullmatch(label):
        raise Invalid(f"backup label {label!r}: use 1-40 of a-z, 0-9, '.', '_', '-' (starting with a letter or digit)")
    if keep is not None and keep < 1:
        raise Invalid(f"keep must be at least 1 (got {keep})")
    dest = dest.expanduser().absolute()
    if dest.resolve() == db.path.parent.resolve():
        raise Invalid(f"backup destination {dest} is the state directory itself; use a subdirectory")
    try:
        dest.mkdir(mode=0o750, parents=True, exist_ok=True)
    except OSError as error:
        raise BackupFailed(f"cannot create backup directory {dest}: {error.strerror}") from None
    now = datetime.now(UTC)
    final = dest / backup_name(now, label)
    temp = dest / f".{final.name}.tmp"
    started = time.perf_counter()
    try:
        with db.quiesced() as checkpoint_seconds:
            paused = time.perf_counter()
            with open(db.path, "rb") as src, open(temp, "wb") as out:
                shutil.copyfileobj(src, out, 8 * 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            writers_paused = time.perf_counter() - paused + checkpoint_seconds
            if not db.is_open:
                # Shutdown began meanwhile and its CHECKPOINT does not wait for this copy.
                raise BackupFailed("the server began shutting down during the backup; the copy was discarded")
        os.chmod(temp, 0o640)
        schema_version = check_backup(temp)
        os.replace(temp, final)
        _fsync_dir(dest)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise BackupFailed(f"backup to {final} failed: {error.strerror or error}") from None
    except duckdb.Error as error:
        temp.unlink(missing_ok=True)
        raise BackupFailed(f"backup copy {temp} does not open in DuckDB: {error}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    pruned = prune(dest, keep, label) if keep else []
    result = BackupResult(
        path=str(final),
        bytes=final.stat().st_size,
        seconds=round(time.perf_counter() - started, 4),
        checkpoint_seconds=round(checkpoint_seconds, 4),
        writers_paused_seconds=round(writers_paused, 4),
        schema_version=schema_version,
        version=__version__,
        created_at=now.isoformat(),
        pruned=[str(path) for path in pruned],
    )
    log.info(
        "backup %s: %d bytes in %.3f s (writers paused %.3f s)",
        final,
        result.bytes,
        result.seconds,
        result.writers_paused_seconds,
    )
    return result
