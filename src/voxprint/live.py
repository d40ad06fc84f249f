"""Real-time recognition: a sliding window over incoming audio, gated by VAD, producing events.

Audio arrives in chunks of any size (``(n,) float32`` at 16 kHz). Every ``hop_seconds``
of new audio the :class:`LiveRecognizer` hands out one :class:`Window`: the latest
``window_seconds`` of audio (identification, so a change of speaker shows within a
window), or everything so far up to ``max_seconds`` (``cumulative``: verification,
whose answer firms up as speech accumulates). A window is scored by
:func:`evaluate_window` (blocking model work: VAD, embedding, scoring through the
service) and the result becomes a :class:`LiveEvent` that says who is speaking, the
score, whether the speaker changed, and how much net speech has been heard so far.

The split lets both callers share one logic: the ``voxprint listen`` command calls
:meth:`LiveRecognizer.feed` synchronously; the WebSocket routes take windows with
:meth:`LiveRecognizer.next_window`, run :func:`evaluate_window` on the inference
runner, and turn results into events with :meth:`LiveRecognizer.record`. When the
scorer falls behind, only the newest window is scored (the skipped audio is still
counted as long as it lies within that window).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from voxprint import rounding
from voxprint.decision import DecisionReason
from voxprint.errors import InvalidParameterError, NoSpeechError
from voxprint.pipeline import PreparedSpeech
from voxprint.service import LookAlike, VoxprintService
from voxprint.store.records import Profile
from voxprint.vad import SpeechSegments

RATE = 16000

#: ``decision`` of a window with too little speech to score.
SILENCE = "silence"
IDENTIFIED = "identified"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class LiveConfig:
    """How audio is windowed and gated.

    ``window_seconds`` of the newest audio are scored every ``hop_seconds``; with
    ``cumulative`` all audio so far (at most ``max_seconds``) is scored instead. A
    window with less than ``min_speech_seconds`` of speech is reported as silence.
    ``identification_threshold`` is the posterior a window's best candidate needs to be
    named: stricter than a single identification's, because a stream is scored again
    and again and each window is another chance for a stranger to look like someone.
    """

    window_seconds: float = 2.0
    hop_seconds: float = 0.5
    min_speech_seconds: float = 0.8
    cumulative: bool = False
    max_seconds: float = 30.0
    identification_threshold: float = 0.95
    sample_rate: int = RATE

    def __post_init__(self) -> None:
        if not 0.1 <= self.hop_seconds <= 10.0:
            raise InvalidParameterError("hop must be between 0.1 and 10 seconds")
        if not self.hop_seconds <= self.window_seconds <= 60.0:
            raise InvalidParameterError("window must be at least the hop and at most 60 seconds")
        if self.min_speech_seconds < 0:
            raise InvalidParameterError("min_speech_seconds cannot be negative")
        if self.window_seconds < self.min_speech_seconds:
            # It would never hold enough speech, so it would never name anyone.
            raise InvalidParameterError(
                f"a window of {self.window_seconds:g} s cannot hold the "
                f"{self.min_speech_seconds:g} s of speech a result needs: make it longer"
            )
        if self.max_seconds < self.window_seconds:
            raise InvalidParameterError("max_seconds must be at least the window")
        if not 0.0 < self.identification_threshold < 1.0:
            raise InvalidParameterError("identification_threshold must be strictly between 0 and 1")

    @property
    def hop_samples(self) -> int:
        return round(self.hop_seconds * self.sample_rate)

    @property
    def buffer_samples(self) -> int:
        seconds = self.max_seconds if self.cumulative else self.window_seconds
        return round(seconds * self.sample_rate)


@dataclass(frozen=True)
class Window:
    """Audio to score: ``audio`` is ``(n,) float32``; its last sample is at ``end_seconds``.

    ``new_samples`` is how many of its trailing samples no earlier window held.
    """

    audio: np.ndarray = field(repr=False)
    end_seconds: float
    new_samples: int
    sample_rate: int = RATE

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class Match:
    """Who a window sounds like: ``profile_id``/``name`` are ``None`` for an unknown speaker."""

    profile_id: str | None
    name: str | None
    score: float | None
    cosine: float | None
    decision: str
    #: Verification: the other enrolled profile whose likeness turned the claim down.
    look_alike: LookAlike | None = None
    #: Why the decision is what it is: ``match``, ``no_match`` (nobody close enough),
    #: ``look_alike`` (identify: the voice does not stand out from the next profiles;
    #: verify: another profile scores as high) or ``insufficient_speech``.
    reason: DecisionReason | None = None


@dataclass(frozen=True)
class WindowResult:
    """What one window held: its speech, and the match when there was enough to score."""

    end_seconds: float
    window_seconds: float
    speech_seconds: float
    new_speech_seconds: float
    match: Match | None
    processing_seconds: float


@dataclass(frozen=True)
class LiveEvent:
    """One running result. ``changed`` marks a new speaker (or unknown) since the last one."""

    seq: int
    final: bool
    audio_seconds: float
    window_seconds: float
    net_speech_seconds: float
    window_speech_seconds: float
    profile_id: str | None
    name: str | None
    score: float | None
    cosine: float | None
    decision: str
    changed: bool
    processing_seconds: float
    look_alike: LookAlike | None = None
    #: The decision's reason (:attr:`Match.reason`); ``None`` for silence (nothing scored).
    reason: DecisionReason | None = None

    @property
    def speaking(self) -> bool:
        return self.decision != SILENCE

    @property
    def unknown(self) -> bool:
        return self.speaking and self.profile_id is None

    def to_json(self) -> dict[str, Any]:
        """The JSON message the WebSocket routes send (and ``listen --json`` prints)."""
        return {
            "type": "result",
            "seq": self.seq,
            "final": self.final,
            "audio_seconds": rounding.seconds(self.audio_seconds),
            "window_seconds": rounding.seconds(self.window_seconds),
            "net_speech_seconds": rounding.seconds(self.net_speech_seconds),
            "window_speech_seconds": rounding.seconds(self.window_speech_seconds),
            "speaking": self.speaking,
            "unknown": self.unknown,
            "profile_id": self.profile_id,
            "profile_name": self.name,
            "score": None if self.score is None else float(self.score),
            "cosine": None if self.cosine is None else float(self.cosine),
            "decision": self.decision,
            "reason": None if self.reason is None else self.reason.value,
            "changed": self.changed,
            "processing_ms": rounding.milliseconds(self.processing_seconds),
            "look_alike": None
            if self.look_alike is None
            else {
                "profile_id": self.look_alike.profile_id,
                "profile_name": self.look_alike.name,
                "cosine": float(self.look_alike.cosine),
            },
        }


class WindowScorer(Protocol):
    """Scores a window's speech (blocking; runs off the event loop in the service):
    ``speech`` found in ``waveform``, the window's ``(n,) float32`` audio at the
    encoder's rate, not yet embedded; the scorer embeds it, or its telephone copy where
    a profile is better judged with that."""

    def score(self, speech: PreparedSpeech, waveform: np.ndarray) -> Match: ...


@dataclass(frozen=True)
class IdentifyScorer:
    """Open-set identification over the namespace's enrolled profiles (or a subset).

    With ``min_score``, the best candidate is named only if its posterior also reaches
    it (the service's own decision must pass too).
    """

    service: VoxprintService
    profile_ids: Sequence[str] | None = None
    min_score: float | None = None

    def score(self, speech: PreparedSpeech, waveform: np.ndarray) -> Match:
        pipeline = self.service.pipeline
        utterance = pipeline.embed(speech)
        result = self.service.identify_utterance(
            utterance,
            top_n=1,
            profile_ids=self.profile_ids,
            record=False,
            telephone=lambda: pipeline.telephone_copy(waveform, utterance.segments),
        )
        best = result.candidates[0] if result.candidates else None
        who = result.identified
        reason = result.reason
        if who is not None and self.min_score is not None and who.score < self.min_score:
            # Named by the service, not sure enough for a stream: nobody close enough.
            who, reason = None, DecisionReason.NO_MATCH
        if who is not None:
            return Match(who.profile_id, who.name, who.score, who.cosine, IDENTIFIED, reason=reason)
        # A posterior that would name the closest never stands beside "unknown": a voice
        # that does not stand out from the next profiles shows its cosine only.
        shown = reason is not DecisionReason.LOOK_ALIKE
        return Match(
            None,
            None,
            best.score if best and shown else None,
            best.cosine if best else None,
            UNKNOWN,
            reason=reason,
        )


@dataclass(frozen=True)
class VerifyScorer:
    """1:1 verification against one enrolled profile."""

    service: VoxprintService
    profile: Profile

    def score(self, speech: PreparedSpeech, waveform: np.ndarray) -> Match:
        # The profile as it is now, not as the session found it: deleted, merged away or
        # reset meanwhile is an error, never a score against a voiceprint that is gone
        # (found in review), and new clips count at once.
        profile = self.service.enrolled_profile(self.profile.id)
        utterance = self.service.claim_utterance(profile, waveform, speech)
        result = self.service.verify_utterance(profile, utterance, record=False)
        return Match(
            profile.id,
            profile.name,
            result.score,
            result.cosine,
            result.decision.value,
            result.look_alike,
            result.reason,
        )


def speech_in_tail(segments: SpeechSegments, tail_samples: int) -> float:
    """Seconds of speech in the last ``tail_samples`` samples the segments cover."""
    start = segments.total_samples - max(0, tail_samples)
    samples = sum(max(0, end - max(begin, start)) for begin, end in segments.segments)
    return samples / segments.sample_rate


def evaluate_window(
    service: VoxprintService,
    window: Window,
    scorer: WindowScorer | None,
    min_speech_seconds: float,
) -> WindowResult:
    """VAD the window; with enough speech, let ``scorer`` embed it and say who it is.

    ``scorer=None`` only measures speech (enrolment progress). Blocking: call it on
    a worker thread from async code.
    """
    started = time.perf_counter()
    pipeline = service.pipeline
    segments = pipeline.vad.detect(window.audio)
    speech = segments.net_speech_seconds
    new_speech = speech_in_tail(segments, window.new_samples)
    match: Match | None = None
    if scorer is not None and speech >= max(min_speech_seconds, 1e-9):
        try:
            if window.sample_rate == pipeline.encoder.sample_rate:
                # The speech is known: embed it without running the VAD again.
                waveform = window.audio
                found = pipeline.prepare(waveform, force=True, segments=segments, started=started)
            else:
                waveform = pipeline.load((window.audio, window.sample_rate))
                found = pipeline.prepare(waveform, force=True)
        except NoSpeechError:
            found = None
        if found is not None:
            match = scorer.score(found, waveform)
    return WindowResult(
        end_seconds=window.end_seconds,
        window_seconds=window.seconds,
        speech_seconds=speech,
        new_speech_seconds=new_speech,
        match=match,
        processing_seconds=time.perf_counter() - started,
    )


class LiveRecognizer:
    """Buffers audio, hands out due windows, and turns their results into events.

    Not thread-safe: one owner feeds it. Model work happens in ``evaluate`` (for
    :meth:`feed`) or wherever the caller runs :func:`evaluate_window`.
    """

    def __init__(
        self,
        config: LiveConfig | None = None,
        evaluate: Callable[[Window], WindowResult] | None = None,
    ) -> None:
        self.config = config or LiveConfig()
        self._evaluate = evaluate
        self._buffer = np.zeros(0, dtype=np.float32)
        self._received = 0  # samples pushed in total
        self._unscored = 0  # samples pushed since the last window was taken
        self._seq = 0
        self._net_speech = 0.0
        self._speaker: str | None = None  # profile id, "unknown", or None before anyone

    @property
    def received_seconds(self) -> float:
        return self._received / self.config.sample_rate

    @property
    def net_speech_seconds(self) -> float:
        return self._net_speech

    @property
    def pending_samples(self) -> int:
        """Samples received since the last window was taken."""
        return self._unscored

    def push(self, samples: np.ndarray) -> None:
        """Append ``(n,) float32`` audio at the configured rate."""
        chunk = np.asarray(samples, dtype=np.float32).reshape(-1)
        if chunk.size == 0:
            return
        keep = self.config.buffer_samples
        self._buffer = np.concatenate([self._buffer, chunk])[-keep:]
        self._received += chunk.size
        self._unscored += chunk.size

    def due(self) -> bool:
        return self._unscored >= self.config.hop_samples

    def next_window(self, *, final: bool = False) -> Window | None:
        """The newest window if a hop of new audio arrived (or any audio, when ``final``)."""
        if not (self.due() or (final and self._buffer.size)):
            return None
        window = Window(
            audio=self._buffer.copy(),
            end_seconds=self.received_seconds,
            new_samples=min(self._unscored, self._buffer.size),
            sample_rate=self.config.sample_rate,
        )
        self._unscored = 0
        return window

    def record(self, result: WindowResult, *, final: bool = False) -> LiveEvent:
        """Account a window's result: add its new speech, and note a change of speaker."""
        self._net_speech += result.new_speech_seconds
        match = result.match
        changed = False
        if match is not None:
            key = match.profile_id or UNKNOWN
            changed = key != self._speaker
            self._speaker = key
        self._seq += 1
        return LiveEvent(
            seq=self._seq,
            final=final,
            audio_seconds=result.end_seconds,
            window_seconds=result.window_seconds,
            net_speech_seconds=self._net_speech,
            window_speech_seconds=result.speech_seconds,
            profile_id=match.profile_id if match else None,
            name=match.name if match else None,
            score=match.score if match else None,
            cosine=match.cosine if match else None,
            decision=match.decision if match else SILENCE,
            changed=changed,
            processing_seconds=result.processing_seconds,
            look_alike=match.look_alike if match else None,
            reason=match.reason if match else None,
        )

    def final_event(self) -> LiveEvent:
        """The closing result: the newest window scored whether or not a hop is due."""
        window = self.next_window(final=True)
        if window is None:
            empty = WindowResult(self.received_seconds, 0.0, 0.0, 0.0, None, 0.0)
            return self.record(empty, final=True)
        return self.record(self._run(window), final=True)

    def feed(self, samples: np.ndarray) -> list[LiveEvent]:
        """Push audio and score every hop it completes (synchronously, with ``evaluate``).

        A chunk longer than one hop yields one event per hop it completes, each
        scored on the window ending at that hop.
        """
        chunk = np.asarray(samples, dtype=np.float32).reshape(-1)
        events: list[LiveEvent] = []
        hop = self.config.hop_samples
        position = 0
        while position < chunk.size:
            room = max(1, hop - self._unscored)
            self.push(chunk[position : position + room])
            position += room
            window = self.next_window()
            if window is not None:
                events.append(self.record(self._run(window)))
        return events

    def _run(self, window: Window) -> WindowResult:
        if self._evaluate is None:
            raise InvalidParameterError("this recogniser has no evaluate function")
        return self._evaluate(window)


def whole_samples(data: bytes) -> tuple[bytes, bytes]:
    """PCM16 bytes split into whole 2-byte samples and the odd byte left (``b""`` or one
    byte), for chunks that may split a sample."""
    usable = len(data) - len(data) % 2
    return data[:usable], data[usable:]


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Little-endian 16-bit PCM bytes to ``(n,) float32`` in [-1, 1)."""
    if len(data) % 2:
        raise InvalidParameterError("PCM16 data must have an even number of bytes")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(samples: np.ndarray) -> bytes:
    """``(n,) float`` audio to little-endian 16-bit PCM bytes (clipped)."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 32767 / 32768)
    return (clipped * 32768.0).astype("<i2").tobytes()
