"""Serving the built app (app/web.py) from a real `datavisor serve`: index and deep links, cache and
CSP headers, the API's own 404s, 503 before a build, and nothing outside the build folder (no
traversal, no symlink escapes). A small stand-in build keeps these independent of Node."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.server import Server

INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head></html>'
SECRET = "top secret outside the build"


@pytest.fixture(scope="module")
def webui(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("webui")
    root = tmp_path / "webui"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_text("console.log('app');")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (root / "assets" / "leak.txt").symlink_to(outside / "secret.txt")  # a file symlink pointing out
    (root / "linked").symlink_to(outside, target_is_directory=True)  # a folder symlink pointing out
    return root


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory, webui: Path):
    # one server for the module: starting one costs seconds on a busy machine
    server = Server(tmp_path_factory.mktemp("state"), webui_dir=str(webui))
    (server.state_dir / "datasets").mkdir(parents=True, exist_ok=True)
    with server:
        yield server


def raw_get(server, target: str) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (httpx would normalise `..` away)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_index_deep_links_and_headers(app_server) -> None:
    with httpx.Client(base_url=app_server.url, timeout=10) as http:
        for path in ("/", "/datasets/3", "/datasets/3?category=cat&open=2", "/some/deep/link"):
            response = http.get(path)
            assert response.status_code == 200, path
            assert response.text == INDEX, path
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["cache-control"] == "no-cache"
            csp = response.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp
        asset = http.get("/assets/index-abc123.js")
        assert asset.status_code == 200 and asset.text == "console.log('app');"
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "javascript" in asset.headers["content-type"]
        assert http.get("/favicon.svg").headers["cache-control"] == "no-cache"
        # a hashed name that no longer exists is a 404, never the HTML under a script's name
        assert http.get("/assets/index-old999.js").status_code == 404
        assert http.head("/datasets/1").status_code == 200


def test_api_keeps_its_json_404s_and_405s(app_server) -> None:
    with httpx.Client(base_url=app_server.url, timeout=10) as http:
        response = http.get("/api/no-such-route")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}
        assert http.get("/api/jobs/nope").json() == {"detail": "job nope not found"}
        assert http.get("/api/datasets/999").status_code == 404
        assert http.post("/api/no-such-route").status_code == 404
        assert http.delete("/api/datasets").status_code == 405  # a route's wrong method stays 405
        assert http.post("/datasets/1").status_code == 404  # the app answers GET only
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/api/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "/../outside/secret.txt",
        "/assets/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/assets/%2e%2e/%2e%2e/outside/secret.txt",
        "/assets/leak.txt",
        "/linked/secret.txt",
        "/assets/..%2f..%2foutside%2fsecret.txt",
        "/%00/etc/passwd",
        "/etc/passwd",
        "//etc/passwd",
    ],
)
def test_nothing_outside_the_build_is_served(app_server, target: str) -> None:
    status, body = raw_get(app_server, target)
    assert SECRET.encode() not in body
    assert b"root:" not in body
    # either the app's index (an unknown path is a client-side route) or a refusal
    assert status in (200, 400, 404), (target, status)
    if status == 200:
        assert body.decode() == INDEX, target


def test_not_built_answers_503_with_the_fix(server_factory, tmp_path: Path) -> None:
    empty = tmp_path / "no-build"
    empty.mkdir()
    server = server_factory(webui_dir=str(empty))
    (server.state_dir / "datasets").mkdir(parents=True, exist_ok=True)
    with server, httpx.Client(base_url=server.url, timeout=10) as http:
        response = http.get("/")
        assert response.status_code == 503
        assert "make ui" in response.text
        assert http.get("/datasets/1").status_code == 503
        assert http.get("/api/datasets").status_code == 200  # the API works without the app
