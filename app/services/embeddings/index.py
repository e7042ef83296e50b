"""Similarity over one dataset's vectors, in memory: top-k, near-duplicate groups, uniqueness, 2-D map.

Every vector is L2-normalised, so cosine similarity is a dot product. Top-k is one matrix-vector product
over the whole matrix (numpy/BLAS scans 100K x 1280 in tens of milliseconds; DuckDB's
array_cosine_similarity is an order of magnitude slower). All-pairs work (duplicates, uniqueness) is
blocked so memory stays bounded (a few block x block matrices, never N x N) and runs in a reduced
space first: with an orthonormal basis V of the top principal directions, x.y = (Vx).(Vy) + r_x.r_y
and |r_x.r_y| <= |r_x||r_y| where |r_x|^2 = 1 - |Vx|^2. Adding that bound to the reduced product gives
an upper bound on every pair, so pairs that cannot reach the threshold are dropped cheaply and the
survivors are checked with the full vectors: the result is exact, only faster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

BLOCK = 4096
REDUCED_DIM = 128
# Numerical slack for the bound: float32 products of unit vectors are accurate to ~1e-6.
BOUND_SLACK = 1e-4
# If more than this share of a block survives the bound, one exact block product is cheaper.
DENSE_BLOCK_SHARE = 0.02
MAX_DUPLICATE_PAIRS = 5_000_000
UNIQUENESS_NEIGHBOURS = (0.6, 0.3, 0.1)  # FiftyOne's weights for the 1st, 2nd and 3rd neighbour
UNIQUENESS_CANDIDATES = 10  # neighbours kept from the reduced space, then re-scored exactly


class TooManyPairs(ValueError):
    """The threshold is so low that the answer would not be a useful (or bounded) list."""


@dataclass
class Reduced:
    """Vectors projected onto the top principal directions, plus the norm of what was left out."""

    coords: np.ndarray  # N x r
    residual: np.ndarray  # N, |x - V V^T x|


@dataclass
class VectorIndex:
    ids: np.ndarray  # int64, ascending
    vectors: np.ndarray  # float32, N x D, unit rows
    model: str
    _reduced: Reduced | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.ids = np.ascontiguousarray(self.ids, dtype=np.int64)
        self.vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        self._torch = torch.from_numpy(self.vectors)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def position(self, sample_id: int) -> int | None:
        i = int(np.searchsorted(self.ids, sample_id))
        return i if i < len(self.ids) and self.ids[i] == sample_id else None

    # -- top-k ---------------------------------------------------------------------------------------
    def top_k(self, query: np.ndarray, k: int, exclude: int | None = None) -> list[tuple[int, float]]:
        """The k best (sample id, cosine) for a unit query vector, best first; `exclude` is a row."""
        if len(self) == 0:
            return []
        q = torch.from_numpy(np.ascontiguousarray(query, dtype=np.float32))
        scores = torch.mv(self._torch, q)
        if exclude is not None:
            scores[exclude] = -np.inf
        n = min(k, len(self) - (1 if exclude is not None else 0))
        if n <= 0:
            return []
        values, rows = torch.topk(scores, n, sorted=True)
        return [(int(self.ids[r]), float(v)) for r, v in zip(rows.tolist(), values.tolist(), strict=True)]

    # -- reduced space -------------------------------------------------------------------------------
    def reduced(self) -> Reduced:
        if self._reduced is None:
            self._reduced = _reduce(self.vectors, REDUCED_DIM)
        return self._reduced

    # -- near-duplicates -------------------------------------------------------------------------------
    def duplicate_pairs(self, threshold: float, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
        """Every pair of rows (i < j) with cosine >= threshold, exactly; memory O(block^2)."""
        n = len(self)
        red = self.reduced()
        coords = torch.from_numpy(red.coords)
        resid = torch.from_numpy(red.residual)
        found_i: list[np.ndarray] = []
        found_j: list[np.ndarray] = []
        total = 0
        for i0 in range(0, n, block):
            i1 = min(n, i0 + block)
            for j0 in range(i0, n, block):
                j1 = min(n, j0 + block)
                bound = coords[i0:i1] @ coords[j0:j1].T
                bound.addr_(resid[i0:i1], resid[j0:j1])
                mask = bound >= threshold - BOUND_SLACK
                if i0 == j0:
                    mask.triu_(diagonal=1)
                count = int(mask.sum())
                if count == 0:
                    continue
                if count > DENSE_BLOCK_SHARE * (i1 - i0) * (j1 - j0):
                    exact = self._torch[i0:i1] @ self._torch[j0:j1].T
                    keep = exact >= threshold
                    if i0 == j0:
                        keep.triu_(diagonal=1)
                    rows, cols = torch.nonzero(keep, as_tuple=True)
                else:
                    rows, cols = torch.nonzero(mask, as_tuple=True)
                    rows, cols = _verify(self._torch, rows + i0, cols + j0, threshold)
                    rows, cols = rows - i0, cols - j0
                total += len(rows)
                if total > MAX_DUPLICATE_PAIRS:
                    raise TooManyPairs(
                        f"more than {MAX_DUPLICATE_PAIRS} pairs are above threshold {threshold}; raise the threshold"
                    )
                found_i.append(rows.numpy() + i0)
                found_j.append(cols.numpy() + j0)
        if not found_i:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        return np.concatenate(found_i), np.concatenate(found_j)

    def duplicate_groups(self, threshold: float) -> list[list[int]]:
        """Connected components of the 'cosine >= threshold' graph, as sample ids; singletons left out."""
        rows, cols = self.duplicate_pairs(threshold)
        return [[int(self.ids[r]) for r in group] for group in _components(len(self), rows, cols)]

    # -- uniqueness -------------------------------------------------------------------------------------
    def uniqueness(self, block: int = 1024) -> np.ndarray:
        """FiftyOne's uniqueness: weighted Euclidean distance to the 3 nearest neighbours, scaled to [0, 1].

        Neighbour candidates come from the reduced space and are re-scored with the full vectors.
        """
        n = len(self)
        k = len(UNIQUENESS_NEIGHBOURS)
        if n <= k:
            return np.ones(n, dtype=np.float64)
        red = self.reduced()
        coords = torch.from_numpy(red.coords)
        c = min(n - 1, max(k, UNIQUENESS_CANDIDATES))
        best = np.empty((n, k), dtype=np.float32)
        for i0 in range(0, n, block):
            i1 = min(n, i0 + block)
            top_v = torch.full((i1 - i0, c), -np.inf)
            top_i = torch.zeros((i1 - i0, c), dtype=torch.long)
            for j0 in range(0, n, BLOCK):
                j1 = min(n, j0 + BLOCK)
                scores = coords[i0:i1] @ coords[j0:j1].T
                if j0 < i1 and i0 < j1:  # a sample is not its own neighbour
                    rows = torch.arange(max(i0, j0), min(i1, j1))
                    scores[rows - i0, rows - j0] = -np.inf
                v, idx = torch.topk(scores, min(c, j1 - j0), dim=1)
                merged_v = torch.cat([top_v, v], dim=1)
                merged_i = torch.cat([top_i, idx + j0], dim=1)
                top_v, pick = torch.topk(merged_v, c, dim=1)
                top_i = torch.gather(merged_i, 1, pick)
            exact = torch.einsum("nd,ncd->nc", self._torch[i0:i1], self._torch[top_i])
            best[i0:i1] = torch.topk(exact, k, dim=1).values.numpy()
        distances = np.sqrt(np.clip(2.0 - 2.0 * best.astype(np.float64), 0.0, None))
        weighted = (distances * np.asarray(UNIQUENESS_NEIGHBOURS)).sum(axis=1)
        top = weighted.max()
        return weighted / top if top > 0 else np.zeros(n)

    # -- 2-D map ------------------------------------------------------------------------------------------
    def projection(self) -> np.ndarray:
        """N x 2 coordinates on the two main principal components (centred PCA)."""
        n = len(self)
        if n == 0:
            return np.zeros((0, 2), dtype=np.float32)
        mean = self.vectors.mean(axis=0, dtype=np.float64)
        cov = np.zeros((self.dim, self.dim), dtype=np.float64)
        for i0 in range(0, n, 16384):
            part = self.vectors[i0 : i0 + 16384].astype(np.float64) - mean
            cov += part.T @ part
        _, vecs = np.linalg.eigh(cov)
        basis = vecs[:, ::-1][:, :2]
        # Fix the sign so a recomputation draws the same picture, not a mirrored one.
        basis *= np.where(basis[np.abs(basis).argmax(axis=0), [0, 1]] < 0, -1.0, 1.0)
        coords = np.zeros((n, 2), dtype=np.float32)
        k = min(2, self.dim)
        for i0 in range(0, n, 16384):
            coords[i0 : i0 + 16384, :k] = (self.vectors[i0 : i0 + 16384] - mean) @ basis[:, :k]
        return coords


def _reduce(vectors: np.ndarray, dim: int, sample: int = 20000) -> Reduced:
    n, d = vectors.shape
    if d <= dim:
        return Reduced(vectors, np.zeros(n, dtype=np.float32))
    rng = np.random.default_rng(0)
    rows = vectors if n <= sample else vectors[np.sort(rng.choice(n, sample, replace=False))]
    # Uncentred second moment: the bound needs an orthonormal basis, and dot products are uncentred.
    gram = rows.astype(np.float64).T @ rows.astype(np.float64)
    _, vecs = np.linalg.eigh(gram)
    basis = np.ascontiguousarray(vecs[:, ::-1][:, :dim], dtype=np.float32)
    coords = np.ascontiguousarray(vectors @ basis)
    left = 1.0 - np.einsum("ij,ij->i", coords, coords, dtype=np.float64)
    residual = np.sqrt(np.clip(left, 0.0, None)).astype(np.float32) + np.float32(1e-3)
    return Reduced(coords, residual)


def _verify(
    vectors: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, threshold: float, chunk: int = 65536
) -> tuple[torch.Tensor, torch.Tensor]:
    keep_r, keep_c = [], []
    for s in range(0, len(rows), chunk):
        r, c = rows[s : s + chunk], cols[s : s + chunk]
        ok = (vectors[r] * vectors[c]).sum(dim=1) >= threshold
        keep_r.append(r[ok])
        keep_c.append(c[ok])
    return torch.cat(keep_r), torch.cat(keep_c)


def _components(n: int, rows: np.ndarray, cols: np.ndarray) -> list[list[int]]:
    """Union-find over the pairs; groups of two or more rows, largest first, then by first row."""
    parent = np.arange(n)

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = {}
    for x in sorted(set(rows.tolist()) | set(cols.tolist())):
        members.setdefault(find(x), []).append(x)
    return sorted(members.values(), key=lambda g: (-len(g), g[0]))
