"""Errors of the control plane, each carrying the HTTP status the API answers with.

Each class also inherits the closest built-in error (``LookupError``, ``ValueError``) so library
callers (the CLI's import, tests) can catch them without knowing the HTTP mapping.
"""

from __future__ import annotations


class ControlError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(ControlError, ValueError):
    """A request body or a resulting configuration is invalid; ``field`` names where (``hosts[1]``)."""

    status = 422
    code = "invalid_field"


class NotFound(ControlError, LookupError):
    """No such object, or an object of another tenant (never distinguished, so ids do not leak)."""

    status = 404
    code = "not_found"


class Conflict(ControlError):
    """The object exists already, or still has children."""

    status = 409
    code = "conflict"


class PreconditionRequired(ControlError):
    """An update without ``If-Match``: lost updates are refused rather than risked (RFC 6585)."""

    status = 428
    code = "precondition_required"


class PreconditionFailed(ControlError):
    """``If-Match`` names a revision that is no longer current (RFC 9110 section 13.1.1)."""

    status = 412
    code = "precondition_failed"


class Forbidden(ControlError, PermissionError):
    status = 403
    code = "forbidden"
