"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import concurrent.futures

import httpx

from app.config import load_settings
from app.main import create_app
from app.schema import SCHEMA_VERSION


def test_health_and_ready_on_a_running_server(server) -> None:
    with server.client() as client:
        assert client.get("/health").json() == {"status": "ok"}
        ready = client.get("/ready")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "ready"
        assert body["schema_version"] == body["expected_schema_version"] == SCHEMA_VERSION
        assert "brightness" in {p["name"] for p in body["plugins"]}


def test_probes_at_the_root_and_the_api_under_api(server) -> None:
    """Probes answer at /health and /ready (systemd, Docker, Ansible) and under /api; the API only under /api."""
    for path in ("/health", "/ready", "/api/health", "/api/ready"):
        assert httpx.get(server.url + path).status_code == 200, path
    schema = httpx.get(f"{server.url}/api/openapi.json").json()
    assert "/api/datasets" in schema["paths"] and "/datasets" not in schema["paths"]
    assert "/health" not in schema["paths"]  # the root probes are aliases, documented once under /api
    docs = httpx.get(f"{server.url}/api/docs")
    assert docs.status_code == 200 and "/api/openapi.json" in docs.text
    assert httpx.get(f"{server.url}/api/datasets").status_code == 200


def test_ready_is_503_until_the_database_is_open(tmp_path) -> None:
    """Before the lifespan has opened DuckDB (here: it never runs) /ready refuses; /health still answers."""
    app = create_app(load_settings(_env_file=None, db_path=tmp_path / "db.duckdb"))

    async def probe() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/ready"), await client.get("/health")

    # In a thread of its own: the session's Playwright browser (tests/e2e) keeps an event loop running here.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        ready, health = pool.submit(asyncio.run, probe()).result()
    assert ready.status_code == 503
    assert ready.json()["status"] == "starting"
    assert health.status_code == 200
    assert not (tmp_path / "db.duckdb").exists()


def test_request_validation_errors_are_one_readable_line(server) -> None:
    with server.client() as client:
        response = client.post("/datasets", json={"format": "coco"})
    assert response.status_code == 422
    body = response.json()
    assert isinstance(body["detail"], str)
    assert "body.name: Field required" in body["detail"] and "body.path: Field required" in body["detail"]
    assert {tuple(e["loc"]) for e in body["errors"]} >= {("body", "name"), ("body", "path")}
