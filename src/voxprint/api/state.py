"""What one running app holds: the service (model loaded once), keys, runner, metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voxprint.access import KeyService
from voxprint.api.inference import InferenceRunner
from voxprint.api.observability import Metrics
from voxprint.service import VoxprintService
from voxprint.settings import Settings


@dataclass
class AppState:
    """Set up once in the app's lifespan; routes read it through :mod:`voxprint.api.deps`.

    ``extensions`` is where feature modules keep their own long-lived objects
    (for example the audio stream registry), keyed by module name.
    """

    settings: Settings
    service: VoxprintService
    keys: KeyService
    runner: InferenceRunner
    metrics: Metrics
    ready: bool = False
    #: WebSocket sessions open now (bounded by ``settings.live_max_sessions``).
    live_sessions: int = 0
    extensions: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Run the closers registered by feature modules, newest first."""
        while self.closers:
            self.closers.pop()()
