"""Prometheus metrics: one registry per app, an ASGI middleware for HTTP, and values read at scrape.

HTTP requests are labelled by route *template* (`/api/samples/{sample_id}`), never by raw path, so the
number of series is bounded by the number of routes; anything that matched no route is `<unmatched>`.
Counts (samples, annotations, embeddings, jobs by state) and file sizes are computed when scraped and
cached for CACHE_SECONDS, so a tight scrape interval costs one cheap query batch every few seconds.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import __version__
from app.db import Database, DatabaseClosed
from app.schema import SCHEMA_VERSION

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
COUNTED_TABLES = ("datasets", "samples", "annotations", "embeddings")


class _StoreCollector(Collector):
    """Counts and sizes read from the database at scrape time, cached a few seconds."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._lock = threading.Lock()
        self._cached: list[GaugeMetricFamily] = []
        self._cached_at = float("-inf")

    def describe(self) -> list[GaugeMetricFamily]:
        # Registration must not query the database (it is not open yet when the app is built).
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            if self._metrics.db is None:
                return
            if time.monotonic() - self._cached_at >= CACHE_SECONDS:
                self._cached = self._read()
                self._cached_at = time.monotonic()
            yield from self._cached

    def _read(self) -> list[GaugeMetricFamily]:
        db = self._metrics.db
        assert db is not None
        families: list[GaugeMetricFamily] = []
        size = GaugeMetricFamily("datavisor_database_bytes", "Size of the DuckDB file")
        wal = GaugeMetricFamily("datavisor_wal_bytes", "Size of the DuckDB write-ahead log (0 when absent)")
        size.add_metric([], _size(db.path))
        wal.add_metric([], _size(db.wal_path))
        families += [size, wal]
        try:
            with db.cursor() as cur:
                counts = {
                    table: int(cur.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # type: ignore[index]
                    for table in COUNTED_TABLES
                }
                jobs = dict(cur.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
        except DatabaseClosed:
            return families
        for name, value in counts.items():
            family = GaugeMetricFamily(f"datavisor_{name}", f"Rows in the {name} table (all datasets)")
            family.add_metric([], value)
            families.append(family)
        by_state = GaugeMetricFamily("datavisor_jobs", "Background jobs by state", labels=["state"])
        for state in sorted(set(JOB_STATES) | set(jobs)):
            by_state.add_metric([state], int(jobs.get(state, 0)))
        families.append(by_state)
        return families


def _size(path: Any) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class Metrics:
    """The app's metrics; `db` is set by the lifespan once DuckDB is open."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.db: Database | None = None
        build = Info("datavisor_build", "Version of the running DataVisor", registry=self.registry)
        build.info({"version": __version__, "schema_version": str(SCHEMA_VERSION), "python": platform.python_version()})
        self.requests = Counter(
            "datavisor_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "datavisor_http_request_duration_seconds",
            "HTTP request latency (until the last body byte) by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.checkpoint_seconds = Histogram(
            "datavisor_checkpoint_seconds",
            "Duration of the CHECKPOINTs the server ran (backups, shutdown)",
            buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
            registry=self.registry,
        )
        self.backup_seconds = Histogram(
            "datavisor_backup_seconds",
            "Duration of backups taken by the server",
            buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
            registry=self.registry,
        )
        self.last_backup = Gauge(
            "datavisor_last_backup_timestamp_seconds",
            "Unix time of the last successful backup (0: none since start)",
            registry=self.registry,
        )
        self.last_backup_bytes = Gauge(
            "datavisor_last_backup_bytes", "Size of the last successful backup", registry=self.registry
        )
        self.registry.register(_StoreCollector(self))

    def observe_backup(self, result: dict[str, Any]) -> None:
        self.backup_seconds.observe(float(result["seconds"]))
        self.last_backup.set(time.time())
        self.last_backup_bytes.set(int(result["bytes"]))


def route_template(scope: Scope) -> str:
    """The path template of the route Starlette matched (also for a 405), else UNMATCHED.

    FastAPI leaves the router's own route in the scope, whose template lacks the include prefix
    (`/datasets/{dataset_id}` served at `/api/...`): the static prefix is read off the raw path.
    """
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not template:
        return UNMATCHED
    path = scope.get("path", "")
    regex = getattr(route, "path_regex", None)
    if regex is None or regex.match(path):
        return template
    cut = path.find("/", 1)
    while cut != -1:
        if regex.match(path[cut:]):
            return path[:cut] + template
        cut = path.find("/", cut + 1)
    return template


class MetricsMiddleware:
    """Counts every HTTP request and times it until the response's last byte (streams included)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = route_template(scope)
            method = scope.get("method", "GET")
            method = method if method in METHODS else "other"
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
