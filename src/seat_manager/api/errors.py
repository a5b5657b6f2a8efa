"""The one place where errors become HTTP responses: `{"ok":false,"error":{code,message}}`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from seat_manager.domain.errors import (
    Conflict,
    DepositDataInvalid,
    Forbidden,
    NotFound,
    SeatManagerError,
    ValidationFailed,
)

STATUS_BY_ERROR: tuple[tuple[type[SeatManagerError], int], ...] = (
    (ValidationFailed, 400),
    (DepositDataInvalid, 422),
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
)


def error_body(code: str, message: str) -> dict[str, object]:
    return {"ok": False, "error": {"code": code, "message": message}}


def http_status(error: SeatManagerError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 500


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SeatManagerError)
    async def _domain(_: Request, exc: SeatManagerError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=http_status(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return JSONResponse(error_body("VALIDATION_FAILED", "; ".join(parts)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )
