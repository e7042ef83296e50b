"""Editing routes: ground-truth boxes, categories, triage, review status, undo/redo and the edit history.

Logic in app/services/annotations.py and app/services/history.py; this module parses, names the user and
shapes the reply.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from app.deps import DbDep, SettingsDep
from app.routers.errors import errors
from app.routers.inputs import Id, IdValue, Offset, RequestModel
from app.services import annotations as edits
from app.services import history

router = APIRouter(tags=["annotations"])

USER_HEADER = "X-DataVisor-User"
LOCAL_USER = "local"
TRUSTED_PEER = "127.0.0.1"


def edit_user(request: Request, settings: SettingsDep) -> str:
    """Who edits: the proxy's authenticated user, believed only from the proxy itself (loopback, behind_proxy).

    Caddy strips any client-sent copy of the header and sets it from the login. `request.client` cannot
    tell where the connection came from here: behind the proxy uvicorn replaces it with X-Forwarded-For.
    The connection's own local address can: a connection to 127.0.0.1 only ever comes from this host.
    """
    server = request.scope.get("server")
    local = server[0] if server else None
    if settings.behind_proxy and local == TRUSTED_PEER:
        name = request.headers.get(USER_HEADER, "").strip()
        if name:
            return name[:200]
    return LOCAL_USER


UserDep = Annotated[str, Depends(edit_user)]
Bbox = list[float]
MAX_VERSION = 2**31 - 1  # annotations.version is an INTEGER: a larger number is a 422, never a database error


class Strict(RequestModel):
    model_config = ConfigDict(extra="forbid")


class CreateAnnotation(Strict):
    bbox: Bbox = Field(min_length=4, max_length=4, description="[x, y, width, height] in pixels of the shown image")
    category: str | None = Field(None, min_length=1, max_length=200, description="category name")
    category_id: IdValue | None = Field(None, description="or its id")
    iscrowd: bool = False


class UpdateAnnotation(Strict):
    version: int | None = Field(
        None, ge=1, le=MAX_VERSION, description="the version you are editing (required; 428 without it)"
    )
    bbox: Bbox | None = Field(None, min_length=4, max_length=4)
    category: str | None = Field(None, min_length=1, max_length=200)
    category_id: IdValue | None = None
    iscrowd: bool | None = None


class Verdict(Strict):
    verdict: (
        Literal[
            "correct", "wrong_class", "bad_box", "duplicate", "not_an_error", "wrong_label", "missing_object", "ignore"
        ]
        | None
    ) = Field(
        description="predictions: correct wrong_class bad_box duplicate not_an_error; ground truth: correct "
        "wrong_label missing_object ignore; null clears it"
    )
    version: int | None = Field(
        None, ge=1, le=MAX_VERSION, description="optional: refuse (409) if the box changed since this version"
    )


class Review(Strict):
    status: Literal["unreviewed", "reviewed", "needs_fix"]


class NewCategory(Strict):
    name: str = Field(min_length=1, max_length=200)
    supercategory: str | None = Field(None, max_length=200)


class Annotation(BaseModel):
    id: int
    dataset_id: int
    sample_id: int
    category_id: int
    category: str | None
    bbox: list[float]
    area: float | None
    iscrowd: bool
    source: str
    confidence: float | None
    source_id: int | None
    version: int
    verdict: str | None


class StaleRun(BaseModel):
    run: str
    iou: float


class EvaluationEffect(BaseModel):
    state: Literal["stale", "unchanged"] = Field(
        description="stale: the listed evaluations are recomputed on their next read"
    )
    runs: list[StaleRun]


class EditReply(BaseModel):
    history_id: int
    annotation: Annotation | None
    evaluation: EvaluationEffect


class ReviewReply(BaseModel):
    history_id: int
    sample_id: int
    review_status: str


class Category(BaseModel):
    id: int
    name: str
    supercategory: str | None
    source_id: int


class CategoryReply(BaseModel):
    history_id: int
    category: Category


class AppliedEntry(BaseModel):
    id: int
    action: str
    target: str
    target_id: int
    sample_id: int | None
    user: str


class StepReply(BaseModel):
    history_id: int
    applied: AppliedEntry
    state: dict[str, Any] | None
    evaluation: EvaluationEffect
    can_undo: int
    can_redo: int


class HistoryEntry(BaseModel):
    id: int
    dataset_id: int
    sample_id: int | None
    at: str
    user: str
    action: str
    target: str
    target_id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    state: str
    refers_to: int | None


class HistoryPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[HistoryEntry]


@router.post("/samples/{sample_id}/annotations", status_code=201, response_model=EditReply, responses=errors(404, 422))
def create_annotation(sample_id: Id, body: CreateAnnotation, db: DbDep, user: UserDep) -> dict:
    return edits.create(
        db,
        sample_id,
        bbox=body.bbox,
        category_id=body.category_id,
        category=body.category,
        iscrowd=body.iscrowd,
        user=user,
    )


@router.patch("/annotations/{annotation_id}", response_model=EditReply, responses=errors(404, 409, 422, 428))
def update_annotation(annotation_id: Id, body: UpdateAnnotation, db: DbDep, user: UserDep) -> dict:
    return edits.update(
        db,
        annotation_id,
        version=body.version,
        bbox=body.bbox,
        category_id=body.category_id,
        category=body.category,
        iscrowd=body.iscrowd,
        user=user,
    )


@router.delete("/annotations/{annotation_id}", response_model=EditReply, responses=errors(404, 409, 422, 428))
def delete_annotation(
    annotation_id: Id,
    db: DbDep,
    user: UserDep,
    version: int | None = Query(
        None, ge=1, le=MAX_VERSION, description="the version you are deleting (required; 428 without it)"
    ),
) -> dict:
    return edits.delete(db, annotation_id, version=version, user=user)


@router.put("/annotations/{annotation_id}/verdict", response_model=EditReply, responses=errors(404, 409, 422))
def set_verdict(annotation_id: Id, body: Verdict, db: DbDep, user: UserDep) -> dict:
    return edits.triage(db, annotation_id, verdict=body.verdict, version=body.version, user=user)


@router.post(
    "/annotations/{annotation_id}/promote", status_code=201, response_model=EditReply, responses=errors(404, 422)
)
def promote_prediction(annotation_id: Id, db: DbDep, user: UserDep) -> dict:
    return edits.promote(db, annotation_id, user=user)


@router.put("/samples/{sample_id}/review", response_model=ReviewReply, responses=errors(404, 422))
def set_review(sample_id: Id, body: Review, db: DbDep, user: UserDep) -> dict:
    return edits.set_review(db, sample_id, status=body.status, user=user)


@router.post(
    "/datasets/{dataset_id}/categories", status_code=201, response_model=CategoryReply, responses=errors(404, 409, 422)
)
def add_category(dataset_id: Id, body: NewCategory, db: DbDep, user: UserDep) -> dict:
    return edits.add_category(db, dataset_id, name=body.name, supercategory=body.supercategory, user=user)


@router.post("/datasets/{dataset_id}/undo", response_model=StepReply, responses=errors(404, 409))
def undo(dataset_id: Id, db: DbDep, user: UserDep) -> dict:
    return edits.undo(db, dataset_id, user)


@router.post("/datasets/{dataset_id}/redo", response_model=StepReply, responses=errors(404, 409))
def redo(dataset_id: Id, db: DbDep, user: UserDep) -> dict:
    return edits.redo(db, dataset_id, user)


@router.get("/datasets/{dataset_id}/history", response_model=HistoryPage, responses=errors(404, 422))
def dataset_history(
    dataset_id: Id,
    db: DbDep,
    limit: int = Query(50, ge=1, le=history.MAX_PAGE),
    offset: Offset = 0,
) -> dict:
    return history.page(db, dataset_id=edits.require_dataset(db, dataset_id), limit=limit, offset=offset)


@router.get("/samples/{sample_id}/history", response_model=HistoryPage, responses=errors(404, 422))
def sample_history(
    sample_id: Id,
    db: DbDep,
    limit: int = Query(50, ge=1, le=history.MAX_PAGE),
    offset: Offset = 0,
) -> dict:
    return history.page(db, sample_id=edits.require_sample(db, sample_id), limit=limit, offset=offset)
