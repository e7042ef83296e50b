"""Serving the built app (app/web.py) from a real `datavisor serve`: index and deep links, cache and
CSP headers, the API's own 404s and 405s, nothing outside the build folder (no traversal, no symlink
escapes), and 503 with the fix when there is no build."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import httpx
import pytest

from tests.e2e.app_build import ROOT, ensure_built
from tests.support.server import Server

SECRET = "top secret outside the build"


@pytest.fixture(scope="module")
def webui(tmp_path_factory: pytest.TempPathFactory):
    """The real build, plus two symlinks that point out of it (removed afterwards)."""
    root = ensure_built()
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text(SECRET)
    tag = f"zz-test-{os.getpid()}"
    links = [root / "assets" / f"{tag}-leak.txt", root / f"{tag}-linked"]
    links[0].symlink_to(outside / "secret.txt")
    links[1].symlink_to(outside, target_is_directory=True)
    try:
        yield root, tag
    finally:
        for link in links:
            link.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory, webui):
    # one server for the module: starting one costs seconds on a busy machine
    server = Server(tmp_path_factory.mktemp("state"))
    (server.state_dir / "datasets").mkdir(parents=True, exist_ok=True)
    with server:
        yield server


def raw_get(server: Server, target: str) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (httpx would normalise `..` away)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_index_deep_links_and_headers(app_server: Server, webui) -> None:
    root, _ = webui
    index = (root / "index.html").read_text()
    # the entry script is the one index.html loads (lazy-loaded views have chunks of their own)
    scripts = [p for p in (root / "assets").iterdir() if p.suffix == ".js" and f'src="/assets/{p.name}"' in index]
    assert len(scripts) == 1, scripts
    script = scripts[0]
    assert "<script>" not in index  # no inline script
    with httpx.Client(base_url=app_server.url, timeout=30) as http:
        for path in ("/", "/datasets/3", "/datasets/3?category=cat&open=2", "/some/deep/link"):
            response = http.get(path)
            assert response.status_code == 200, path
            assert response.text == index, path
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["cache-control"] == "no-cache"
            csp = response.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        asset = http.get(f"/assets/{script.name}")
        assert asset.status_code == 200 and asset.content == script.read_bytes()
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "javascript" in asset.headers["content-type"]
        assert http.get("/favicon.svg").headers["cache-control"] == "no-cache"
        # a hashed name that no longer exists is a 404, never the HTML under a script's name
        assert http.get("/assets/index-0ld999.js").status_code == 404
        assert http.head("/datasets/1").status_code == 200


def test_api_keeps_its_json_404s_and_405s(app_server: Server) -> None:
    with httpx.Client(base_url=app_server.url, timeout=30) as http:
        response = http.get("/api/no-such-route")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}
        assert http.get("/api/jobs/nope").json()["detail"] == "job nope not found"
        assert http.get("/api/datasets/999").status_code == 404
        assert http.post("/api/no-such-route").status_code == 404
        assert http.delete("/api/datasets").status_code == 405  # a route's wrong method stays 405
        assert http.post("/datasets/1").status_code == 404  # the app answers GET and HEAD only
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/api/openapi.json").status_code == 200


TRAVERSALS = [
    "/../main.py",
    "/assets/../../main.py",
    "/%2e%2e/main.py",
    "/assets/%2e%2e/%2e%2e/main.py",
    "/assets/..%2f..%2fmain.py",
    "/..%5cmain.py",
    "/%00/../main.py",
    "/etc/passwd",
    "//etc/passwd",
    "/../../../../../../etc/passwd",
    "/{tag}-linked/secret.txt",
    "/assets/{tag}-leak.txt",
    "/" + "a" * 300,  # a name longer than the file system's NAME_MAX: was a 500 (OSError from is_file)
    "/assets/" + "b/" * 2100,  # longer than PATH_MAX
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_nothing_outside_the_build_is_served(app_server: Server, webui, target: str) -> None:
    root, tag = webui
    status, body = raw_get(app_server, target.format(tag=tag))
    assert SECRET.encode() not in body
    assert b"root:" not in body and b"def create_app" not in body
    # either the app's index (an unknown path is a route of the app) or a refusal
    assert status in (200, 400, 404), (target, status)
    if status == 200:
        assert body == (root / "index.html").read_bytes(), target


def test_not_built_answers_503_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a real server started from a copy of the package that has no build next to it
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "app", copy / "app", ignore=shutil.ignore_patterns("webui", "__pycache__"))
    server = Server(tmp_path / "state")
    (server.state_dir / "datasets").mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr("tests.support.server.ROOT", copy)  # the server's working directory: `app` is the copy
    with server, httpx.Client(base_url=server.url, timeout=30) as http:
        response = http.get("/")
        assert response.status_code == 503
        assert "make ui" in response.text
        assert http.get("/datasets/1").status_code == 503
        assert http.get("/api/datasets").status_code == 200  # the API works without the app
