"""Similarity over one dataset's vectors, in memory: top-k, near-duplicate groups, uniqueness, 2-D map.

Every vector is L2-normalised, so cosine similarity is a dot product. The exact float32 vectors are the
reference; scans run over compact copies first and every answer is then re-scored exactly, with a
margin that provably covers the rounding of the compact copy, so results equal a float32 brute force:

- top-k scans a float16 copy (half the memory traffic of float32; a scan is memory-bound). Rounding a
  unit vector to float16 moves it by at most 2^-11, so a compact score is within ~1e-3 of the exact one.
- all-pairs work (duplicates, uniqueness) multiplies int8 copies block by block (`torch._int_mm`, several
  times the float32 rate on CPUs with VNNI). With one global scale, |x.y - x'.y'| <= e_x + e_y + e_x e_y
  where e is each row's own quantisation error (measured, not estimated). Memory stays bounded: a few
  block x block matrices, never N x N.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from app.errors import Invalid

BLOCK = 4096
# float16 scan: rounding error of both unit vectors plus float32 accumulation over up to 4096 terms.
FP16_MARGIN = 2 * 2.0**-11 + 4096 * 2.0**-24
# Below this many stored numbers the plain float32 scan is as fast and needs no second copy.
FP16_MIN_ELEMENTS = 4_000_000
# If more than this share of a block survives the int8 bound, one exact block product is cheaper.
DENSE_BLOCK_SHARE = 0.02
MAX_DUPLICATE_PAIRS = 5_000_000
UNIQUENESS_CANDIDATES = 8  # nearest neighbours kept from the int8 pass, then re-scored exactly


class TooManyPairs(Invalid):
    """The threshold is so low that the answer would not be a useful (or bounded) list."""


@dataclass
class Quantised:
    """int8 copy with one global scale: x ~ q / scale; `error[i]` = |x_i - q_i / scale| exactly."""

    q: torch.Tensor  # N x D int8
    scale: float
    error: torch.Tensor  # N float32

    def slack(self, rows: slice, cols: slice) -> float:
        a, b = float(self.error[rows].max()), float(self.error[cols].max())
        return a + b + a * b + 1e-5


@dataclass
class VectorIndex:
    ids: np.ndarray  # int64, ascending
    vectors: np.ndarray  # float32, N x D, unit rows
    model: str
    _half: torch.Tensor | None = field(default=None, repr=False)
    _int8: Quantised | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.ids = np.ascontiguousarray(self.ids, dtype=np.int64)
        self.vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        self._torch = torch.from_numpy(self.vectors)
        if self.vectors.size >= FP16_MIN_ELEMENTS:
            self._half = self._torch.half()

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
        n = min(k, len(self) - (1 if exclude is not None else 0))
        if n <= 0:
            return []
        q = torch.from_numpy(np.ascontiguousarray(query, dtype=np.float32))
        if self._half is None:
            scores = torch.mv(self._torch, q)
            if exclude is not None:
                scores[exclude] = -np.inf
            values, rows = torch.topk(scores, n, sorted=True)
        else:
            rough = torch.mv(self._half, q.half()).float()
            if exclude is not None:
                rough[exclude] = -np.inf
            kth = torch.topk(rough, n, sorted=False).values.min()
            candidates = torch.nonzero(rough >= kth - 2 * FP16_MARGIN, as_tuple=True)[0]
            exact = torch.mv(self._torch[candidates], q)
            values, pick = torch.topk(exact, n, sorted=True)
            rows = candidates[pick]
        return [(int(self.ids[r]), float(v)) for r, v in zip(rows.tolist(), values.tolist(), strict=True)]

    # -- int8 copy -----------------------------------------------------------------------------------
    def quantised(self) -> Quantised:
        if self._int8 is None:
            top = float(self._torch.abs().max()) if len(self) else 1.0
            scale = 127.0 / max(top, 1e-12)
            q = torch.empty(self._torch.shape, dtype=torch.int8)
            error = torch.empty(len(self), dtype=torch.float32)
            for i0 in range(0, len(self), 16384):
                part = self._torch[i0 : i0 + 16384]
                rounded = torch.round(part * scale)
                q[i0 : i0 + 16384] = rounded.to(torch.int8)
                error[i0 : i0 + 16384] = (part - rounded / scale).norm(dim=1)
            self._int8 = Quantised(q, scale, error)
        return self._int8

    # -- near-duplicates -------------------------------------------------------------------------------
    def duplicate_pairs(self, threshold: float, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
        """Every pair of rows (i < j) with cosine >= threshold, exactly; memory O(block^2)."""
        n = len(self)
        quant = self.quantised()
        found_i: list[np.ndarray] = []
        found_j: list[np.ndarray] = []
        total = 0
        for i0 in range(0, n, block):
            i1 = min(n, i0 + block)
            for j0 in range(i0, n, block):
                j1 = min(n, j0 + block)
                # int32 dot products of the int8 copies, compared in integer units (no float block).
                floor = int(np.floor((threshold - quant.slack(slice(i0, i1), slice(j0, j1))) * quant.scale**2))
                products = torch._int_mm(quant.q[i0:i1], quant.q[j0:j1].T)
                if i0 == j0:
                    products.triu_(diagonal=1)  # each pair once, never a row with itself (floor > 0)
                # Most rows of a block have no candidate: find the rows first (one reduction pass).
                hot = torch.nonzero(products.amax(dim=1) >= floor, as_tuple=True)[0]
                if len(hot) == 0:
                    continue
                sub_r, cols = torch.nonzero(products[hot] >= floor, as_tuple=True)
                rows = hot[sub_r]
                del products
                if len(rows) > DENSE_BLOCK_SHARE * (i1 - i0) * (j1 - j0):
                    keep = (self._torch[i0:i1] @ self._torch[j0:j1].T) >= threshold
                    if i0 == j0:
                        keep.triu_(diagonal=1)
                    rows, cols = torch.nonzero(keep, as_tuple=True)
                else:
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
    def uniqueness(self, block: int = 2048, check: Callable[[], None] | None = None) -> np.ndarray:
        """Distance to the nearest other sample (Euclidean between unit vectors), scaled so the maximum is 1.

        Not FiftyOne's formula (a weighted distance to the 3 nearest neighbours, 0.6/0.3/0.1, on centred
        vectors): with those weights a pair of exact copies still scores ~0.4 of the most unique sample,
        because each copy's 2nd and 3rd neighbours are unrelated images. Curation needs the opposite: any
        sample with a look-alike scores near 0 (an exact copy 0), and a sample scores high only when
        nothing is close to it. The nearest neighbour comes from the int8 products and is re-scored with
        the float32 vectors, so it equals a float32 brute force.
        """
        n = len(self)
        if n < 2:
            return np.ones(n, dtype=np.float64)
        quant = self.quantised()
        c = min(n - 1, UNIQUENESS_CANDIDATES)
        best = np.empty(n, dtype=np.float32)
        for i0 in range(0, n, block):
            if check is not None:
                check()  # e.g. raises when the job was cancelled
            i1 = min(n, i0 + block)
            top_v = torch.full((i1 - i0, c), torch.iinfo(torch.int32).min, dtype=torch.int32)
            top_i = torch.zeros((i1 - i0, c), dtype=torch.long)
            for j0 in range(0, n, BLOCK):
                j1 = min(n, j0 + BLOCK)
                scores = torch._int_mm(quant.q[i0:i1], quant.q[j0:j1].T)
                if j0 < i1 and i0 < j1:  # a sample is not its own neighbour
                    rows = torch.arange(max(i0, j0), min(i1, j1))
                    scores[rows - i0, rows - j0] = torch.iinfo(torch.int32).min
                v, idx = torch.topk(scores, min(c, j1 - j0), dim=1)
                top_v, pick = torch.topk(torch.cat([top_v, v], dim=1), c, dim=1)
                top_i = torch.gather(torch.cat([top_i, idx + j0], dim=1), 1, pick)
            exact = torch.einsum("nd,ncd->nc", self._torch[i0:i1], self._torch[top_i])
            best[i0:i1] = exact.max(dim=1).values.numpy()
        distances = np.sqrt(np.clip(2.0 - 2.0 * best.astype(np.float64), 0.0, None))
        top = distances.max()
        return distances / top if top > 0 else np.zeros(n)

    # -- 2-D map ------------------------------------------------------------------------------------------
    def projection(self) -> np.ndarray:
        """N x 2 coordinates on the two main principal components (centred PCA)."""
        n = len(self)
        coords = np.zeros((n, 2), dtype=np.float32)
        if n < 2:
            return coords
        mean = self._torch.mean(dim=0, dtype=torch.float64)
        mean32 = mean.float()
        cov = torch.zeros((self.dim, self.dim), dtype=torch.float64)
        for i0 in range(0, n, 16384):
            # float32 products per block (several times faster than float64 at 100K x 1280; the two
            # leading eigenvectors do not need more), summed in float64
            part = self._torch[i0 : i0 + 16384] - mean32
            cov += (part.T @ part).double()
        _, vecs = torch.linalg.eigh(cov)
        k = min(2, self.dim)
        basis = vecs.flip(1)[:, :k]
        # Fix the signs so a recomputation draws the same picture, not a mirrored one.
        basis *= torch.where(basis[basis.abs().argmax(dim=0), torch.arange(k)] < 0, -1.0, 1.0)
        basis32 = basis.float()
        for i0 in range(0, n, 16384):
            coords[i0 : i0 + 16384, :k] = ((self._torch[i0 : i0 + 16384] - mean32) @ basis32).numpy()
        return coords


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
    parent = list(range(n))

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
