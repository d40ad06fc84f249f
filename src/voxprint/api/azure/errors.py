"""Azure-style errors for the compatible routes: ``{"error": {"code", "message"}}``.

FastAPI's exception handlers are app-wide, so the Azure routes use their own route
class, :class:`AzureRoute`, whose handler turns anything raised by the route *or its
dependencies* (a missing key included) into Azure's body. The statuses and code
strings follow the Speaker Recognition v2.0 reference:

======  =======================  ==================================================
status  code                     when
======  =======================  ==================================================
400     InvalidRequest           bad body, undecodable audio, too little speech,
                                 profile not enrolled
400     InvalidArgument          a bad query parameter (``$top``, ``ignoreMinLength``,
                                 ``profileIds``, locale)
401     Unauthorized             no key, or an unknown or revoked one
403     InvalidRequest           over the total enrolment audio of one profile
403     InvalidOperation         over 50 enrolments of a text-dependent profile
404     NotFound                 unknown profile (or one of the other kind), route
405     MethodNotAllowed         known route, wrong method
409     Conflict                 profile enrolled with another model
413     InvalidRequest           request body over the size limit (5 MB)
415     UnsupportedMediaType     wrong Content-Type
429     RateLimit                inference queue full (``Retry-After``)
501     NotImplemented           a capability voxprint does not offer
503     ServiceUnavailable       starting up, shutting down, model or store failure
500     InternalServerError      a bug; the traceback goes only to the log
======  =======================  ==================================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from voxprint import errors as e
from voxprint.api.body import MalformedBodyError

logger = logging.getLogger(__name__)


class AzureRequestError(e.VoxprintError):
    """The request itself is malformed (missing or invalid JSON body, locale...)."""

    code = "invalid_request"


class EnrollmentQuotaError(e.VoxprintError):
    """The profile's enrolments would hold more audio than allowed."""

    code = "enrollment_quota"


class EnrollmentLimitError(e.VoxprintError):
    """A text-dependent profile already holds the most enrolments Azure allowed (50)."""

    code = "enrollment_limit"


class NotImplementedCapabilityError(e.VoxprintError):
    """An Azure capability voxprint does not offer (yet)."""

    code = "not_implemented"


INVALID_REQUEST = "InvalidRequest"

#: (status, Azure code) per voxprint error class, looked up along the class hierarchy.
AZURE_ERRORS: dict[type[e.VoxprintError], tuple[int, str]] = {
    e.AuthenticationError: (401, "Unauthorized"),
    e.ProfileNotFoundError: (404, "NotFound"),
    e.AudioTooLargeError: (413, INVALID_REQUEST),
    e.UnsupportedAudioError: (415, "UnsupportedMediaType"),
    e.AudioError: (400, INVALID_REQUEST),
    e.SpeechError: (400, INVALID_REQUEST),
    e.ProfileNotEnrolledError: (400, INVALID_REQUEST),
    e.UnsupportedLocaleError: (400, "InvalidArgument"),
    e.ChallengeNotFoundError: (404, "NotFound"),
    e.EncoderMismatchError: (409, "Conflict"),
    e.AmbiguousProfileError: (409, "Conflict"),
    e.DuplicateExternalIdError: (409, "Conflict"),
    e.ProfileError: (400, INVALID_REQUEST),
    MalformedBodyError: (400, INVALID_REQUEST),
    e.InvalidParameterError: (400, "InvalidArgument"),
    AzureRequestError: (400, INVALID_REQUEST),
    EnrollmentQuotaError: (403, INVALID_REQUEST),
    EnrollmentLimitError: (403, "InvalidOperation"),
    NotImplementedCapabilityError: (501, "NotImplemented"),
    e.ServiceBusyError: (429, "RateLimit"),
    e.ServiceUnavailableError: (503, "ServiceUnavailable"),
    e.ModelError: (503, "ServiceUnavailable"),
    e.StoreError: (503, "ServiceUnavailable"),
    e.VoxprintError: (400, INVALID_REQUEST),
}

#: Azure codes for statuses the framework raises itself.
CODE_BY_HTTP_STATUS: dict[int, str] = {
    400: INVALID_REQUEST,
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: INVALID_REQUEST,
    415: "UnsupportedMediaType",
    422: "InvalidArgument",
    429: "RateLimit",
}


def azure_status(error: e.VoxprintError) -> tuple[int, str]:
    """(HTTP status, Azure code) for ``error``: the entry of its nearest class."""
    for cls in type(error).__mro__:
        entry = AZURE_ERRORS.get(cls)
        if entry is not None:
            return entry
    return 400, INVALID_REQUEST


def azure_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def azure_error_response(exc: Exception, request: Request) -> JSONResponse:
    """Azure's error body for any exception raised while handling ``request``."""
    match exc:
        case e.VoxprintError():
            status, code = azure_status(exc)
            headers = {"Retry-After": "1"} if status in (429, 503) else None
            return azure_error(status, code, exc.message, headers)
        case RequestValidationError():
            return azure_error(400, "InvalidArgument", _validation_message(exc))
        case StarletteHTTPException():
            code = CODE_BY_HTTP_STATUS.get(exc.status_code, INVALID_REQUEST)
            return azure_error(exc.status_code, code, str(exc.detail), exc.headers)
        case _:
            logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
            return azure_error(
                500, "InternalServerError", "internal server error; see the service log"
            )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for item in exc.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


class AzureRoute(APIRoute):
    """A route whose errors, including those of its dependencies, have Azure's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def azure_handler(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as exc:
                return azure_error_response(exc, request)

        return azure_handler
