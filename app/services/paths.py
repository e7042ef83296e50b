"""Path confinement: nothing outside `data_roots` is ever read or served.

Every file named by a user or by a dataset (annotation files, label files, image headers at import,
plugin pixels, thumbnails, the original as served, embeddings) is opened here and nowhere else
(tests/api/test_ingest_confinement.py scans `app/` and `plugins/` for a bypass). Paths are resolved
(symlinks included) before the check, so `..`, absolute paths and symlinks that leave a root are all
refused, and the file is opened by its resolved name with O_NOFOLLOW so a symlink swapped in between
cannot redirect the read. Only regular files are opened: a FIFO or a device would block or never end,
so the mode is checked with `stat` first (and again with `fstat` on the open descriptor).

Messages read `<file>: <what> (<entry>)`, where the caller passes the entry (e.g. "image 42").
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from app.errors import Forbidden, Invalid, NotFound

# Long names are shortened in messages: a 5,000-character path must not become a 5,000-character reply.
SHOWN_CHARS = 160


class PathNotAllowed(Forbidden):
    """The path resolves outside every data root (403)."""


class FileMissing(NotFound):
    """Nothing at that path (404)."""


class FileUnusable(Invalid):
    """Something is at that path, but not a readable regular file, or the name is unusable (422)."""


def shown(path: str | Path) -> str:
    text = str(path)
    return text if len(text) <= SHOWN_CHARS else f"{text[:60]}...{text[-60:]} ({len(text)} characters)"


def _suffix(entry: str | None) -> str:
    return f" ({entry})" if entry else ""


def _os_error(path: str | Path, error: OSError, entry: str | None) -> Exception:
    """The confinement error for an OSError raised while looking at `path`."""
    where = f"{shown(path)}: "
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return FileMissing(f"{where}file not found at this path{_suffix(entry)}")
    if error.errno == errno.ENAMETOOLONG:
        return FileUnusable(f"{where}the file name is too long for the file system{_suffix(entry)}")
    if error.errno in (errno.EACCES, errno.EPERM):
        return FileUnusable(f"{where}permission denied{_suffix(entry)}")
    if error.errno == errno.ELOOP:
        return FileUnusable(f"{where}too many levels of symbolic links{_suffix(entry)}")
    return FileUnusable(f"{where}cannot be read: {error.strerror or error}{_suffix(entry)}")


def is_utf8_name(name: str) -> bool:
    """False for a name whose bytes are not UTF-8 (Python holds them as lone surrogates): such a file can be
    neither stored (the database holds text) nor named in a JSON reply, so listings and imports leave it out."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _resolve(path: Path, entry: str | None = None) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop on Python < 3.13
        raise _os_error(path, error if isinstance(error, OSError) else OSError(errno.ELOOP, ""), entry) from None


def _is_symlink(path: Path) -> bool:
    try:
        return path.is_symlink()
    except (OSError, ValueError):
        return False


def resolve_in_roots(raw: str | Path, roots: list[Path]) -> Path:
    """Resolve `raw` (absolute, or relative to a data root) and require it to stay inside a root."""
    text = str(raw).strip()
    if not text:
        raise PathNotAllowed("an empty path is not allowed")
    if "\x00" in text:
        raise FileUnusable(f"{shown(text)}: a path cannot contain a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FileUnusable(f"{shown(text.encode('utf-8', 'replace').decode())}: not a valid file name") from None
    try:
        candidate = Path(text).expanduser()
    except RuntimeError:  # `~name` of no such user (or no home directory): a name like any other, not a 500
        candidate = Path(text)

    def missing(p: Path) -> bool:
        try:
            return not p.exists()
        except (OSError, ValueError):
            return True

    if candidate.is_absolute():
        candidates = [candidate]
    else:
        candidates = [root / candidate for root in roots]
        # Prefer the root where the path exists; otherwise report against the first root.
        candidates.sort(key=missing)
    for path in candidates:
        resolved = _resolve(path)
        if is_inside(resolved, roots):
            return resolved
        if not missing(path) or _is_symlink(path):
            # It exists in this root and leads out of the roots: refuse rather than fall back to a
            # not-yet-existing namesake in another root (which would answer 404 for an escape).
            break
    listed = ", ".join(str(r) for r in roots) or "(none configured)"
    raise PathNotAllowed(
        f"{shown(text)}: resolves outside the allowed data roots ({listed}); "
        "set DATAVISOR_DATA_ROOTS to allow another directory"
    )


def confine(path: str | Path, roots: list[Path], entry: str | None = None) -> Path:
    """The resolved path (symlinks followed) if it lies inside a data root, else PathNotAllowed."""
    resolved = _resolve(Path(path), entry)
    if not is_inside(resolved, roots):
        raise PathNotAllowed(f"{shown(path)}: resolves outside the allowed data roots{_suffix(entry)}")
    return resolved


# Kept for callers that re-check a stored path at serve time.
resolve_file_in_roots = confine


def regular_file(path: str | Path, roots: list[Path], entry: str | None = None) -> tuple[Path, os.stat_result]:
    """Confine, then `stat` (never open) and require a regular file: no FIFO, device, socket or folder."""
    resolved = confine(path, roots, entry)
    try:
        info = os.stat(resolved)
    except OSError as error:
        raise _os_error(path, error, entry) from None
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a folder"
            if stat.S_ISDIR(info.st_mode)
            else "a FIFO (named pipe)"
            if stat.S_ISFIFO(info.st_mode)
            else "a device"
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket"
            if stat.S_ISSOCK(info.st_mode)
            else "not a regular file"
        )
        raise FileUnusable(f"{shown(path)}: is {kind}, not a regular file{_suffix(entry)}")
    return resolved, info


def kind_of(path: Path) -> str:
    """'dir', 'file' or 'other' for an already confined path (stat only); missing -> FileMissing."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise _os_error(path, error, None) from None
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def open_file(path: str | Path, roots: list[Path], entry: str | None = None) -> BinaryIO:
    """Open a user- or dataset-named file for reading, confined to the data roots."""
    resolved, _ = regular_file(path, roots, entry)
    try:
        # O_NONBLOCK: a FIFO swapped in after the stat must not hang the open; O_NOFOLLOW: nor a symlink.
        fd = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        if error.errno == errno.ELOOP:  # the resolved name became a symlink since: re-resolve once
            raise PathNotAllowed(f"{shown(path)}: changed into a symbolic link while being opened") from None
        raise _os_error(path, error, entry) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileUnusable(f"{shown(path)}: is not a regular file{_suffix(entry)}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_bytes(path: str | Path, roots: list[Path], entry: str | None = None) -> bytes:
    with open_file(path, roots, entry) as handle:
        return handle.read()


def read_text(path: str | Path, roots: list[Path], entry: str | None = None) -> str:
    """UTF-8 text (a BOM is dropped); bytes that are not UTF-8 name the file and the line."""
    data = read_bytes(path, roots, entry)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise FileUnusable(
            f"{Path(path).name}: not UTF-8 text (line {line}, byte {error.start}); is it an image or binary file?"
        ) from None
