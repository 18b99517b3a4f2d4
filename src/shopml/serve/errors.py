"""One error body everywhere: ``{"error": code, "message": what is wrong, ...details}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from shopml.core.errors import DataError, NotFittedError, ShopMLError, ValidationError
from shopml.serve.responses import FastJSON

log = logging.getLogger("shopml.serve")


class ApiError(Exception):
    """An error answer: HTTP ``status``, a stable ``code`` and a message saying what to do."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


def _describe(err: dict[str, Any]) -> str:
    """``query.k: Input should be greater than or equal to 1 (got 0)``."""
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
    msg = err.get("msg", "invalid")
    text = f"{loc}: {msg}"
    if "input" in err and err.get("type") != "missing":
        shown = repr(err["input"])
        text += f" (got {shown[:80]}{'...' if len(shown) > 80 else ''})"
    return text


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the common error body."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        headers = {"WWW-Authenticate": "ApiKey"} if exc.status == 401 else None
        return FastJSON(_body(exc.code, exc.message, **exc.extra), exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in errors
        ]
        message = "; ".join(_describe(e) for e in errors[:5])
        if len(errors) > 5:
            message += f"; and {len(errors) - 5} more"
        return JSONResponse(_body("invalid_request", message, detail=detail), 422)

    @app.exception_handler(ValidationError)
    async def _model_rejected(request: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse(_body("invalid_request", str(exc)), 422)

    @app.exception_handler(NotFittedError)
    async def _not_ready(request: Request, exc: NotFittedError) -> JSONResponse:
        return JSONResponse(_body("not_ready", str(exc)), 503)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(_body("data_unavailable", str(exc)), 503)

    @app.exception_handler(ShopMLError)
    async def _shopml(request: Request, exc: ShopMLError) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(_body("unprocessable", str(exc)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            message = "the request body could not be parsed: send JSON encoded as UTF-8"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no endpoint at {request.url.path}; see /docs for the API"
        return JSONResponse(
            _body(code, message), exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            _body("internal_error", f"{type(exc).__name__}: the server failed; see its log"), 500
        )
