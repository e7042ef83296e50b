"""Facets (counts per category, split and tag for a query) and dataset statistics.

Both take the shared `SampleFilters`. Per-category figures for a query that filters at most by split
come from the summary stored at import (app/services/summary.py); other filters are computed live,
restricting boxes and tags to the filtered samples with a semi-join.
"""

from __future__ import annotations

import json
from typing import Any

from app.db import Database
from app.services import facet_counts, summary
from app.services.datasets import require
from app.services.query import REVIEW_STATUSES, SampleFilters, where
from app.services.samples import has_tags, matching_ids

BOX_SIZE_EDGES = summary.BOX_SIZE_EDGES


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


def _stored_summary(cur: Any, dataset_id: int, f: SampleFilters) -> dict[str, Any] | None:
    """The import summary restricted to the split filter, or None when another filter is set."""
    if f.model_dump(exclude_defaults=True).keys() - {"split"}:
        return None
    row = cur.execute("SELECT info->'summary' FROM datasets WHERE id = ?", [dataset_id]).fetchall()
    if not row or row[0][0] is None:
        return None
    stored = json.loads(row[0][0])
    if stored is None:  # dropped by the first ground-truth edit (app/services/annotations.py)
        return None
    keep = (lambda s: True) if f.split is None else (lambda s: s == f.split)
    per_category: dict[int, list[float]] = {}
    for item in stored["categories"]:
        if keep(item["split"]):
            acc = per_category.setdefault(item["category_id"], [0, 0, 0.0])
            acc[0] += item["samples"]
            acc[1] += item["annotations"]
            acc[2] += item["area_sum"]
    bins = [0] * len(BOX_SIZE_EDGES)
    coco = [0, 0, 0]
    for item in stored["histograms"]:
        if keep(item["split"]):
            bins = [a + b for a, b in zip(bins, item["bins"], strict=True)]
            coco = [a + b for a, b in zip(coco, item["coco"], strict=True)]
    return {"per_category": per_category, "bins": bins, "coco": coco}


def _categories(cur: Any, dataset_id: int) -> list[tuple]:
    return cur.execute(
        "SELECT id, name, supercategory FROM categories WHERE dataset_id = ? ORDER BY name", [dataset_id]
    ).fetchall()


# bitstring_agg needs one bit per possible sample id; beyond this span fall back to count(DISTINCT).
MAX_BITSTRING_SPAN = 50_000_000


def _live_categories(cur: Any, dataset_id: int, a_scope: str, a_params: list[Any]) -> dict[int, list[float]]:
    """Per category: distinct samples, boxes, summed box area, over the scoped ground truth.

    Distinct samples are counted with one bitstring per category over the dataset's sample-id range
    (ids of a dataset come in one block): several times cheaper than a hash-based count(DISTINCT).
    """
    lo, hi = cur.execute("SELECT min(id), max(id) FROM samples WHERE dataset_id = ?", [dataset_id]).fetchone()
    if lo is None:
        return {}
    distinct = (
        f"bit_count(bitstring_agg(a.sample_id, {int(lo)}, {int(hi)}))"
        if hi - lo < MAX_BITSTRING_SPAN
        else "count(DISTINCT a.sample_id)"
    )
    rows = cur.execute(
        f"""
        SELECT a.category_id, {distinct}, count(*), sum(a.w * a.h)
        FROM annotations a WHERE {a_scope} AND a.source = 'ground_truth' GROUP BY a.category_id
        """,
        a_params,
    ).fetchall()
    return {r[0]: [r[1], r[2], r[3]] for r in rows}


def _live_histogram(cur: Any, a_scope: str, a_params: list[Any]) -> list[int]:
    """Box counts per size bin (sqrt(w * h) < edge, compared as w * h < edge squared: no sqrt per box)."""
    edges = BOX_SIZE_EDGES
    bucket = " ".join(f"WHEN a.w * a.h < {hi * hi} THEN {i}" for i, hi in enumerate(edges[1:]))
    found = dict(
        cur.execute(
            f"""
            SELECT CASE {bucket} ELSE {len(edges) - 1} END AS b, count(*)
            FROM annotations a WHERE {a_scope} AND a.source = 'ground_truth' GROUP BY b
            """,
            a_params,
        ).fetchall()
    )
    return [int(found.get(i, 0)) for i in range(len(edges))]


def _coco_sizes(hist: list[int]) -> list[int]:
    """COCO's small (< 32²) / medium (< 96²) / large box areas: 32 and 96 are edges of the histogram."""
    small_end, medium_end = BOX_SIZE_EDGES.index(32), BOX_SIZE_EDGES.index(96)
    return [sum(hist[:small_end]), sum(hist[small_end:medium_end]), sum(hist[medium_end:])]


def _split_review_sql(cur: Any, clause: str, params: list[Any]) -> tuple[dict[str | None, int], dict[str, int]]:
    """Samples per split and per review status, in one pass over the matching samples."""
    counts = cur.execute(
        f"SELECT s.split, coalesce(s.review_status, 'unreviewed'), count(*) FROM samples s WHERE {clause} GROUP BY ALL",
        params,
    ).fetchall()
    per_split: dict[str | None, int] = {}
    review: dict[str, int] = {}
    for split, status, n in counts:
        per_split[split] = per_split.get(split, 0) + n
        review[status] = review.get(status, 0) + n
    return per_split, review


def _tag_counts(cur: Any, dataset_id: int, f: SampleFilters) -> list[tuple]:
    t_scope, t_params = _scope(dataset_id, f, "t")
    return cur.execute(
        f"SELECT t.tag, count(*) FROM sample_tags t WHERE {t_scope} GROUP BY t.tag ORDER BY count(*) DESC, t.tag",
        t_params,
    ).fetchall()


def facets(db: Database, dataset_id: int, f: SampleFilters) -> dict[str, Any]:
    """Samples per split, review status and tag, samples and boxes per category, of the samples `f` matches.

    Counted from the filter's matching ids (kept with the samples page's order) and per-dataset arrays kept
    per database generation (app/services/facet_counts.py): a filter's scan is shared with its page, and
    no box is scanned again per filter. Per-category figures of a split filter come from the import summary.
    """
    with db.cursor() as cur:
        require(cur, dataset_id)
        codes = facet_counts.sample_codes(db, cur, dataset_id)
        if codes is None:  # ids spread too wide for arrays: counted by SQL
            per_split, review = _split_review_sql(cur, *where(dataset_id, f))
            live = lambda: _live_categories(cur, dataset_id, *_scope(dataset_id, f, "a"))  # noqa: E731
        else:
            ids = matching_ids(db, cur, dataset_id, f)
            per_split, review = facet_counts.split_review_counts(codes, ids)
            live = lambda: facet_counts.category_counts(facet_counts.ground_truth(db, cur, dataset_id, codes), ids)  # noqa: E731
        splits = sorted(per_split.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        stored = _stored_summary(cur, dataset_id, f)
        per_category = stored["per_category"] if stored is not None else live()
        categories = _categories(cur, dataset_id)
        # Most datasets have no tag, and this query scans the filter once more even then.
        tags = _tag_counts(cur, dataset_id, f) if has_tags(db, cur, dataset_id) else []
    empty = [0, 0, 0.0]
    return {
        "total": sum(int(r[1]) for r in splits),
        "categories": [
            {
                "value": name,
                "samples": int(per_category.get(cid, empty)[0]),
                "annotations": int(per_category.get(cid, empty)[1]),
            }
            for cid, name, _ in categories
        ],
        "splits": [{"value": r[0], "count": int(r[1])} for r in splits],
        "tags": [{"value": r[0], "count": int(r[1])} for r in tags],
        "review_status": [{"value": v, "count": int(review.get(v, 0))} for v in REVIEW_STATUSES],
    }


def statistics(db: Database, dataset_id: int, f: SampleFilters) -> dict[str, Any]:
    clause, params = where(dataset_id, f)
    a_scope, a_params = _scope(dataset_id, f, "a")
    edges = BOX_SIZE_EDGES
    with db.cursor() as cur:
        require(cur, dataset_id)
        per_split = cur.execute(
            f"""
            SELECT s.split, count(*), sum(s.annotation_count), count(*) FILTER (WHERE s.annotation_count = 0),
                   avg(s.width), avg(s.height), min(s.width), max(s.width), min(s.height), max(s.height),
                   GROUPING(s.split) AS grand
            FROM samples s WHERE {clause} GROUP BY ROLLUP (s.split) ORDER BY grand, s.split NULLS LAST
            """,
            params,
        ).fetchall()
        stored = _stored_summary(cur, dataset_id, f)
        if stored is not None:
            per_category, hist, coco_sizes = stored["per_category"], stored["bins"], stored["coco"]
        else:
            per_category = _live_categories(cur, dataset_id, a_scope, a_params)
            hist = _live_histogram(cur, a_scope, a_params)
            coco_sizes = _coco_sizes(hist)
        categories = _categories(cur, dataset_id)
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

    grand = [r for r in per_split if r[10]]
    totals = split_entry(grand[0] if grand else (None, 0, 0, 0, None, None, None, None, None, None))
    totals["categories"] = len(categories)
    classes = []
    for cid, name, supercategory in categories:
        samples, boxes, area = per_category.get(cid, [0, 0, 0.0])
        classes.append(
            {
                "category": name,
                "supercategory": supercategory,
                "samples": int(samples),
                "annotations": int(boxes),
                "mean_area": round(area / boxes, 3) if boxes else None,
            }
        )
    classes.sort(key=lambda c: (-c["annotations"], c["category"]))
    bins = [
        {"min": lo, "max": edges[i + 1] if i + 1 < len(edges) else None, "count": int(hist[i])}
        for i, lo in enumerate(edges)
    ]
    return {
        "totals": totals,
        "images_without_annotations": totals["images_without_annotations"],
        "class_distribution": classes,
        "splits": [{"split": r[0], **split_entry(r)} for r in per_split if not r[10]],
        "box_size_histogram": {"measure": "sqrt(width * height) in pixels", "bins": bins},
        "box_sizes_coco": {"small": int(coco_sizes[0]), "medium": int(coco_sizes[1]), "large": int(coco_sizes[2])},
        "prediction_runs": [{"run": r[0], "annotations": int(r[1])} for r in runs],
    }


# -- distributions for the statistics view ---------------------------------------------------------------------
BOXES_PER_IMAGE_CAP = 30  # the last bin holds every image with at least this many boxes
IMAGE_EDGE_EDGES = (0, 128, 256, 384, 512, 640, 800, 1024, 1280, 1600, 2048, 4096)
ASPECT_EDGES = summary.ASPECT_EDGES
TOP_IMAGE_SIZES = 12


def _bucket_sql(expr: str, edges: tuple[float, ...]) -> str:
    """The index of the bin [edges[i], edges[i + 1]) holding expr (the last bin is open-ended)."""
    cases = " ".join(f"WHEN {expr} < {hi!r} THEN {i}" for i, hi in enumerate(edges[1:]))
    return f"CASE {cases} ELSE {len(edges) - 1} END"


def _bins(found: dict[int, int] | None, edges: tuple[float, ...]) -> list[dict[str, Any]]:
    found = found or {}
    return [
        {"min": lo, "max": edges[i + 1] if i + 1 < len(edges) else None, "count": int(found.get(i, 0))}
        for i, lo in enumerate(edges)
    ]


def _stored_aspect(cur: Any, dataset_id: int, f: SampleFilters) -> dict[int, int] | None:
    """The aspect-ratio histogram of the import summary (filter at most by split), None if it does not hold."""
    if f.model_dump(exclude_defaults=True).keys() - {"split"}:
        return None
    row = cur.execute("SELECT info->'summary'->'histograms' FROM datasets WHERE id = ?", [dataset_id]).fetchall()
    stored = json.loads(row[0][0]) if row and row[0][0] is not None else None
    if not stored or any("aspect" not in h for h in stored):  # edited since, or imported before it was kept
        return None
    counts = [0] * len(ASPECT_EDGES)
    for h in stored:
        if f.split is None or h["split"] == f.split:
            counts = [a + b for a, b in zip(counts, h["aspect"], strict=True)]
    return dict(enumerate(counts))


def distributions(db: Database, dataset_id: int, f: SampleFilters) -> dict[str, Any]:
    """Boxes per image, image widths and heights, the commonest image sizes and box aspect ratios.

    One pass over the filtered samples (three histograms at once), one over their ground-truth boxes (or,
    filtered at most by split, the import summary's aspect histogram), and a GROUP BY for the commonest
    (width, height) pairs.
    """
    clause, params = where(dataset_id, f)
    a_scope, a_params = _scope(dataset_id, f, "a")
    cap = BOXES_PER_IMAGE_CAP
    with db.cursor() as cur:
        require(cur, dataset_id)
        per_image, widths, heights, unknown = cur.execute(
            f"""
            SELECT histogram(least(s.annotation_count, {cap})),
                   histogram({_bucket_sql("s.width", IMAGE_EDGE_EDGES)}) FILTER (WHERE s.width IS NOT NULL),
                   histogram({_bucket_sql("s.height", IMAGE_EDGE_EDGES)}) FILTER (WHERE s.height IS NOT NULL),
                   count(*) FILTER (WHERE s.width IS NULL OR s.height IS NULL)
            FROM samples s WHERE {clause}
            """,
            params,
        ).fetchone()
        sizes = cur.execute(
            f"""
            SELECT s.width, s.height, count(*) AS n FROM samples s
            WHERE {clause} AND s.width IS NOT NULL AND s.height IS NOT NULL
            GROUP BY s.width, s.height ORDER BY n DESC, s.width, s.height LIMIT {TOP_IMAGE_SIZES}
            """,
            params,
        ).fetchall()
        aspect = _stored_aspect(cur, dataset_id, f)
        if aspect is None:  # the boxes' scan: the one expensive part (a million boxes: hundreds of ms)
            (aspect,) = cur.execute(
                f"""
                SELECT histogram({_bucket_sql("a.w / a.h", ASPECT_EDGES)}) FILTER (WHERE a.h > 0)
                FROM annotations a WHERE {a_scope} AND a.source = 'ground_truth'
                """,
                a_params,
            ).fetchone()
    per_image = per_image or {}
    return {
        "boxes_per_image": [
            {"boxes": k, "at_least": k == cap, "images": int(per_image.get(k, 0))} for k in range(cap + 1)
        ],
        "image_width": {"measure": "image width in pixels", "bins": _bins(widths, IMAGE_EDGE_EDGES)},
        "image_height": {"measure": "image height in pixels", "bins": _bins(heights, IMAGE_EDGE_EDGES)},
        "image_sizes": [{"width": int(w), "height": int(h), "images": int(n)} for w, h, n in sizes],
        "images_of_unknown_size": int(unknown),
        "aspect_ratio": {"measure": "box width / height", "bins": _bins(aspect, ASPECT_EDGES)},
    }
