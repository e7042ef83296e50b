from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Server


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator:
    """Build servers on a temporary state directory; every one still running at the end is stopped."""
    started: list[Server] = []

    def make(state_dir: Path | None = None, **settings: object) -> Server:
        server = Server(state_dir or tmp_path / "state", **settings)
        started.append(server)
        return server

    yield make
    for server in started:
        server.kill()


@pytest.fixture
def server(server_factory) -> Iterator[Server]:
    """One running server with default settings; datasets may be read from `server.state_dir/datasets`."""
    srv = server_factory()
    (srv.state_dir / "datasets").mkdir(parents=True, exist_ok=True)
    with srv:
        yield srv
