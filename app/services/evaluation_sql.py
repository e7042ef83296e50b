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


BACKGROUND = "background"  # the confusion matrix's extra row and column


def _category_id_sql(name: str, params: list[Any], dataset_id: int) -> str:
    params += [dataset_id, name]
    return "(SELECT c.id FROM categories c WHERE c.dataset_id = ? AND c.name = ?)"


def box_condition(
    dataset_id: int, run: str, iou: float, actual: str | None, predicted: str | None, error: str | None
) -> tuple[str, list[Any]]:
    """WHERE over `eval_boxes b`: the boxes of one confusion cell (actual, predicted: category names or
    'background') and/or of one error category, exactly as the confusion-cell reply counts them."""
    where = ["b.dataset_id = ?", "b.run = ?", "b.iou = ?"]
    params: list[Any] = [dataset_id, run, iou]
    if actual is not None and predicted is not None:
        where.append("b.in_matrix")
        if predicted == BACKGROUND:  # missed boxes of class `actual`
            where.append(f"NOT b.is_prediction AND b.category_id = {_category_id_sql(actual, params, dataset_id)}")
        else:
            where.append(f"b.is_prediction AND b.category_id = {_category_id_sql(predicted, params, dataset_id)}")
            if actual == BACKGROUND:
                where.append("b.cell_actual IS NULL")
            else:
                where.append(f"b.cell_actual = {_category_id_sql(actual, params, dataset_id)}")
    if error is not None:
        where.append("b.error = ?")
        params.append(error)
    return " AND ".join(where), params


def cell_filter_sql(
    dataset_id: int, run: str, iou: float, actual: str | None, predicted: str | None, error: str | None
) -> tuple[list[str], list[Any]]:
    """WHERE conditions on samples `s`: samples holding a box of the cell / error category (none if unset)."""
    if (actual is None or predicted is None) and error is None:
        return [], []
    cond, params = box_condition(dataset_id, run, iou, actual, predicted, error)
    return [f"s.id IN (SELECT b.sample_id FROM eval_boxes b WHERE {cond})"], params


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
