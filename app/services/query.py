"""The samples query: one filter model shared by the samples page, facets, statistics, saved views and
export, compiled to a DuckDB WHERE clause over `samples s`.

Later features extend it here (more filters in `SampleFilters`, more keys in `SORT_KEYS`), so every
route that takes a filter understands them at once.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.services.evaluation_sql import BACKGROUND, cell_filter_sql, sample_filter_sql, sample_sort_expr

MAX_LIMIT = 500
# ids given in the query itself (`ids=` in a URL); bigger sets go through a stored selection
MAX_FILTER_IDS = 1000

# samples.review_status values (triage, app/services/annotations.py)
ReviewStatus = Literal["unreviewed", "reviewed", "needs_fix"]
REVIEW_STATUSES: tuple[str, ...] = ReviewStatus.__args__

# sort key -> SQL expression over `samples s`; ties are broken by id in the same direction.
SORT_KEYS: dict[str, str] = {
    "id": "s.id",
    "file_name": "s.file_name",
    "width": "s.width",
    "height": "s.height",
    "annotation_count": "s.annotation_count",
    # uniqueness (nearest-neighbour distance) from the latest embedding run (app/services/embeddings); NULL sorts last
    "uniqueness": "(SELECT max(u.uniqueness) FROM sample_uniqueness u WHERE u.sample_id = s.id)",
}
# sort keys of an evaluation run (need eval_run); worst first unless sort_dir=asc is given
EVAL_SORT_KEYS = ("errors", "worst")
# eval_boxes.error values: a prediction's category (app/services/evaluation.py) or a ground-truth box's
EvalError = Literal[
    "tp", "localisation", "class_confusion", "duplicate", "background", "crowd", "over_max_dets", "missed"
]


class SampleFilters(BaseModel):
    """Which samples: every given filter must match (tags: all of them)."""

    model_config = ConfigDict(extra="forbid")

    split: str | None = Field(None, min_length=1, max_length=200)
    category: str | None = Field(None, min_length=1, max_length=200, description="category name")
    tag: list[str] = Field(default_factory=list, max_length=50, description="all of these tags")
    exclude_tag: list[str] = Field(
        default_factory=list, max_length=50, description="none of these tags (e.g. exclude_tag=duplicate)"
    )
    search: str | None = Field(None, min_length=1, max_length=500, description="file-name substring")
    min_annotations: int | None = Field(None, ge=0)
    max_annotations: int | None = Field(None, ge=0)
    review_status: ReviewStatus | None = Field(None, description="triage review status of the sample")
    # evaluation of a prediction run (issue 5): results stored by app/services/evaluation_store.py,
    # filtered and sorted through app/services/evaluation_sql.py
    eval_run: str | None = Field(None, min_length=1, max_length=100, description="prediction run")
    eval_iou: float = Field(0.5, ge=0.05, le=1.0, description="IoU threshold of the evaluation")
    has_fp: bool | None = Field(None, description="samples with (true) / without (false) false positives")
    has_fn: bool | None = Field(None, description="samples with (true) / without (false) missed boxes")
    # one confusion-matrix cell (both given) and/or one error category of eval_run at eval_iou
    eval_actual: str | None = Field(
        None, min_length=1, max_length=200, description="confusion cell row: category name or 'background'"
    )
    eval_predicted: str | None = Field(
        None, min_length=1, max_length=200, description="confusion cell column: category name or 'background'"
    )
    eval_error: EvalError | None = Field(None, description="samples with a box of this error category")
    # a selection (issue 15): these samples only, listed or stored (app/services/selections.py)
    ids: list[int] = Field(
        default_factory=list, max_length=MAX_FILTER_IDS, description="only these sample ids (repeatable)"
    )
    selection: int | None = Field(
        None, ge=1, le=2**63 - 1, description="only the samples of this stored selection (POST .../selections)"
    )

    @field_validator("ids")
    @classmethod
    def _ids_fit(cls, values: list[int]) -> list[int]:
        for i, value in enumerate(values):
            if not 0 <= value <= 2**63 - 1:
                raise ValueError(f"ids[{i}]: {value} is not a sample id")
        return values

    @model_validator(mode="after")
    def _eval(self) -> SampleFilters:
        if (self.has_fp is not None or self.has_fn is not None) and self.eval_run is None:
            raise ValueError("has_fp / has_fn need eval_run (the prediction run to look at)")
        cell = (self.eval_actual, self.eval_predicted)
        if any(v is not None for v in (*cell, self.eval_error)) and self.eval_run is None:
            raise ValueError("eval_actual / eval_predicted / eval_error need eval_run (the prediction run)")
        if (cell[0] is None) != (cell[1] is None):
            raise ValueError("a confusion cell needs both eval_actual and eval_predicted")
        if cell == (BACKGROUND, BACKGROUND):
            raise ValueError("the (background, background) cell is empty by definition")
        return self

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

    offset: int = Field(0, ge=0, le=2**63 - 1)  # DuckDB's OFFSET is a BIGINT
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    sort_by: str = "id"
    sort_dir: Literal["asc", "desc"] | None = None  # asc, except errors/worst: desc

    @field_validator("sort_by")
    @classmethod
    def _known_sort(cls, value: str) -> str:
        if value not in SORT_KEYS and value not in EVAL_SORT_KEYS:
            raise ValueError(f"unknown sort key {value!r}; use one of {', '.join([*SORT_KEYS, *EVAL_SORT_KEYS])}")
        return value

    @model_validator(mode="after")
    def _eval_sort(self) -> SampleQuery:
        if self.sort_by in EVAL_SORT_KEYS and self.eval_run is None:
            raise ValueError(f"sort_by={self.sort_by} needs eval_run (the prediction run to rank by)")
        return self

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
    if f.review_status is not None:
        clauses.append("coalesce(s.review_status, 'unreviewed') = ?")
        params.append(f.review_status)
    if f.category is not None:
        clauses.append(
            "list_contains(s.gt_category_ids, (SELECT c.id FROM categories c WHERE c.dataset_id = ? AND c.name = ?))"
        )
        params.extend([dataset_id, f.category])
    tags = list(dict.fromkeys(f.tag))
    if tags:
        marks = ", ".join("?" for _ in tags)
        clauses.append(
            f"s.id IN (SELECT t.sample_id FROM sample_tags t WHERE t.dataset_id = ? AND t.tag IN ({marks}) "
            "GROUP BY t.sample_id HAVING count(DISTINCT t.tag) = ?)"
        )
        params.extend([dataset_id, *tags, len(tags)])
    excluded = list(dict.fromkeys(f.exclude_tag))
    if excluded:
        marks = ", ".join("?" for _ in excluded)
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM sample_tags t WHERE t.dataset_id = ? AND t.sample_id = s.id "
            f"AND t.tag IN ({marks}))"
        )
        params.extend([dataset_id, *excluded])
    if f.ids:
        clauses.append("list_contains(?::BIGINT[], s.id)")
        params.append(list(dict.fromkeys(f.ids)))
    if f.selection is not None:
        clauses.append(
            "s.id IN (SELECT x.sample_id FROM selection_samples x WHERE x.dataset_id = ? AND x.selection_id = ?)"
        )
        params.extend([dataset_id, f.selection])
    if f.eval_run is not None:
        more, more_params = sample_filter_sql(dataset_id, f.eval_run, f.eval_iou, f.has_fp, f.has_fn)
        clauses.extend(more)
        params.extend(more_params)
        more, more_params = cell_filter_sql(
            dataset_id, f.eval_run, f.eval_iou, f.eval_actual, f.eval_predicted, f.eval_error
        )
        clauses.extend(more)
        params.extend(more_params)
    return " AND ".join(clauses), params


def order_by(q: SampleQuery) -> str:
    if q.sort_by in EVAL_SORT_KEYS:
        direction = "ASC" if q.sort_dir == "asc" else "DESC"
        return f"{sample_sort_expr(q.eval_run, q.eval_iou, q.sort_by)} {direction}, s.id"
    direction = "DESC" if q.sort_dir == "desc" else "ASC"
    expr = SORT_KEYS[q.sort_by]
    if expr == "s.id":
        return f"s.id {direction}"
    return f"{expr} {direction} NULLS LAST, s.id {direction}"
