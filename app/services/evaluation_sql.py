"""Evaluation results in the samples query: SQL over `samples s` that app/services/query.py composes.

Plain strings and parameters only (no imports from the rest of the evaluation code), so the query module
imports this at the top and the two never form a cycle.
"""

from __future__ import annotations

from typing import Any


def sample_filter_sql(
    dataset_id: int, run: str, iou: float, has_fp: bool | None, has_fn: bool | None
) -> tuple[list[str], list[Any]]:
    """WHERE conditions on samples `s` for has_fp / has_fn of `run` at `iou` (eval_run alone filters nothing)."""
    where: list[str] = []
    params: list[Any] = []
    for flag, column in ((has_fp, "fp"), (has_fn, "fn")):
        if flag is None:
            continue
        op = ">" if flag else "="
        where.append(
            "s.id IN (SELECT ei.sample_id FROM eval_images ei WHERE ei.dataset_id = ? AND ei.run = ? AND ei.iou = ? "
            f"AND ei.{column} {op} 0)"
        )
        params += [dataset_id, run, iou]
    return where, params


def sample_sort_expr(run: str, iou: float, sort_by: str) -> str:
    """ORDER BY expression ranking samples by error count or worst-image score of `run` at `iou`.

    ORDER BY takes no parameters in the query composer, so the run name goes in as an escaped literal.
    """
    column = {"errors": "errors", "worst": "worst"}[sort_by]
    literal = "'" + run.replace("'", "''") + "'"
    return (
        f"coalesce((SELECT ei.{column} FROM eval_images ei WHERE ei.dataset_id = s.dataset_id AND ei.sample_id = s.id "
        f"AND ei.run = {literal} AND ei.iou = '{float(iou)!r}'::DOUBLE), 0)"
    )
