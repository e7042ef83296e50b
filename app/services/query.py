"""The samples query: one filter model shared by the samples page, facets, statistics, saved views and
export, compiled to a DuckDB WHERE clause over `samples s`.

Later features extend it here (more filters in `SampleFilters`, more keys in `SORT_KEYS`), so every
route that takes a filter understands them at once.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_LIMIT = 500

# sort key -> SQL expression over `samples s`; ties are broken by id in the same direction.
SORT_KEYS: dict[str, str] = {
    "id": "s.id",
    "file_name": "s.file_name",
    "width": "s.width",
    "height": "s.height",
    "annotation_count": "s.annotation_count",
}


class SampleFilters(BaseModel):
    """Which samples: every given filter must match (tags: all of them)."""

    model_config = ConfigDict(extra="forbid")

    split: str | None = Field(None, min_length=1, max_length=200)
    category: str | None = Field(None, min_length=1, max_length=200, description="category name")
    tag: list[str] = Field(default_factory=list, max_length=50, description="all of these tags")
    search: str | None = Field(None, min_length=1, max_length=500, description="file-name substring")
    min_annotations: int | None = Field(None, ge=0)
    max_annotations: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _range(self) -> SampleFilters:
        if (
            self.min_annotations is not None
            and self.max_annotations is not None
            and self.min_annotations > self.max_annotations
        ):
            raise ValueError("min_annotations must not exceed max_annotations")
        return self


class SampleQuery(SampleFilters):
    """A page of samples: filters plus order and window."""

    offset: int = Field(0, ge=0)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    sort_by: str = "id"
    sort_dir: Literal["asc", "desc"] = "asc"

    @field_validator("sort_by")
    @classmethod
    def _known_sort(cls, value: str) -> str:
        if value not in SORT_KEYS:
            raise ValueError(f"unknown sort key {value!r}; use one of {', '.join(SORT_KEYS)}")
        return value

    def filters(self) -> SampleFilters:
        return SampleFilters(**self.model_dump(include=set(SampleFilters.model_fields)))


def where(dataset_id: int, f: SampleFilters) -> tuple[str, list[Any]]:
    """WHERE clause (over alias `s`) and its parameters."""
    clauses = ["s.dataset_id = ?"]
    params: list[Any] = [dataset_id]
    if f.split is not None:
        clauses.append("s.split = ?")
        params.append(f.split)
    if f.search is not None:
        clauses.append("contains(lower(s.file_name), lower(?))")
        params.append(f.search)
    if f.min_annotations is not None:
        clauses.append("s.annotation_count >= ?")
        params.append(f.min_annotations)
    if f.max_annotations is not None:
        clauses.append("s.annotation_count <= ?")
        params.append(f.max_annotations)
    if f.category is not None:
        clauses.append(
            "s.id IN (SELECT a.sample_id FROM annotations a WHERE a.dataset_id = ? AND a.source = 'ground_truth' "
            "AND a.category_id = (SELECT c.id FROM categories c WHERE c.dataset_id = ? AND c.name = ?))"
        )
        params.extend([dataset_id, dataset_id, f.category])
    tags = list(dict.fromkeys(f.tag))
    if tags:
        marks = ", ".join("?" for _ in tags)
        clauses.append(
            f"s.id IN (SELECT t.sample_id FROM sample_tags t WHERE t.dataset_id = ? AND t.tag IN ({marks}) "
            "GROUP BY t.sample_id HAVING count(DISTINCT t.tag) = ?)"
        )
        params.extend([dataset_id, *tags, len(tags)])
    return " AND ".join(clauses), params


def order_by(q: SampleQuery) -> str:
    direction = "DESC" if q.sort_dir == "desc" else "ASC"
    expr = SORT_KEYS[q.sort_by]
    if expr == "s.id":
        return f"s.id {direction}"
    return f"{expr} {direction} NULLS LAST, s.id {direction}"
