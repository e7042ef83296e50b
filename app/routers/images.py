"""Image bytes: WebP thumbnails from the on-disk cache, or the original file with its content type."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse

from app.config import Settings
from app.db import Database
from app.deps import get_db, get_settings_dep
from app.routers.errors import http_errors
from app.services import images, samples

router = APIRouter(tags=["images"])


@router.get("/images/{sample_id}")
def get_image(
    sample_id: int,
    size: Literal["small", "medium", "large", "original"] = Query("medium"),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
) -> FileResponse:
    with http_errors():
        sample = samples.sample_row(db, sample_id)
        try:
            if size == "original":
                path, media_type = images.original(sample["path"], settings.data_roots)
                return FileResponse(path, media_type=media_type)
            assert settings.thumbnail_cache_dir is not None
            path = images.thumbnail(sample_id, sample["path"], size, settings.data_roots, settings.thumbnail_cache_dir)
        except images.ImageMissing as error:
            raise HTTPException(404, str(error)) from None
        except images.ImageUnreadable as error:
            raise HTTPException(422, str(error)) from None
    return FileResponse(path, media_type="image/webp", headers={"Cache-Control": "private, max-age=3600"})
