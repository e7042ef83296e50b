"""Embeddings: the model, the encoder, vectors in DuckDB, similarity search over them."""

import os

# torch's OpenMP threads spin while waiting for work by default. On a small shared host (the 2-core
# target, with uvicorn, DuckDB and decoder threads beside it) a spinning thread that lost its core
# stalls every parallel region: measured here 0.9 instead of 6.8 images/s with 2 threads under load.
# Must be set before torch (libgomp) is loaded; this package is imported before its torch modules.
# An operator's own OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
