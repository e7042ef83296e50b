"""Synthetic embedding matrices for the similarity benchmarks (no model run needed for 100,000 rows).

`realistic` imitates pooled CNN features: non-negative-looking (a strong shared mean direction), a
power-law spectrum (a few directions carry most variance), and a share of near-duplicate rows (copies
with small noise) so duplicate groups exist. `isotropic` is the worst case for the reduced-space bound:
random directions with no structure at all. Both return unit rows, float32.
"""

from __future__ import annotations

import numpy as np


def realistic(n: int, dim: int = 1280, seed: int = 0, duplicate_share: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mean = np.abs(rng.standard_normal(dim)).astype(np.float32)
    mean /= np.linalg.norm(mean)
    scales = (1.0 / np.arange(1, dim + 1)) ** 0.5  # variance ~ 1/i
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)).astype(np.float32))
    out = np.empty((n, dim), dtype=np.float32)
    for i0 in range(0, n, 8192):
        m = min(n, i0 + 8192) - i0
        z = rng.standard_normal((m, dim)).astype(np.float32) * scales.astype(np.float32)
        out[i0 : i0 + m] = 1.1 * mean + (z @ basis.T) * 0.55
    dups = int(n * duplicate_share)
    if dups:
        src = rng.choice(n, dups, replace=False)
        dst = rng.choice(np.setdiff1d(np.arange(n), src), dups, replace=False)
        out[dst] = out[src] + 0.04 * rng.standard_normal((dups, dim)).astype(np.float32) / np.sqrt(dim) * 10
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def isotropic(n: int, dim: int = 1280, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((n, dim), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def describe(vectors: np.ndarray, sample: int = 2000) -> str:
    rng = np.random.default_rng(1)
    rows = vectors[rng.choice(len(vectors), min(sample, len(vectors)), replace=False)]
    sims = rows @ rows.T
    off = sims[~np.eye(len(rows), dtype=bool)]
    return f"pairwise cosine mean {off.mean():.3f}, p99 {np.quantile(off, 0.99):.3f}"
