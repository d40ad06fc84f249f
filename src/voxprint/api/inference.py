"""Model work off the event loop, with a bounded queue.

:class:`InferenceRunner` runs blocking calls (decode, VAD, embedding, scoring) on a
small thread pool. At most ``workers`` run at once and at most ``queue`` more wait;
beyond that a call fails at once with :class:`ServiceBusyError` (HTTP 429), so an
overloaded service answers quickly instead of piling up work. After
:meth:`InferenceRunner.close` new calls get :class:`ServiceUnavailableError` (503)
while calls in flight finish.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from voxprint.errors import ServiceBusyError, ServiceUnavailableError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: Called after each job with (operation name, seconds it ran).
Observer = Callable[[str, float], None]


class InferenceRunner:
    """A bounded thread pool for blocking model calls; see the module docstring."""

    def __init__(self, workers: int, queue: int, observe: Observer | None = None) -> None:
        self._workers = workers
        self._capacity = workers + queue
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="voxprint-infer")
        self._lock = threading.Lock()
        self._pending = 0
        self._closed = False
        self._observe = observe

    @property
    def pending(self) -> int:
        """Jobs running or waiting."""
        return self._pending

    @property
    def capacity(self) -> int:
        return self._capacity

    async def run(self, operation: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` on the pool and await its result (or its exception)."""
        with self._lock:
            if self._closed:
                raise ServiceUnavailableError("the service is shutting down")
            if self._pending >= self._capacity:
                raise ServiceBusyError(
                    f"too many requests in flight ({self._pending}); retry shortly"
                )
            self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, self._timed, operation, fn, args, kwargs)
        finally:
            with self._lock:
                self._pending -= 1

    def _timed(self, operation: str, fn: Callable[..., R], args: tuple, kwargs: dict) -> R:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            if self._observe is not None:
                self._observe(operation, time.perf_counter() - start)

    def close(self, *, wait: bool = True) -> None:
        """Refuse new jobs; with ``wait``, block until the running ones finish."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=False)
        logger.info("inference runner closed")
