"""The FastAPI app: ``create_app()`` builds it, uvicorn serves it (``voxprint serve``).

The model is loaded once, in the lifespan, before the first request is accepted.
Routes live in the modules whose ``router`` is listed in :data:`ROUTERS`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI

from voxprint import __version__
from voxprint.access import KeyService
from voxprint.api.azure import routes as azure
from voxprint.api.errors import install_error_handlers
from voxprint.api.inference import InferenceRunner
from voxprint.api.observability import Metrics, RequestObserver
from voxprint.api.routes import (
    activity,
    batch,
    compare,
    diarize,
    docs,
    health,
    phrases,
    profiles,
    recognition,
    streams,
    web,
    ws,
)
from voxprint.api.state import AppState
from voxprint.bootstrap import build_service
from voxprint.redaction import install_redaction
from voxprint.service import VoxprintService
from voxprint.settings import Settings, load_settings
from voxprint.store.records import DEFAULT_NAMESPACE, ApiKey

logger = logging.getLogger(__name__)

#: The routers the app includes, in this order.
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    profiles.router,
    recognition.router,
    compare.router,
    batch.router,
    phrases.router,
    activity.router,
    streams.router,
    ws.router,
    diarize.router,
    azure.router,
    docs.router,
    web.router,
)

DESCRIPTION = """Self-hosted speaker recognition: profiles, enrolment, verification (1:1)
and open-set identification (1:N).

Authenticate with `Authorization: Bearer <key>`, `X-API-Key: <key>` or
`Ocp-Apim-Subscription-Key: <key>` (keys come from `voxprint keys create`); two
different keys in one request are refused (401 `conflicting_api_keys`).
Errors are `{"error": {"code", "message"}}` with a 4xx status."""


def create_app(
    settings: Settings | None = None, *, service: VoxprintService | None = None
) -> FastAPI:
    """Build the app. ``service`` injects a ready service (tests); else one is built
    from ``settings`` at startup, and closed at shutdown."""
    settings = settings or load_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = service is None
        active: VoxprintService = (
            service
            if service is not None
            else await asyncio.to_thread(build_service, settings.service_options())
        )
        if owned:  # load the models now, not on the first request
            await asyncio.to_thread(warm_up, active)
        runner = InferenceRunner(
            settings.inference_workers, settings.inference_queue, metrics.observe_inference
        )
        state = AppState(
            settings=settings,
            service=active,
            keys=KeyService(active.store),
            runner=runner,
            metrics=metrics,
        )
        app.state.voxprint = state
        state.ready = True
        stopping = threading.Event()
        if owned:  # a large gallery takes minutes to index: not at its first request
            namespaces = search_namespaces(
                state.keys.list(), keys_required=settings.require_api_key
            )
            threading.Thread(
                target=load_galleries,
                args=(active, namespaces, stopping),
                name="voxprint-galleries",
                daemon=True,
            ).start()
        database = _database_name(active.store, settings)
        logger.info(
            "voxprint %s ready: encoder %s (%s), database %s",
            __version__,
            active.encoder_name,
            active.encoder_version,
            database,
        )
        if settings.require_api_key and not any(k.is_active for k in state.keys.list()):
            logger.warning(
                "the database %s holds no active API key: every request gets 401 "
                "(create one with `voxprint keys create --name NAME --db %s`)",
                database,
                database,
            )
        try:
            yield
        finally:
            stopping.set()
            state.ready = False
            state.close()
            runner.close(wait=True)
            if owned:
                active.store.close()
            logger.info("voxprint stopped")

    app = FastAPI(
        title="voxprint",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from this machine instead (routes/docs.py)
        redoc_url=None,  # ReDoc would load its script from a CDN
    )
    install_error_handlers(app)
    install_redaction()  # uvicorn's request lines carry query strings (?api_key=)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(
        RequestObserver,
        metrics=metrics,
        json_logs=settings.log_json,
        pending=lambda: _pending(app),
    )
    return app


def _database_name(store: object, settings: Settings) -> str:
    """The database the service opened, as an absolute path where it is a file."""
    path = getattr(store, "path", None)
    if path is not None:
        return str(Path(path).absolute())
    return settings.db or "(the default store)"


def warm_up(service: VoxprintService) -> None:
    """Load the voice detector and the encoder's engines, and log which runtime runs the
    encoder and why (once, at start-up). numpy's BLAS runs on one thread from here on."""
    small_products_on_one_thread()
    pipeline = service.pipeline
    pipeline.warm_up()
    choice = getattr(pipeline.encoder, "runtime_choice", None)
    if choice is not None:
        logger.info("%s", choice.describe())


def small_products_on_one_thread() -> None:
    """The service gives numpy's BLAS only small products (a probe against a gallery, a
    few candidates); its worker threads would spin after each one, on every request.
    Measured with `bench/load.py --others 5000`: 100 against 49 ms of server CPU per
    verify (docs/benchmarks.md, "Claims weighed against enrolled look-alikes")."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def search_namespaces(keys: list[ApiKey], *, keys_required: bool) -> list[str]:
    """The namespaces that requests can identify in: each active key's, and the default
    one where requests need no key."""
    found = {key.namespace for key in keys if key.is_active}
    if not keys_required:
        found.add(DEFAULT_NAMESPACE)
    return sorted(found)


def load_galleries(
    service: VoxprintService, namespaces: list[str], stopping: threading.Event
) -> None:
    """Load each namespace's gallery for identification, one after another, until
    ``stopping`` is set (run on a thread at start-up; a request that comes first waits
    for its namespace's load as it would have without this)."""
    for namespace in namespaces:
        if stopping.is_set():
            return
        started = time.perf_counter()
        try:
            size = service.in_namespace(namespace).prepare_search()
        except Exception as exc:  # a thread of its own: log, never raise into nothing
            if stopping.is_set():
                return
            logger.warning("the gallery of namespace %r was not loaded: %s", namespace, exc)
            continue
        logger.info(
            "namespace %r ready to identify among %d voiceprints (loaded in %.1f s)",
            namespace,
            size,
            time.perf_counter() - started,
        )


def _pending(app: FastAPI) -> int:
    state: AppState | None = getattr(app.state, "voxprint", None)
    return state.runner.pending if state is not None else 0


def create_app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` (one app per worker process): the settings that
    ``voxprint serve`` handed over, or the ``VOXPRINT_*`` environment."""
    return create_app(load_settings())
