"""Server-side file browser for the import form: lists folders inside the data roots, nothing else.

Every requested path goes through `app.services.paths` (resolved, symlinks included, before the check),
so `..`, absolute paths and symlinks that leave the roots are refused with 403. Inside a listed folder a
symlink whose target lies outside the roots (or is dangling) is left out of the listing altogether: the
browser only offers what an import could actually read. Only folders and regular files are listed;
FIFOs, sockets and devices are skipped. Nothing is ever opened: the listing uses `scandir` and `stat`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from app.errors import Forbidden, Invalid, NotFound
from app.services.paths import is_inside, is_utf8_name, resolve_in_roots

# A folder with more entries than this is cut after sorting (dirs first, then by name) and marked
# truncated; at most SCAN_LIMIT names are read at all, so a folder of millions of files stays cheap.
MAX_ENTRIES = 5_000
SCAN_LIMIT = 200_000


class FolderNotFound(NotFound):
    pass


class NotAFolder(Invalid):
    pass


class FolderNotReadable(Forbidden):
    pass


@dataclass(frozen=True)
class Entry:
    name: str
    path: str
    kind: Literal["dir", "file"]
    size: int | None


@dataclass
class Listing:
    roots: list[str]
    path: str | None
    parent: str | None
    entries: list[Entry] = field(default_factory=list)
    truncated: bool = False


def list_folder(raw: str | None, roots: list[Path]) -> Listing:
    """The folder `raw` (absolute, or relative to a data root), or the roots themselves when None."""
    shown_roots = [str(r) for r in roots]
    if raw is None:
        entries = [Entry(root.name or str(root), str(root), "dir", None) for root in roots if root.is_dir()]
        return Listing(shown_roots, None, None, entries)
    if "\x00" in raw:
        raise Invalid(f"path {raw!r} contains a NUL byte")
    try:
        folder = resolve_in_roots(raw, roots)
        exists, is_dir = folder.exists(), folder.is_dir()
    except (OSError, RuntimeError) as error:  # a name too long for the file system; a symlink loop (3.11)
        reason = getattr(error, "strerror", None) or error
        raise FolderNotFound(f"path {raw!r} cannot be resolved: {reason}") from None
    if not exists:
        raise FolderNotFound(f"no such folder: {folder}")
    if not is_dir:
        raise NotAFolder(f"{folder} is not a folder")
    entries, truncated = _scan(folder, roots)
    parent = None if folder in roots else str(folder.parent)
    return Listing(shown_roots, str(folder), parent, entries, truncated)


def _scan(folder: Path, roots: list[Path]) -> tuple[list[Entry], bool]:
    found: list[tuple[bool, str, str, os.DirEntry[str]]] = []
    truncated = False
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if len(found) >= SCAN_LIMIT:
                    truncated = True
                    break
                kind = _kind(entry, roots) if is_utf8_name(entry.name) else None  # a 500 before
                if kind is not None:
                    found.append((kind != "dir", entry.name.casefold(), entry.name, entry))
    except PermissionError:
        raise FolderNotReadable(f"folder {folder} is not readable by the server (permission denied)") from None
    except OSError as error:
        raise FolderNotFound(f"folder {folder} cannot be listed: {error.strerror or error}") from None
    found.sort(key=lambda item: item[:3])
    if len(found) > MAX_ENTRIES:
        found, truncated = found[:MAX_ENTRIES], True
    entries = []
    for is_file, _, name, entry in found:
        size = None
        if is_file:
            try:
                size = entry.stat().st_size
            except OSError:  # vanished since the scan
                continue
        entries.append(Entry(name, str(folder / name), "file" if is_file else "dir", size))
    return entries, truncated


def _kind(entry: os.DirEntry[str], roots: list[Path]) -> Literal["dir", "file"] | None:
    """'dir' or 'file' for what may be listed; None for other types and for links leaving the roots."""
    try:
        if entry.is_symlink():
            target = Path(entry.path).resolve()
            if not target.exists() or not is_inside(target, roots):
                return None
        # DirEntry answers from d_type where it can (no stat); nothing is opened either way.
        if entry.is_dir():
            return "dir"
        if entry.is_file():
            return "file"
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError on Python 3.11), an entry removed meanwhile
        return None
    return None
