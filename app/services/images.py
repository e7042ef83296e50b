"""Images: the original file, or a WebP thumbnail (128/256/512 px longest side) cached on disk.

Both are what the app draws boxes on, so both are in the displayed orientation (app/services/pixels.py):
an original whose EXIF orientation is not 1 (or that browsers cannot show, TIFF, or that has more than
8 bits per channel) is served as a converted copy without EXIF rotation, so the picture, its stored
width/height and its boxes agree whatever the client does with EXIF. Every read goes through
app/services/paths.py (confinement, regular files only).

The cache key is the sample id, the size and the source file's mtime and length, so an edited image
gets a new copy; files are written to a temporary name and renamed (readers never see half a file).
A source that vanished is a 404 even when a copy is cached. The same key is the thumbnail's ETag, and
the latest thumbnails are also kept in memory (`Thumbnail`): a screen of the grid asks for ~30 at once,
one worker serves them, and each one read from disk and streamed cost more than the request itself.
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from app.services import pixels
from app.services.paths import FileMissing, open_file, regular_file
from app.services.pixels import ImageUnreadable

SIZES = {"small": 128, "medium": 256, "large": 512}
WEBP_QUALITY = 80
# Formats every browser displays as they are (no conversion needed when EXIF says "as stored").
BROWSER_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
}

ImageMissing = FileMissing
__all__ = ["ImageMissing", "ImageUnreadable", "Thumbnail", "original", "thumbnail_bytes"]


def _entry(sample_id: int) -> str:
    return f"sample {sample_id}"


def _cache_target(cache_dir: Path, sample_id: int, tag: str, info: os.stat_result, ext: str) -> Path:
    return cache_dir / f"{sample_id % 1000:03d}" / f"{sample_id}-{tag}-{info.st_mtime_ns:x}-{info.st_size:x}.{ext}"


def _write_atomically(image: Image.Image, target: Path, **save: object) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, **save)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for stale in target.parent.glob(target.name.rsplit("-", 2)[0] + "-*"):  # older versions of this copy
        if stale != target and not stale.name.endswith(".tmp"):
            stale.unlink(missing_ok=True)


def original(
    path: str, roots: list[Path], sample_id: int | None = None, cache_dir: Path | None = None
) -> tuple[BinaryIO, str]:
    """The open file to send for size=original and its media type (a converted copy when needed, see above).

    The caller sends exactly the file opened and checked here (confined, regular): reopening it by name
    later would let a file swapped in between (a symlink to outside the data roots) be served instead.
    """
    entry = _entry(sample_id) if sample_id is not None else None
    resolved, info = regular_file(path, roots, entry)
    handle = open_file(resolved, roots, entry)
    try:
        with pixels.image_of(handle, path, entry) as image:
            fmt = image.format or ""
            as_is = (
                fmt in BROWSER_FORMATS and pixels.orientation(image) == 1 and image.mode not in pixels.HIGH_BIT_DEPTH
            )
        if as_is or sample_id is None or cache_dir is None:
            handle.seek(0)
            guessed = mimetypes.guess_type(resolved.name)[0]
            media_type = BROWSER_FORMATS.get(fmt) or guessed or "application/octet-stream"
            return handle, media_type
    except BaseException:
        handle.close()
        raise
    handle.close()
    out_fmt, ext = ("JPEG", "jpg") if fmt == "JPEG" else ("PNG", "png")
    target = _cache_target(cache_dir, sample_id, "original", info, ext)
    if not target.is_file():
        picture = pixels.load_rgb(resolved, roots, entry)
        save = {"format": out_fmt, "quality": 95} if out_fmt == "JPEG" else {"format": out_fmt}
        _write_atomically(picture, target, **save)
    return _open_cached(target), BROWSER_FORMATS[out_fmt]


def _open_cached(target: Path) -> BinaryIO:
    """Our own copy in the thumbnail cache (state directory), never a user-named file."""
    return target.open("rb")


def _thumbnail_file(
    sample_id: int, resolved: Path, info: os.stat_result, edge: int, roots: list[Path], cache_dir: Path
) -> Path:
    """The thumbnail's file in the cache, made now if missing, of a source already confined (`regular_file`)."""
    target = _cache_target(cache_dir, sample_id, str(edge), info, "webp")
    if not target.is_file():
        picture = pixels.load_rgb(resolved, roots, _entry(sample_id), draft=(edge, edge))
        picture.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        _write_atomically(picture, target, format="WEBP", quality=WEBP_QUALITY)
    return target


@dataclass(frozen=True)
class Thumbnail:
    body: bytes
    etag: str  # changes with the source file (its mtime and length) and the size asked for
    last_modified: float  # the source's mtime


class _Recent:
    """The most recent thumbnails' bytes, by their file in the cache (which names the sample, the size and
    the source's mtime and length), up to `max_bytes` in all."""

    def __init__(self, max_bytes: int) -> None:
        self._items: OrderedDict[Path, bytes] = OrderedDict()
        self._bytes = 0
        self._max = max_bytes
        self._lock = threading.Lock()

    def get(self, key: Path) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: Path, body: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self._bytes -= len(old) if old is not None else 0
            self._items[key] = body
            self._bytes += len(body)
            while self._bytes > self._max and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)


# ~5-20 KB a small or medium thumbnail: a few thousand of them, the screens a user scrolls back to
_RECENT = _Recent(64 * 1024 * 1024)


def thumbnail_bytes(
    sample_id: int, path: str, size: str, roots: list[Path], cache_dir: Path, make: bool = True
) -> Thumbnail | None:
    """The WebP thumbnail of a confined source file, with its validator.

    The source is confined and stat-ed at every call (a file moved, replaced by a symlink out of the roots
    or deleted is refused even when its thumbnail is in memory); only then come the bytes, from memory,
    from the disk cache, or made now. With make=False: None unless the bytes are in memory (nothing is
    read but the source's metadata).
    """
    entry = _entry(sample_id)
    resolved, info = regular_file(path, roots, entry)
    edge = SIZES[size]
    target = _cache_target(cache_dir, sample_id, str(edge), info, "webp")
    body = _RECENT.get(target)
    if body is None:
        if not make:
            return None
        with _open_cached(_thumbnail_file(sample_id, resolved, info, edge, roots, cache_dir)) as handle:
            body = handle.read()
        _RECENT.put(target, body)
    return Thumbnail(body, f'W/"{target.stem}"', info.st_mtime)
