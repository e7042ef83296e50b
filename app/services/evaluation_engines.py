"""The evaluation engine's state behind stored results: kept in memory for the last computations, and on disk
next to the database so that the first evaluation read after a restart is an incremental update too.

An edit of ground truth makes the stored results of a (run, IoU) stale for the edited sample; the next read
re-matches only the stale images when it has the engine state that produced the stored results
(app/services/evaluation_store.py). In memory that state lasts as long as the process. On disk
(`<state dir>/eval-engines/`) it is written after a full evaluation and again once enough edits have piled
up on it, with the edit-history id it is current at (`mark`): after a restart, the images edited since that
mark are re-matched from their ground truth as it is now, which gives exactly the state the stored results
came from (matching is per image). A file that does not fit (another run version, other categories,
unreadable, another format) is ignored: the read evaluates everything, as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.db import Database

if TYPE_CHECKING:
    from app.services import evaluation as ev
    from app.services.evaluation_arrow import DatasetData
    from app.services.evaluation_store import RunResults

log = logging.getLogger(__name__)

CACHE_ENTRIES = 2  # engine states kept in memory (~450 MB each at 1M boxes + 1M predictions)
DISK_ENTRIES = 4  # engine states kept on disk (the most recently written)
# a state on disk is rewritten once this many samples were edited since it was written: a restart then
# re-matches at most about this many images
REWRITE_AFTER = 500
FORMAT = 2  # of the files; another value is ignored

Key = tuple[int, str, float]


@dataclass
class Engine:
    """The state behind stored results; `token` says which stored results it produced, `mark` the last
    edit-history id its ground truth includes, `saved_mark` the mark of its copy on disk (None: none)."""

    token: tuple[Any, Any]
    data: DatasetData
    dt: ev.Predictions
    results: RunResults
    mark: int = 0
    saved_mark: int | None = None


_engines: OrderedDict[Key, Engine] = OrderedDict()
_engines_lock = threading.Lock()


def remember(key: Key, engine: Engine) -> None:
    with _engines_lock:
        _engines[key] = engine
        _engines.move_to_end(key)
        while len(_engines) > CACHE_ENTRIES:
            _engines.popitem(last=False)


def forget(key: Key) -> None:
    with _engines_lock:
        _engines.pop(key, None)


def recall(key: Key) -> Engine | None:
    with _engines_lock:
        return _engines.get(key)


def clear_memory() -> None:
    """Forget every state in memory (what a restart does; bench/edit_eval.py)."""
    with _engines_lock:
        _engines.clear()


# -- on disk ---------------------------------------------------------------------------------------------
def _directory(db: Database) -> Path:
    return db.path.parent / "eval-engines"


def _run_digest(run: str) -> str:  # run names are free text: not file names
    return hashlib.sha256(run.encode()).hexdigest()[:24]


def _path(db: Database, key: Key) -> Path:
    dataset_id, run, iou = key
    return _directory(db) / f"{dataset_id}-{_run_digest(run)}-{iou!r}.pickle"


def save(db: Database, key: Key, engine: Engine, lock: threading.Lock) -> threading.Thread:
    """Write `engine` to disk in the background, unless it is no longer the one in memory for `key`.

    `lock` is the one held by whoever updates engine states in place: it is held only while the state is
    copied out (pickle protocol 5, the arrays' bytes out of band: about a memory copy), never while the
    ~0.5 GB are written, so an evaluation read waits at most that copy."""

    def write() -> None:
        with lock:
            if recall(key) is not engine:
                return
            chunks: list[pickle.PickleBuffer] = []
            head = pickle.dumps((FORMAT, key, engine.token[0], engine), protocol=5, buffer_callback=chunks.append)
            buffers = [bytes(chunk.raw()) for chunk in chunks]  # copied: the engine may change once released
            mark = engine.mark
        path = _path(db, key)
        tmp = path.with_suffix(f".tmp-{os.getpid()}-{threading.get_ident()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(_HEADER.pack(len(head), len(buffers)))
                f.write(b"".join(_SIZE.pack(len(b)) for b in buffers))
                f.write(head)
                for block in buffers:
                    f.write(block)
            os.replace(tmp, path)
        except OSError:
            log.exception("could not write the evaluation state %s", path)
            tmp.unlink(missing_ok=True)
            return
        engine.saved_mark = mark
        _trim(db)
        log.info("evaluation state of run %r (dataset %d, IoU %s) written to %s", key[1], key[0], key[2], path)

    thread = threading.Thread(target=write, name="eval-state-writer", daemon=True)
    thread.start()
    return thread


_HEADER = struct.Struct("<QQ")  # pickle length, number of out-of-band buffers
_SIZE = struct.Struct("<Q")


def _trim(db: Database) -> None:
    files = sorted(_directory(db).glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[DISK_ENTRIES:]:
        old.unlink(missing_ok=True)


def load(db: Database, key: Key, run_version: Any) -> Engine | None:
    """The state on disk for `key` if it was computed against this version of the run, else None."""
    path = _path(db, key)
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            n_head, n_buffers = _HEADER.unpack(f.read(_HEADER.size))
            sizes = [_SIZE.unpack(f.read(_SIZE.size))[0] for _ in range(n_buffers)]
            head = f.read(n_head)
            buffers = []
            for size in sizes:  # writable: the engine updates its arrays in place
                block = bytearray(size)
                if f.readinto(block) != size:
                    raise EOFError(f"{path} is truncated")
                buffers.append(block)
        fmt, stored_key, version, engine = pickle.loads(head, buffers=buffers)  # noqa: S301 - our own file
    except Exception:  # noqa: BLE001 - unreadable or from another release: evaluate everything instead
        log.warning("ignoring the unreadable evaluation state %s", path, exc_info=True)
        return None
    if fmt != FORMAT or tuple(stored_key) != key or version != run_version or not isinstance(engine, Engine):
        return None
    return engine


def discard(db: Database, dataset_id: int, run: str | None = None) -> None:
    """Remove the states on disk of a run (every IoU), or of the whole dataset."""
    directory = _directory(db)
    pattern = f"{dataset_id}-*.pickle" if run is None else f"{dataset_id}-{_run_digest(run)}-*.pickle"
    for path in directory.glob(pattern) if directory.is_dir() else ():
        path.unlink(missing_ok=True)
