"""Operator endpoints: Prometheus `/metrics`, served to the host itself only.

Loopback-only: the direct client must be a loopback address, and a request relayed by a proxy (an
`X-Forwarded-For` header, or uvicorn's proxy-headers rewriting the client) must come from loopback
too. A browser reaching the server through Caddy therefore gets 403, whatever it sends: Caddy replaces
`X-Forwarded-For` with the real client address. Scrape from the host (or a node-local agent).
"""

from __future__ import annotations

from ipaddress import ip_address

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.errors import Forbidden

router = APIRouter(tags=["ops"])


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return host.strip().lower() == "localhost"


def require_loopback(request: Request) -> None:
    client = request.client.host if request.client else None
    forwarded = [part for header in request.headers.getlist("x-forwarded-for") for part in header.split(",")]
    if not _is_loopback(client) or not all(_is_loopback(part) for part in forwarded):
        raise Forbidden("/metrics is served to the host itself only (loopback); scrape it from the host")


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text exposition of the app's registry."""
    require_loopback(request)
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
