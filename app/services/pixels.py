"""Decoding user images one way everywhere: confined, EXIF orientation applied, scaled to 8 bits.

Sizes, boxes, thumbnails, the original as served, embeddings and plugin pixels all use the *displayed*
orientation (EXIF applied), the way browsers, CVAT and Ultralytics show a phone photo; `displayed_size`
reads only the header for it. High-bit-depth pictures (`I;16*`, `I`, `F`) are scaled to 8 bits by their
type's range (16-bit and `I`: 0..65535; `F`: 0..1, 0..255 or 0..65535, whichever holds the values),
never clipped: a mid-grey 16-bit PNG is mid-grey, not white.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import Invalid
from app.services.paths import open_file, shown

# EXIF orientations 5..8 swap width and height (a transpose or a 90-degree turn).
SWAPS_AXES = frozenset({5, 6, 7, 8})
HIGH_BIT_DEPTH = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


class ImageUnreadable(Invalid):
    """The file exists but is not an image PIL can decode (422); the message names the file."""


def unreadable(name: str, error: Exception, entry: str | None) -> ImageUnreadable:
    what = str(error) or type(error).__name__
    if isinstance(error, Image.DecompressionBombError):
        what = f"too many pixels to decode safely ({what})"
    elif isinstance(error, UnidentifiedImageError):
        what = "not an image file PIL can identify"
    return ImageUnreadable(f"{shown(name)}: not a readable image: {what}" + (f" ({entry})" if entry else ""))


@contextmanager
def open_image(path: str | Path, roots: list[Path], entry: str | None = None) -> Iterator[Image.Image]:
    """The image, lazily decoded, from a confined file; decode errors name the file (and entry)."""
    handle = open_file(path, roots, entry)
    try:
        with image_of(handle, str(path), entry) as image:
            yield image
    finally:
        handle.close()


@contextmanager
def image_of(handle: BinaryIO, name: str, entry: str | None = None) -> Iterator[Image.Image]:
    """The image in a handle `paths.open_file` returned (left open for the caller)."""
    try:
        image = Image.open(handle)
    except DECODE_ERRORS as error:
        raise unreadable(name, error, entry) from None
    with image:
        yield image


def orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except DECODE_ERRORS:  # a broken EXIF block: show the pixels as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def displayed_size(path: str | Path, roots: list[Path], entry: str | None = None) -> tuple[int, int]:
    """Width and height as displayed (EXIF orientation applied), from the header only."""
    with open_image(path, roots, entry) as image:
        width, height = image.size
        return (height, width) if orientation(image) in SWAPS_AXES else (width, height)


def to_8bit(image: Image.Image) -> Image.Image:
    """High bit depth -> 8-bit 'L' by the type's range; other modes -> RGB (palette via RGBA)."""
    if image.mode in HIGH_BIT_DEPTH:
        values = np.asarray(image).astype(np.float64)
        if image.mode == "F":
            values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
            top = float(values.max()) if values.size else 0.0
            scale = 1.0 if top <= 1.0 else 255.0 if top <= 255.0 else 65535.0 if top <= 65535.0 else top
        else:
            top = float(values.max()) if values.size else 0.0
            scale = 65535.0 if top <= 65535.0 else top
        out = np.clip(values * (255.0 / scale) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(out, "L").convert("RGB")
    if image.mode == "RGB":
        return image
    if image.mode in ("P", "PA", "LA") or "transparency" in image.info:
        return image.convert("RGBA").convert("RGB")
    return image.convert("RGB")


def displayed(image: Image.Image, draft: tuple[int, int] | None = None) -> Image.Image:
    """Decoded 8-bit RGB pixels in displayed orientation; JPEGs decode at a reduced scale for `draft`."""
    if draft is not None and image.format == "JPEG":
        image.draft("RGB", draft)  # libjpeg scales by 1/2..1/8 while decoding: much cheaper
    image.load()
    oriented = ImageOps.exif_transpose(image) or image
    return to_8bit(oriented)


def load_rgb(
    path: str | Path, roots: list[Path], entry: str | None = None, draft: tuple[int, int] | None = None
) -> Image.Image:
    """The whole picture of a confined file as displayed, 8-bit RGB (a copy: the file is closed)."""
    with open_image(path, roots, entry) as image:
        try:
            return displayed(image, draft).copy()
        except DECODE_ERRORS as error:
            raise unreadable(str(path), error, entry) from None


def rgb_from_bytes(data: bytes, name: str = "the upload", draft: tuple[int, int] | None = None) -> Image.Image:
    """An uploaded picture (query by image) decoded the same way as dataset files."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return displayed(image, draft).copy()
    except DECODE_ERRORS as error:
        raise unreadable(name, error, None) from None
