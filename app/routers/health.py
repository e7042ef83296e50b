"""Probes: liveness and readiness (also served at the root, outside /api, for load balancers and systemd)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app import __version__
from app.schema import SCHEMA_VERSION

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = Field(description="ok")


class Plugin(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    loaded: bool
    api_version: str | int | None = None
    description: str | None = None
    error: str | None = Field(None, description="why it did not load")


class Ready(BaseModel):
    status: str = Field(description="ready, or starting (503)")
    version: str
    schema_version: int | None
    expected_schema_version: int
    plugins: list[Plugin]


@router.get("/health", response_model=Health)
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=Ready, responses={503: {"model": Ready, "description": "not ready yet"}})
def ready(request: Request) -> JSONResponse:
    """Readiness: DuckDB is open and its schema is the one this code expects."""
    db = getattr(request.app.state, "db", None)
    current = db is not None and db.is_current
    body: dict[str, Any] = {
        "status": "ready" if current else "starting",
        "version": __version__,
        "schema_version": db.schema_version if db is not None else None,
        "expected_schema_version": SCHEMA_VERSION,
        "plugins": request.app.state.plugins.describe() if current else [],
    }
    return JSONResponse(body, status_code=200 if current else 503)
