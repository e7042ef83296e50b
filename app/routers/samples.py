"""Browsing routes: samples pages, one sample, facets, statistics, tags, saved views, COCO export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator, model_validator

from app.db import Database
from app.deps import DbDep
from app.errors import Invalid
from app.ingest.formats import EXPORT_CHOICES
from app.routers.errors import errors, readable
from app.routers.inputs import Id, IdValue, RequestModel
from app.services import export, samples, selections, stats, tags, views
from app.services.query import SampleFilters, SampleQuery

router = APIRouter(tags=["samples"])


# -- query parameters: the service's filter model itself, so a new filter is declared once ---------------------
class FilterParams(SampleFilters):
    """`SampleFilters` as query parameters (`tag` repeatable); unknown parameters are ignored, as HTTP does."""

    model_config = ConfigDict(extra="ignore")


class PageParams(SampleQuery):
    """A page: `FilterParams` plus offset, limit and sort."""

    model_config = ConfigDict(extra="ignore")


def _filters(params: SampleFilters) -> SampleFilters:
    # The service compares with SampleFilters() (e.g. "unfiltered"): hand it its own type.
    return SampleFilters(**params.model_dump(exclude_unset=True))


def checked(db: Database, dataset_id: int, f: SampleFilters) -> SampleFilters:
    """The one check of a filter beyond its model: a named selection must be one of the dataset's (else 404)."""
    selections.check_filters(db, dataset_id, f)
    return f


def _checked_params(dataset_id: Id, f: Annotated[FilterParams, Query()], db: DbDep) -> SampleFilters:
    return checked(db, dataset_id, _filters(f))


# the filters of a route, parsed from the query and checked (facets, statistics, distributions, export)
Filters = Annotated[SampleFilters, Depends(_checked_params)]


# -- replies ---------------------------------------------------------------------------------------------------
class BoxCategory(BaseModel):
    id: int
    name: str


class PageBoxes(BaseModel):
    """The boxes of a samples page (`boxes=true`) as columns: entry i of every per-box list is box i.

    Boxes come item by item (the page's order), then ground truth first and each run by name, then by
    annotation id, as the sample view lists them. Columns rather than one object per box: a page of 100
    carries ~3,000 boxes, and seven keys on each were two thirds of the reply and of its encoding time.
    """

    sources: list[str] = Field(description="'ground_truth', then the prediction runs of `runs` by name")
    categories: list[BoxCategory] = Field(description="the categories of these boxes, in no particular order")
    item: list[int] = Field(description="per box: its sample's index in `items`")
    id: list[int] = Field(description="per box: the annotation id")
    category_id: list[int] = Field(description="per box: its category (see `categories`)")
    source: list[int] = Field(description="per box: index into `sources`")
    bbox: list[float] = Field(description="four per box: x, y, w, h in pixels, top-left origin")
    confidence: list[float | None] = Field(description="per box: the prediction's score; null for ground truth")
    crowd: list[bool] = Field(description="per box: iscrowd")


class SampleItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    file_name: str
    width: int | None
    height: int | None
    split: str | None
    tags: list[str]
    annotation_count: int = Field(description="ground-truth boxes")


class SamplesPage(BaseModel):
    model_config = ConfigDict(extra="allow")

    total: int = Field(description="samples matching the filters")
    offset: int
    limit: int
    items: list[SampleItem]
    boxes: PageBoxes | None = Field(None, description="with boxes=true: the items' boxes; null otherwise")


class BoxEvaluation(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str | None = Field(description="tp, fp, fn or ignored")
    error: str | None = Field(description="error category of a false positive or a miss")
    partner_id: int | None = Field(description="the matched box")
    iou: float | None = Field(description="IoU with the matched box")


class Annotation(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    category: str
    bbox: list[float] = Field(description="[x, y, width, height] in pixels")
    area: float | None
    iscrowd: bool
    source: str = Field(description="ground_truth or the prediction run")
    confidence: float | None
    evaluation: dict[str, BoxEvaluation] = Field(description="per prediction run evaluated at eval_iou")
    category_id: int | None = Field(None, description="the category's id (the source's id where it had one)")
    version: int | None = Field(None, description="send it back with an edit (optimistic concurrency)")
    verdict: str | None = Field(None, description="the triage verdict, null when none was given")


class Sample(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    dataset_id: int
    file_name: str
    width: int | None
    height: int | None
    split: str | None
    annotation_count: int
    fields: dict[str, Any] = Field(description="fields set by plugins at import")
    tags: list[str]
    annotations: list[Annotation]
    review_status: str = Field("unreviewed", description="unreviewed, reviewed or needs_fix")


class CategoryFacet(BaseModel):
    value: str
    samples: int
    annotations: int


class ValueCount(BaseModel):
    value: str | None
    count: int


class Facets(BaseModel):
    model_config = ConfigDict(extra="allow")

    total: int
    categories: list[CategoryFacet]
    splits: list[ValueCount]
    tags: list[ValueCount]


class SplitStatistics(BaseModel):
    model_config = ConfigDict(extra="allow")

    samples: int
    annotations: int
    images_without_annotations: int
    mean_width: float | None
    mean_height: float | None
    width_range: list[int | None] = Field(description="[min, max]")
    height_range: list[int | None] = Field(description="[min, max]")


class TotalStatistics(SplitStatistics):
    categories: int


class NamedSplitStatistics(SplitStatistics):
    split: str | None


class ClassCount(BaseModel):
    category: str
    supercategory: str | None
    samples: int
    annotations: int
    mean_area: float | None


class HistogramBin(BaseModel):
    min: float
    max: float | None
    count: int


class Histogram(BaseModel):
    measure: str
    bins: list[HistogramBin]


class CocoSizes(BaseModel):
    small: int
    medium: int
    large: int


class RunCount(BaseModel):
    run: str
    annotations: int


class Statistics(BaseModel):
    model_config = ConfigDict(extra="allow")

    totals: TotalStatistics
    images_without_annotations: int
    class_distribution: list[ClassCount]
    splits: list[NamedSplitStatistics]
    box_size_histogram: Histogram
    box_sizes_coco: CocoSizes
    prediction_runs: list[RunCount]


class BoxesPerImage(BaseModel):
    boxes: int
    at_least: bool = Field(description="the last bin: this many boxes or more")
    images: int


class ImageSize(BaseModel):
    width: int
    height: int
    images: int


class Distributions(BaseModel):
    """The statistics view's histograms (app/services/stats.py `distributions`)."""

    boxes_per_image: list[BoxesPerImage]
    image_width: Histogram
    image_height: Histogram
    image_sizes: list[ImageSize] = Field(description="the commonest (width, height) pairs")
    images_of_unknown_size: int
    aspect_ratio: Histogram


# -- tags and views --------------------------------------------------------------------------------------------
Tag = Annotated[str, Field(min_length=1, max_length=200)]


class TagEdit(RequestModel):
    sample_ids: list[IdValue] = Field(default_factory=list, max_length=tags.MAX_IDS)
    selection: int | None = Field(
        None, ge=1, le=2**63 - 1, description="instead of sample_ids: every sample of this stored selection"
    )
    add: list[Tag] = Field(default_factory=list, max_length=100)
    remove: list[Tag] = Field(default_factory=list, max_length=100)

    @field_validator("add", "remove")
    @classmethod
    def _not_blank(cls, values: list[str]) -> list[str]:
        for tag in values:
            if not tag.strip():
                raise ValueError(f"tag {tag!r} must be 1-200 characters and not blank")
        return values

    @model_validator(mode="after")
    def _something(self) -> TagEdit:
        if not self.add and not self.remove:
            raise ValueError("give tags to add and/or remove")
        if bool(self.sample_ids) == (self.selection is not None):
            raise ValueError("give either sample_ids or selection (a stored selection's id)")
        return self


class TagsEdited(BaseModel):
    affected: int = Field(description="samples whose tags changed")
    matched: int = Field(description="of the given ids (or the selection), samples of this dataset")
    added: int
    removed: int


# Filters as JSON: documented as SampleFilters, checked in the route so errors read "filters: ...".
FiltersObject = Annotated[dict[str, Any], WithJsonSchema(SampleFilters.model_json_schema())]


class CreateView(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    filters: FiltersObject = Field(default_factory=dict)


class View(BaseModel):
    id: int
    dataset_id: int
    name: str
    filters: FiltersObject = Field(description="the filters given at creation (only those set)")
    created_at: str


# -- routes ----------------------------------------------------------------------------------------------------
@router.get("/datasets/{dataset_id}/samples", response_model=SamplesPage, responses=errors(404, 409, 422))
def list_samples(
    dataset_id: Id,
    q: Annotated[PageParams, Query()],
    db: DbDep,
    boxes: bool = Query(
        False, description="the page also carries its items' boxes (ground truth, plus the runs below)"
    ),
    runs: list[str] = Query([], max_length=10, description="repeatable, with boxes=true: prediction runs to include"),
) -> Response:
    if runs and not boxes:
        raise Invalid("runs: give boxes=true to get the boxes of prediction runs")
    query = SampleQuery(**q.model_dump(exclude_unset=True))
    checked(db, dataset_id, query)
    # DuckDB encodes the reply in the page's query (app/services/samples.py): validating ~3,000 boxes
    # against SamplesPage and encoding them took 3x longer than the query. The query builds exactly the
    # model's shape (tests/api/test_samples_boxes.py holds it to the schema), so the bytes go out as they are.
    return Response(samples.page_json(db, dataset_id, query, boxes=boxes, runs=runs), media_type="application/json")


@router.get("/samples/{sample_id}", response_model=Sample, responses=errors(404))
def get_sample(
    sample_id: Id,
    db: DbDep,
    eval_iou: float = Query(0.5, ge=0.05, le=1.0, description="IoU of the TP/FP/FN marks on the boxes"),
) -> dict[str, Any]:
    return samples.get_sample(db, sample_id, eval_iou)


@router.get("/datasets/{dataset_id}/facets", response_model=Facets, responses=errors(404, 409, 422))
def facets(dataset_id: Id, f: Filters, db: DbDep) -> dict[str, Any]:
    """Counts per category, split and tag of the samples matching the filters."""
    return stats.facets(db, dataset_id, f)


@router.get("/datasets/{dataset_id}/statistics", response_model=Statistics, responses=errors(404, 409, 422))
def statistics(dataset_id: Id, f: Filters, db: DbDep) -> dict[str, Any]:
    return stats.statistics(db, dataset_id, f)


@router.get(
    "/datasets/{dataset_id}/statistics/distributions",
    response_model=Distributions,
    responses=errors(404, 409, 422),
)
def distributions(dataset_id: Id, f: Filters, db: DbDep) -> dict[str, Any]:
    """Boxes per image, image sizes and box aspect ratios of the samples matching the filters."""
    return stats.distributions(db, dataset_id, f)


@router.post("/datasets/{dataset_id}/tags", response_model=TagsEdited, responses=errors(404, 422))
def edit_tags(dataset_id: Id, body: TagEdit, db: DbDep) -> dict[str, Any]:
    """Add and/or remove tags on up to 10,000 listed samples, or on a stored selection, in one transaction."""
    if body.selection is not None:
        checked(db, dataset_id, SampleFilters(selection=body.selection))
    return tags.edit_tags(db, dataset_id, body.sample_ids, body.add, body.remove, selection=body.selection)


def _parse_filters(db: Database, dataset_id: int, filters: dict[str, Any]) -> SampleFilters:
    try:
        parsed = SampleFilters(**filters)
    except ValidationError as error:
        raise Invalid("filters: " + readable(error)) from None
    return checked(db, dataset_id, parsed)


@router.post("/datasets/{dataset_id}/views", status_code=201, response_model=View, responses=errors(404, 409, 422))
def create_view(dataset_id: Id, body: CreateView, db: DbDep) -> dict[str, Any]:
    """Save the filters under a name (validated like the samples query)."""
    filters = _parse_filters(db, dataset_id, body.filters)
    return views.create_view(db, dataset_id, body.name, filters)


@router.get("/datasets/{dataset_id}/views", response_model=list[View], responses=errors(404))
def list_views(dataset_id: Id, db: DbDep) -> list[dict[str, Any]]:
    return views.list_views(db, dataset_id)


@router.get("/datasets/{dataset_id}/views/{view_id}", response_model=View, responses=errors(404))
def get_view(dataset_id: Id, view_id: Id, db: DbDep) -> dict[str, Any]:
    return views.get_view(db, dataset_id, view_id)


@router.delete(
    "/datasets/{dataset_id}/views/{view_id}", status_code=204, response_class=Response, responses=errors(404)
)
def delete_view(dataset_id: Id, view_id: Id, db: DbDep) -> Response:
    views.delete_view(db, dataset_id, view_id)
    return Response(status_code=204)


@router.get(
    "/datasets/{dataset_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "a COCO JSON file (images, categories, annotations) of the matching samples, or a YOLO "
            "zip (data.yaml, split lists, labels/)",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **errors(404, 409, 422),
    },
)
def export_dataset(
    dataset_id: Id,
    f: Filters,
    db: DbDep,
    format: Literal[EXPORT_CHOICES] = Query("coco", description="coco (JSON) or yolo (zip)"),
) -> StreamingResponse:
    result = export.export(db, dataset_id, format, f)
    headers = {"Content-Disposition": f'attachment; filename="{result.filename}"'}
    return StreamingResponse(result.body, media_type=result.media_type, headers=headers)
