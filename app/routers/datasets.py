"""Datasets: import, list, get, delete (browse/query routes live in samples.py)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from app.deps import DbDep, JobsDep, PluginsDep, SettingsDep
from app.ingest import formats
from app.routers.errors import errors
from app.routers.inputs import FilePath, Id, RequestModel
from app.services import datasets as service

router = APIRouter(tags=["datasets"])


class CreateDataset(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    format: Literal[formats.CHOICES] = "auto"  # from the importer registry (app/ingest/formats.py)
    path: FilePath = Field(description="file or folder inside the data roots")
    images_dir: FilePath | None = None
    split: str | None = Field(None, min_length=1, max_length=100)
    annotations_only: bool = Field(
        False, description="import boxes even when no image file exists (evaluation only); missing files are counted"
    )


class ImportStarted(BaseModel):
    dataset_id: int
    job_id: str = Field(description="follow it at /jobs/{job_id} or /jobs/{job_id}/events")


class Counts(BaseModel):
    model_config = ConfigDict(extra="allow")

    samples: int
    annotations: int


class DatasetCounts(Counts):
    categories: int
    splits: dict[str, Counts] = Field(description="per split ('none' for samples without one)")


class DatasetSummary(BaseModel):
    # Open: fields later features add to the dataset record (import issues, skipped counts) pass through.
    model_config = ConfigDict(extra="allow")

    id: int
    name: str
    format: str
    path: str
    images_dir: str | None
    status: str = Field(description="importing, then ready")
    created_at: str | None = Field(description="ISO 8601, UTC")
    updated_at: str | None = Field(description="ISO 8601, UTC")
    counts: Counts


class Dataset(DatasetSummary):
    counts: DatasetCounts
    info: dict[str, Any] | None = Field(
        None, description="what the import reported about the files (missing images, skipped entries)"
    )


@router.post("/datasets", status_code=202, response_model=ImportStarted, responses=errors(403, 409, 422))
def create_dataset(
    body: CreateDataset, db: DbDep, jobs: JobsDep, plugins: PluginsDep, settings: SettingsDep
) -> ImportStarted:
    """Start importing a dataset (COCO, YOLO or class folders) as a job; the row exists at once as 'importing'."""
    dataset_id, job_id = service.start_import(db, jobs, plugins, settings, service.ImportRequest(**body.model_dump()))
    return ImportStarted(dataset_id=dataset_id, job_id=job_id)


@router.get("/datasets", response_model=list[DatasetSummary])
def list_datasets(db: DbDep) -> list[dict[str, Any]]:
    return service.list_datasets(db)


@router.get("/datasets/{dataset_id}", response_model=Dataset, response_model_exclude_unset=True, responses=errors(404))
def get_dataset(dataset_id: Id, db: DbDep) -> dict[str, Any]:
    return service.get_dataset(db, dataset_id)


@router.delete("/datasets/{dataset_id}", status_code=204, response_class=Response, responses=errors(404))
def delete_dataset(dataset_id: Id, db: DbDep, jobs: JobsDep) -> Response:
    """Delete the dataset and everything of it (samples, boxes, tags, runs, vectors); running jobs are cancelled."""
    service.delete_dataset(db, jobs, dataset_id)
    return Response(status_code=204)
