"""CORS follows behind_proxy: exact origins with credentials, or no CORS middleware at all."""

from __future__ import annotations

import pytest

ALLOWED = "http://localhost:3000"
OTHER = "http://evil.example"


def preflight(client, origin: str, path: str = "/health"):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "GET"})


def cors_headers(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


@pytest.fixture(scope="module")
def direct(tmp_path_factory):
    from tests.support.server import Server

    with Server(tmp_path_factory.mktemp("direct"), behind_proxy="false") as srv:
        yield srv


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    from tests.support.server import Server

    with Server(tmp_path_factory.mktemp("proxied"), behind_proxy="true") as srv:
        yield srv


def test_allowed_origin_is_echoed_exactly_with_credentials(direct) -> None:
    with direct.client() as client:
        pre = preflight(client, ALLOWED)
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == ALLOWED
        assert pre.headers["access-control-allow-credentials"] == "true"
        simple = client.get("/health", headers={"Origin": ALLOWED})
        assert simple.headers["access-control-allow-origin"] == ALLOWED
        assert simple.headers["access-control-allow-credentials"] == "true"
        assert "Origin" in simple.headers.get("vary", "")


def test_other_origin_gets_no_allow_origin(direct) -> None:
    with direct.client() as client:
        pre = preflight(client, OTHER)
        assert "access-control-allow-origin" not in pre.headers
        assert pre.status_code == 400
        simple = client.get("/health", headers={"Origin": OTHER})
        assert simple.status_code == 200
        assert "access-control-allow-origin" not in simple.headers


def test_never_a_wildcard(direct) -> None:
    with direct.client() as client:
        for origin in (ALLOWED, OTHER, "null"):
            for response in (preflight(client, origin), client.get("/ready", headers={"Origin": origin})):
                assert "*" not in response.headers.get("access-control-allow-origin", "")


def test_configured_origins_replace_the_default(server_factory) -> None:
    with server_factory(cors_origins="https://ui.example.org") as srv, srv.client() as client:
        assert preflight(client, "https://ui.example.org").headers["access-control-allow-origin"] == (
            "https://ui.example.org"
        )
        assert "access-control-allow-origin" not in preflight(client, ALLOWED).headers


def test_behind_proxy_sends_no_cors_headers_at_all(proxied) -> None:
    with proxied.client() as client:
        for origin in (ALLOWED, OTHER):
            pre = preflight(client, origin)
            assert cors_headers(pre) == {}
            simple = client.get("/health", headers={"Origin": origin})
            assert simple.status_code == 200
            assert cors_headers(simple) == {}
