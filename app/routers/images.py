"""Image bytes: WebP thumbnails from the on-disk cache, or the original file with its content type."""

from __future__ import annotations

import os
from collections.abc import Iterator
from email.utils import formatdate
from typing import BinaryIO, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from app.deps import DbDep, SettingsDep
from app.routers.errors import errors
from app.routers.inputs import Id
from app.services import images, samples

router = APIRouter(tags=["images"])

CHUNK = 256 * 1024


def _send_open_file(handle: BinaryIO, media_type: str) -> StreamingResponse:
    """Send the file already opened (and confined) by the service, never a reopen by name."""
    info = os.fstat(handle.fileno())

    def chunks() -> Iterator[bytes]:
        with handle:
            while block := handle.read(CHUNK):
                yield block

    headers = {
        "Content-Length": str(info.st_size),
        "Last-Modified": formatdate(info.st_mtime, usegmt=True),
        "Cache-Control": "private, max-age=3600",
    }
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)


# What `original` can be: the image types Pillow reads, by file extension (app/services/images.py).
IMAGE_TYPES = ["image/webp", "image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff", "image/*"]


@router.get(
    "/images/{sample_id}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "WebP thumbnail (small 128, medium 256, large 512 px), or the original file",
            "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in IMAGE_TYPES},
        },
        **errors(403, 404, 422),
    },
)
def get_image(
    sample_id: Id,
    db: DbDep,
    settings: SettingsDep,
    size: Literal["small", "medium", "large", "original"] = Query("medium"),
) -> Response:
    sample = samples.sample_row(db, sample_id)
    if size == "original":
        handle, media_type = images.original(
            sample["path"], settings.data_roots, sample_id, settings.thumbnail_cache_dir
        )
        return _send_open_file(handle, media_type)
    assert settings.thumbnail_cache_dir is not None
    handle = images.thumbnail(sample_id, sample["path"], size, settings.data_roots, settings.thumbnail_cache_dir)
    return _send_open_file(handle, "image/webp")
