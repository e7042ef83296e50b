"""Images: the original file, or a WebP thumbnail (128/256/512 px longest side) cached on disk.

The cache key is the sample id, the size and the source file's mtime and length, so an edited image
gets a new thumbnail; files are written to a temporary name and renamed (readers never see half a
file). A source that vanished is a 404 even when a thumbnail is cached.
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import Invalid, NotFound
from app.services.paths import resolve_file_in_roots

SIZES = {"small": 128, "medium": 256, "large": 512}
WEBP_QUALITY = 80


class ImageMissing(NotFound):
    """The file is gone (404)."""


class ImageUnreadable(Invalid):
    """The file exists but cannot be decoded (422)."""


def original(path: str, roots: list[Path]) -> tuple[Path, str]:
    resolved = _existing(path, roots)
    media_type = mimetypes.guess_type(resolved.name)[0] or "application/octet-stream"
    return resolved, media_type


def _existing(path: str, roots: list[Path]) -> Path:
    source = Path(path)
    if not source.exists():
        raise ImageMissing(f"the image file {source.name} no longer exists")
    resolved = resolve_file_in_roots(source, roots)
    if not resolved.is_file():
        raise ImageMissing(f"the image file {source.name} no longer exists")
    return resolved


def thumbnail(sample_id: int, path: str, size: str, roots: list[Path], cache_dir: Path) -> Path:
    source = _existing(path, roots)
    stat = source.stat()
    edge = SIZES[size]
    folder = cache_dir / f"{sample_id % 1000:03d}"
    target = folder / f"{sample_id}-{edge}-{stat.st_mtime_ns:x}-{stat.st_size:x}.webp"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with Image.open(source) as image:
            image.draft("RGB", (edge, edge))  # JPEG: decode at a reduced scale, much cheaper
            image = ImageOps.exif_transpose(image)
            if image.mode not in ("RGB", "RGBA"):
                image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            image.thumbnail((edge, edge), Image.Resampling.LANCZOS)
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    image.save(handle, format="WEBP", quality=WEBP_QUALITY)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    except FileNotFoundError:
        raise ImageMissing(f"the image file {source.name} no longer exists") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ImageUnreadable(f"{source.name} cannot be decoded as an image: {error}") from None
    for stale in folder.glob(f"{sample_id}-{edge}-*.webp"):  # older versions of this thumbnail
        if stale != target:
            stale.unlink(missing_ok=True)
    return target
