"""App factory and lifespan: open DuckDB ... CHECKPOINT, close.

Served by `datavisor serve` (app/cli.py: uvicorn in-process, exactly one worker since DuckDB allows one
writing process, graceful timeout N from Settings). On SIGTERM uvicorn stops accepting connections, drains
open requests for at most N seconds, then runs the lifespan shutdown below: plugins, services, CHECKPOINT, close.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from app import __version__, web
from app.config import ConfigError, Settings, get_settings
from app.control import ControlServer, socket_path
from app.db import Database
from app.metrics import Metrics, MetricsMiddleware
from app.plugins import PluginRegistry
from app.routers import API_PREFIX, ROOT_ROUTERS, ROUTERS, errors
from app.services.backup import take_backup
from app.services.datasets import recover_interrupted
from app.services.embeddings.service import EmbeddingService
from app.services.jobs import JobManager

log = logging.getLogger("app")

# After the checkpoint, a job still inside native code gets this long to notice the closed database.
JOB_JOIN_SECONDS = 15.0

CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_HEADERS = ["Accept", "Authorization", "Content-Type", "Last-Event-ID", "X-Requested-With"]


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level.upper())


def _watch_for_stop_signal(stopping: threading.Event) -> None:
    """Set `stopping` as soon as SIGTERM/SIGINT arrives, before uvicorn drains connections.

    Long-lived responses (event streams) poll it and end, so the drain does not wait out the whole
    graceful timeout. When uvicorn's Server owns the handler we ask it to exit the way its own handler
    does, but without recording the signal: uvicorn would otherwise re-raise SIGTERM after the clean
    shutdown and the process would end "killed by SIGTERM" instead of with status 0, which is what
    systemd (ExecMainStatus) and `docker stop` should see after a checkpointed stop.
    """
    import uvicorn

    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if not callable(previous):
            continue
        server = getattr(previous, "__self__", None)

        def handler(sig: int, frame: object, previous: object = previous, server: object = server) -> None:
            stopping.set()
            if isinstance(server, uvicorn.Server):
                if server.should_exit and sig == signal.SIGINT:
                    server.force_exit = True
                server.should_exit = True
            else:
                previous(sig, frame)  # type: ignore[operator]

        try:
            signal.signal(signum, handler)
        except ValueError:  # not the main thread (e.g. an in-process test client)
            return


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.stopping = threading.Event()
    _watch_for_stop_signal(app.state.stopping)

    db = Database(
        settings.db_path,
        {"memory_limit": settings.duckdb_memory_limit, "checkpoint_threshold": settings.duckdb_checkpoint_threshold},
    )
    await run_in_threadpool(db.open)
    app.state.db = db
    metrics: Metrics = app.state.metrics
    metrics.db = db
    db.on_checkpoint = metrics.checkpoint_seconds.observe
    jobs = JobManager(db)
    await run_in_threadpool(jobs.start)
    app.state.jobs = jobs
    await run_in_threadpool(recover_interrupted, db)  # imports cut off by a crash never committed
    # Services holding resources, closed in reverse order at shutdown (later features append here).
    app.state.services = [jobs]
    app.state.embeddings = EmbeddingService(db, jobs, settings)
    app.state.services.append(app.state.embeddings)
    await run_in_threadpool(app.state.embeddings.resume_maps)  # maps missing for stored vectors, as jobs
    plugins = PluginRegistry.discover(settings.plugin_dir, settings.plugins_enabled)
    app.state.plugins = plugins
    plugins.startup(settings)
    control = ControlServer(socket_path(settings.state_dir), {"backup": _backup_command(app), "ping": _ping})
    control.start()
    log.info(
        "DataVisor %s ready: database %s (schema %d), %d plugin(s), CORS %s",
        __version__,
        settings.db_path,
        db.schema_version,
        len(plugins.plugins),
        "off (behind proxy)" if settings.behind_proxy else ", ".join(settings.cors_origins),
    )
    try:
        yield
    finally:
        app.state.stopping.set()
        started = time.perf_counter()
        log.info("shutting down: plugins, services, checkpoint")
        control.close()
        plugins.shutdown()
        for service in reversed(app.state.services):
            try:
                await run_in_threadpool(service.shutdown)
            except Exception:  # noqa: BLE001 - one failing service must not skip the checkpoint
                log.exception("service %s failed to shut down", type(service).__name__)
        await run_in_threadpool(db.close)
        await run_in_threadpool(jobs.join, JOB_JOIN_SECONDS)
        log.info("shutdown complete in %.3f s", time.perf_counter() - started)


def _ping(request: dict[str, object]) -> dict[str, object]:
    return {"version": __version__}


def _backup_command(app: FastAPI) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """`datavisor backup` over the control socket: a consistent copy into `dest` (default <state>/backups)."""

    def backup(request: dict[str, Any]) -> dict[str, Any]:
        settings: Settings = app.state.settings
        dest = Path(request["dest"]) if request.get("dest") else settings.state_dir / "backups"
        keep = int(request["keep"]) if request.get("keep") is not None else None
        result = take_backup(app.state.db, dest, keep=keep, label=request.get("label")).public()
        app.state.metrics.observe_backup(result)
        return result

    return backup


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="DataVisor",
        version=__version__,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    if not settings.behind_proxy:
        # Same-origin behind a proxy needs no CORS at all; otherwise allow exactly the configured
        # origins. Settings refuse '*', which browsers reject with credentials anyway.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
        )

    # Outermost, so every request is counted and timed, CORS preflights and errors included.
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)

    # One error shape for every reply (app/routers/errors.py), documented in the OpenAPI schema.
    errors.install(app)

    # The JSON API lives under /api (the browser app owns every other path); the probes stay at the root too.
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in ROOT_ROUTERS:
        app.include_router(router, include_in_schema=False)
    web.install(app)  # the browser app (app/webui) answers every other GET
    return app


def _create_default_app() -> FastAPI:
    try:
        return create_app()
    except ConfigError as error:
        print(f"datavisor: {error}", file=sys.stderr)
        raise


app = _create_default_app()
