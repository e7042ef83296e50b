"""Path confinement: nothing outside `data_roots` is ever read or served.

Paths are resolved (symlinks included) before the check, so `..`, absolute paths and symlinks that
leave a root are all refused. Relative paths are taken relative to a data root.
"""

from __future__ import annotations

from pathlib import Path

from app.errors import Forbidden


class PathNotAllowed(Forbidden):
    """The path resolves outside every data root; routers map it to 403."""


def is_inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def resolve_in_roots(raw: str | Path, roots: list[Path]) -> Path:
    """Resolve `raw` (absolute, or relative to a data root) and require it to stay inside a root."""
    text = str(raw).strip()
    if not text:
        raise PathNotAllowed("an empty path is not allowed")
    candidate = Path(text).expanduser()
    if candidate.is_absolute():
        candidates = [candidate]
    else:
        candidates = [root / candidate for root in roots]
        # Prefer the root where the path exists; otherwise report against the first root.
        candidates.sort(key=lambda p: not p.exists())
    for path in candidates:
        resolved = path.resolve()
        if is_inside(resolved, roots):
            return resolved
        if path.is_symlink() or path.exists():
            # It exists in this root and leads out of the roots: refuse rather than fall back to a
            # not-yet-existing namesake in another root (which would answer 404 for an escape).
            break
    shown = ", ".join(str(r) for r in roots) or "(none configured)"
    raise PathNotAllowed(
        f"path {text!r} resolves outside the allowed data roots ({shown}); "
        "set DATAVISOR_DATA_ROOTS to allow another directory"
    )


def resolve_file_in_roots(path: Path, roots: list[Path]) -> Path:
    """Resolve a stored image path again at serve time (a symlink may have been swapped since)."""
    resolved = path.resolve()
    if not is_inside(resolved, roots):
        raise PathNotAllowed(f"{path} resolves outside the allowed data roots")
    return resolved
