"""Facet counts of a filter from per-dataset arrays kept per database generation, instead of a scan.

The facets of a filter (a category, a tag, a search...) counted boxes and distinct samples per category
with a semi-join of the filtered samples into every ground-truth box: ~60 ms of a filter change at 1M
boxes. Here the dataset's ground-truth boxes are read once per generation as columns grouped by sample,
each sample's split and review status as codes, and a filter's counts come from its matching ids (the
samples page's cached order, `samples.matching_ids`) with a few numpy gathers.

Ids of a dataset come in one block (one import); a dataset whose ids are spread far wider than its
number of samples has no arrays (`None`) and is counted by the SQL path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.db import Database
from app.services.query import REVIEW_STATUSES
from app.services.read_cache import ReadCache

# a dataset whose id span exceeds this many ids per sample (plus a margin) is left to SQL
MAX_SPAN_PER_SAMPLE = 4
SPAN_MARGIN = 65_536
# category ids spread over at most this many ids are looked up in a table, else by binary search
MAX_LOOKUP = 1_000_000
# distinct samples per category: a (samples x categories) table of flags up to this size, else a sort
MAX_FLAGS = 16_000_000


@dataclass(frozen=True)
class SampleCodes:
    lo: int  # the dataset's smallest sample id: sample `lo + i` is entry i
    split: np.ndarray  # index into `splits` per sample (-1: not a sample of the dataset)
    splits: list[str | None]  # sorted, None last
    review: np.ndarray  # 1 + index into REVIEW_STATUSES per sample, 0 for anything else


@dataclass(frozen=True)
class GroundTruth:
    lo: int
    starts: np.ndarray  # the boxes of sample `lo + i` are entries starts[i]:starts[i + 1] of `category`
    category: np.ndarray  # index into `categories` per box, boxes grouped by sample
    categories: np.ndarray  # category ids


_CODES = ReadCache(16)
_GROUND_TRUTH = ReadCache(4)  # ~12 bytes a box: 12 MB at 1M boxes


def sample_codes(db: Database, cur: Any, dataset_id: int) -> SampleCodes | None:
    def load() -> SampleCodes | None:
        lo, hi, n = cur.execute(
            "SELECT min(id), max(id), count(*) FROM samples WHERE dataset_id = ?", [dataset_id]
        ).fetchone()
        if lo is None or hi - lo + 1 > MAX_SPAN_PER_SAMPLE * n + SPAN_MARGIN:
            return None
        splits = [
            r[0]
            for r in cur.execute(
                "SELECT DISTINCT split FROM samples WHERE dataset_id = ? ORDER BY split NULLS LAST", [dataset_id]
            ).fetchall()
        ]
        cols = cur.execute(
            "SELECT id, coalesce(list_position(?::VARCHAR[], split), ?) - 1 AS split, "
            "coalesce(list_position(?::VARCHAR[], coalesce(review_status, 'unreviewed')), 0) AS review "
            "FROM samples WHERE dataset_id = ?",
            [[s for s in splits if s is not None], len(splits), list(REVIEW_STATUSES), dataset_id],
        ).fetchnumpy()
        offset = np.asarray(cols["id"], dtype=np.int64) - lo
        split = np.full(hi - lo + 1, -1, dtype=np.int32)
        split[offset] = np.asarray(cols["split"], dtype=np.int32)
        review = np.zeros(hi - lo + 1, dtype=np.int8)
        review[offset] = np.asarray(cols["review"], dtype=np.int8)
        return SampleCodes(int(lo), split, splits, review)

    return _CODES.get(db, dataset_id, load)


def ground_truth(db: Database, cur: Any, dataset_id: int, codes: SampleCodes) -> GroundTruth:
    def load() -> GroundTruth:
        categories = np.asarray(
            cur.execute("SELECT id FROM categories WHERE dataset_id = ? ORDER BY id", [dataset_id]).fetchnumpy()["id"],
            dtype=np.int64,
        )
        # 32-bit offsets from the first ids: fetching two BIGINT columns of 1M boxes cost twice as much
        first = int(categories[0]) if len(categories) else 0
        cols = cur.execute(
            "SELECT (a.sample_id - ?)::INTEGER AS sample, (a.category_id - ?)::BIGINT AS category "
            "FROM annotations a WHERE a.dataset_id = ? AND a.source = 'ground_truth'",
            [codes.lo, first, dataset_id],
        ).fetchnumpy()
        offset, category = np.asarray(cols["sample"]), _category_index(np.asarray(cols["category"]), categories - first)
        known = category >= 0  # a box of another dataset's category is not expected; the SQL path ignores it too
        if not known.all():
            offset, category = offset[known], category[known]
        if len(offset) and np.any(offset[1:] < offset[:-1]):  # stored in sample order unless edited since
            by_sample = np.argsort(offset, kind="stable")
            offset, category = offset[by_sample], category[by_sample]
        counts = np.bincount(offset, minlength=len(codes.split))
        starts = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        return GroundTruth(codes.lo, starts, category, categories)

    return _GROUND_TRUTH.get(db, dataset_id, load)


def _category_index(relative: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """Index into `categories` of every value (both relative to the dataset's first category id), -1 if none."""
    if not len(categories) or not len(relative):
        return np.full(len(relative), -1, dtype=np.int32)
    span = int(max(categories[-1], relative.max())) + 1
    if relative.min() >= 0 and span <= MAX_LOOKUP:  # a table over the id span: one gather per box
        lookup = np.full(span, -1, dtype=np.int32)
        lookup[categories] = np.arange(len(categories), dtype=np.int32)
        return lookup[relative]
    at = np.minimum(np.searchsorted(categories, relative), len(categories) - 1)
    return np.where(categories[at] == relative, at, -1).astype(np.int32)


def split_review_counts(codes: SampleCodes, ids: np.ndarray) -> tuple[dict[str | None, int], dict[str, int]]:
    """Samples per split and per review status among `ids` (samples of the dataset)."""
    offset = ids - codes.lo
    per_split = np.bincount(codes.split[offset], minlength=len(codes.splits))
    per_review = np.bincount(codes.review[offset], minlength=len(REVIEW_STATUSES) + 1)
    splits = {name: int(n) for name, n in zip(codes.splits, per_split.tolist(), strict=True) if n}
    review = {status: int(per_review[i + 1]) for i, status in enumerate(REVIEW_STATUSES)}
    return splits, review


def category_counts(gt: GroundTruth, ids: np.ndarray) -> dict[int, list[float]]:
    """Per category id: [distinct samples, boxes] of the ground truth of `ids` (distinct samples of the dataset)."""
    offset = ids - gt.lo
    begin = gt.starts[offset]
    length = gt.starts[offset + 1] - begin
    n = int(length.sum())
    if n == 0:
        return {}
    # the boxes of every sample of `ids`, one run per sample: run k starts at begin[k]
    first = np.cumsum(length) - length
    rows = np.arange(n, dtype=np.int64) + np.repeat(begin - first, length)
    category = gt.category[rows]
    k = len(gt.categories)
    boxes = np.bincount(category, minlength=k)
    owner = np.repeat(np.arange(len(ids), dtype=np.int64), length)
    if len(ids) * k <= MAX_FLAGS:
        flags = np.zeros((len(ids), k), dtype=bool)
        flags[owner, category] = True
        samples = flags.sum(axis=0)
    else:
        samples = np.bincount(np.unique(owner * k + category) % k, minlength=k)
    return {int(cid): [int(samples[i]), int(boxes[i])] for i, cid in enumerate(gt.categories.tolist()) if boxes[i]}


__all__ = ["GroundTruth", "SampleCodes", "category_counts", "ground_truth", "sample_codes", "split_review_counts"]
