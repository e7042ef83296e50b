"""A real DataVisor server for tests: `datavisor serve` in a subprocess, on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """Started the way `make run` starts it: `datavisor serve`, settings from DATAVISOR_* variables."""

    def __init__(self, state_dir: Path, **settings: object) -> None:
        self.state_dir = state_dir
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DATAVISOR_")}
        self.env.update(
            {
                "DATAVISOR_DB_PATH": str(state_dir / "datavisor.duckdb"),
                "DATAVISOR_HOST": "127.0.0.1",
                "DATAVISOR_PORT": str(self.port),
                "DATAVISOR_PLUGIN_DIR": str(ROOT / "plugins"),
                "DATAVISOR_DATA_ROOTS": str(state_dir / "datasets"),
                "DATAVISOR_GRACEFUL_SHUTDOWN_TIMEOUT": "5",
            }
        )
        for key, value in settings.items():
            self.env[f"DATAVISOR_{key.upper()}"] = value if isinstance(value, str) else str(value)
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = state_dir / f"server-{self.port}.log"
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return Path(self.env["DATAVISOR_DB_PATH"])

    def start(self, timeout: float = 180.0) -> Server:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "a")  # noqa: SIM115 - the server process owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server not ready within {timeout} s:\n{self.log()}")

    @property
    def api(self) -> str:
        """Base URL of the JSON API (everything but the root probes /health and /ready lives under /api)."""
        return f"{self.url}/api"

    def client(self, **kwargs: object) -> httpx.Client:
        """A client for the JSON API: paths are relative to /api (`client.get("/datasets")`)."""
        return httpx.Client(base_url=self.api, timeout=kwargs.pop("timeout", 30.0), **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send `sig` and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()


@contextmanager
def fresh_server(tmp_path_factory, name: str, **settings: object) -> Iterator[Server]:
    """A running server on a new state directory whose data root (state/datasets) exists and is empty."""
    state = tmp_path_factory.mktemp(name) / "state"
    (state / "datasets").mkdir(parents=True)
    with Server(state, **settings) as server:
        yield server
