"""The local control channel: a unix socket in the state directory, for commands only the host may give.

`datavisor backup` must run inside the server (the one process that may write the DuckDB file), yet
it must not be reachable over HTTP, where the proxy and the network are. So the server listens on
`<state directory>/control.sock`, created 0600 (only the service user, and root, can connect: the
file permissions are the authentication), and answers one JSON object per line with one JSON line:
`{"ok": true, ...}` or `{"ok": false, "error": "<one readable line>", "status": <http-like code>}`.

This module is stdlib-only on the client side so the CLI answers quickly without importing the app.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
MAX_REQUEST_BYTES = 64 * 1024

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def socket_path(state_dir: Path) -> Path:
    return state_dir / SOCKET_NAME


class ControlError(Exception):
    """The server could not be reached or refused the command; the message says what to do."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    handlers: dict[str, Handler]

    def server_bind(self) -> None:
        # chmod between bind and listen: nobody can connect before the mode is 0600.
        super().server_bind()
        os.chmod(self.server_address, 0o600)


class _Request(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        line = self.rfile.readline(MAX_REQUEST_BYTES)
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("expected a JSON object")
        except ValueError as error:
            self._reply({"ok": False, "status": 400, "error": f"malformed control request: {error}"})
            return
        handler = self.server.handlers.get(str(request.get("command")))
        if handler is None:
            known = ", ".join(sorted(self.server.handlers))
            self._reply({"ok": False, "status": 400, "error": f"unknown command {request.get('command')!r} ({known})"})
            return
        try:
            reply = {"ok": True, **handler(request)}
        except Exception as error:  # noqa: BLE001 - every failure goes back to the caller as one line
            from app.errors import DataVisorError

            if not isinstance(error, DataVisorError):
                log.exception("control command %s failed", request.get("command"))
            status = getattr(error, "status", 500)
            reply = {"ok": False, "status": status, "error": str(error) or type(error).__name__}
        self._reply(reply)

    def _reply(self, body: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(body).encode() + b"\n")


class ControlServer:
    """Serves `handlers` on the control socket from a daemon thread until `close()`."""

    def __init__(self, path: Path, handlers: dict[str, Handler]) -> None:
        self.path = path
        self.handlers = handlers
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # Called after DuckDB opened the file, so no other server owns this state directory: a socket
        # file left here is from a process that died.
        self.path.unlink(missing_ok=True)
        try:
            server = _Server(str(self.path), _Request)
        except OSError as error:
            # Serving matters more than this channel; `datavisor backup` will say no server listens.
            log.error("control socket %s unavailable (%s): `datavisor backup` will not work", self.path, error)
            return
        server.handlers = self.handlers
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="datavisor-control", daemon=True)
        self._thread.start()
        log.info("control socket %s", self.path)

    def close(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self.path.unlink(missing_ok=True)
        self._server = None


def call(path: Path, command: str, timeout: float = 3600.0, **params: Any) -> dict[str, Any]:
    """Send one command to the server listening on `path`; returns its reply or raises ControlError."""
    if not path.exists():
        raise ControlError(
            f"no DataVisor server is running for this state directory ({path} does not exist); "
            "start it (systemctl start datavisor) and try again",
            status=3,
        )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except PermissionError:
            raise ControlError(
                f"permission denied on {path}: run as the service user (sudo -u datavisor datavisor ...) or root",
                status=4,
            ) from None
        except (ConnectionRefusedError, FileNotFoundError):
            raise ControlError(
                f"no DataVisor server is listening on {path} (stale socket); start it and try again", status=3
            ) from None
        sock.sendall(json.dumps({"command": command, **params}).encode() + b"\n")
        with sock.makefile("rb") as stream:
            try:
                line = stream.readline()
            except TimeoutError:
                raise ControlError(f"the server did not answer {command!r} within {timeout:.0f} s") from None
    if not line:
        raise ControlError(f"the server closed the control connection without answering {command!r}")
    reply = json.loads(line)
    if not reply.pop("ok", False):
        raise ControlError(str(reply.get("error")), status=1)
    return reply
