"""Live recognition over WebSockets: stream microphone audio, get a running answer.

Routes: ``/v1/ws/identify`` (who is speaking: a sliding window over the latest
``window`` seconds, default 2, so a change of speaker shows), ``/v1/ws/verify/{profile_id}``
(is it the claimed speaker: cumulative, all speech so far up to 30 s, so the
answer firms up) and ``/v1/ws/enroll/{profile_id}`` (collects audio, reports
net speech as it grows, enrols it all at the end).

Protocol: authenticate with ``?api_key=`` or the usual headers. The client sends
binary frames of 16 kHz mono 16-bit little-endian PCM, of any length. The server
answers ``{"type": "ready", ...}`` first, then ``{"type": "result", ...}``
(:meth:`voxprint.live.LiveEvent.to_json`) for every 0.5 s of audio received. A text
frame ``{"event": "end"}`` asks for the final result (``"final": true``; for
enrolment ``{"type": "enrolled", ...}``), after which the server closes (1000).
Bad text frames get ``{"type": "error", "error": {"code", "message"}}`` and the
session goes on. A bad key gets an error message and close code 1008; an unknown
profile 4404, a profile not enrolled yet 4409. If scoring falls behind, only
the newest window is scored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from voxprint.api import render
from voxprint.api.deps import app_state, authenticate
from voxprint.api.errors import error_details
from voxprint.api.state import AppState
from voxprint.errors import (
    AuthenticationError,
    EncoderMismatchError,
    InvalidParameterError,
    ProfileKindError,
    ProfileNotEnrolledError,
    ProfileNotFoundError,
    ServiceBusyError,
    ServiceUnavailableError,
    VoxprintError,
)
from voxprint.live import (
    IdentifyScorer,
    LiveConfig,
    LiveRecognizer,
    VerifyScorer,
    WindowScorer,
    evaluate_window,
    pcm16_to_float,
)
from voxprint.service import VoxprintService
from voxprint.store.records import ProfileKind

logger = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

RATE = 16000
#: Largest binary frame accepted (about 32 s of audio); bigger frames are refused.
MAX_FRAME_BYTES = 1024 * 1024
#: Frames received but not yet taken by the session; a faster sender waits (back-pressure),
#: so one session holds at most this many frames in memory.
MAX_QUEUED_FRAMES = 16
CLOSE_POLICY = 1008
CLOSE_UNAVAILABLE = 1013
CLOSE_NOT_FOUND = 4404
CLOSE_NOT_ENROLLED = 4409
END = object()


@dataclass
class Session:
    """One live connection: the socket, the namespaced service and the recogniser."""

    websocket: WebSocket
    state: AppState
    service: VoxprintService
    recognizer: LiveRecognizer
    scorer: WindowScorer | None
    send_lock: asyncio.Lock

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            if self.websocket.application_state != WebSocketState.CONNECTED:
                return
            try:
                await self.websocket.send_text(json.dumps(message, separators=(",", ":")))
            except (WebSocketDisconnect, RuntimeError, OSError):
                logger.debug("live client went away before a message could be sent")

    async def error(self, error: VoxprintError) -> None:
        await self.send(
            {
                "type": "error",
                "error": {"code": error.code, "message": error.message, **error_details(error)},
            }
        )

    async def score_due_window(self, *, final: bool = False) -> dict[str, Any] | None:
        window = self.recognizer.next_window(final=final)
        if window is None:
            if not final:
                return None
            return self.recognizer.final_event().to_json()
        result = await self.state.runner.run(
            "live",
            evaluate_window,
            self.service,
            window,
            self.scorer,
            self.recognizer.config.min_speech_seconds,
        )
        return self.recognizer.record(result, final=final).to_json()


async def _open(websocket: WebSocket) -> tuple[AppState, VoxprintService] | None:
    """Accept, then authenticate; on failure say why and close (1008 for a bad key)."""
    await websocket.accept()
    try:
        state = app_state(websocket)
        principal = authenticate(websocket)
    except (AuthenticationError, ServiceUnavailableError) as error:
        code = CLOSE_POLICY if isinstance(error, AuthenticationError) else CLOSE_UNAVAILABLE
        await _refuse(websocket, error, code)
        return None
    return state, state.service.in_namespace(principal.namespace)


async def _refuse(websocket: WebSocket, error: VoxprintError, code: int) -> None:
    body = {"type": "error", "error": {"code": error.code, "message": error.message}}
    with contextlib.suppress(Exception):
        await websocket.send_text(json.dumps(body))
        await websocket.close(code=code)


def _live_config(window: float, *, cumulative: bool) -> LiveConfig:
    return LiveConfig(window_seconds=window, cumulative=cumulative)


async def _profile(
    websocket: WebSocket, service: VoxprintService, profile_id: str, *, enrolled: bool
) -> Any:
    try:
        if enrolled:  # the service decides what "enrolled" means (as REST verify does)
            found = await asyncio.to_thread(service.enrolled_profile, profile_id)
        else:
            found = await asyncio.to_thread(service.get_profile, profile_id)
        phrase = await asyncio.to_thread(
            service.store.get_phrase_profile, service.namespace, profile_id
        )
        if phrase.kind is ProfileKind.TEXT_DEPENDENT:
            raise ProfileKindError(
                "a text-dependent profile enrols and verifies with its passphrase, through "
                f"/v1/profiles/{profile_id}/enrollments and /verify"
            )
        return found
    except ProfileNotFoundError as error:
        await _refuse(websocket, error, CLOSE_NOT_FOUND)
    except (ProfileNotEnrolledError, EncoderMismatchError, ProfileKindError) as error:
        await _refuse(websocket, error, CLOSE_NOT_ENROLLED)
    return None


@router.websocket("/v1/ws/identify")
async def ws_identify(websocket: WebSocket, window: float = 2.0) -> None:
    """Who is speaking? A result every 0.5 s over the newest ``window`` seconds."""
    opened = await _open(websocket)
    if opened is None:
        return
    state, service = opened
    try:
        config = _live_config(window, cumulative=False)
    except InvalidParameterError as error:
        await _refuse(websocket, error, CLOSE_POLICY)
        return
    scorer = IdentifyScorer(service, min_score=config.identification_threshold)
    await _serve(websocket, state, service, config, scorer, {"mode": "identify"})


@router.websocket("/v1/ws/verify/{profile_id}")
async def ws_verify(websocket: WebSocket, profile_id: str) -> None:
    """Is it the claimed speaker? A result every 0.5 s over all speech so far (<= 30 s)."""
    opened = await _open(websocket)
    if opened is None:
        return
    state, service = opened
    profile = await _profile(websocket, service, profile_id, enrolled=True)
    if profile is None:
        return
    config = _live_config(2.0, cumulative=True)
    extra = {"mode": "verify", "profile_id": profile.id, "name": profile.name}
    await _serve(websocket, state, service, config, VerifyScorer(service, profile), extra)


@router.websocket("/v1/ws/enroll/{profile_id}")
async def ws_enroll(websocket: WebSocket, profile_id: str) -> None:
    """Collect enrolment audio, reporting net speech as it grows; enrol it at ``end``."""
    opened = await _open(websocket)
    if opened is None:
        return
    state, service = opened
    profile = await _profile(websocket, service, profile_id, enrolled=False)
    if profile is None:
        return
    config = _live_config(2.0, cumulative=False)
    extra = {
        "mode": "enroll",
        "profile_id": profile.id,
        "name": profile.name,
        "enrolled_seconds": round(profile.net_speech_seconds, 3),
        "required_seconds": service.enrollment.min_net_speech_seconds,
    }
    await _serve(websocket, state, service, config, None, extra, enroll_profile=profile.id)


async def _serve(
    websocket: WebSocket,
    state: AppState,
    service: VoxprintService,
    config: LiveConfig,
    scorer: WindowScorer | None,
    extra: dict[str, Any],
    *,
    enroll_profile: str | None = None,
) -> None:
    if state.live_sessions >= state.settings.live_max_sessions:
        await _refuse(
            websocket,
            ServiceBusyError(
                f"{state.live_sessions} live sessions are open, the most this server takes; "
                "try again later"
            ),
            CLOSE_UNAVAILABLE,
        )
        return
    session = Session(websocket, state, service, LiveRecognizer(config), scorer, asyncio.Lock())
    state.live_sessions += 1
    state.metrics.websockets.inc()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=MAX_QUEUED_FRAMES)
    reader = asyncio.create_task(_read(session, queue))
    collected: list[np.ndarray] = []
    max_samples = int(state.settings.max_audio_seconds * RATE)
    kept = 0
    try:
        await session.send(
            {
                "type": "ready",
                "sample_rate": RATE,
                "encoding": "pcm16le",
                "hop_seconds": config.hop_seconds,
                "window_seconds": config.window_seconds,
                "cumulative": config.cumulative,
                **extra,
            }
        )
        finished = False
        while not finished:
            items = [await queue.get()]
            while not queue.empty():
                items.append(queue.get_nowait())
            for item in items:
                if item is None:  # disconnected
                    return
                if item is END:
                    finished = True
                    break
                session.recognizer.push(item)
                if enroll_profile is not None and kept < max_samples:
                    collected.append(item[: max_samples - kept])
                    kept += min(len(item), max_samples - kept)
            try:
                if finished:
                    message = await session.score_due_window(final=True)
                else:
                    message = await session.score_due_window()
            except VoxprintError as error:
                await session.error(error)
                continue
            if message is not None:
                if enroll_profile is not None:
                    message = _with_progress(message, extra)
                await session.send(message)
        if enroll_profile is not None:
            await _enroll(session, enroll_profile, collected)
        with contextlib.suppress(Exception):
            await websocket.close(code=1000)
    except WebSocketDisconnect:
        pass
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        state.live_sessions -= 1
        state.metrics.websockets.dec()


def _with_progress(message: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    required = float(extra["required_seconds"])
    have = float(extra["enrolled_seconds"]) + float(message["net_speech_seconds"])
    progress = 1.0 if required <= 0 else min(1.0, have / required)
    return {
        **message,
        "enrolled_seconds": extra["enrolled_seconds"],
        "required_seconds": required,
        "progress": round(progress, 4),
    }


async def _enroll(session: Session, profile_id: str, collected: list[np.ndarray]) -> None:
    audio = np.concatenate(collected) if collected else np.zeros(0, dtype=np.float32)
    try:
        if audio.size == 0:
            raise InvalidParameterError("no audio was received")
        report = await session.state.runner.run(
            "enroll", session.service.enroll, profile_id, (audio, RATE), label="live"
        )
    except VoxprintError as error:
        await session.error(error)
        return
    out = render.enrollment(report, session.service.enrollment)
    await session.send({"type": "enrolled", **out.model_dump(mode="json")})


async def _read(session: Session, queue: asyncio.Queue[Any]) -> None:
    """Receive frames: audio goes to the queue, ``end`` too; bad text frames get an error."""
    carry = b""
    try:
        while True:
            message = await session.websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is not None:
                if len(data) > MAX_FRAME_BYTES:
                    await session.error(
                        InvalidParameterError(
                            f"audio frame of {len(data)} bytes; send at most {MAX_FRAME_BYTES}"
                        )
                    )
                    continue
                data = carry + data
                usable = len(data) - len(data) % 2
                carry = data[usable:]
                if usable:
                    await queue.put(pcm16_to_float(data[:usable]))
                continue
            if _is_end(message.get("text")):
                await queue.put(END)
                continue
            await session.error(
                InvalidParameterError(
                    'text frames must be {"event": "end"}; send audio as binary frames '
                    "of 16 kHz mono PCM16 little-endian"
                )
            )
    except (WebSocketDisconnect, RuntimeError):
        pass
    await queue.put(None)  # the session sees the end (unless it was cancelled first)


def _is_end(text: str | None) -> bool:
    if not text:
        return False
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("event") == "end"
