"""Liveness, readiness and Prometheus metrics: the only routes that need no key."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from voxprint import __version__

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers.")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get(
    "/readyz",
    summary="Readiness: model loaded, store reachable and writable, not shutting down.",
)
def readyz(request: Request) -> JSONResponse:
    state = getattr(request.app.state, "voxprint", None)
    if state is None or not state.ready:
        return JSONResponse({"status": "starting"}, status_code=503)
    store = state.service.store
    try:
        store.count_profiles(state.service.namespace)
    except Exception:  # the store is down: not ready (the reason is in the server's log)
        return JSONResponse({"status": "store_unavailable"}, status_code=503)
    if not store.writable():
        # Decisions still answer (their activity is not logged); enrolment cannot store.
        return JSONResponse({"status": "store_read_only"}, status_code=503)
    return JSONResponse(
        {
            "status": "ready",
            "encoder": state.service.encoder_name,
            "encoder_version": state.service.encoder_version,
            "inference_pending": state.runner.pending,
        }
    )


@router.get("/metrics", summary="Prometheus metrics.", include_in_schema=False)
def metrics(request: Request) -> Response:
    state = getattr(request.app.state, "voxprint", None)
    if state is None:
        return Response("", media_type=CONTENT_TYPE_LATEST)
    state.metrics.queue.set(state.runner.pending)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
