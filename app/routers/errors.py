"""Every error reply in one shape, `{"detail": "<one readable line>", ...extra}`, and the schema that says so.

Services raise `app.errors` classes; `install(app)` maps them, request validation, and Starlette's own
404/405 to that shape in one place. Routes declare the 4xx codes they can answer with `errors(...)`, so
/api/openapi.json lists the real ones; the 422 of request validation is documented as `ValidationErrorReply`
(`detail` a string plus the structured `errors` list), replacing FastAPI's default that declares `detail`
as a list.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.errors import DataVisorError


class ErrorReply(BaseModel):
    """What every 4xx/5xx reply carries; some errors add fields (e.g. the current version of a 409)."""

    model_config = ConfigDict(extra="allow")

    detail: str = Field(description="one readable line; names the file and the entry where one exists")


class ValidationIssue(BaseModel):
    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(description="where: 'body', 'query' or 'path', then the field")
    msg: str
    type: str


class ValidationErrorReply(ErrorReply):
    """A 422: `detail` joins every problem as `where: what`; request validation adds the structured list."""

    errors: list[ValidationIssue] | None = Field(None, description="one entry per problem (request validation)")


DESCRIPTIONS = {
    400: "Bad request",
    403: "Outside the configured data roots, or otherwise refused",
    404: "Not found",
    409: "Conflicts with the stored state",
    413: "Upload too large",
    422: "Invalid input",
    428: "Precondition required",
    503: "Temporarily unavailable; retry later",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error codes it can answer, each with the error shape."""
    return {
        code: {"model": ValidationErrorReply if code == 422 else ErrorReply, "description": DESCRIPTIONS[code]}
        for code in codes
    }


def readable(errors: list[dict] | ValidationError) -> str:
    """One line for the `detail` of a 422: `where: what` for every error, joined with '; '."""
    items = errors.errors() if isinstance(errors, ValidationError) else errors
    parts = []
    for item in items:
        where = ".".join(str(p) for p in item["loc"]) or "query"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def _json_safe(value: Any) -> Any:
    """Echoed input may hold what JSON cannot carry (NaN from a JSON body); lone surrogates are escaped below."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class ErrorResponse(JSONResponse):
    """ASCII-escaped JSON: an error may quote input that is not valid UTF-8 (a lone surrogate)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(_json_safe(content), ensure_ascii=True, separators=(",", ":")).encode("ascii")


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 names only the first route's).

    Asked of the routes themselves, method by method: included routers match as one route.
    """
    allowed = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _schema_with_error_shape(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema with its default 422 (`HTTPValidationError`, `detail` a list) replaced by ours."""
    schema = FastAPI.openapi(app)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "HTTPValidationError" in components:
        _, defs = models_json_schema(
            [(ValidationErrorReply, "serialization")], ref_template="#/components/schemas/{model}"
        )
        components.update(defs.get("$defs", {}))
        components.pop("HTTPValidationError")
        if "ValidationError" in components and "ValidationError" not in defs.get("$defs", {}):
            components.pop("ValidationError")
        _replace_refs(schema, "#/components/schemas/HTTPValidationError", "#/components/schemas/ValidationErrorReply")
    # A body that cannot be parsed at all (not JSON, not UTF-8, broken multipart) is FastAPI's 400.
    _, defs = models_json_schema([(ErrorReply, "serialization")], ref_template="#/components/schemas/{model}")
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if "requestBody" in operation and "400" not in operation["responses"]:
                components.setdefault("ErrorReply", defs["$defs"]["ErrorReply"])
                operation["responses"]["400"] = {
                    "description": "The body cannot be parsed",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorReply"}}},
                }
    return schema


def _replace_refs(node: Any, old: str, new: str) -> None:
    if isinstance(node, dict):
        if node.get("$ref") == old:
            node["$ref"] = new
        for value in node.values():
            _replace_refs(value, old, new)
    elif isinstance(node, list):
        for value in node:
            _replace_refs(value, old, new)


def install(app: FastAPI) -> None:
    """Map every error to the one shape, and document that shape in the app's OpenAPI schema."""

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        issues = jsonable_encoder(exc.errors())
        return ErrorResponse({"detail": readable(exc.errors()), "errors": issues}, status_code=422)

    @app.exception_handler(DataVisorError)
    async def _service_error(request: Request, exc: DataVisorError) -> Response:
        # The one mapping of service errors to HTTP (app/errors.py): {"detail": "<message>", ...extra}.
        return ErrorResponse({"detail": str(exc), **exc.extra}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        if exc.status_code < 200 or exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=headers)
        return ErrorResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=headers)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _schema_with_error_shape(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
