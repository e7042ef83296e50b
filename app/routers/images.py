"""Image bytes: WebP thumbnails from the on-disk cache, or the original file with its content type."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from app.deps import DbDep, SettingsDep
from app.routers.errors import errors
from app.routers.inputs import Id
from app.services import images, samples

router = APIRouter(tags=["images"])

# What `original` can be: the image types Pillow reads, by file extension (app/services/images.py).
IMAGE_TYPES = ["image/webp", "image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff", "image/*"]


@router.get(
    "/images/{sample_id}",
    response_class=FileResponse,
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
) -> FileResponse:
    sample = samples.sample_row(db, sample_id)
    if size == "original":
        path, media_type = images.original(sample["path"], settings.data_roots, sample_id, settings.thumbnail_cache_dir)
        return FileResponse(path, media_type=media_type)
    assert settings.thumbnail_cache_dir is not None
    path = images.thumbnail(sample_id, sample["path"], size, settings.data_roots, settings.thumbnail_cache_dir)
    return FileResponse(path, media_type="image/webp", headers={"Cache-Control": "private, max-age=3600"})
