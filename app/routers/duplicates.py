"""Near-duplicates: the groups (with the sample each keeps and why) and the action tagging the others."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from app.deps import DbDep, EmbeddingsDep
from app.routers.embeddings import server_timing
from app.routers.errors import errors
from app.routers.inputs import Id, IdValue, Offset, RequestModel
from app.services import duplicates as service

Threshold = Query(0.95, ge=0.5, le=1.0, description="cosine similarity that makes two samples duplicates")

router = APIRouter(tags=["duplicates"])


class DuplicateMember(BaseModel):
    sample_id: int
    file_name: str
    width: int | None
    height: int | None
    score: float = Field(description="cosine similarity to the kept sample (1 for the kept one)")
    tagged: bool = Field(description="carries the tag `duplicate` now")


class DuplicateGroup(BaseModel):
    sample_ids: list[int] = Field(description="ascending")
    size: int
    kept: int = Field(description="the sample the action keeps by default (see keep_rule)")
    score: float = Field(description="the lowest cosine similarity of a member to the kept sample")
    members: list[DuplicateMember] = Field(description="the kept sample first, then by similarity to it")


class Duplicates(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    threshold: float
    samples: int = Field(description="embedded samples compared")
    group_count: int = Field(description="groups at this threshold (the reply holds offset..offset+limit)")
    duplicates: int = Field(description="samples the action would tag (every group's size minus one)")
    offset: int
    keep_rule: str
    groups: list[DuplicateGroup] = Field(description="largest first, then by first sample id")


class TagDuplicates(RequestModel):
    threshold: float = Field(0.95, ge=0.5, le=1.0)
    keep: list[IdValue] = Field(
        default_factory=list, max_length=100_000, description="samples to keep instead of the rule's (one per group)"
    )


class DuplicatesTagged(BaseModel):
    tag: str
    groups: int
    kept: int = Field(description="one per group")
    tagged: int = Field(description="samples that carry the tag now (every group's members but the kept one)")
    added: int = Field(description="of those, newly tagged")
    removed: int = Field(description="kept samples whose tag was removed")
    keep_rule: str


@router.get("/datasets/{dataset_id}/duplicates", response_model=Duplicates, responses=errors(404, 409, 422, 503))
def duplicates(
    dataset_id: Id,
    response: Response,
    embeddings: EmbeddingsDep,
    db: DbDep,
    threshold: float = Threshold,
    offset: Offset = 0,
    limit: int | None = Query(None, ge=1, le=10_000, description="groups in the reply (all when not given)"),
) -> dict[str, Any]:
    """Groups of near-duplicates: every pair at or above the threshold ends up in one group."""
    with server_timing(response):
        index, groups = embeddings.duplicate_groups(dataset_id, threshold)
        reply = service.describe(db, dataset_id, index, groups, offset, limit)
    return {"model": index.model, "threshold": threshold, "samples": len(index), **reply}


@router.post(
    "/datasets/{dataset_id}/duplicates/tag", response_model=DuplicatesTagged, responses=errors(404, 409, 422, 503)
)
def tag_duplicates(dataset_id: Id, body: TagDuplicates, embeddings: EmbeddingsDep, db: DbDep) -> dict[str, Any]:
    """Keep one sample per group (the rule's or `keep`'s) and tag every other member `duplicate`."""
    _, groups = embeddings.duplicate_groups(dataset_id, body.threshold)
    return service.tag_duplicates(db, dataset_id, groups, body.keep)
