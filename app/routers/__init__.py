"""HTTP adapters. Each module defines `router`; ROUTERS lists them in the order they are mounted."""

from app.routers import (
    annotations,
    datasets,
    duplicates,
    embeddings,
    evaluation,
    files,
    health,
    images,
    jobs,
    ops,
    samples,
    selections,
)

# Every router is mounted under this prefix; /health and /ready are also served at the root for probes.
API_PREFIX = "/api"

ROUTERS = [
    health.router,
    jobs.router,
    datasets.router,
    samples.router,
    images.router,
    evaluation.router,
    annotations.router,
    embeddings.router,
    duplicates.router,
    selections.router,
    files.router,
]

# Served at the root, outside the API schema: probes and Prometheus' conventional /metrics.
ROOT_ROUTERS = [health.router, ops.router]
