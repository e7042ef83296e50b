"""Jobs: state of an import, prediction or embedding run, its cancellation, and its live event stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.deps import JobsDep
from app.errors import NotFound
from app.routers.errors import errors
from app.services.jobs import FINAL_STATES, JobManager

router = APIRouter(tags=["jobs"])

KEEPALIVE_SECONDS = 15.0
MIN_INTERVAL_SECONDS = 0.1


class JobNotFound(NotFound):
    pass


class Job(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    kind: str = Field(description="import, predictions, embeddings, ...")
    dataset_id: int | None
    state: str = Field(description="queued, running, succeeded, failed or cancelled")
    done: int
    total: int | None
    message: str | None
    error: str | None = Field(description="why it failed, verbatim")
    result: dict[str, Any] | None = Field(description="what the job reports when it succeeds")
    created_at: str | None
    started_at: str | None
    finished_at: str | None


def _job(jobs: JobManager, job_id: str) -> dict[str, Any]:
    job = jobs.get(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id} not found")
    return job


@router.get("/jobs/{job_id}", response_model=Job, responses=errors(404))
def get_job(job_id: str, jobs: JobsDep) -> dict[str, Any]:
    return _job(jobs, job_id)


@router.delete("/jobs/{job_id}", response_model=Job, responses=errors(404))
def cancel_job(job_id: str, jobs: JobsDep) -> dict[str, Any]:
    """Ask a queued or running job to stop; the reply is its state now (a finished job is left as it is)."""
    job = jobs.cancel(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id} not found")
    return job


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}, **errors(404)},
)
async def job_events(job_id: str, request: Request, jobs: JobsDep) -> StreamingResponse:
    """Server-sent events: one `progress` event per change, a final `end` event, keep-alive comments.

    Each event's data is the job as `GET /jobs/{job_id}` returns it.
    """
    first = await run_in_threadpool(_job, jobs, job_id)
    stopping = request.app.state.stopping

    async def stream() -> AsyncIterator[str]:
        seen, idle = -1, 0.0
        while not stopping.is_set() and not await request.is_disconnected():
            changed = await run_in_threadpool(jobs.wait_for_change, job_id, seen, 1.0)
            if changed is None:  # not in memory (finished before a restart): report what is stored
                yield f"event: end\ndata: {json.dumps(jobs.get(job_id) or first)}\n\n"
                return
            version, payload = changed
            if payload["state"] in FINAL_STATES:
                yield f"event: end\ndata: {json.dumps(payload)}\n\n"
                return
            if version != seen:
                yield f"event: progress\ndata: {json.dumps(payload)}\n\n"
                seen, idle = version, 0.0
                await asyncio.sleep(MIN_INTERVAL_SECONDS)  # at most ~10 events a second per client
            else:
                idle += 1.0
                if idle >= KEEPALIVE_SECONDS:
                    yield ": keep-alive\n\n"
                    idle = 0.0

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
