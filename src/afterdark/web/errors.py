"""Render every error as ``{"error": {"code", "message"}}`` with a 4xx/5xx status.

Request validation errors add ``fields``: ``[{"field", "message"}]``, one per problem, so a
form can show each message beside its field.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from afterdark.errors import AfterdarkError, RateLimitedError

log = logging.getLogger(__name__)


def error_response(
    status: int, code: str, message: str, fields: list[dict[str, str]] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    return JSONResponse({"error": body}, status_code=status)


def _where(error: dict[str, Any]) -> str:
    location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
    return ".".join(location)


def _describe(error: dict[str, Any]) -> str:
    where = _where(error)
    if error.get("type") == "json_invalid":
        return f"The request body is not valid JSON ({error.get('ctx', {}).get('error', '')})."
    if error.get("type") == "missing" and not where:
        return "The request needs a JSON body."
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))


async def _domain(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, AfterdarkError)
    response = error_response(exc.status, exc.code, exc.message)
    if isinstance(exc, RateLimitedError):
        response.headers["retry-after"] = str(int(exc.retry_after))
    return response


async def _validation(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    message = "; ".join(_describe(e) for e in errors) or "Invalid request."
    fields = [
        {"field": _where(e), "message": str(e.get("msg", "invalid"))} for e in errors if _where(e)
    ]
    return error_response(422, "invalid_input", message, fields)


async def _http(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404 and message == "Not Found":
        message = "There is nothing at this address."
    response = error_response(exc.status_code, codes.get(exc.status_code, "error"), message)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _overloaded(_: Request, exc: Exception) -> Response:
    # The connection pool ran dry (or SQLite stayed locked): the server is overloaded,
    # which is worth a retry, not a 500.
    log.warning("database overloaded: %s", exc)
    response = error_response(
        503, "overloaded", "The server is too busy right now; try again in a few seconds."
    )
    response.headers["retry-after"] = "5"
    return response


async def _unexpected(_: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on the server.")


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AfterdarkError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(sqlalchemy.exc.TimeoutError, _overloaded)
    app.add_exception_handler(Exception, _unexpected)
