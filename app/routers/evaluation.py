"""Prediction runs and their evaluation against the ground truth (logic in app/services/evaluation_*.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from app.deps import DbDep, JobsDep, SettingsDep
from app.routers.errors import errors
from app.routers.inputs import FilePath, Id, IdValue, Offset, RequestModel
from app.services import evaluation_analysis, evaluation_import, evaluation_replies
from app.services.evaluation_checks import DEFAULT_IOU
from app.services.query import EvalError

router = APIRouter(tags=["evaluation"])


class ImportPredictions(RequestModel):
    run: str = Field(min_length=1, max_length=100, description="name of the run; re-using a name replaces it")
    path: FilePath = Field(description="file (coco_results) or folder (yolo) inside the data roots")
    format: Literal["coco_results", "yolo"]


class EvaluationParams(RequestModel):
    """Which evaluation: the run at an IoU, optionally one split and/or one category (query parameters)."""

    model_config = ConfigDict(extra="ignore")

    run: str = Field(min_length=1, max_length=100, description="prediction run")
    iou: float = Field(DEFAULT_IOU, ge=0.05, le=1.0)
    split: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=200, description="category name or id")


class PredictionsStarted(BaseModel):
    dataset_id: int
    run: str
    job_id: str


class PredictionRun(BaseModel):
    model_config = ConfigDict(extra="allow")

    run: str
    format: str
    path: str
    predictions: int
    created_at: str


class PrCurve(BaseModel):
    recall: list[float]
    precision: list[float] = Field(description="per recall point; -1 where undefined (COCO)")


class ClassEvaluation(BaseModel):
    model_config = ConfigDict(extra="allow")

    category_id: int
    category: str
    ground_truth: int
    predictions: int
    tp: int
    fp: int
    fn: int
    precision: float | None
    recall: float | None
    ap: float | None
    ap50: float | None
    ap_at_iou: float | None
    pr_curve: PrCurve | None
    errors: dict[str, int] | None = Field(None, description="false positives per error category, and misses")


class Confusion(BaseModel):
    model_config = ConfigDict(extra="allow")

    labels: list[str] = Field(description="category names, then 'background'")
    category_ids: list[int | None]
    matrix: list[list[int]] = Field(description="rows actual, columns predicted")
    rows: str
    columns: str
    note: str | None = None


class Evaluation(BaseModel):
    """COCO metrics (pycocotools' numbers), counts at `iou`, PR curves, per-class rows, errors, confusion."""

    model_config = ConfigDict(extra="allow")

    dataset_id: int
    run: str
    split: str | None
    category: str | None = Field(None, description="set when the reply is restricted to one category")
    iou: float
    map: float | None
    map50: float | None
    map75: float | None = None
    ap_at_iou: float | None
    tp: int
    fp: int
    fn: int
    precision: float | None
    recall: float | None
    pr_curve: PrCurve
    per_class: list[ClassEvaluation]
    errors: dict[str, int] | None = None
    confusion: Confusion | None = None


class CellSample(BaseModel):
    sample_id: int
    file_name: str
    split: str | None
    boxes: int
    annotation_ids: list[int]


class ConfusionCell(BaseModel):
    model_config = ConfigDict(extra="allow")

    dataset_id: int
    run: str
    iou: float
    actual: str
    predicted: str
    boxes: int = Field(description="boxes counted in the cell")
    total: int = Field(description="samples holding them")
    samples: list[CellSample]


class ScoreThresholds(BaseModel):
    """Columnar: entry i is the run cut at score >= score[i] (0.00, 0.01, ..., 1.00)."""

    dataset_id: int
    run: str
    iou: float
    split: str | None
    category: str | None
    ground_truth: int = Field(description="ground-truth boxes evaluated (crowd excluded)")
    score: list[float]
    tp: list[int]
    fp: list[int]
    precision: list[float | None] = Field(description="null where no prediction scores that high")
    recall: list[float | None]


class SampleBoxes(BaseModel):
    sample_id: int
    annotation_ids: list[int]


class HighlightedBoxes(BaseModel):
    dataset_id: int
    run: str
    iou: float
    items: list[SampleBoxes] = Field(description="only samples holding such boxes")


@router.post(
    "/datasets/{dataset_id}/predictions",
    status_code=202,
    response_model=PredictionsStarted,
    responses=errors(403, 404, 409, 422),
)
def import_predictions(
    dataset_id: Id, body: ImportPredictions, db: DbDep, jobs: JobsDep, settings: SettingsDep
) -> PredictionsStarted:
    """Import a prediction run and evaluate it, as a job."""
    job_id = evaluation_import.start_import(db, jobs, settings, dataset_id, body.run, body.path, body.format)
    return PredictionsStarted(dataset_id=dataset_id, run=body.run, job_id=job_id)


@router.get("/datasets/{dataset_id}/predictions", response_model=list[PredictionRun], responses=errors(404))
def list_predictions(dataset_id: Id, db: DbDep) -> list[dict[str, Any]]:
    return evaluation_replies.list_runs(db, dataset_id)


@router.delete(
    "/datasets/{dataset_id}/predictions/{run}", status_code=204, response_class=Response, responses=errors(404)
)
def delete_predictions(dataset_id: Id, db: DbDep, run: str = Path(min_length=1, max_length=100)) -> Response:
    evaluation_import.delete_run(db, dataset_id, run)
    return Response(status_code=204)


@router.get(
    "/datasets/{dataset_id}/evaluation",
    response_model=Evaluation,
    response_model_exclude_unset=True,
    responses=errors(404, 409, 422),
)
def evaluation(dataset_id: Id, q: Annotated[EvaluationParams, Query()], db: DbDep) -> dict[str, Any]:
    return evaluation_replies.get_evaluation(db, dataset_id, q.run, q.iou, q.split, q.category)


@router.get(
    "/datasets/{dataset_id}/evaluation/confusion", response_model=ConfusionCell, responses=errors(404, 409, 422)
)
def confusion_cell(
    dataset_id: Id,
    db: DbDep,
    offset: Offset = 0,
    run: str = Query(..., min_length=1, max_length=100),
    actual: str = Query(..., min_length=1, max_length=200, description="category name or id, or 'background'"),
    predicted: str = Query(..., min_length=1, max_length=200, description="category name or id, or 'background'"),
    iou: float = Query(DEFAULT_IOU, ge=0.05, le=1.0),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The samples behind one cell of the confusion matrix, with the boxes counted there."""
    return evaluation_replies.confusion_cell(db, dataset_id, run, actual, predicted, iou, limit, offset)


@router.get(
    "/datasets/{dataset_id}/evaluation/thresholds",
    response_model=ScoreThresholds,
    responses=errors(404, 409, 422),
)
def score_thresholds(dataset_id: Id, q: Annotated[EvaluationParams, Query()], db: DbDep) -> dict[str, Any]:
    """Precision and recall of the run when only predictions scoring at least t are kept, for every t."""
    return evaluation_analysis.thresholds(db, dataset_id, q.run, q.iou, q.split, q.category)


@router.get(
    "/datasets/{dataset_id}/evaluation/boxes", response_model=HighlightedBoxes, responses=errors(404, 409, 422)
)
def highlighted_boxes(
    dataset_id: Id,
    db: DbDep,
    run: str = Query(..., min_length=1, max_length=100),
    sample_id: list[IdValue] = Query(..., max_length=evaluation_analysis.MAX_SAMPLES, description="samples to look at"),
    iou: float = Query(DEFAULT_IOU, ge=0.05, le=1.0),
    actual: str | None = Query(None, min_length=1, max_length=200, description="category name or 'background'"),
    predicted: str | None = Query(None, min_length=1, max_length=200, description="category name or 'background'"),
    error: EvalError | None = Query(None, description="error category"),
) -> dict[str, Any]:
    """The boxes of a confusion cell and/or an error category on the given samples (the grid lights them)."""
    return evaluation_analysis.highlighted_boxes(db, dataset_id, run, iou, sample_id, actual, predicted, error)
