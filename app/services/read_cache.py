"""Values read from the database, kept until the next committed write (`Database.generation`).

What the grid asks at every page or thumbnail (a dataset's runs and category names, whether it has tags, a
sample's path, a query's whole order) is read once per generation of the database instead of per request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from app.db import Database


class ReadCache:
    """Values read from the database, each valid while `Database.generation` has not moved since it was read.

    Every committed write moves the generation, so an entry is never served across an import, an edit or a
    delete; the generation is read before the value, so a write meanwhile only makes the entry stale.
    Entries are per database file; the least recently used go first beyond `max_entries`.
    """

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[tuple, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def peek(self, db: Database, key: Any) -> Any | None:
        """The value if it is here and current, else None (nothing is read)."""
        generation = db.generation
        with self._lock:
            hit = self._entries.get((str(db.path), key))
            return hit[1] if hit is not None and hit[0] == generation else None

    def get(self, db: Database, key: Any, load: Callable[[], Any]) -> Any:
        generation = db.generation
        full = (str(db.path), key)
        with self._lock:
            hit = self._entries.get(full)
            if hit is not None and hit[0] == generation:
                self._entries.move_to_end(full)
                return hit[1]
        value = load()
        with self._lock:
            self._entries[full] = (generation, value)
            self._entries.move_to_end(full)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return value


__all__ = ["ReadCache"]
