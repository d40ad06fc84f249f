"""Native API errors: every :class:`VoxprintError` becomes a 4xx JSON body with its code.

The body is ``{"error": {"code": "...", "message": "..."}}``. Statuses come from
:data:`STATUS_BY_ERROR`, looked up along the error's class hierarchy, so a new
subclass inherits its parent's status. Anything unexpected is a 500 with a fixed
message; its traceback goes only to the log.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.status import WS_1008_POLICY_VIOLATION

from voxprint import errors as e
from voxprint.api.body import InvalidRequestError, require_json

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[e.VoxprintError], int] = {
    InvalidRequestError: 422,
    e.AuthenticationError: 401,
    e.ProfileNotFoundError: 404,
    e.StreamNotFoundError: 404,
    e.ChallengeNotFoundError: 404,
    e.ChallengeUsedError: 409,
    e.ChallengeExpiredError: 409,
    e.PhraseMismatchError: 422,
    e.ProfileKindError: 409,
    e.VoicesDifferError: 409,
    e.DiarizationNotFoundError: 404,
    e.ApiKeyNotFoundError: 404,
    e.AudioTooLargeError: 413,
    e.AudioTooLongError: 413,
    e.UnsupportedAudioError: 415,
    e.ClipRejectedError: 422,
    e.AudioError: 400,
    e.SpeechError: 422,
    e.AmbiguousProfileError: 409,
    e.DuplicateExternalIdError: 409,
    e.DuplicateClipError: 409,
    e.ProfileNotEnrolledError: 409,
    e.EncoderMismatchError: 409,
    e.ProfileError: 400,
    e.InvalidParameterError: 400,
    e.DatasetError: 400,
    e.ServiceBusyError: 429,
    e.ServiceUnavailableError: 503,
    e.ModelError: 503,
    e.StoreError: 503,
    e.VoxprintError: 400,
}

#: Codes for statuses raised by the framework itself (unknown route, wrong method...).
CODE_BY_HTTP_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media",
    422: "invalid_request",
    429: "busy",
}


def status_for(error: e.VoxprintError) -> int:
    """The HTTP status for ``error``: the entry of its nearest class in the table."""
    for cls in type(error).__mro__:
        status = STATUS_BY_ERROR.get(cls)
        if status is not None:
            return status
    return 400


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def error_details(error: e.VoxprintError) -> dict[str, Any]:
    """Machine-readable extras some errors carry (e.g. how much speech was found)."""
    return error.details()


def error_response(error: e.VoxprintError) -> JSONResponse:
    status = status_for(error)
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="voxprint"'}
    return JSONResponse(
        error_body(error.code, error.message, **error_details(error)),
        status_code=status,
        headers=headers,
    )


#: pydantic's error types for a JSON route's body that, as a whole, is not an object.
_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type"})
#: What to say when a JSON route's body as a whole is missing or not an object.
_WHOLE_BODY = {
    "missing": "the request needs a JSON object as its body",
    **dict.fromkeys(_NOT_AN_OBJECT, "the body must be a JSON object"),
}


def _body_not_an_object(exc: RequestValidationError) -> bool:
    """Whether a JSON route's body as a whole was not an object (FastAPI reads a body of
    another Content-Type as raw bytes, and then finds no object)."""
    return any(
        tuple(item.get("loc", ())) == ("body",) and item.get("type") in _NOT_AN_OBJECT
        for item in exc.errors()
    )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for item in exc.errors()[:5]:
        if item.get("type") == "json_invalid":  # loc is ("body", character position)
            position = item.get("loc", ("body", "?"))[-1]
            reason = (item.get("ctx") or {}).get("error", "JSON decode error")
            parts.append(f"the body is not valid JSON ({reason} at character {position})")
            continue
        at_body = tuple(item.get("loc", ())) == ("body",)
        whole = _WHOLE_BODY.get(str(item.get("type"))) if at_body else None
        if whole is not None:
            parts.append(whole)
            continue
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Route voxprint errors, validation errors and framework errors to JSON bodies."""

    async def on_voxprint_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, e.VoxprintError)
        return error_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if _body_not_an_object(exc):
            try:  # a form or text body: say which Content-Type the route takes
                require_json(request)
            except e.UnsupportedAudioError as unsupported:
                return error_response(unsupported)
        return JSONResponse(
            error_body("invalid_request", _validation_message(exc)), status_code=422
        )

    async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = CODE_BY_HTTP_STATUS.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            error_body("internal_error", "internal server error; see the service log"),
            status_code=500,
        )

    async def on_websocket_validation_error(websocket: WebSocket, exc: Exception) -> None:
        # Refused before the handshake, the client would see only an HTTP 403 and no reason
        # (found in a walkthrough: /v1/ws/identify?every_hop=maybe): say what was wrong,
        # as a bad ?window= is told, and close with 1008.
        assert isinstance(exc, WebSocketRequestValidationError)
        message = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', ()))}: {item.get('msg', 'invalid')}"
            for item in exc.errors()[:5]
        )
        with contextlib.suppress(Exception):
            await websocket.accept()
            body = {"type": "error", **error_body("invalid_request", message or "invalid request")}
            await websocket.send_text(json.dumps(body))
            await websocket.close(code=WS_1008_POLICY_VIOLATION)

    app.add_exception_handler(e.VoxprintError, on_voxprint_error)
    app.add_exception_handler(WebSocketRequestValidationError, on_websocket_validation_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)
