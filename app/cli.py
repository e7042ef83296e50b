"""`datavisor` command: `datavisor serve` runs the API exactly as `make run` and the systemd unit do."""

from __future__ import annotations

import argparse
import json
import sys

from app.config import ConfigError, get_settings


def serve() -> int:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        workers=1,  # DuckDB has one writer: never more than one process
        timeout_graceful_shutdown=settings.graceful_shutdown_timeout,
        log_level=settings.log_level,
        proxy_headers=settings.behind_proxy,
        forwarded_allow_ips="127.0.0.1" if settings.behind_proxy else None,
    )
    return 0


def show_config() -> int:
    print(json.dumps(get_settings().model_dump(mode="json"), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="datavisor", description="DataVisor dataset introspection backend")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the API (one uvicorn worker, graceful shutdown from settings)")
    sub.add_parser("config", help="print the effective settings as JSON")
    args = parser.parse_args(argv)
    try:
        return {"serve": serve, "config": show_config}[args.command]()
    except ConfigError as error:
        print(f"datavisor: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
