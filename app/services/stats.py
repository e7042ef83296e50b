"""Facets (counts per category, split and tag for a query) and dataset statistics.

Both take the shared `SampleFilters`; with no filter the filtered-sample join is skipped, since every
table carries `dataset_id` and a plain GROUP BY is cheaper than a semi-join over a million boxes.
"""

from __future__ import annotations

from typing import Any

from app.db import Database
from app.services.datasets import require
from app.services.query import SampleFilters, where

# Edges (pixels) of the box-size histogram over sqrt(w * h); COCO calls < 32 small, < 96 medium.
BOX_SIZE_EDGES = [0, 8, 16, 32, 64, 96, 128, 256, 512]


def _is_unfiltered(f: SampleFilters) -> bool:
    return f == SampleFilters()


def _scope(dataset_id: int, f: SampleFilters, alias: str) -> tuple[str, list[Any]]:
    """Restrict rows of a table with `sample_id` (alias) to the filtered samples."""
    if _is_unfiltered(f):
        return f"{alias}.dataset_id = ?", [dataset_id]
    clause, params = where(dataset_id, f)
    return (
        f"{alias}.dataset_id = ? AND {alias}.sample_id IN (SELECT s.id FROM samples s WHERE {clause})",
        [dataset_id, *params],
    )


def facets(db: Database, dataset_id: int, f: SampleFilters) -> dict[str, Any]:
    clause, params = where(dataset_id, f)
    a_scope, a_params = _scope(dataset_id, f, "a")
    t_scope, t_params = _scope(dataset_id, f, "t")
    with db.cursor() as cur:
        require(cur, dataset_id)
        total = cur.execute(f"SELECT count(*) FROM samples s WHERE {clause}", params).fetchone()[0]
        splits = cur.execute(
            f"SELECT s.split, count(*) FROM samples s WHERE {clause} GROUP BY s.split ORDER BY s.split NULLS LAST",
            params,
        ).fetchall()
        categories = cur.execute(
            f"""
            WITH agg AS (
                SELECT a.category_id, count(DISTINCT a.sample_id) AS samples, count(*) AS annotations
                FROM annotations a WHERE {a_scope} AND a.source = 'ground_truth' GROUP BY a.category_id
            )
            SELECT c.name, coalesce(agg.samples, 0), coalesce(agg.annotations, 0)
            FROM categories c LEFT JOIN agg ON agg.category_id = c.id
            WHERE c.dataset_id = ? ORDER BY c.name
            """,
            [*a_params, dataset_id],
        ).fetchall()
        tags = cur.execute(
            f"SELECT t.tag, count(*) FROM sample_tags t WHERE {t_scope} GROUP BY t.tag ORDER BY count(*) DESC, t.tag",
            t_params,
        ).fetchall()
    return {
        "total": int(total),
        "categories": [{"value": r[0], "samples": int(r[1]), "annotations": int(r[2])} for r in categories],
        "splits": [{"value": r[0], "count": int(r[1])} for r in splits],
        "tags": [{"value": r[0], "count": int(r[1])} for r in tags],
    }


def statistics(db: Database, dataset_id: int, f: SampleFilters) -> dict[str, Any]:
    clause, params = where(dataset_id, f)
    a_scope, a_params = _scope(dataset_id, f, "a")
    edges = BOX_SIZE_EDGES
    bucket = " ".join(f"WHEN sqrt(a.w * a.h) < {hi} THEN {i}" for i, hi in enumerate(edges[1:]))
    with db.cursor() as cur:
        require(cur, dataset_id)
        per_split = cur.execute(
            f"""
            SELECT s.split, count(*), sum(s.annotation_count), count(*) FILTER (WHERE s.annotation_count = 0),
                   avg(s.width), avg(s.height), min(s.width), max(s.width), min(s.height), max(s.height)
            FROM samples s WHERE {clause} GROUP BY ROLLUP (s.split) ORDER BY GROUPING(s.split), s.split NULLS LAST
            """,
            params,
        ).fetchall()
        classes = cur.execute(
            f"""
            WITH agg AS (
                SELECT a.category_id, count(DISTINCT a.sample_id) AS samples, count(*) AS annotations,
                       avg(a.w * a.h) AS mean_area
                FROM annotations a WHERE {a_scope} AND a.source = 'ground_truth' GROUP BY a.category_id
            )
            SELECT c.name, c.supercategory, coalesce(agg.samples, 0), coalesce(agg.annotations, 0), agg.mean_area
            FROM categories c LEFT JOIN agg ON agg.category_id = c.id
            WHERE c.dataset_id = ? ORDER BY coalesce(agg.annotations, 0) DESC, c.name
            """,
            [*a_params, dataset_id],
        ).fetchall()
        hist = dict(
            cur.execute(
                f"""
                SELECT CASE {bucket} ELSE {len(edges) - 1} END AS b, count(*)
                FROM annotations a WHERE {a_scope} AND a.source = 'ground_truth' GROUP BY b
                """,
                a_params,
            ).fetchall()
        )
        coco_sizes = cur.execute(
            f"""
            SELECT count(*) FILTER (WHERE a.w * a.h < 1024), count(*) FILTER (WHERE a.w * a.h >= 1024
                   AND a.w * a.h < 9216), count(*) FILTER (WHERE a.w * a.h >= 9216)
            FROM annotations a WHERE {a_scope} AND a.source = 'ground_truth'
            """,
            a_params,
        ).fetchone()
        runs = cur.execute(
            f"SELECT a.source, count(*) FROM annotations a WHERE {a_scope} AND a.source <> 'ground_truth' "
            "GROUP BY a.source ORDER BY a.source",
            a_params,
        ).fetchall()

    def split_entry(r: tuple) -> dict[str, Any]:
        return {
            "samples": int(r[1]),
            "annotations": int(r[2] or 0),
            "images_without_annotations": int(r[3]),
            "mean_width": r[4],
            "mean_height": r[5],
            "width_range": [r[6], r[7]],
            "height_range": [r[8], r[9]],
        }

    totals_row = per_split[-1] if per_split else (None, 0, 0, 0, None, None, None, None, None, None)
    totals = split_entry(totals_row)
    totals["categories"] = len(classes)
    bins = []
    for i, lo in enumerate(edges):
        hi = edges[i + 1] if i + 1 < len(edges) else None
        bins.append({"min": lo, "max": hi, "count": int(hist.get(i, 0))})
    return {
        "totals": totals,
        "images_without_annotations": totals["images_without_annotations"],
        "class_distribution": [
            {
                "category": r[0],
                "supercategory": r[1],
                "samples": int(r[2]),
                "annotations": int(r[3]),
                "mean_area": r[4],
            }
            for r in classes
        ],
        "splits": [{"split": r[0], **split_entry(r)} for r in per_split[:-1]],
        "box_size_histogram": {"measure": "sqrt(width * height) in pixels", "bins": bins},
        "box_sizes_coco": {"small": int(coco_sizes[0]), "medium": int(coco_sizes[1]), "large": int(coco_sizes[2])},
        "prediction_runs": [{"run": r[0], "annotations": int(r[1])} for r in runs],
    }
