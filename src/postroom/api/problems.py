"""Every HTTP error leaves as application/problem+json (RFC 9457), mapped in this one place.

Problem (raised by routes)                    -> its own status
AuthError                                     -> 401
Forbidden                                     -> 403
NotFound, MessageNotFound, BlobNotFound       -> 404
EmailNotFound, TemplateNotFound, DomainNotFound -> 404
Conflict, TemplateNameTaken                   -> 409
IdempotencyConflict                           -> 422
SendInputError, MessageBuildError, TemplateError -> 422, naming the field
InvalidInput, QueryError, ValueError(cursor)  -> 400
RequestValidationError                        -> 422, with the failing fields
StoreUnavailable                              -> 503
HTTPException (Starlette)                     -> its status
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from postroom.auth.service import AuthError, Conflict, Forbidden, InvalidInput, NotFound
from postroom.core.ingest import StoreUnavailable
from postroom.core.messages import MessageNotFound
from postroom.mime.build import MessageBuildError
from postroom.send.domains import DomainNotFound
from postroom.send.service import EmailNotFound, IdempotencyConflict
from postroom.send.templates import TemplateNameTaken, TemplateNotFound
from postroom.send.templating import TemplateError
from postroom.send.validation import SendInputError
from postroom.store.blobs import BlobNotFound
from postroom.store.query import QueryError

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    def __init__(self, status: int, detail: str, *, title: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.extra = extra


def problem_response(
    request: Request, status: int, detail: str, title: str | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_STATUS_FOR: list[tuple[type[Exception], int]] = [
    (AuthError, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (MessageNotFound, 404),
    (BlobNotFound, 404),
    (EmailNotFound, 404),
    (DomainNotFound, 404),
    (TemplateNotFound, 404),
    (Conflict, 409),
    (TemplateNameTaken, 409),
    (IdempotencyConflict, 422),
    (InvalidInput, 400),
    (QueryError, 400),
    (StoreUnavailable, 503),
]


def install(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(request, exc.status, exc.detail, exc.title, **exc.extra)

    async def on_known(request: Request, exc: Exception) -> JSONResponse:
        for kind, status in _STATUS_FOR:
            if isinstance(exc, kind):
                detail = str(exc) or HTTPStatus(status).phrase
                if isinstance(exc, (MessageNotFound, BlobNotFound)):
                    detail = "no such message"
                return problem_response(request, status, detail)
        raise exc

    async def on_bad_field(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, SendInputError):
            field, message = exc.field, exc.message
        elif isinstance(exc, MessageBuildError):
            field, message = exc.field, str(exc)
        else:
            assert isinstance(exc, TemplateError)
            field, message = exc.part or "template", str(exc)
        return problem_response(
            request, 422, f"invalid request: {field}: {message}", errors=[{"field": field, "message": message}]
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(request, 422, f"invalid request: {summary}", errors=errors)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return problem_response(request, exc.status_code, str(exc.detail))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return problem_response(request, 500, "internal error; see the server log")

    app.add_exception_handler(Problem, on_problem)
    for kind, _ in _STATUS_FOR:
        app.add_exception_handler(kind, on_known)
    for kind in (SendInputError, MessageBuildError, TemplateError):
        app.add_exception_handler(kind, on_bad_field)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
