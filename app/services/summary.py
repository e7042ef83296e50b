"""Ground-truth summary computed once at import (numpy over the Arrow tables) and kept in
`datasets.info["summary"]`: per split and category the boxes, the distinct samples and the box area,
and per split the box-size and box aspect-ratio histograms.

Ground truth never changes after an import, and counting distinct samples per category over a
million boxes is the one expensive aggregate of facets and statistics (hundreds of ms in DuckDB), so
queries that filter at most by split read it from here; any other filter is computed live.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.ingest import ParsedDataset

# Edges (pixels) of the box-size histogram over sqrt(w * h); COCO calls < 32 small, < 96 medium.
BOX_SIZE_EDGES = [0, 8, 16, 32, 64, 96, 128, 256, 512]
# Edges of the aspect-ratio histogram over width / height (bin i: edges[i] <= w/h < edges[i+1], the last
# open), symmetric around 1 on a log scale; the statistics view's distributions read it from here
ASPECT_EDGES = (0.0, 1 / 8, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 4 / 5, 5 / 4, 3 / 2, 2.0, 3.0, 4.0, 8.0)


def size_bucket(w: np.ndarray, h: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array(BOX_SIZE_EDGES[1:], dtype=np.float64), np.sqrt(w * h), side="right")


def compute(parsed: ParsedDataset, category_offset: int) -> dict[str, Any]:
    splits = np.array(parsed.samples.column("split").to_pylist(), dtype=object)
    names, codes = np.unique(np.where(splits == None, "\0", splits).astype(str), return_inverse=True)  # noqa: E711
    ann = parsed.annotations
    sample_idx = ann.column("sample_idx").to_numpy()
    category = ann.column("category_idx").to_numpy()
    w, h = ann.column("w").to_numpy(), ann.column("h").to_numpy()
    split_of_box = codes[sample_idx] if len(sample_idx) else np.zeros(0, dtype=np.int64)
    n_cat = max(parsed.categories.num_rows, 1)
    rows = []
    key = split_of_box.astype(np.int64) * n_cat + category
    uniq, boxes = np.unique(key, return_counts=True)
    area = np.bincount(np.searchsorted(uniq, key), weights=w * h, minlength=len(uniq)) if len(key) else []
    pairs = np.unique(sample_idx.astype(np.int64) * n_cat + category) if len(key) else np.zeros(0, np.int64)
    pair_key = codes[pairs // n_cat].astype(np.int64) * n_cat + pairs % n_cat if len(pairs) else pairs
    samples_per_key = dict(zip(*np.unique(pair_key, return_counts=True), strict=True))
    for k, count, area_sum in zip(uniq, boxes, area, strict=True):
        split_code, cat = divmod(int(k), n_cat)
        rows.append(
            {
                "split": None if names[split_code] == "\0" else str(names[split_code]),
                "category_id": category_offset + cat,
                "annotations": int(count),
                "samples": int(samples_per_key.get(k, 0)),
                "area_sum": float(area_sum),
            }
        )
    buckets = size_bucket(w, h)
    tall = h > 0
    aspect = np.searchsorted(np.array(ASPECT_EDGES[1:]), w[tall] / h[tall], side="right")
    split_of_aspect = split_of_box[tall]
    histograms = []
    for code, name in enumerate(names):
        mine = buckets[split_of_box == code]
        area_of = (w * h)[split_of_box == code]
        histograms.append(
            {
                "split": None if name == "\0" else str(name),
                "bins": np.bincount(mine, minlength=len(BOX_SIZE_EDGES)).astype(int).tolist(),
                "aspect": np.bincount(aspect[split_of_aspect == code], minlength=len(ASPECT_EDGES))
                .astype(int)
                .tolist(),
                "coco": [
                    int((area_of < 1024).sum()),
                    int(((area_of >= 1024) & (area_of < 9216)).sum()),
                    int((area_of >= 9216).sum()),
                ],
            }
        )
    return {"categories": rows, "histograms": histograms}
