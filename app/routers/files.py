"""File browser for the import form: folders inside the configured data roots, never anything else."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from app.config import Settings
from app.deps import get_settings_dep
from app.routers.errors import errors
from app.services import files

router = APIRouter(tags=["files"])


class FilesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="folder to list: absolute, or relative to a data root; omit it to list the roots",
    )


class FileEntry(BaseModel):
    name: str
    path: str = Field(description="absolute path, to pass back as `path` (folders) or to the import form")
    kind: Literal["dir", "file"]
    size: int | None = Field(description="bytes (files); null for folders")


class FileListing(BaseModel):
    roots: list[str] = Field(description="the configured data roots (DATAVISOR_DATA_ROOTS)")
    path: str | None = Field(description="the listed folder, resolved; null when the roots are listed")
    parent: str | None = Field(description="folder above; null at a root and for the roots listing")
    entries: list[FileEntry] = Field(description="folders first, then files, each by name")
    truncated: bool = Field(description=f"true when the folder holds more than {files.MAX_ENTRIES} entries")


@router.get("/files", response_model=FileListing, responses=errors(403, 404, 422))
def list_files(q: Annotated[FilesQuery, Query()], settings: Settings = Depends(get_settings_dep)) -> FileListing:
    """List a folder inside the data roots (403 outside them; symlinks leaving the roots are not listed)."""
    return FileListing.model_validate(asdict(files.list_folder(q.path, settings.data_roots)))
