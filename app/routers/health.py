from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app import __version__
from app.schema import SCHEMA_VERSION

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready")
def ready(request: Request) -> JSONResponse:
    """Readiness: DuckDB is open and its schema is the one this code expects."""
    db = getattr(request.app.state, "db", None)
    current = db is not None and db.is_current
    body = {
        "status": "ready" if current else "starting",
        "version": __version__,
        "schema_version": db.schema_version if db is not None else None,
        "expected_schema_version": SCHEMA_VERSION,
        "plugins": request.app.state.plugins.describe() if current else [],
    }
    return JSONResponse(body, status_code=200 if current else 503)
