from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.deps import get_jobs
from app.services.jobs import FINAL_STATES, JobManager

router = APIRouter(tags=["jobs"])

KEEPALIVE_SECONDS = 15.0
MIN_INTERVAL_SECONDS = 0.1


def _job_or_404(jobs: JobManager, job_id: str) -> dict:
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"job {job_id} not found")
    return job


@router.get("/jobs/{job_id}")
def get_job(job_id: str, jobs: JobManager = Depends(get_jobs)) -> dict:
    return _job_or_404(jobs, job_id)


@router.delete("/jobs/{job_id}")
def cancel_job(job_id: str, jobs: JobManager = Depends(get_jobs)) -> dict:
    job = jobs.cancel(job_id)
    if job is None:
        raise HTTPException(404, f"job {job_id} not found")
    return job


@router.get("/jobs/{job_id}/events")
async def job_events(job_id: str, request: Request, jobs: JobManager = Depends(get_jobs)) -> StreamingResponse:
    """Server-sent events: one `progress` event per change, a final `end` event, keep-alive comments."""
    first = await run_in_threadpool(_job_or_404, jobs, job_id)
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
