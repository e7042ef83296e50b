"""`datavisor` command. `datavisor serve` is the one way DataVisor is started: `make run`, the tests, the
native systemd unit, the container unit and the image's CMD all run it, so uvicorn's flags exist once, here.
`datavisor backup` asks the running server for a consistent copy of its database.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.config import ConfigError, Settings, get_settings


def uvicorn_options(settings: Settings) -> dict[str, object]:
    """Every uvicorn option DataVisor runs with, from Settings."""
    return {
        "host": settings.host,
        "port": settings.port,
        "workers": 1,  # DuckDB has one writer: never more than one process
        "timeout_graceful_shutdown": settings.graceful_shutdown_timeout,
        "log_level": settings.log_level,
        # Behind the proxy, X-Forwarded-* are trusted from the proxy's address alone; otherwise never.
        "proxy_headers": settings.behind_proxy,
        "forwarded_allow_ips": settings.forwarded_allow_ips if settings.behind_proxy else [],
    }


def serve() -> int:
    import uvicorn

    uvicorn.run("app.main:app", **uvicorn_options(get_settings()))  # type: ignore[arg-type]
    return 0


def show_config() -> int:
    settings = get_settings()
    print(json.dumps({**settings.model_dump(mode="json"), "uvicorn": uvicorn_options(settings)}, indent=2))
    return 0


def backup(args: argparse.Namespace) -> int:
    """Ask the running server (over its control socket) for a consistent backup; print the result."""
    from app.control import ControlError, call, socket_path

    settings = get_settings()
    params: dict[str, object] = {}
    if args.dest:
        params["dest"] = str(Path(args.dest).expanduser().absolute())
    if args.keep is not None:
        params["keep"] = args.keep
    if args.label:
        params["label"] = args.label
    try:
        reply = call(socket_path(settings.state_dir), "backup", **params)
    except ControlError as error:
        print(f"datavisor backup: {error}", file=sys.stderr)
        return error.status
    print(json.dumps(reply, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="datavisor", description="DataVisor dataset introspection backend")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the API: one uvicorn worker, host, port, graceful timeout, proxy from settings")
    sub.add_parser("config", help="print the effective settings and uvicorn options as JSON")
    backup_parser = sub.add_parser(
        "backup",
        help="have the running server write a consistent copy of its database (exit 3: no server runs)",
    )
    backup_parser.add_argument("--dest", help="directory for the backup (default: <state directory>/backups)")
    backup_parser.add_argument("--keep", type=int, help="then keep only the N newest backups with this label")
    backup_parser.add_argument("--label", help="suffix of the file name, e.g. pre-upgrade (a-z, 0-9, '.', '_', '-')")
    args = parser.parse_args(argv)
    if args.command == "backup" and args.keep is not None and args.keep < 1:
        parser.error("--keep must be at least 1")
    try:
        if args.command == "backup":
            return backup(args)
        return {"serve": serve, "config": show_config}[args.command]()
    except ConfigError as error:
        print(f"datavisor: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
