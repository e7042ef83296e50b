"""Origins, proven in Chromium: the dev server's origin may call the backend, any other origin is refused by
the browser, and with behind_proxy=true the app and /api share one origin (no CORS at all).

The dev-server origin is the backend's default CORS origin, http://localhost:3000: a tiny http.server on
port 3000 stands in for `make ui-dev` (which must not be running meanwhile).
"""

from __future__ import annotations

import errno
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Server, free_port, fresh_server

DEV_PORT = 3000
PAGE = b"<!doctype html><html><head><title>origin probe</title></head><body>probe</body></html>"

# Runs in the page: a plain GET, a JSON POST (preflighted: Content-Type application/json) and a
# credentialed GET, each reported as the status it got or the error the browser raised.
PROBE = """
async (api) => {
  const attempt = async (init, path) => {
    try {
      const response = await fetch(api + path, init);
      return {status: response.status, body: await response.text()};
    } catch (error) {
      return {error: String(error)};
    }
  };
  return {
    get: await attempt({}, "/datasets"),
    post: await attempt(
      {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({name: "x", path: "/etc"})},
      "/datasets"),
    credentials: await attempt({credentials: "include"}, "/health"),
    opaque: await fetch(api + "/health", {mode: "no-cors"}).then(r => r.type, e => String(e)),
  };
}
"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


def _serve(port: int) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def origins() -> Iterator[dict[str, str]]:
    """http://localhost:3000 (the default CORS origin) and http://127.0.0.1:<free port> (any other)."""
    try:
        dev = _serve(DEV_PORT)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            pytest.fail(
                f"port {DEV_PORT} is busy (is `make ui-dev` running?): this test serves the dev origin "
                f"http://localhost:{DEV_PORT} itself; stop whatever listens there and rerun"
            )
        raise
    other = _serve(free_port())
    try:
        yield {"dev": f"http://localhost:{DEV_PORT}", "other": f"http://127.0.0.1:{other.server_address[1]}"}
    finally:
        for server in (dev, other):
            server.shutdown()
            server.server_close()


def probe(page, origin: str, api: str) -> dict:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(origin + "/")
    result = page.evaluate(PROBE, api)
    result["console"] = messages
    return result


@pytest.fixture(scope="module")
def direct(tmp_path_factory) -> Iterator[Server]:
    """The backend as `make run` starts it: not behind a proxy, CORS for the default origin only."""
    with fresh_server(tmp_path_factory, "origins-direct") as server:
        yield server


def test_the_dev_server_origin_calls_the_backend_cross_origin(page, origins, direct) -> None:
    result = probe(page, origins["dev"], direct.api)
    assert result["get"] == {"status": 200, "body": "[]"}, result
    # the preflighted POST got through and its reply is readable: the server's own 403 for /etc
    assert result["post"]["status"] == 403, result
    assert "outside the allowed data roots" in result["post"]["body"]
    assert result["credentials"]["status"] == 200, result


def test_another_origin_is_refused_by_the_browser(page, origins, direct) -> None:
    result = probe(page, origins["other"], direct.api)
    for name in ("get", "post", "credentials"):
        assert result[name] == {"error": "TypeError: Failed to fetch"}, result
    # The backend is reachable from that page (an opaque no-cors fetch succeeds): it is the browser,
    # following the backend's CORS answer, that keeps the replies from the page.
    assert result["opaque"] == "opaque", result
    assert any("blocked by CORS policy" in text for text in result["console"]), result["console"]


# -- behind the proxy: one origin -------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def proxied(tmp_path_factory) -> Iterator[Server]:
    if shutil.which("npm") is None:
        pytest.fail("npm not found: this test builds the app with Node.js 18+ (CI installs nodejs and npm)")
    subprocess.run([str(ROOT / "scripts" / "build-ui.sh"), "--if-stale"], check=True, timeout=900)
    assert (ROOT / "app" / "webui" / "index.html").is_file(), "scripts/build-ui.sh built no app/webui/index.html"
    with fresh_server(tmp_path_factory, "origins-proxied", behind_proxy="true") as server:
        yield server


def test_behind_proxy_the_app_and_the_api_share_one_origin(page, proxied, origins) -> None:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(proxied.url + "/datasets/1")  # a deep link: the app answers it
    assert response is not None and response.status == 200
    assert "text/html" in response.headers["content-type"]
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    page.wait_for_function("document.getElementById('root') && document.getElementById('root').children.length > 0")
    same = page.evaluate(
        "async () => { const r = await fetch('/api/datasets'); return {status: r.status, body: await r.json()}; }"
    )
    assert same == {"status": 200, "body": []}
    assert not [e for e in errors if "Content Security Policy" in e], errors
    # behind the proxy the backend answers no origin at all, not even the dev server's
    refused = probe(page, origins["dev"], proxied.api)
    assert refused["get"] == {"error": "TypeError: Failed to fetch"}, refused
