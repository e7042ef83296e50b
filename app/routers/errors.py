"""Service exceptions -> HTTP errors, in one place, so routers stay thin."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException

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
