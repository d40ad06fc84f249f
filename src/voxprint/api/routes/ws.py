"""Live recognition over WebSockets: stream microphone audio, get a running answer.

Routes: ``/v1/ws/identify`` (who is speaking: a sliding window over the latest
``window`` seconds, default 2, so a change of speaker shows), ``/v1/ws/verify/{profile_id}``
(is it the claimed speaker: cumulative, all speech so far up to 30 s, so the
answer firms up) and ``/v1/ws/enroll/{profile_id}`` (collects audio, reports
net speech as it grows, enrols it all at the end). Each mode is a
:class:`LiveSession` subclass: :class:`IdentifySession`, :class:`VerifySession`,
:class:`EnrollSession`.

Protocol: the client sends its API key as on every other route, in the ``X-API-Key``
(or ``Authorization: Bearer``) header; a client that cannot set headers (a browser) sends
it as its first message instead, the text frame ``{"api_key": "..."}``, within
:data:`FIRST_MESSAGE_SECONDS`. The ``?api_key=`` query form still works but is
deprecated (query strings end up in access logs and proxies): it logs a warning, without
the key. A ``{"api_key": ...}`` frame after the session has started is ignored (a page
may always send one, keys on or off). The client then sends
binary frames of 16 kHz mono 16-bit little-endian PCM, of any length. The server
answers ``{"type": "ready", ...}`` first, then ``{"type": "result", ...}``
(:meth:`voxprint.live.LiveEvent.to_json`) for every 0.5 s of audio received. A text
frame ``{"event": "end"}`` asks for the final result (``"final": true``; for
enrolment ``{"type": "enrolled", ...}``), after which the server closes (1000).
Bad text frames get ``{"type": "error", "error": {"code", "message"}}`` and the
session goes on. A first binary frame that is an audio file (a WAV, FLAC, MP3...
header) gets ``unsupported_media`` and close code 1003. A bad key gets an error message
and close code 1008; an unknown
profile 4404, a profile not enrolled yet 4409; a server already holding
``live_max_sessions`` sessions answers ``busy`` and 1013. If scoring falls behind,
only the newest window is scored.

Frames received wait in a queue of at most :data:`MAX_QUEUED_FRAMES` for the session to
take them; while it is full the server reads no more (the sender is slowed down), and if
it stays full for :data:`QUEUE_FULL_SECONDS` the client gets ``live_backlog`` and close
code 1013 rather than the server holding ever more audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from voxprint.api import render
from voxprint.api.deps import Principal, app_state, authenticate_key, presented_key
from voxprint.api.errors import error_details
from voxprint.api.state import AppState
from voxprint.api.streams import container_name
from voxprint.errors import (
    AuthenticationError,
    EncoderMismatchError,
    InvalidParameterError,
    ProfileKindError,
    ProfileNotEnrolledError,
    ProfileNotFoundError,
    ServiceBusyError,
    ServiceUnavailableError,
    UnsupportedAudioError,
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
    whole_samples,
)
from voxprint.rounding import seconds
from voxprint.service import VoxprintService
from voxprint.store.records import Profile, ProfileKind

logger = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

RATE = 16000
#: Largest binary frame accepted (about 32 s of audio); bigger frames are refused.
MAX_FRAME_BYTES = 1024 * 1024
#: Frames received but not yet taken by the session; a faster sender waits (back-pressure),
#: so one session holds at most this many frames in memory.
MAX_QUEUED_FRAMES = 16
#: How long a full queue may stay full before the client is refused with ``live_backlog``.
QUEUE_FULL_SECONDS = 10.0
#: How long a client without a key in its headers has to send ``{"api_key": ...}``.
FIRST_MESSAGE_SECONDS = 10.0
#: Largest first message accepted while waiting for the key.
MAX_KEY_MESSAGE_CHARS = 4096
QUERY_KEY = "api_key"
CLOSE_NORMAL = 1000
CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_UNAVAILABLE = 1013
CLOSE_NOT_FOUND = 4404
CLOSE_NOT_ENROLLED = 4409


class LiveBacklogError(ServiceBusyError):
    """The session has not taken the client's audio for too long (close code 1013)."""

    code = "live_backlog"


class Mark(enum.Enum):
    """Queue items other than audio."""

    END = "end"  # the client asked for the final result
    GONE = "gone"  # the client disconnected, or was refused


#: What the reader hands the session: audio samples (float32, 16 kHz) or a mark.
Frame = np.ndarray | Mark


@dataclass(kw_only=True)
class LiveSession:
    """One live connection: the socket, the namespaced service and the recogniser.

    A subclass per mode says what its ``ready`` message adds, what it does with audio
    (:meth:`take`), with each result (:meth:`result`) and at the end (:meth:`finish`).
    """

    mode: ClassVar[str]

    websocket: WebSocket
    state: AppState
    service: VoxprintService
    recognizer: LiveRecognizer
    scorer: WindowScorer | None
    #: Score every hop in order, however fast audio arrives (a recording sent unpaced);
    #: by default a session that falls behind scores only the newest window (live audio).
    every_hop: bool = False
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def ready(self) -> dict[str, Any]:
        config = self.recognizer.config
        return {
            "type": "ready",
            "sample_rate": RATE,
            "encoding": "pcm16le",
            "hop_seconds": config.hop_seconds,
            "window_seconds": config.window_seconds,
            "cumulative": config.cumulative,
            "every_hop": self.every_hop,
            "mode": self.mode,
            **self.described(),
        }

    def described(self) -> dict[str, Any]:
        """What the ``ready`` message says about this mode beyond the common fields."""
        return {}

    def take(self, samples: np.ndarray) -> None:
        self.recognizer.push(samples)

    def result(self, message: dict[str, Any]) -> dict[str, Any]:
        return message

    async def finish(self) -> None:
        """After the final result, before the server closes."""

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            if self.websocket.application_state != WebSocketState.CONNECTED:
                return
            try:
                await self.websocket.send_text(json.dumps(message, separators=(",", ":")))
            except (WebSocketDisconnect, RuntimeError, OSError):
                logger.debug("live client went away before a message could be sent")

    async def error(self, error: VoxprintError) -> None:
        await self.send(_error_message(error, details=True))

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


@dataclass(kw_only=True)
class IdentifySession(LiveSession):
    """Who is speaking, over a sliding window."""

    mode: ClassVar[str] = "identify"


@dataclass(kw_only=True)
class VerifySession(LiveSession):
    """Is it ``profile``'s speaker, over all speech so far."""

    mode: ClassVar[str] = "verify"
    profile: Profile

    def described(self) -> dict[str, Any]:
        return {"profile_id": self.profile.id, "profile_name": self.profile.name}


@dataclass(kw_only=True)
class EnrollSession(LiveSession):
    """Collects up to ``max_samples`` of audio for ``profile``, reporting progress toward
    ``required_seconds`` of net speech; enrols it all at the end."""

    mode: ClassVar[str] = "enroll"
    profile: Profile
    required_seconds: float
    min_clip_seconds: float
    max_samples: int
    collected: list[np.ndarray] = field(default_factory=list)
    kept: int = 0

    @property
    def enrolled_seconds(self) -> float:
        return seconds(self.profile.net_speech_seconds)

    def described(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile.id,
            "profile_name": self.profile.name,
            "enrolled_seconds": self.enrolled_seconds,
            "required_seconds": self.required_seconds,
            "min_clip_seconds": self.min_clip_seconds,
        }

    def take(self, samples: np.ndarray) -> None:
        super().take(samples)
        room = self.max_samples - self.kept
        if room > 0:
            self.collected.append(samples[:room])
            self.kept += min(len(samples), room)

    def result(self, message: dict[str, Any]) -> dict[str, Any]:
        required = self.required_seconds
        speech = float(message["net_speech_seconds"])
        have = self.enrolled_seconds + speech
        progress = 1.0 if required <= 0 else min(1.0, have / required)
        # Enough to stop by itself: this session enrols the profile with a clip that is
        # not too short. A profile enrolled already is never "enough": its progress is 1
        # from the start, and the client decides how much more to record.
        enough = self.enrolled_seconds < required <= have and speech >= self.min_clip_seconds
        return {
            **message,
            "enrolled_seconds": self.enrolled_seconds,
            "required_seconds": required,
            "progress": round(progress, 4),
            "enough": enough,
        }

    async def finish(self) -> None:
        collected = self.collected
        audio = np.concatenate(collected) if collected else np.zeros(0, dtype=np.float32)
        try:
            if audio.size == 0:
                raise InvalidParameterError("no audio was received")
            report = await self.state.runner.run(
                "enroll", self.service.enroll, self.profile.id, (audio, RATE), label="live"
            )
        except VoxprintError as error:
            await self.error(error)
            return
        out = render.enrollment(report, self.service.enrollment)
        await self.send({"type": "enrolled", **out.model_dump(mode="json")})


def _error_message(error: VoxprintError, *, details: bool = False) -> dict[str, Any]:
    extra = error_details(error) if details else {}
    return {"type": "error", "error": {"code": error.code, "message": error.message, **extra}}


async def _open(websocket: WebSocket) -> tuple[AppState, VoxprintService] | None:
    """Accept, then authenticate; on failure say why and close (1008 for a bad key)."""
    await websocket.accept()
    try:
        state = app_state(websocket)
        principal = await _authenticate(websocket, state)
    except (AuthenticationError, ServiceUnavailableError) as error:
        code = CLOSE_POLICY if isinstance(error, AuthenticationError) else CLOSE_UNAVAILABLE
        await _refuse(websocket, error, code)
        return None
    except WebSocketDisconnect:
        return None
    return state, state.service.in_namespace(principal.namespace)


async def _authenticate(websocket: WebSocket, state: AppState) -> Principal:
    """The principal of the key in the headers, else (deprecated) in ``?api_key=``, else in
    the first message; :class:`AuthenticationError` if there is none or it is not valid,
    and :class:`~voxprint.errors.ConflictingKeysError` when the headers and the query hold
    different keys."""
    query_key = websocket.query_params.get(QUERY_KEY)
    if query_key is not None:
        logger.warning(
            "a WebSocket client sent its API key in the URL query (parameter %r) on %s; this "
            "is deprecated (the URL "
            "reaches access logs and proxies): send it in the X-API-Key header or as the "
            'first message {"api_key": ...}',
            QUERY_KEY,
            websocket.url.path,
        )
    key = presented_key(websocket, query_key)
    if key is None and state.settings.require_api_key:
        key = await _first_message_key(websocket)
    return authenticate_key(websocket, key)


async def _first_message_key(websocket: WebSocket) -> str:
    """The key of a first message ``{"api_key": "..."}``; anything else is refused."""
    hint = (
        "send the API key in the X-API-Key or Authorization: Bearer header, or as the "
        'first message {"api_key": "..."}'
    )
    try:
        message = await asyncio.wait_for(websocket.receive(), FIRST_MESSAGE_SECONDS)
    except TimeoutError:
        raise AuthenticationError(
            f"no API key within {FIRST_MESSAGE_SECONDS:g} s: {hint}"
        ) from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", CLOSE_NORMAL))
    key = _key_in(message.get("text"))
    if key is None:
        raise AuthenticationError(f"missing API key: {hint}")
    return key


def _key_in(text: str | None) -> str | None:
    """The key of a ``{"api_key": "..."}`` text frame, or None for any other frame."""
    if not text or len(text) > MAX_KEY_MESSAGE_CHARS:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    key = value.get(QUERY_KEY)
    return key if isinstance(key, str) else None


async def _refuse(websocket: WebSocket, error: VoxprintError, code: int) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(json.dumps(_error_message(error)))
        await websocket.close(code=code)


async def _profile(
    websocket: WebSocket, service: VoxprintService, profile_id: str, *, enrolled: bool
) -> Profile | None:
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
async def ws_identify(websocket: WebSocket, window: float = 2.0, every_hop: bool = False) -> None:
    """Who is speaking? A result every 0.5 s over the newest ``window`` seconds.

    A client that sends faster than real time gets results for the newest audio only,
    unless it asks for ``every_hop=true`` (every 0.5 s of audio scored, in order)."""
    opened = await _open(websocket)
    if opened is None:
        return
    state, service = opened
    try:
        config = LiveConfig(window_seconds=window, cumulative=False)
    except InvalidParameterError as error:
        await _refuse(websocket, error, CLOSE_POLICY)
        return
    scorer = IdentifyScorer(service, min_score=config.identification_threshold)
    await _serve(
        IdentifySession(
            websocket=websocket,
            state=state,
            service=service,
            recognizer=LiveRecognizer(config),
            scorer=scorer,
            every_hop=every_hop,
        )
    )


@router.websocket("/v1/ws/verify/{profile_id}")
async def ws_verify(websocket: WebSocket, profile_id: str, every_hop: bool = False) -> None:
    """Is it the claimed speaker? A result every 0.5 s over all speech so far (<= 30 s);
    ``every_hop`` as for identify."""
    opened = await _open(websocket)
    if opened is None:
        return
    state, service = opened
    profile = await _profile(websocket, service, profile_id, enrolled=True)
    if profile is None:
        return
    await _serve(
        VerifySession(
            websocket=websocket,
            state=state,
            service=service,
            recognizer=LiveRecognizer(LiveConfig(window_seconds=2.0, cumulative=True)),
            scorer=VerifyScorer(service, profile),
            profile=profile,
            every_hop=every_hop,
        )
    )


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
    await _serve(
        EnrollSession(
            websocket=websocket,
            state=state,
            service=service,
            recognizer=LiveRecognizer(LiveConfig(window_seconds=2.0, cumulative=False)),
            scorer=None,
            profile=profile,
            required_seconds=service.enrollment.min_net_speech_seconds,
            min_clip_seconds=service.pipeline.config.min_speech_seconds,
            max_samples=int(state.settings.max_audio_seconds * RATE),
        )
    )


async def _serve(session: LiveSession) -> None:
    state = session.state
    if state.live_sessions >= state.settings.live_max_sessions:
        await _refuse(
            session.websocket,
            ServiceBusyError(
                f"{state.live_sessions} live sessions are open, the most this server takes; "
                "try again later"
            ),
            CLOSE_UNAVAILABLE,
        )
        return
    state.live_sessions += 1
    state.metrics.websockets.inc()
    queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=MAX_QUEUED_FRAMES)
    reader = asyncio.create_task(_read(session, queue))
    try:
        await session.send(session.ready())
        finished = False
        while not finished:
            items = [await queue.get()]
            if not session.every_hop:  # live: catch up, then score the newest window
                while not queue.empty():
                    items.append(queue.get_nowait())
            for item in items:
                if item is Mark.GONE:
                    return
                if item is Mark.END:
                    finished = True
                    break
                if session.every_hop:
                    await _score_each_hop(session, item)
                else:
                    session.take(item)
            await _score_and_send(session, final=finished)
        await session.finish()
        with contextlib.suppress(Exception):
            await session.websocket.close(code=CLOSE_NORMAL)
    except WebSocketDisconnect:
        pass
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        state.live_sessions -= 1
        state.metrics.websockets.dec()


async def _score_and_send(session: LiveSession, *, final: bool) -> None:
    """Score the window that is due (the final one when ``final``) and send its result."""
    try:
        message = await session.score_due_window(final=final)
    except VoxprintError as error:
        await session.error(error)
        return
    if message is not None:
        await session.send(session.result(message))


async def _score_each_hop(session: LiveSession, samples: np.ndarray) -> None:
    """``every_hop``: take the audio a hop at a time and score every window that falls due,
    so a client sending faster than real time (a recording) loses no result."""
    hop = session.recognizer.config.hop_samples
    for start in range(0, len(samples), hop):
        session.take(samples[start : start + hop])
        if session.recognizer.due():
            await _score_and_send(session, final=False)


async def _read(session: LiveSession, queue: asyncio.Queue[Frame]) -> None:
    """Receive frames: audio goes to the queue, ``end`` too; bad text frames get an error.
    A queue that stays full for :data:`QUEUE_FULL_SECONDS` ends the session (1013)."""
    carry = b""
    first = True
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
                container = container_name(data) if first else None
                first = False
                if container is not None:
                    await _refuse_file(session, queue, container)
                    return
                whole, carry = whole_samples(carry + data)
                if whole and not await _offer(session, queue, pcm16_to_float(whole)):
                    return
                continue
            text = message.get("text")
            if _is_end(text):
                if not await _offer(session, queue, Mark.END):
                    return
                continue
            if _key_in(text) is not None:
                continue  # the key goes first; sent again (or with keys off) it changes nothing
            await session.error(
                InvalidParameterError(
                    'text frames must be {"event": "end"} (or a first {"api_key": ...}); send '
                    "audio as binary frames of 16 kHz mono PCM16 little-endian"
                )
            )
    except (WebSocketDisconnect, RuntimeError):
        pass
    await queue.put(Mark.GONE)  # the session sees the end (unless it was cancelled first)


async def _refuse_file(session: LiveSession, queue: asyncio.Queue[Frame], container: str) -> None:
    """An audio file sent as frames: its header and compressed frames would be taken for
    samples and scored (found in a walkthrough: a WAV file's bytes were identified, header
    and all). Only the first frame is looked at: a file sent in pieces starts with its
    header, and raw speech later on may happen to start with such bytes."""
    error = UnsupportedAudioError(
        f"the first audio frame is a {container} file; live sessions take raw 16 kHz mono "
        "16-bit little-endian PCM with no header (decode it first, or upload the file to "
        "the HTTP routes)"
    )
    async with session.send_lock:
        await _refuse(session.websocket, error, CLOSE_UNSUPPORTED)
    queue.put_nowait(Mark.GONE)


async def _offer(session: LiveSession, queue: asyncio.Queue[Frame], frame: Frame) -> bool:
    """Queue ``frame``, waiting for room; if none comes in time, refuse the client (1013),
    let the session see it gone and return False."""
    try:
        await asyncio.wait_for(queue.put(frame), QUEUE_FULL_SECONDS)
        return True
    except TimeoutError:
        pass
    error = LiveBacklogError(
        f"{MAX_QUEUED_FRAMES} audio frames waited {QUEUE_FULL_SECONDS:g} s for the server "
        "to take them; send audio no faster than real time"
    )
    logger.warning("live %s session refused: %s", session.mode, error.message)
    async with session.send_lock:
        await _refuse(session.websocket, error, CLOSE_UNAVAILABLE)
    while not queue.empty():  # the session is over: drop the audio it never took
        queue.get_nowait()
    queue.put_nowait(Mark.GONE)
    return False


def _is_end(text: str | None) -> bool:
    if not text:
        return False
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("event") == "end"
