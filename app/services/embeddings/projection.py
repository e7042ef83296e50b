"""The non-linear 2-D map: t-SNE (openTSNE) of the embeddings, as a job.

openTSNE over umap-learn: wheels for CPython 3.11 and 3.14 without numba/llvmlite, and its FFT
gradients (`negative_gradient_method="fft"`) keep 100K points to minutes on two cores. The vectors are
first reduced to 50 principal components (the usual t-SNE preprocessing: it removes noise dimensions
and makes the neighbour search ~25x cheaper than in 1280-d).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

PCA_DIMS = 50
PERPLEXITY = 30.0
ITERATIONS = (250, 500)  # early exaggeration, then the normal phase (openTSNE's defaults)


def principal_components(vectors: np.ndarray, k: int) -> np.ndarray:
    """The rows projected on the top-k principal components (centred), float32."""
    x = torch.from_numpy(vectors)
    mean = x.mean(dim=0, dtype=torch.float64).float()
    k = max(1, min(k, x.shape[0] - 1, x.shape[1]))
    # torch.pca_lowrank: randomised SVD, far cheaper than a full eigendecomposition of 1280 x 1280 at 100K
    torch.manual_seed(0)
    _, _, v = torch.pca_lowrank(x - mean, q=k, center=False, niter=4)
    return ((x - mean) @ v[:, :k]).numpy().astype(np.float32)


def tsne(vectors: np.ndarray, progress: Callable[[int, int], None] | None = None, threads: int = 1) -> np.ndarray:
    """N x 2 t-SNE coordinates; `progress(done, total)` is called every 50 iterations (it may raise to stop)."""
    from openTSNE import TSNE  # imported on first use: scikit-learn and numba-free, but not small

    n = len(vectors)
    if n < 4:
        return np.zeros((n, 2), dtype=np.float32)
    reduced = principal_components(vectors, PCA_DIMS)
    total = sum(ITERATIONS)
    phase = {"base": 0, "last": 0}

    def callback(iteration: int, _error: float, _embedding: object) -> None:
        # openTSNE restarts the count for the second phase
        if iteration < phase["last"]:
            phase["base"] = ITERATIONS[0]
        phase["last"] = iteration
        if progress is not None:
            progress(phase["base"] + iteration, total)

    embedding = TSNE(
        n_components=2,
        perplexity=min(PERPLEXITY, (n - 1) / 3),
        initialization="pca",
        early_exaggeration_iter=ITERATIONS[0],
        n_iter=ITERATIONS[1],
        neighbors="exact" if n < 1000 else "annoy",
        negative_gradient_method="bh" if n < 10_000 else "fft",
        n_jobs=threads,
        random_state=0,
        callbacks=callback,
        callbacks_every_iters=50,
        verbose=False,
    ).fit(reduced)
    return np.asarray(embedding, dtype=np.float32)
