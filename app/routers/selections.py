"""Stored selections: POST a set of sample ids, then filter anything by `selection=<id>`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.deps import DbDep
from app.routers.errors import errors
from app.routers.inputs import Id, IdValue, RequestModel
from app.services import selections

router = APIRouter(tags=["selections"])


class CreateSelection(RequestModel):
    sample_ids: list[IdValue] = Field(min_length=1, max_length=selections.MAX_IDS)


class Selection(BaseModel):
    id: int = Field(description="use as the samples filter `selection=<id>` (grid, facets, export, views)")
    dataset_id: int
    size: int = Field(description="distinct samples in the selection")


class SelectionDetail(Selection):
    sample_ids: list[int] = Field(description="ascending")


@router.post("/datasets/{dataset_id}/selections", status_code=201, response_model=Selection, responses=errors(404, 422))
def create_selection(dataset_id: Id, body: CreateSelection, db: DbDep) -> dict[str, Any]:
    """Store a selection of the dataset's samples (every id must be one of them)."""
    return selections.create_selection(db, dataset_id, body.sample_ids)


@router.get("/datasets/{dataset_id}/selections/{selection_id}", response_model=SelectionDetail, responses=errors(404))
def get_selection(dataset_id: Id, selection_id: Id, db: DbDep) -> dict[str, Any]:
    return selections.get_selection(db, dataset_id, selection_id)
