"""Datasets: import, list, get, delete (browse/query routes live in samples.py)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from app.config import Settings
from app.db import Database
from app.deps import get_db, get_jobs, get_plugins, get_settings_dep
from app.plugins import PluginRegistry
from app.routers.errors import http_errors
from app.services import datasets as service
from app.services.jobs import JobManager

router = APIRouter(tags=["datasets"])


class CreateDataset(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    format: Literal["coco", "yolo", "folders", "auto"] = "auto"
    path: str = Field(min_length=1)
    images_dir: str | None = None
    split: str | None = Field(None, min_length=1, max_length=100)


class ImportStarted(BaseModel):
    dataset_id: int
    job_id: str


@router.post("/datasets", status_code=202, response_model=ImportStarted)
def create_dataset(
    body: CreateDataset,
    db: Database = Depends(get_db),
    jobs: JobManager = Depends(get_jobs),
    plugins: PluginRegistry = Depends(get_plugins),
    settings: Settings = Depends(get_settings_dep),
) -> ImportStarted:
    with http_errors():
        dataset_id, job_id = service.start_import(
            db, jobs, plugins, settings, service.ImportRequest(**body.model_dump())
        )
    return ImportStarted(dataset_id=dataset_id, job_id=job_id)


@router.get("/datasets")
def list_datasets(db: Database = Depends(get_db)) -> list[dict]:
    return service.list_datasets(db)


@router.get("/datasets/{dataset_id}")
def get_dataset(dataset_id: int, db: Database = Depends(get_db)) -> dict:
    with http_errors():
        return service.get_dataset(db, dataset_id)


@router.delete("/datasets/{dataset_id}", status_code=204)
def delete_dataset(dataset_id: int, db: Database = Depends(get_db), jobs: JobManager = Depends(get_jobs)) -> Response:
    with http_errors():
        service.delete_dataset(db, jobs, dataset_id)
    return Response(status_code=204)
