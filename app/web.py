"""The browser app: the Vite build in app/webui (`make ui`) served at `/`, beside the JSON API.

Installed as the app's 404 handler rather than as a catch-all route, so routing of the API is
untouched (a wrong method on an API route still answers 405): only a request that matched nothing
reaches it. Under /api such a request gets the JSON 404 it always got; any other GET or HEAD gets a
file of the build, or `index.html` for paths that are not files (deep links like /datasets/3 are
the app's own routes).

Only files inside the build folder are ever served: the requested path is resolved (symlinks
included) and must stay inside the resolved folder.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

import app as app_package
from app.routers import API_PREFIX

WEBUI_DIR = Path(app_package.__file__).parent / "webui"

# The app has no inline script or style and loads nothing from other origins. Images are the API's
# (same origin); blob: covers nothing today but object URLs of uploads later.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
IMMUTABLE = "public, max-age=31536000, immutable"  # Vite names files under assets/ by content hash
NOT_BUILT = "The DataVisor browser app is not built. Run `make ui` (or `make run`, which builds it) and reload.\n"


def _is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def resolve_file(root: Path, url_path: str) -> Path | None:
    """The file of the build that `url_path` names, or None if it names none or points outside."""
    relative = url_path.lstrip("/")
    if not relative or "\x00" in relative or "\\" in relative:
        return None
    base = root.resolve()
    try:
        candidate = (base / relative).resolve()
        if not candidate.is_relative_to(base) or not candidate.is_file():
            return None
    except (OSError, RuntimeError):  # symlink loops; names too long (is_file raises ENAMETOOLONG: a 500)
        return None
    return candidate


def _headers(cache: str) -> dict[str, str]:
    return {
        "Cache-Control": cache,
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def serve(root: Path, request: Request) -> Response:
    path = request.url.path
    index = root / "index.html"
    if not index.is_file():
        return PlainTextResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "30"})
    file = resolve_file(root, path)
    if file is not None:
        cache = IMMUTABLE if path.startswith("/assets/") else "no-cache"
        media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return FileResponse(file, media_type=media_type, headers=_headers(cache))
    if path.startswith("/assets/"):  # a stale hashed name: never answer it with the HTML
        return PlainTextResponse("not found\n", status_code=404, headers={"Cache-Control": "no-store"})
    return FileResponse(index, media_type="text/html; charset=utf-8", headers=_headers("no-cache"))


def install(app: FastAPI, root: Path = WEBUI_DIR) -> None:
    """Serve the build in `root` for every GET/HEAD that no API route answered."""

    # the API's own handler of HTTP errors (app/routers/errors.py) keeps answering its 404s
    api_handler = app.exception_handlers.get(StarletteHTTPException)

    @app.exception_handler(404)
    async def _not_found(request: Request, exc: Exception) -> Response:
        if _is_api(request.url.path) or request.method not in ("GET", "HEAD"):
            if api_handler is not None:
                return await api_handler(request, exc)
            detail = exc.detail if isinstance(exc, StarletteHTTPException) else "Not Found"
            return JSONResponse({"detail": detail}, status_code=404, headers=getattr(exc, "headers", None))
        return serve(root, request)
