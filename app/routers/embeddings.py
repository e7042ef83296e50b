"""Embeddings and similarity: start/cancel an embedding run, look-alikes, 2-D map (near-duplicates: duplicates.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import pydantic_core
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.deps import DbDep, EmbeddingsDep
from app.errors import Invalid, PayloadTooLarge
from app.routers.errors import errors
from app.routers.inputs import Id
from app.routers.jobs import Job
from app.services.embeddings.colors import ColorBy, colors
from app.services.embeddings.encoder import MAX_UPLOAD_BYTES

router = APIRouter(tags=["embeddings"])

MAX_K = 1000


@contextmanager
def server_timing(response: Response) -> Iterator[None]:
    """Report the time spent in a Server-Timing header."""
    started, cpu = time.perf_counter(), time.thread_time()
    yield
    wall, cpu = (time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000
    # cpu = this request thread's CPU time: on a busy machine it shows the work, wall the waiting too
    response.headers["Server-Timing"] = f"search;dur={wall:.2f}, cpu;dur={cpu:.2f}"


class JobStarted(BaseModel):
    job_id: str


class Hit(BaseModel):
    sample_id: int
    score: float = Field(description="cosine similarity")


class ModelVectors(BaseModel):
    model: str
    dim: int
    vectors: int


class EmbeddingStatus(BaseModel):
    model_config = ConfigDict(extra="allow")

    dataset_id: int
    model: str = Field(description="the model new runs use")
    samples: int
    models: list[ModelVectors] = Field(description="vectors stored per model")
    jobs: list[Job] = Field(description="queued or running embedding jobs")


class Cancelled(BaseModel):
    cancelled: list[str] = Field(description="ids of the jobs asked to stop")


class Projection(BaseModel):
    """Columnar: `ids[i]` is at (`x[i]`, `y[i]`); ids ascending."""

    model_config = ConfigDict(extra="allow")

    model: str
    method: str
    ids: list[int]
    x: list[float]
    y: list[float]


class MapColors(BaseModel):
    by: str
    ids: list[int] = Field(description="every sample of the dataset, ascending")
    labels: list[str] = Field(description="categorical colourings: the values; '(none)' last")
    codes: list[int] = Field(description="categorical: index into labels per sample")
    values: list[float | None] = Field(description="uniqueness: the score per sample (null: not embedded)")


ProjectionMethod = Literal["pca", "tsne"]
BINARY = "application/octet-stream"


@router.post(
    "/datasets/{dataset_id}/embeddings", status_code=202, response_model=JobStarted, responses=errors(404, 503)
)
def start_embeddings(dataset_id: Id, service: EmbeddingsDep) -> JobStarted:
    """Embed every sample lacking a vector for the current model, as a job (progress via /jobs/{id})."""
    return JobStarted(job_id=service.start(dataset_id))


@router.get("/datasets/{dataset_id}/embeddings", response_model=EmbeddingStatus, responses=errors(404, 503))
def embeddings_status(dataset_id: Id, service: EmbeddingsDep) -> dict[str, Any]:
    return service.status(dataset_id)


@router.delete("/datasets/{dataset_id}/embeddings", response_model=Cancelled, responses=errors(404))
def cancel_embeddings(dataset_id: Id, service: EmbeddingsDep) -> Cancelled:
    """Cancel the dataset's queued or running embedding run; vectors already written are kept."""
    return Cancelled(cancelled=service.cancel(dataset_id))


@router.get("/samples/{sample_id}/similar", response_model=list[Hit], responses=errors(404, 409, 503))
def similar_samples(
    sample_id: Id,
    response: Response,
    service: EmbeddingsDep,
    k: int = Query(20, ge=1, le=MAX_K, description="how many look-alikes"),
) -> list[dict[str, Any]]:
    """The k most similar samples of the same dataset (cosine), best first, the sample itself excluded."""
    with server_timing(response):
        return service.similar_to_sample(sample_id, k)


UPLOAD_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff", BINARY)


@router.post(
    "/datasets/{dataset_id}/similar",
    response_model=list[Hit],
    responses=errors(404, 409, 413, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": f"the picture's bytes as the body (at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB)",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in UPLOAD_TYPES},
        }
    },
)
async def similar_to_upload(
    dataset_id: Id,
    request: Request,
    response: Response,
    service: EmbeddingsDep,
    k: int = Query(20, ge=1, le=MAX_K),
    name: str = Query(
        "the upload", min_length=1, max_length=255, description="the file's name, quoted in error messages"
    ),
) -> list[dict[str, Any]]:
    """The k samples that look most like a picture that need not be in the dataset (query by image).

    The body is the image itself, read into memory up to the limit: never written to disk (a multipart
    form would be spooled to a temporary file outside the state directory first), decoded like a dataset file.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in UPLOAD_TYPES:
        raise Invalid(f"{name}: send the image's bytes as the body with an image/* type, not {kind or 'none'}")
    limit = f"{name}: the upload is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB"
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(limit)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(limit)

    def search() -> list[dict[str, Any]]:
        with server_timing(response):
            return service.similar_to_image(dataset_id, bytes(data), k, name=name)

    return await run_in_threadpool(search)


@router.get(
    "/datasets/{dataset_id}/projection",
    response_model=Projection,
    responses={
        200: {
            "description": "columnar JSON, or with format=binary little-endian int64 ids[n], float32 x[n], "
            "float32 y[n] (n in the X-Points header; model and method in X-Model / X-Method)",
            "content": {BINARY: {"schema": {"type": "string", "format": "binary"}}},
        },
        **errors(404, 409, 422, 503),
    },
)
def projection(
    dataset_id: Id,
    service: EmbeddingsDep,
    method: ProjectionMethod = Query("pca", description="pca (computed on demand) or tsne (POST it first)"),
    format: Literal["json", "binary"] = Query("json", description="binary: 16 bytes per point (1.6 MB at 100K)"),
) -> Any:
    """2-D coordinates of every embedded sample for the map (cached with the vectors they came from)."""
    started = time.perf_counter()
    p = service.projection(dataset_id, method)
    if format == "binary":
        body = b"".join(
            np.ascontiguousarray(a, dtype=t).astype(t.newbyteorder("<"), copy=False).tobytes()
            for a, t in ((p["ids"], np.dtype(np.int64)), (p["x"], np.dtype(np.float32)), (p["y"], np.dtype(np.float32)))
        )
        headers = {
            "X-Points": str(len(p["ids"])),
            "X-Model": p["model"],
            "X-Method": p["method"],
            "Server-Timing": f"projection;dur={(time.perf_counter() - started) * 1000:.2f}",
        }
        return Response(body, media_type=BINARY, headers=headers)
    reply = {
        "model": p["model"],
        "method": p["method"],
        "ids": p["ids"].tolist(),
        "x": np.round(p["x"].astype(np.float64), 5).tolist(),
        "y": np.round(p["y"].astype(np.float64), 5).tolist(),
    }
    return Response(pydantic_core.to_json(reply), media_type="application/json")


@router.post(
    "/datasets/{dataset_id}/projection", status_code=202, response_model=JobStarted, responses=errors(404, 409, 422)
)
def start_projection(
    dataset_id: Id,
    service: EmbeddingsDep,
    method: Literal["tsne"] = Query("tsne", description="the non-linear map to compute, as a job"),
) -> JobStarted:
    """Compute the t-SNE map of the current vectors as a job (progress via /jobs/{id}); stored until they change."""
    return JobStarted(job_id=service.start_projection(dataset_id, method))


@router.get("/datasets/{dataset_id}/projection/colors", response_model=MapColors, responses=errors(404, 422))
def map_colors(
    dataset_id: Id,
    db: DbDep,
    by: ColorBy = Query("category", description="category (most boxes), split, tag (first), uniqueness, errors"),
    run: str | None = Query(None, min_length=1, max_length=100, description="prediction run, for by=errors"),
) -> Response:
    """A value per sample to colour the map by (columnar)."""
    if by == "errors" and run is None:
        raise Invalid("run: by=errors needs the prediction run whose evaluation colours the map")
    return Response(pydantic_core.to_json(colors(db, dataset_id, by, run)), media_type="application/json")
