"""Image bytes: WebP thumbnails from the on-disk cache, or the original file with its content type."""

from __future__ import annotations

import os
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import BinaryIO, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from app.config import Settings
from app.db import Database
from app.routers.errors import errors
from app.routers.inputs import Id
from app.services import images, samples

router = APIRouter(tags=["images"])

CHUNK = 256 * 1024
# An hour without asking; then a conditional GET, which is a 304 while the source file is unchanged.
CACHE_CONTROL = "private, max-age=3600"


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
        "Cache-Control": CACHE_CONTROL,
    }
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)


# What `original` can be: the image types Pillow reads, by file extension (app/services/images.py).
IMAGE_TYPES = ["image/webp", "image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff", "image/*"]


@router.get(
    "/images/{sample_id}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "WebP thumbnail (small 128, medium 256, large 512 px; with an ETag), or the original file",
            "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in IMAGE_TYPES},
        },
        304: {"description": "a thumbnail: If-None-Match names its current ETag"},
        **errors(403, 404, 422),
    },
)
async def get_image(
    sample_id: Id,
    request: Request,
    size: Literal["small", "medium", "large", "original"] = Query("medium"),
    if_none_match: str | None = Header(None, include_in_schema=False),
) -> Response:
    # A screen of the grid sends ~30 of these to the one worker: a thumbnail whose path and bytes are in
    # memory is answered here, on the event loop (a stat of its source, no database, no thread); anything
    # else goes to the thread pool. The app's state rather than DbDep/SettingsDep: each sync dependency is
    # a thread-pool trip of its own (bench/thumbnails.py).
    db: Database = request.app.state.db
    settings: Settings = request.app.state.settings
    if size != "original":
        path = samples.known_image_path(db, sample_id)
        if path is not None:
            thumb = images.thumbnail_bytes(sample_id, path, size, settings.data_roots, _cache_dir(settings), make=False)
            if thumb is not None:
                return _thumbnail_reply(thumb, if_none_match)
    return await run_in_threadpool(_image, db, settings, sample_id, size, if_none_match)


def _cache_dir(settings: Settings) -> Path:
    assert settings.thumbnail_cache_dir is not None  # Settings defaults it to <state dir>/thumbnails
    return settings.thumbnail_cache_dir


def _image(db: Database, settings: Settings, sample_id: int, size: str, if_none_match: str | None) -> Response:
    path = samples.image_path(db, sample_id)
    if size == "original":
        handle, media_type = images.original(path, settings.data_roots, sample_id, settings.thumbnail_cache_dir)
        return _send_open_file(handle, media_type)
    thumb = images.thumbnail_bytes(sample_id, path, size, settings.data_roots, _cache_dir(settings))
    assert thumb is not None
    return _thumbnail_reply(thumb, if_none_match)


def _thumbnail_reply(thumb: images.Thumbnail, if_none_match: str | None) -> Response:
    headers = {
        "ETag": thumb.etag,
        "Last-Modified": formatdate(thumb.last_modified, usegmt=True),
        "Cache-Control": CACHE_CONTROL,
    }
    if if_none_match is not None and _matches(if_none_match, thumb.etag):
        return Response(status_code=304, headers=headers)
    return Response(thumb.body, media_type="image/webp", headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): a list of tags, or *."""
    if if_none_match.strip() == "*":
        return True
    strip = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == strip for tag in if_none_match.split(","))
