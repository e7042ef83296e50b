"""What every request input obeys before a service sees it: ids and counts fit DuckDB's BIGINT, text is UTF-8.

JSON lets a client send integers of any size and strings with lone surrogates (`"\\ud800"`); both would
reach DuckDB and fail there as a 500. Request bodies derive from `RequestModel`, ids use `Id` (path) or
`IdValue` (inside a body), and big counts use `Offset`, so such input is a 422 that names the field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, Field, model_validator

INT64_MAX = 2**63 - 1

# An id inside a body or a list; ids are allocated from 1 and never exceed BIGINT.
IdValue = Annotated[int, Field(ge=0, le=INT64_MAX)]
# An id in the URL path.
Id = Annotated[int, Path(ge=0, le=INT64_MAX)]
# How many rows to skip; DuckDB's OFFSET is a BIGINT.
Offset = Annotated[int, Query(ge=0, le=INT64_MAX, description="rows to skip")]

# Longest path and file name Linux takes (PATH_MAX, NAME_MAX bytes); a NUL cannot be in a file name at all.
MAX_PATH = 4096
MAX_NAME = 255


def _names_fit(path: str) -> str:
    for name in path.split("/"):
        if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME:
            raise ValueError(f"{name[:40]!r}...: a file or folder name is longer than {MAX_NAME} bytes")
    return path


FilePath = Annotated[str, Field(min_length=1, max_length=MAX_PATH, pattern=r"^[^\x00]+$"), AfterValidator(_names_fit)]


def _lone_surrogate(value: Any, where: str) -> str | None:
    """The first place (`name`, `add.2`) holding a string that cannot be encoded as UTF-8, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where
        return None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _lone_surrogate(key, where) if isinstance(key, str) else None
        found = found or _lone_surrogate(item, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


class RequestModel(BaseModel):
    """Base of request bodies (and query models): refuse text that is not valid Unicode, naming the field."""

    @model_validator(mode="before")
    @classmethod
    def _utf8(cls, data: Any) -> Any:
        where = _lone_surrogate(data, "")
        if where is not None:
            raise ValueError(f"{where or 'value'}: text must be valid Unicode (it holds a lone surrogate)")
        return data
