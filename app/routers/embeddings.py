"""Embeddings and similarity: start/cancel an embedding run, look-alikes, near-duplicates, 2-D map."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Depends, File, HTTPException, Query, Response, UploadFile
from pydantic import BaseModel

from app.deps import get_embeddings
from app.services.embeddings.encoder import MAX_UPLOAD_BYTES, ImageUnreadable
from app.services.embeddings.index import TooManyPairs
from app.services.embeddings.service import EmbeddingService, ModelUnavailable, NotEmbedded, NotFound

router = APIRouter(tags=["embeddings"])

MAX_K = 1000
STATUS = {NotFound: 404, NotEmbedded: 409, ImageUnreadable: 422, TooManyPairs: 422, ModelUnavailable: 503}


@contextmanager
def _errors(response: Response | None = None) -> Iterator[None]:
    """Map service errors to HTTP; with a response, report the time spent in a Server-Timing header."""
    started, cpu = time.perf_counter(), time.thread_time()
    try:
        yield
    except tuple(STATUS) as error:
        status = next(code for cls, code in STATUS.items() if isinstance(error, cls))
        raise HTTPException(status, str(error)) from None
    if response is not None:
        wall, cpu = (time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000
        # cpu = this request thread's CPU time: on a busy machine it shows the work, wall the waiting too
        response.headers["Server-Timing"] = f"search;dur={wall:.2f}, cpu;dur={cpu:.2f}"


class JobStarted(BaseModel):
    job_id: str


class Hit(BaseModel):
    sample_id: int
    score: float


@router.post("/datasets/{dataset_id}/embeddings", status_code=202, response_model=JobStarted)
def start_embeddings(dataset_id: int, service: EmbeddingService = Depends(get_embeddings)) -> JobStarted:
    """Embed every sample lacking a vector for the current model, as a job (progress via /jobs/{id})."""
    with _errors():
        return JobStarted(job_id=service.start(dataset_id))


@router.get("/datasets/{dataset_id}/embeddings")
def embeddings_status(dataset_id: int, service: EmbeddingService = Depends(get_embeddings)) -> dict:
    with _errors():
        return service.status(dataset_id)


@router.delete("/datasets/{dataset_id}/embeddings")
def cancel_embeddings(dataset_id: int, service: EmbeddingService = Depends(get_embeddings)) -> dict:
    """Cancel the dataset's queued or running embedding run; vectors already written are kept."""
    with _errors():
        return {"cancelled": service.cancel(dataset_id)}


@router.get("/samples/{sample_id}/similar", response_model=list[Hit])
def similar_samples(
    sample_id: int,
    response: Response,
    k: int = Query(20, ge=1, le=MAX_K, description="how many look-alikes"),
    service: EmbeddingService = Depends(get_embeddings),
) -> list[dict]:
    """The k most similar samples of the same dataset (cosine), best first, the sample itself excluded."""
    with _errors(response):
        return service.similar_to_sample(sample_id, k)


@router.post("/datasets/{dataset_id}/similar", response_model=list[Hit])
def similar_to_upload(
    dataset_id: int,
    response: Response,
    image: UploadFile = File(..., description="a picture (JPEG, PNG, ...) that need not be in the dataset"),
    k: int = Query(20, ge=1, le=MAX_K),
    service: EmbeddingService = Depends(get_embeddings),
) -> list[dict]:
    data = image.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"the upload is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    with _errors(response):
        return service.similar_to_image(dataset_id, data, k)


@router.get("/datasets/{dataset_id}/duplicates")
def duplicates(
    dataset_id: int,
    response: Response,
    threshold: float = Query(0.95, ge=0.5, le=1.0, description="cosine similarity that makes two samples duplicates"),
    service: EmbeddingService = Depends(get_embeddings),
) -> dict:
    """Groups of near-duplicates: every pair at or above the threshold ends up in one group."""
    with _errors(response):
        return service.duplicates(dataset_id, threshold)


@router.get("/datasets/{dataset_id}/projection")
def projection(dataset_id: int, service: EmbeddingService = Depends(get_embeddings)) -> dict:
    """2-D PCA coordinates per embedded sample for a scatter plot (cached until the vectors change)."""
    with _errors():
        return service.projection(dataset_id)
