"""The application's one error hierarchy.

Services raise these; the web views, the API's exception handler and the management commands
turn them into a message, an HTTP status or an exit code. Each has a stable ``code`` for machines
and a ``message`` for people that names what is wrong.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if code:
            self.code = code

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "detail": self.detail}}


class InvalidInput(ApplicationError):
    code = "invalid"


class NotFound(ApplicationError):
    code = "not_found"
    http_status = 404


class Conflict(ApplicationError):
    """The request was valid but the object changed or is in the wrong state for it."""

    code = "conflict"
    http_status = 409


class Forbidden(ApplicationError):
    code = "forbidden"
    http_status = 403
