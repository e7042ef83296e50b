"""Browsing routes: samples pages, one sample, facets, statistics, tags, saved views, COCO export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from app.db import Database
from app.deps import get_db
from app.routers.errors import http_errors, readable
from app.services import export, samples, stats, tags, views
from app.services.query import MAX_LIMIT, SampleFilters, SampleQuery

router = APIRouter(tags=["samples"])


def filter_params(
    split: str | None = Query(None, description="only this split"),
    category: str | None = Query(None, description="samples with at least one box of this category (name)"),
    tag: list[str] = Query([], description="repeatable: samples carrying all of these tags"),
    search: str | None = Query(None, description="file-name substring (case-insensitive)"),
    min_annotations: int | None = Query(None, ge=0),
    max_annotations: int | None = Query(None, ge=0),
    eval_run: str | None = Query(None, description="prediction run for has_fp / has_fn / sort_by=errors|worst"),
    eval_iou: float | None = Query(None, description="IoU threshold of that evaluation (default 0.5)"),
    has_fp: bool | None = Query(None, description="with eval_run: samples with (true) / without (false) FPs"),
    has_fn: bool | None = Query(None, description="with eval_run: samples with (true) / without (false) misses"),
) -> SampleFilters:
    values = {
        "split": split,
        "category": category,
        "tag": tag,
        "search": search,
        "min_annotations": min_annotations,
        "max_annotations": max_annotations,
        "eval_run": eval_run,
        "eval_iou": eval_iou,
        "has_fp": has_fp,
        "has_fn": has_fn,
    }
    try:
        return SampleFilters(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        raise HTTPException(422, readable(error)) from None


def query_params(
    filters: SampleFilters = Depends(filter_params),
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    sort_by: str = Query(
        "id", description="id, file_name, width, height, annotation_count; errors, worst (with eval_run)"
    ),
    sort_dir: str | None = Query(None, description="asc or desc (default asc; errors/worst: desc)"),
) -> SampleQuery:
    try:
        return SampleQuery(
            **filters.model_dump(exclude_defaults=True),
            offset=offset,
            limit=limit,
            sort_by=sort_by,
            sort_dir=sort_dir,
        )
    except ValidationError as error:
        raise HTTPException(422, readable(error)) from None


class SampleBox(BaseModel):
    """A box on a samples page (`boxes=true`): ground truth, or a prediction of a run named in `runs`."""

    id: int
    category_id: int
    category: str
    bbox: list[float] = Field(min_length=4, max_length=4, description="[x, y, w, h] in pixels, top-left origin")
    source: str = Field(description="'ground_truth' or the prediction run's name")
    confidence: float | None = Field(description="score of a prediction; null for ground truth")
    iscrowd: bool


class SampleItem(BaseModel):
    id: int
    file_name: str
    width: int | None
    height: int | None
    split: str | None
    tags: list[str]
    annotation_count: int = Field(description="ground-truth boxes")
    boxes: list[SampleBox] | None = Field(None, description="with boxes=true; null otherwise")


class SamplesPage(BaseModel):
    total: int = Field(description="samples matching the filters")
    offset: int
    limit: int
    items: list[SampleItem]


@router.get("/datasets/{dataset_id}/samples", response_model=SamplesPage)
def list_samples(
    dataset_id: int,
    q: SampleQuery = Depends(query_params),
    boxes: bool = Query(False, description="every item also carries `boxes` (ground truth, plus the runs below)"),
    runs: list[str] = Query([], max_length=10, description="repeatable, with boxes=true: prediction runs to include"),
    db: Database = Depends(get_db),
) -> dict:
    if runs and not boxes:
        raise HTTPException(422, "runs: give boxes=true to get the boxes of prediction runs")
    with http_errors():
        return samples.list_samples(db, dataset_id, q, boxes=boxes, runs=runs)


@router.get("/samples/{sample_id}")
def get_sample(
    sample_id: int,
    eval_iou: float = Query(0.5, ge=0.05, le=1.0, description="IoU of the TP/FP/FN marks on the boxes"),
    db: Database = Depends(get_db),
) -> dict:
    with http_errors():
        return samples.get_sample(db, sample_id, eval_iou)


@router.get("/datasets/{dataset_id}/facets")
def facets(dataset_id: int, f: SampleFilters = Depends(filter_params), db: Database = Depends(get_db)) -> dict:
    with http_errors():
        return stats.facets(db, dataset_id, f)


@router.get("/datasets/{dataset_id}/statistics")
def statistics(dataset_id: int, f: SampleFilters = Depends(filter_params), db: Database = Depends(get_db)) -> dict:
    with http_errors():
        return stats.statistics(db, dataset_id, f)


class TagEdit(BaseModel):
    sample_ids: list[int] = Field(min_length=1, max_length=tags.MAX_IDS)
    add: list[str] = Field(default_factory=list, max_length=100)
    remove: list[str] = Field(default_factory=list, max_length=100)

    def model_post_init(self, __context: Any) -> None:
        for tag in self.add + self.remove:
            if not tag.strip() or len(tag) > 200:
                raise ValueError(f"tag {tag!r} must be 1-200 characters and not blank")
        if not self.add and not self.remove:
            raise ValueError("give tags to add and/or remove")


@router.post("/datasets/{dataset_id}/tags")
def edit_tags(dataset_id: int, body: dict[str, Any], db: Database = Depends(get_db)) -> dict:
    try:
        edit = TagEdit(**body)
    except (ValidationError, ValueError) as error:
        detail = readable(error) if isinstance(error, ValidationError) else str(error)
        raise HTTPException(422, detail) from None
    with http_errors():
        return tags.edit_tags(db, dataset_id, edit.sample_ids, edit.add, edit.remove)


class CreateView(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    filters: dict[str, Any] = Field(default_factory=dict)


@router.post("/datasets/{dataset_id}/views", status_code=201)
def create_view(dataset_id: int, body: CreateView, db: Database = Depends(get_db)) -> dict:
    try:
        filters = SampleFilters(**body.filters)
    except ValidationError as error:
        raise HTTPException(422, "filters: " + readable(error)) from None
    with http_errors():
        return views.create_view(db, dataset_id, body.name, filters)


@router.get("/datasets/{dataset_id}/views")
def list_views(dataset_id: int, db: Database = Depends(get_db)) -> list[dict]:
    with http_errors():
        return views.list_views(db, dataset_id)


@router.get("/datasets/{dataset_id}/views/{view_id}")
def get_view(dataset_id: int, view_id: int, db: Database = Depends(get_db)) -> dict:
    with http_errors():
        return views.get_view(db, dataset_id, view_id)


@router.delete("/datasets/{dataset_id}/views/{view_id}", status_code=204)
def delete_view(dataset_id: int, view_id: int, db: Database = Depends(get_db)) -> Response:
    with http_errors():
        views.delete_view(db, dataset_id, view_id)
    return Response(status_code=204)


@router.get("/datasets/{dataset_id}/export")
def export_dataset(
    dataset_id: int,
    format: str = Query("coco"),
    f: SampleFilters = Depends(filter_params),
    db: Database = Depends(get_db),
) -> StreamingResponse:
    if format != "coco":
        raise HTTPException(422, f"unknown export format {format!r}; only 'coco' is supported")
    with http_errors():
        body = export.export_coco(db, dataset_id, f)
    headers = {"Content-Disposition": f'attachment; filename="dataset-{dataset_id}-coco.json"'}
    return StreamingResponse(body, media_type="application/json", headers=headers)
