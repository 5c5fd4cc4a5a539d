"""One JSON error shape everywhere: ``{"error": {"code": "...", "message": "..."}}``."""

from __future__ import annotations

import logging

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from worker.errors import ErrorCode, error_code

log = logging.getLogger(__name__)

#: The code of an HTTP error the framework raises (a 404 route, a 405 method, …), by status.
HTTP_CODES: dict[int, ErrorCode] = {c.status: c for c in (
    ErrorCode.BAD_REQUEST, ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND,
    ErrorCode.METHOD_NOT_ALLOWED, ErrorCode.REQUEST_TIMEOUT, ErrorCode.CONFLICT, ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE, ErrorCode.REQUEST_HEADER_TOO_LARGE, ErrorCode.INVALID_REQUEST,
    ErrorCode.UNAVAILABLE) if c.status is not None}


class ApiError(Exception):
    """An error answer: HTTP ``status`` (default: the code's own, :class:`~worker.errors.ErrorCode`), a known
    ``code`` and a one-line ``message``."""

    def __init__(self, status: int | None, code: ErrorCode | str, message: str) -> None:
        super().__init__(message)
        self.code = error_code(code)
        resolved = status if status is not None else self.code.status
        if resolved is None:
            raise ValueError(f"error code {self.code} has no HTTP status; pass one")
        self.status, self.message = resolved, message


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this request's path (Starlette names only the first
    matching route's): each method is tried against the whole route table, nested routers included."""
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return JSONResponse(error_body(ErrorCode.INVALID_REQUEST,
                                       "; ".join(parts) or "invalid request"), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, ErrorCode.INTERNAL if exc.status_code >= 500 else ErrorCode.BAD_REQUEST)
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(redis.RedisError)
    async def _redis(_: Request, exc: redis.RedisError) -> JSONResponse:
        log.warning("redis unavailable: %s", exc)
        return JSONResponse(error_body(ErrorCode.UNAVAILABLE,
                                       "job storage is temporarily unavailable; please retry shortly"),
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body(ErrorCode.INTERNAL, "internal server error"), status_code=500)
