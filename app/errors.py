"""The error hierarchy: every error a user can cause is a `DataVisorError` with its HTTP status.

Services raise these (never HTTPException: services know nothing of HTTP); `app.main` maps every one to
`{"detail": "<one readable line>"}` with the class's status in a single handler. Subclass the kind that
fits (`class DatasetNotFound(NotFound)`) so a route never lists exceptions itself. Anything else that
escapes is a bug and stays a 500.
"""

from __future__ import annotations


class DataVisorError(Exception):
    """Base: `status` is the HTTP status, `headers` extra reply headers, str(self) the message."""

    status: int = 400
    headers: dict[str, str] | None = None

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        # extra fields merged into the JSON reply next to `detail` (e.g. current_version for a 409)
        self.extra = extra

    def __str__(self) -> str:
        return self.message


class BadRequest(DataVisorError):
    status = 400


class Forbidden(DataVisorError):
    """A path outside the configured data roots, or another refused access."""

    status = 403


class NotFound(DataVisorError):
    status = 404


class Conflict(DataVisorError):
    """The request clashes with the stored state (a name taken, a stale version, a running job)."""

    status = 409


class PayloadTooLarge(DataVisorError):
    status = 413


class Invalid(DataVisorError):
    """Well-formed but unacceptable input (a dataset that does not parse, a value out of range)."""

    status = 422


class PreconditionRequired(DataVisorError):
    """An edit without the version it applies to (optimistic concurrency)."""

    status = 428


class Unavailable(DataVisorError):
    """Temporarily unable (starting up, shutting down, a model missing); retry later."""

    status = 503
    headers = {"Retry-After": "5"}
