"""Service exceptions -> HTTP errors, in one place, so routers stay thin."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException
from pydantic import ValidationError

from app.services.datasets import DatasetConflict, DatasetNotFound, InvalidImport
from app.services.paths import PathNotAllowed

STATUS = {
    PathNotAllowed: 403,
    DatasetNotFound: 404,
    LookupError: 404,
    DatasetConflict: 409,
    InvalidImport: 422,
    ValueError: 422,
}


@contextmanager
def http_errors() -> Iterator[None]:
    try:
        yield
    except HTTPException:
        raise
    except tuple(STATUS) as error:
        status = next(code for cls, code in STATUS.items() if isinstance(error, cls))
        raise HTTPException(status, str(error).strip("'\"")) from None


def readable(errors: list[dict] | ValidationError) -> str:
    """One line for the `detail` of a 422: `where: what` for every error, joined with '; '."""
    items = errors.errors() if isinstance(errors, ValidationError) else errors
    parts = []
    for item in items:
        where = ".".join(str(p) for p in item["loc"]) or "query"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
