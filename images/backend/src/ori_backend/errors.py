"""Domain errors, the one error body every endpoint answers with, and their HTTP mapping.

Services raise :class:`ApiError` subclasses; the handlers installed by :func:`install` turn
them, FastAPI's validation errors and any `HTTPException` into a :class:`Problem` body.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from bson.errors import InvalidDocument
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pymongo.errors import WriteError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ori_backend.db import BAD_VALUE

__all__ = [
    "ApiError",
    "BadGateway",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "Problem",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "install",
]


class Problem(BaseModel):
    """Every error answer: a stable machine code, a sentence for people, optional details."""

    code: str = Field(description="Stable error code, e.g. `not_found`, `validation_error`.")
    message: str = Field(description="What went wrong, for people.")
    details: list[dict[str, Any]] | None = Field(
        default=None, description="Per-field or per-row problems, when there are several."
    )


class ApiError(Exception):
    """An error with an HTTP status and a :class:`Problem` body."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers

    def problem(self) -> Problem:
        """The error as a response body."""
        return Problem(code=self.code, message=self.message, details=self.details)


class BadRequest(ApiError):
    """The request cannot be understood (bad encoding, malformed file)."""


class Unauthorized(ApiError):
    """No valid credentials."""

    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    """Valid credentials without the right role, or a read-only resource."""

    status = 403
    code = "forbidden"


class NotFound(ApiError):
    """No such resource in the caller's workspace."""

    status = 404
    code = "not_found"


class Conflict(ApiError):
    """The resource's state forbids the change (duplicate, invalid transition, no capacity)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    """The upload is larger than ``MAX_UPLOAD_MB``."""

    status = 413
    code = "payload_too_large"


class Unprocessable(ApiError):
    """Well-formed input that fails validation."""

    status = 422
    code = "validation_error"


class TooManyRequests(ApiError):
    """Throttled."""

    status = 429
    code = "too_many_requests"


class BadGateway(ApiError):
    """A service this one relies on tried and failed (e.g. a worker's dial-out)."""

    status = 502
    code = "bad_gateway"


class ServiceUnavailable(ApiError):
    """A dependency or capacity is missing right now."""

    status = 503
    code = "unavailable"


def _codes() -> dict[int, str]:
    """Each status's code: those of the classes above, and two only the framework raises."""
    found: dict[int, str] = {405: "method_not_allowed", 415: "unsupported_media_type"}
    pending = [ApiError]
    while pending:
        kind = pending.pop()
        found.setdefault(kind.status, kind.code)
        pending += kind.__subclasses__()
    return found


_CODES: Final = _codes()


def _answer(status: int, problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    body = problem.model_dump(exclude_none=True)
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return _answer(error.status, error.problem(), error.headers)


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    problem = Problem(code=_CODES.get(error.status_code, "error"), message=str(error.detail))
    return _answer(error.status_code, problem, dict(error.headers or {}) or None)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = [
        {"loc": list(item.get("loc", ())), "msg": str(item.get("msg", "")), "type": item["type"]}
        for item in error.errors()
    ]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "request"
    return await _api_error(request, Unprocessable(f"{where}: {first['msg']}", details=details))


async def _unstorable(request: Request, error: Exception) -> JSONResponse:
    return await _api_error(request, Unprocessable(f"the input cannot be stored: {error}"))


async def _write_refused(request: Request, error: Exception) -> JSONResponse:
    """A value the store refused is the request's fault (422); any other write error is ours."""
    assert isinstance(error, WriteError)
    if error.code != BAD_VALUE:
        raise error
    detail = (error.details or {}).get("errmsg") or str(error)
    return await _api_error(request, Unprocessable(f"the input cannot be stored: {detail}"))


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a :class:`Problem`."""
    app.add_exception_handler(InvalidDocument, _unstorable)
    app.add_exception_handler(WriteError, _write_refused)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
