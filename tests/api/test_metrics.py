"""Prometheus /metrics against a real server: build info, requests by route template, counts and jobs
that move after an import, checkpoint and backup figures, and loopback-only access."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.datasets import import_dataset, make_coco
from tests.support.server import ROOT, Server

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: Server, **headers: str) -> Samples:
    response = httpx.get(f"{server.url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def wait_for(server: Server, name: str, predicate, timeout: float = 20.0, **labels: str) -> float:
    """Counts are cached a few seconds at scrape: poll until the value satisfies `predicate`."""
    deadline = time.monotonic() + timeout
    while True:
        current = value(scrape(server), name, **labels)
        if current is not None and predicate(current):
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}{labels} still {current} after {timeout} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    state = tmp_path_factory.mktemp("metrics") / "state"
    make_coco(state / "datasets" / "coco", n_images=6)
    with Server(state) as srv:
        yield srv


def test_build_info_matches_ready(server: Server) -> None:
    ready = httpx.get(f"{server.url}/ready").json()
    samples = scrape(server)
    info = [labels for (name, labels) in samples if name == "datavisor_build_info"]
    assert len(info) == 1
    labels = dict(info[0])
    assert labels["version"] == ready["version"]
    assert labels["schema_version"] == str(ready["schema_version"])
    assert value(samples, "datavisor_database_bytes") > 0
    assert value(samples, "datavisor_wal_bytes") is not None


def test_counts_and_jobs_move_after_an_import(server: Server) -> None:
    before = scrape(server)
    samples_before = value(before, "datavisor_samples")
    succeeded_before = value(before, "datavisor_jobs", state="succeeded")
    annotations_before = value(before, "datavisor_annotations")
    assert samples_before is not None and succeeded_before is not None
    assert value(before, "datavisor_embeddings") is not None
    with server.client() as client:
        job = import_dataset(
            client, f"metrics-{time.monotonic_ns()}", server.state_dir / "datasets/coco/annotations.json"
        )
        assert job["state"] == "succeeded", job
    wait_for(server, "datavisor_samples", lambda v: v == samples_before + 6)
    after = scrape(server)
    assert value(after, "datavisor_jobs", state="succeeded") == succeeded_before + 1
    assert value(after, "datavisor_annotations") > annotations_before
    assert value(after, "datavisor_datasets") >= 1
    created = value(after, "datavisor_http_requests_total", method="POST", route="/api/datasets", status="202")
    assert created is not None and created >= 1


def test_requests_are_labelled_by_route_template(server: Server) -> None:
    with server.client() as client:
        for dataset_id in (987654, 987655, 987656):
            assert client.get(f"/datasets/{dataset_id}").status_code == 404
        # under /api: any other unknown path is a route of the browser app (app/web.py)
        assert httpx.get(f"{server.api}/no/such/path/{time.monotonic_ns()}").status_code == 404
    samples = scrape(server)
    route = "/api/datasets/{dataset_id}"
    assert value(samples, "datavisor_http_requests_total", method="GET", route=route, status="404") >= 3
    count = value(samples, "datavisor_http_request_duration_seconds_count", method="GET", route=route)
    assert count is not None and count >= 3
    assert value(samples, "datavisor_http_request_duration_seconds_bucket", method="GET", route=route, le="+Inf") >= 3
    assert value(samples, "datavisor_http_requests_total", method="GET", route="<unmatched>", status="404") >= 1
    routes = {dict(labels).get("route", "") for name, labels in samples if name == "datavisor_http_requests_total"}
    assert not any("98765" in r or "/no/such" in r for r in routes), routes


def test_backup_moves_checkpoint_and_backup_figures(server: Server) -> None:
    before = scrape(server)
    checkpoints = value(before, "datavisor_checkpoint_seconds_count")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "backup"], cwd=ROOT, env=server.env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    after = scrape(server)
    assert value(after, "datavisor_checkpoint_seconds_count") == checkpoints + 1
    assert value(after, "datavisor_backup_seconds_count") >= 1
    assert value(after, "datavisor_last_backup_timestamp_seconds") > time.time() - 60
    backup = Path(result.stdout.split('"path": "')[1].split('"')[0])
    assert value(after, "datavisor_last_backup_bytes") == backup.stat().st_size


def test_relayed_requests_from_elsewhere_are_refused(server: Server) -> None:
    for forwarded in ("203.0.113.7", "127.0.0.1, 203.0.113.7", "not-an-address"):
        response = httpx.get(f"{server.url}/metrics", headers={"X-Forwarded-For": forwarded})
        assert response.status_code == 403, forwarded
        assert "loopback" in response.json()["detail"]
    assert httpx.get(f"{server.url}/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


def test_behind_the_proxy_a_remote_client_is_refused(server_factory) -> None:
    # uvicorn rewrites the client from X-Forwarded-For (trusting 127.0.0.1, where Caddy runs).
    with server_factory(behind_proxy="true") as proxied:
        response = httpx.get(f"{proxied.url}/metrics", headers={"X-Forwarded-For": "198.51.100.4"})
        assert response.status_code == 403
        assert httpx.get(f"{proxied.url}/metrics").status_code == 200
