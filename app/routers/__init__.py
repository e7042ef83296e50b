"""HTTP adapters. Each module defines `router`; ROUTERS lists them in the order they are mounted."""

from app.routers import datasets, embeddings, evaluation, health, images, jobs, samples

ROUTERS = [
    health.router,
    jobs.router,
    datasets.router,
    samples.router,
    images.router,
    evaluation.router,
    embeddings.router,
]
