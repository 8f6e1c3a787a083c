"""HTTP errors: one base with a status and a stable code; the JSON error shape lives here only."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error a client caused or may act on; rendered as `{"error": {code, message, details}}`."""

    status = 400
    code = "BAD_REQUEST"
    header_names: tuple[str, ...] = ()  # the response headers this error always carries

    def __init__(
        self,
        message: str,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    @classmethod
    def for_field(cls, field: str, message: str) -> ApiError:
        return cls.for_details([{"field": field, "message": message}])

    @classmethod
    def for_details(cls, details: list[dict[str, str]]) -> ApiError:
        """The error for these problems; its message is the first one's, `field: message` (one formatter)."""
        first = details[0] if details else {"field": "body", "message": "is not valid"}
        return cls(f"{first['field']}: {first['message']}", details)

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


class ValidationError(ApiError):
    status, code = 400, "VALIDATION_ERROR"


class InvalidJson(ApiError):
    status, code = 400, "INVALID_JSON"


class UrlNotAllowed(ApiError):
    status, code = 400, "URL_NOT_ALLOWED"


class Unauthenticated(ApiError):
    status, code = 401, "UNAUTHENTICATED"


class Forbidden(ApiError):
    status, code = 403, "FORBIDDEN"


class NotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class Conflict(ApiError):
    status, code = 409, "CONFLICT"


class PreconditionFailed(ApiError):
    status, code = 412, "PRECONDITION_FAILED"


class PayloadTooLarge(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ApiError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class IdempotencyMismatch(ApiError):
    status, code = 422, "IDEMPOTENCY_MISMATCH"


class MethodNotAllowed(ApiError):
    status, code = 405, "METHOD_NOT_ALLOWED"
    header_names = ("Allow",)


class TooManyRequests(ApiError):
    status, code = 429, "TOO_MANY_REQUESTS"
    header_names = ("Retry-After",)


class Internal(ApiError):
    """The service's own failure; its message never says more than that it was logged."""

    status, code = 500, "INTERNAL"


class Unavailable(ApiError):
    status, code = 503, "UNAVAILABLE"


def _kinds(base: type[ApiError]) -> list[type[ApiError]]:
    return [kind for sub in base.__subclasses__() for kind in (sub, *_kinds(sub))]


# Every error by status, for statuses an operation's own rules answer (the document names their codes).
BY_STATUS: dict[int, list[type[ApiError]]] = {}
for _kind in _kinds(ApiError):
    BY_STATUS.setdefault(_kind.status, []).append(_kind)
