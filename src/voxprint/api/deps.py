"""Request dependencies: the app state, the caller's API key, and their namespaced service.

A key is read from ``Authorization: Bearer <key>``, ``X-API-Key`` or Azure's
``Ocp-Apim-Subscription-Key`` (WebSockets may also send it in their first message, or,
deprecated, as ``?api_key=``: :mod:`voxprint.api.routes.ws`). Each key belongs to one
namespace; the service a route gets is scoped to it, so a profile of another tenant
simply does not exist (404) for the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from voxprint.api.state import AppState
from voxprint.errors import (
    AuthenticationError,
    ConflictingKeysError,
    ServiceUnavailableError,
)
from voxprint.service import VoxprintService
from voxprint.store.records import DEFAULT_NAMESPACE

KEY_HEADERS = ("x-api-key", "ocp-apim-subscription-key")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the namespace they act in, and their key's id (None when keys are off)."""

    namespace: str
    key_id: str | None


def app_state(connection: HTTPConnection) -> AppState:
    state: AppState | None = getattr(connection.app.state, "voxprint", None)
    if state is None or not state.ready:
        raise ServiceUnavailableError("the service is starting up")
    return state


def presented_key(connection: HTTPConnection, *also: str | None) -> str | None:
    """The API key the client sent in the headers (or in ``also``, e.g. a WebSocket's
    query parameter), if any. The same key sent twice is one key; two different keys are
    refused with :class:`ConflictingKeysError` (401, neither key named) while keys are
    required: the request would otherwise act as whichever tenant one header wins for."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    sent = [token] if scheme.lower() == "bearer" else []
    sent += [connection.headers.get(header) or "" for header in KEY_HEADERS]
    sent += [value or "" for value in also]
    keys = list(dict.fromkeys(key.strip() for key in sent if key and key.strip()))
    if len(keys) > 1 and app_state(connection).settings.require_api_key:
        raise ConflictingKeysError(
            "the request carries different API keys (Authorization, X-API-Key, "
            "Ocp-Apim-Subscription-Key); send one key"
        )
    return keys[0] if keys else None


def authenticate(connection: HTTPConnection) -> Principal:
    """The caller's principal; raises :class:`AuthenticationError` (401) without a valid key
    in the headers."""
    return authenticate_key(connection, presented_key(connection))


def authenticate_key(connection: HTTPConnection, key: str | None) -> Principal:
    """The principal of ``key``, sent by the client of ``connection`` one way or another
    (any key when keys are off); :class:`AuthenticationError` (401) unless it is valid."""
    state = app_state(connection)
    if not state.settings.require_api_key:
        principal = Principal(namespace=DEFAULT_NAMESPACE, key_id=None)
    else:
        found = state.keys.authenticate(key)
        principal = Principal(namespace=found.namespace, key_id=found.id)
    scope_state = connection.scope.setdefault("state", {})
    scope_state["key_id"] = principal.key_id
    scope_state["namespace"] = principal.namespace
    return principal


def namespaced_service(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> VoxprintService:
    return app_state(request).service.in_namespace(principal.namespace)


def request_state(request: Request) -> AppState:
    return app_state(request)


StateDep = Annotated[AppState, Depends(request_state)]
PrincipalDep = Annotated[Principal, Depends(authenticate)]
ServiceDep = Annotated[VoxprintService, Depends(namespaced_service)]

__all__ = [
    "AuthenticationError",
    "Principal",
    "PrincipalDep",
    "ServiceDep",
    "StateDep",
    "app_state",
    "authenticate",
    "authenticate_key",
    "presented_key",
]
