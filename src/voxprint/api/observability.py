"""Prometheus metrics and structured request logs, as one ASGI middleware.

Metrics live in a registry of their own per app (so several apps in one process,
as in tests, do not collide): request counts and latencies by route template and
status, inference time by operation, and the inference queue depth.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_logger = logging.getLogger("voxprint.api.requests")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's Prometheus metrics, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "voxprint_requests",
            "HTTP requests handled, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "voxprint_request_seconds",
            "HTTP request latency in seconds, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inference = Histogram(
            "voxprint_inference_seconds",
            "Time spent in model work (decode, VAD, embedding, scoring), by operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue = Gauge(
            "voxprint_inference_pending",
            "Inference jobs running or waiting.",
            registry=self.registry,
        )
        self.websockets = Gauge(
            "voxprint_websockets_open", "WebSocket sessions open.", registry=self.registry
        )

    def observe_inference(self, operation: str, seconds: float) -> None:
        self.inference.labels(operation=operation).observe(seconds)


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/profiles/{profile_id}``), not the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestObserver:
    """ASGI middleware: request id, one log line per request, and request metrics."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, *, json_logs: bool, pending: Callable[[], int]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.json_logs = json_logs
        self.pending = pending

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = 500 if scope["type"] == "http" else 101

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route = route_template(scope)
            method = scope.get("method", "WS")
            self.metrics.requests.labels(method=method, route=route, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=route).observe(elapsed)
            self.metrics.queue.set(self.pending())
            self._log(scope, request_id, method, route, status, elapsed)

    def _log(
        self, scope: Scope, request_id: str, method: str, route: str, status: int, elapsed: float
    ) -> None:
        state: dict[str, Any] = scope.get("state") or {}
        record = {
            "event": "request",
            "request_id": request_id,
            "method": method,
            "path": scope.get("path", ""),
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "key_id": state.get("key_id"),
            "namespace": state.get("namespace"),
            "client": (scope.get("client") or [None])[0],
        }
        if self.json_logs:
            request_logger.info(json.dumps(record, separators=(",", ":")))
        else:
            request_logger.info(
                "%s %s %s %.1f ms", method, record["path"], status, record["duration_ms"]
            )
