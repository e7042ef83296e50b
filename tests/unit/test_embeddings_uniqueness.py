"""Uniqueness on known vectors: equal to a brute-force reference of its definition, copies score near 0.

Our definition (app/services/embeddings/index.py): distance to the nearest other sample, scaled to max 1.
FiftyOne's 3-neighbour weighting is reimplemented here too, to pin down why we differ: it leaves copies
at ~0.4.
"""

from __future__ import annotations

import numpy as np

from app.services.embeddings.index import VectorIndex


def vectors(seed: int = 3) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """300 random unit vectors in 96-d; rows 0..9 get a near-duplicate each (rows 300..309)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(300, 96))
    copies = base[:10] + rng.normal(scale=0.03, size=(10, 96))
    x = np.concatenate([base, copies]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, [(i, 300 + i) for i in range(10)]


def reference(x: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.clip(2 - 2 * (x.astype(np.float64) @ x.T.astype(np.float64)), 0, None))
    np.fill_diagonal(d, np.inf)
    nearest = d.min(axis=1)
    return nearest / nearest.max()


def fiftyone_style(x: np.ndarray) -> np.ndarray:
    """Weighted distance to the 3 nearest neighbours (0.6, 0.3, 0.1), scaled to max 1."""
    d = np.sqrt(np.clip(2 - 2 * (x.astype(np.float64) @ x.T.astype(np.float64)), 0, None))
    np.fill_diagonal(d, np.inf)
    three = np.sort(d, axis=1)[:, :3]
    w = three @ np.array([0.6, 0.3, 0.1])
    return w / w.max()


def test_uniqueness_is_the_scaled_nearest_neighbour_distance() -> None:
    x, _ = vectors()
    ids = np.arange(1, len(x) + 1) * 7
    got = VectorIndex(ids, x, "test").uniqueness(block=64)
    assert np.allclose(got, reference(x), atol=1e-5)
    assert got.max() == 1.0


def test_near_duplicates_score_low_and_below_every_other_sample() -> None:
    x, pairs = vectors()
    got = VectorIndex(np.arange(len(x)), x, "test").uniqueness(block=50)
    dup = sorted({i for pair in pairs for i in pair})
    others = np.setdiff1d(np.arange(len(x)), dup)
    assert got[dup].max() < 0.1
    assert got[dup].max() < got[others].min()
    # an exact copy scores 0
    exact = np.concatenate([x, x[:1]])
    assert VectorIndex(np.arange(len(exact)), exact, "test").uniqueness()[[0, len(x)]].max() < 1e-3
    # the 3-neighbour weighting would leave the copies far from 0: the reason we differ
    assert fiftyone_style(x)[dup].min() > 0.3
