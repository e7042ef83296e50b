"""Prediction runs and their evaluation against the ground truth (logic in app/services/evaluation_*.py)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, Field

from app.config import Settings
from app.db import Database
from app.deps import get_db, get_jobs, get_settings_dep
from app.routers.errors import http_errors
from app.services import evaluation_import, evaluation_replies
from app.services.evaluation_checks import DEFAULT_IOU, RunConflict
from app.services.jobs import JobManager

router = APIRouter(tags=["evaluation"])


class ImportPredictions(BaseModel):
    run: str = Field(min_length=1, max_length=100, description="name of the run; re-using a name replaces it")
    path: str = Field(min_length=1, description="file (coco_results) or folder (yolo) inside the data roots")
    format: Literal["coco_results", "yolo"]


class PredictionsStarted(BaseModel):
    dataset_id: int
    run: str
    job_id: str


@router.post("/datasets/{dataset_id}/predictions", status_code=202, response_model=PredictionsStarted)
def import_predictions(
    dataset_id: int,
    body: ImportPredictions,
    db: Database = Depends(get_db),
    jobs: JobManager = Depends(get_jobs),
    settings: Settings = Depends(get_settings_dep),
) -> PredictionsStarted:
    try:
        with http_errors():
            job_id = evaluation_import.start_import(db, jobs, settings, dataset_id, body.run, body.path, body.format)
    except RunConflict as error:
        raise HTTPException(409, str(error)) from None
    return PredictionsStarted(dataset_id=dataset_id, run=body.run, job_id=job_id)


@router.get("/datasets/{dataset_id}/predictions")
def list_predictions(dataset_id: int, db: Database = Depends(get_db)) -> list[dict]:
    with http_errors():
        return evaluation_replies.list_runs(db, dataset_id)


@router.delete("/datasets/{dataset_id}/predictions/{run}", status_code=204)
def delete_predictions(dataset_id: int, run: str, db: Database = Depends(get_db)) -> Response:
    with http_errors():
        evaluation_import.delete_run(db, dataset_id, run)
    return Response(status_code=204)


@router.get("/datasets/{dataset_id}/evaluation")
def evaluation(
    dataset_id: int,
    run: str = Query(..., min_length=1),
    iou: float = Query(DEFAULT_IOU, ge=0.05, le=1.0),
    split: str | None = None,
    category: str | None = Query(None, description="category name or id"),
    db: Database = Depends(get_db),
) -> dict:
    try:
        with http_errors():
            return evaluation_replies.get_evaluation(db, dataset_id, run, iou, split, category)
    except RunConflict as error:
        raise HTTPException(409, str(error)) from None


@router.get("/datasets/{dataset_id}/evaluation/confusion")
def confusion_cell(
    dataset_id: int,
    run: str = Query(..., min_length=1),
    actual: str = Query(..., min_length=1, description="category name or id, or 'background'"),
    predicted: str = Query(..., min_length=1, description="category name or id, or 'background'"),
    iou: float = Query(DEFAULT_IOU, ge=0.05, le=1.0),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    db: Database = Depends(get_db),
) -> dict:
    try:
        with http_errors():
            return evaluation_replies.confusion_cell(db, dataset_id, run, actual, predicted, iou, limit, offset)
    except RunConflict as error:
        raise HTTPException(409, str(error)) from None
