"""Request and response models of the native ``/v1`` API (snake_case, ISO 8601 times).

Every route declares one of these as its response model, so ``/docs`` shows a
complete, typed OpenAPI document. Core results become these in :mod:`voxprint.api.render`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from voxprint.store.records import MAX_NAME_LENGTH, unprintable

#: Profile ids are UUIDs (``str(uuid.uuid4())``).
PROFILE_ID_PATTERN = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
MAX_TOP_N = 100
MAX_PAGE = 500
MAX_BATCH_ITEMS = 32


def _encodable(value: str) -> str:
    """Refuse strings that cannot be stored as UTF-8 (lone surrogates from JSON escapes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


def _printable(value: str) -> str:
    """Names and ids: no control or invisible characters (the store's rule)."""
    problem = unprintable(value)
    if problem:
        raise ValueError(problem)
    return value


def _finite(values: list[float]) -> list[float]:
    if not all(math.isfinite(v) for v in values):
        raise ValueError("vector values must be finite numbers")
    return values


def _json_number(value: Any) -> Any:
    """A JSON number only: pydantic's lax mode would read ``true`` as 1 and ``"5"`` as 5
    (found in a walkthrough: ``{"words": true}`` made a one-word challenge request).
    Integers still take ``5.0``; floats take integers."""
    if isinstance(value, bool):
        raise PydanticCustomError(
            "number_type", "must be a JSON number, not {value}", {"value": str(value).lower()}
        )
    if not isinstance(value, int | float):
        raise PydanticCustomError("number_type", "must be a JSON number")
    return value


#: Integer and number fields of request bodies: JSON numbers only (no booleans or text).
JsonInt = Annotated[int, BeforeValidator(_json_number)]
JsonFloat = Annotated[float, BeforeValidator(_json_number)]
Text = Annotated[str, AfterValidator(_encodable)]
ProfileIdText = Annotated[str, Field(pattern=PROFILE_ID_PATTERN)]
#: No minimum length here: an empty or blank name is refused by the service, one rule for
#: both (400 ``invalid_profile``).
#: The length is checked on the string first, so the message counts characters.
Name = Annotated[
    str, Field(max_length=MAX_NAME_LENGTH), AfterValidator(_encodable), AfterValidator(_printable)
]
ExternalId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(_encodable),
    AfterValidator(_printable),
]
Metadata = Annotated[dict[Text, Any], Field(max_length=64)]
ProfileId = Annotated[str, Field(pattern=PROFILE_ID_PATTERN)]
DecisionValue = Literal["accept", "reject"]
ReasonValue = Literal["match", "no_match", "look_alike", "insufficient_speech"]
SourceKindValue = Literal["prior", "adapted", "calibrated"]
StatusValue = Literal["enrolling", "enrolled"]
ProfileKindValue = Literal["text-independent", "text-dependent"]
VerifyReasonValue = Literal[
    "match",
    "no_match",
    "look_alike",
    "insufficient_speech",
    "wrong_phrase",
    "wrong_phrase_and_voice",
]
PhraseReasonValue = Literal["match", "other_phrase", "not_the_phrase", "unrecognized"]
Locale = Annotated[str, Field(pattern=r"^[a-zA-Z]{2}[-_]?[a-zA-Z]{2}$")]
Passphrase = Annotated[Text, Field(min_length=1, max_length=300)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors -------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `profile_not_found`.")
    message: str
    net_speech_seconds: float | None = None
    required_seconds: float | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the JSON error body for ``statuses``."""
    meaning = {
        400: "Bad parameters or undecodable audio.",
        401: "Missing, unknown or revoked API key.",
        404: "No such profile in your namespace.",
        409: "Profile not enrolled yet, or a different encoder.",
        413: "Body or audio too large (refused before it is read).",
        415: "Unsupported media type.",
        422: "No speech, too little speech, or an invalid request.",
        429: "Inference queue full; retry shortly.",
        503: "Starting up or shutting down.",
    }
    return {
        status: {"model": ErrorResponse, "description": meaning.get(status, "Error.")}
        for status in sorted({401, 422, 429, 503, *statuses})
    }


# --- profiles -------------------------------------------------------------------------


class ProfileCreate(Strict):
    name: Name
    external_id: ExternalId | None = Field(None, description="Your own id, unique per namespace.")
    metadata: Metadata = Field(default_factory=dict)
    kind: ProfileKindValue = Field(
        "text-independent",
        description="text-independent (any speech) or text-dependent (a passphrase).",
    )
    locale: Locale | None = Field(None, description="Passphrase locale (text-dependent): en-us.")
    passphrase: Passphrase | None = Field(
        None,
        description="Text-dependent only: the passphrase (one of GET /v1/phrases, or at "
        "least 3 custom words the phrase check knows). Without it the first enrolment clip "
        "fixes it.",
    )


def _no_default(schema: dict[str, Any]) -> None:
    """Leave a field's ``null`` default out of its JSON schema: absent means unchanged."""
    schema.pop("default", None)


class ProfilePatch(Strict):
    """Only the fields sent change. ``external_id: null`` clears the external id; a
    profile always has a name and metadata, so ``null`` for either is refused."""

    # Absent: unchanged. Not nullable, and the OpenAPI schema shows no null default.
    name: Name = Field(None, json_schema_extra=_no_default)  # type: ignore[assignment]
    external_id: ExternalId | None = None
    metadata: Metadata = Field(None, json_schema_extra=_no_default)  # type: ignore[arg-type]

    @model_validator(mode="before")
    @classmethod
    def _no_null_name_or_metadata(cls, data: Any) -> Any:
        for field_name, instead in (("name", "a new name"), ("metadata", "{} to clear it")):
            if isinstance(data, dict) and field_name in data and data[field_name] is None:
                raise ValueError(f"{field_name} cannot be null; send {instead}")
        return data


class ProfileOut(BaseModel):
    id: str
    name: str
    external_id: str | None
    metadata: dict[str, Any]
    status: StatusValue
    clip_count: int
    audio_seconds: float
    net_speech_seconds: float
    remaining_speech_seconds: float
    encoder_name: str
    encoder_version: str
    created_at: datetime
    updated_at: datetime
    kind: ProfileKindValue = "text-independent"
    locale: str | None = Field(None, description="Text-dependent: the passphrase locale.")
    passphrase: str | None = Field(
        None, description="Text-dependent: the passphrase (null until the first clip)."
    )
    remaining_clips: int | None = Field(
        None, description="Text-dependent: passphrase clips still needed to be enrolled."
    )


class MergeProfiles(Strict):
    """Which profile to merge into the one in the path (and then delete)."""

    from_: ProfileIdText = Field(
        alias="from",
        description="The id of the profile to merge into this one: its clips move here, "
        "then it is deleted.",
    )
    force: bool = Field(
        default=False,
        strict=True,
        description="Merge even when the two voiceprints do not sound like one voice "
        "(409 `voices_differ` otherwise, since once merged either person could pass as "
        "the other).",
    )


class ProfileMergeOut(BaseModel):
    """What a merge stored: the merged profile, and the profile it removed."""

    profile: ProfileOut = Field(description="The merged profile as it is now stored.")
    removed_profile_id: str = Field(description="The id of the profile merged in and deleted.")
    removed_profile_name: str
    clips_moved: int = Field(description="Clips moved from the removed profile.")
    duplicate_clips: int = Field(
        description="Clips of the removed profile whose audio this profile already had: "
        "deleted with it, not held twice."
    )


class ProfileList(BaseModel):
    items: list[ProfileOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")


# --- recognition ------------------------------------------------------------------------


class QualityOut(BaseModel):
    """Quality measures of one enrolment clip (see ``voxprint.quality``)."""

    net_speech_seconds: float
    snr_db: float | None = Field(description="Estimated SNR; null when no pause to measure.")
    clipped_fraction: float = Field(description="Share of samples at full scale.")
    speaker_similarity: float | None = Field(
        description="Lowest similarity between parts of the clip; null when too short."
    )
    multiple_speakers: bool


class PhraseOut(BaseModel):
    """The phrase check of one clip: what was expected, what was heard, and why."""

    expected: str
    heard: str | None = Field(description="What the recogniser heard; null: nothing.")
    accepted: bool
    reason: PhraseReasonValue
    word_errors: int = Field(description="Words heard differently (-1: nothing heard).")
    loop_margin: float = Field(
        description=(
            "The phrase's fit against what else the audio could be, in the recogniser's "
            "log-likelihood units (higher is better): PocketSphinx, against a free phone "
            "loop, per frame; Whisper, against its own transcript (0 when the transcript "
            "is the phrase)."
        )
    )
    weakest_word: str | None = Field(
        default=None,
        description=(
            "The word of the phrase that fits the audio worst (PocketSphinx: against the "
            "free phone loop over the word's own frames); null where not measured."
        ),
    )
    weakest_word_margin: float | None = Field(
        default=None,
        description="That word's fit, in the units of loop_margin (per frame).",
    )


class SimilarVoiceOut(BaseModel):
    """Another enrolled profile whose voice is too close to this one's to tell apart
    reliably: one person enrolled twice, or two very similar voices."""

    profile_id: str
    profile_name: str
    cosine: float = Field(description="Cosine between the two voiceprints.")
    z: float = Field(
        description="How many standard deviations above strangers' mean cosine in this "
        "namespace (measured without the profile just enrolled) the pair scores."
    )


class SimilarVoicesOut(BaseModel):
    """An enrolled profile's similar voices, asked after enrolment."""

    profile_id: str
    profile_name: str
    similar_voices: list[SimilarVoiceOut] = Field(
        description="Other enrolled profiles of this namespace whose voices are too close to "
        "this one's to tell apart reliably, closest first."
    )


class EnrollmentOut(BaseModel):
    profile_id: str
    profile_name: str
    status: StatusValue
    duplicate: bool = Field(
        description="The profile already had this audio (a retried request): nothing added."
    )
    clip_audio_seconds: float = Field(description="Length of this clip.")
    clip_net_speech_seconds: float = Field(description="Net speech in this clip.")
    net_speech_seconds: float = Field(description="Net speech of all clips so far.")
    remaining_speech_seconds: float = Field(description="Speech still needed to be enrolled.")
    quality: QualityOut | None = Field(None, description="Measures of this clip.")
    similar_voices: list[SimilarVoiceOut] = Field(
        default_factory=list,
        description="Enrolled profiles of this namespace whose voices are too close to this "
        "profile's to tell apart reliably, closest first; checked whenever a clip leaves "
        "the profile enrolled (not for text-dependent profiles, nor for encoders without a "
        "built-in score prior).",
    )
    profile: ProfileOut
    kind: ProfileKindValue = "text-independent"
    phrase: PhraseOut | None = Field(None, description="Text-dependent: the phrase check.")
    passphrase: str | None = Field(None, description="Text-dependent: the passphrase in force.")
    remaining_clips: int | None = Field(None, description="Text-dependent: clips still needed.")


class ThresholdSourceOut(BaseModel):
    """How the operating point that decided was derived."""

    kind: SourceKindValue = Field(
        description="prior (built in), adapted (from this namespace's enrolled profiles) "
        "or calibrated (`voxprint calibrate`)."
    )
    description: str
    profiles: int = Field(description="Enrolled profiles the adaptation used.")
    clips: int = Field(description="Enrolment clips the adaptation used.")
    updated_at: datetime | None = Field(description="When it last changed.")


class LookAlikeOut(BaseModel):
    profile_id: str
    profile_name: str
    cosine: float = Field(description="Its cosine with the voice, as the decision read it.")


class VerificationOut(BaseModel):
    profile_id: str
    profile_name: str
    cosine: float = Field(
        description="Cosine similarity in [-1, 1], of the embeddings centred on the namespace's "
        "voices where the encoder's prior centres them (docs/thresholds.md)."
    )
    score: float = Field(
        description="Calibrated score: the probability that the claim is true (even prior)."
    )
    normalized_score: float | None = Field(
        None, description="AS-Norm score, when a cohort and its calibration are in use."
    )
    decision: DecisionValue = Field(
        description="The answer: with a passphrase or a challenge, both the phrase and the "
        "voice must pass."
    )
    reason: VerifyReasonValue = Field(
        description="match, no_match (the voice), look_alike (the voice would pass, but "
        "another enrolled profile of the namespace scores as high: see look_alike), "
        "insufficient_speech (too little speech to decide), wrong_phrase or "
        "wrong_phrase_and_voice (the words were not said)."
    )
    threshold: float = Field(description="The score needed to accept.")
    cosine_threshold: float | None = Field(
        None, description="The cosine this claim needed at its amounts of speech."
    )
    net_speech_seconds: float
    source: ThresholdSourceOut
    activity_logged: bool = Field(
        True, description="False when the store could not log the answer (read-only or full)."
    )
    look_alike: LookAlikeOut | None = Field(
        None,
        description="Another enrolled profile of the namespace that the voice resembles, "
        "when weighing the claim against it turned an accept into a reject.",
    )
    kind: ProfileKindValue = "text-independent"
    voice_decision: DecisionValue | None = Field(
        None, description="The voice alone, when words were checked too."
    )
    phrase: PhraseOut | None = Field(
        None, description="The passphrase or challenge check; null for the voice alone."
    )
    challenge_id: str | None = Field(None, description="The challenge this answer used up.")


class BandOut(BaseModel):
    band: Literal["wideband", "narrowband"]
    impostor_mean: float | None = Field(description="Mean cosine between strangers.")
    impostor_std: float | None
    cosine_to_accept: dict[str, float] = Field(
        description="Cosine needed to accept a probe of this many seconds of speech against "
        "a voiceprint enrolled from 20 s."
    )
    source: ThresholdSourceOut | None = Field(
        default=None,
        description="Set when this band's claims are decided by another operating point than "
        "the namespace's (a calibration fitted on the other band's trials only): that point.",
    )
    verification_threshold: float | None = Field(
        default=None,
        description="Score needed to accept a claim of this band, when `source` is set.",
    )


class BandPairsOut(BaseModel):
    """Different-speaker pairs of one band: how many, their mean cosine (scaled to
    unlimited speech) and the spread of single trials."""

    band: Literal["wideband", "narrowband"]
    pairs: int
    pair_mean: float
    trial_std: float


class GalleryStatisticsOut(BaseModel):
    band: Literal["wideband", "narrowband"]
    profiles: int
    clips: int
    pairs: int
    pair_mean: float
    trial_std: float
    updated_at: datetime
    #: The other band's pairs, which adapt that band's model (``None``: none).
    other_band: BandPairsOut | None = None


class ActivityEntryOut(BaseModel):
    """One line of the activity log: who did what to which profile, and the outcome."""

    id: int = Field(description="The entry's number; later entries have larger ones.")
    time: datetime
    namespace: str
    action: str = Field(
        description="What was done: create, enroll, verify, identify, reset, delete, ..."
    )
    profile_id: str | None = Field(
        description="The profile concerned (for identify, the one identified); null if none."
    )
    profile_name: str | None = Field(
        description="The profile's current name; null when it has been deleted since."
    )
    result: str = Field(
        description="The outcome: accept/reject, identified/unknown, the enrolment status, "
        "rejected, deleted, ..."
    )
    score: float | None = Field(description="The decision's score, when there was one.")
    detail: str | None = Field(description="Why, or what was measured (never audio).")


class ActivityList(BaseModel):
    items: list[ActivityEntryOut] = Field(description="Newest first.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")
    before_id: int | None = Field(description="The cursor this page was asked for, if any.")
    next_before_id: int | None = Field(
        description="The `before_id` of the next page; null on the last. Unlike "
        "`next_offset`, entries logged meanwhile do not shift it."
    )


class CalibrationOut(BaseModel):
    """One calibration stored by `voxprint calibrate` for the encoder version."""

    scale: Literal["cosine", "asnorm"] = Field(
        description="The scores it was fitted on: raw cosines or AS-Norm scores."
    )
    bands: list[Literal["wideband", "narrowband"]] | None = Field(
        description="The bands whose claims it decides (its trials' bands; each band keeps "
        "its own calibration); null: stored before voxprint recorded them, every band."
    )
    threshold: float = Field(description="The fitted threshold, on the `scale` scores.")
    target_far: float = Field(description="The false-accept rate it was fitted for.")
    achieved_far: float = Field(description="The false-accept rate on its trials.")
    achieved_frr: float = Field(description="The false-reject rate on its trials.")
    target_trials: int
    nontarget_trials: int
    source: str = Field(description="The trial list it was fitted on.")
    created_at: datetime
    in_use: bool = Field(
        description="Whether it decides its bands' claims now (not: an AS-Norm one without "
        "a cohort, or one that an AS-Norm calibration of the same bands precedes)."
    )


class ThresholdsOut(BaseModel):
    """The operating point in force for the namespace of the key."""

    namespace: str
    encoder_name: str
    encoder_version: str
    source: ThresholdSourceOut
    verification_threshold: float = Field(description="Score needed to accept a claim.")
    identification_threshold: float = Field(description="Posterior needed to name someone.")
    min_speech_seconds: float = Field(description="Less speech than this is not decided.")
    rival_weight: float = Field(
        description="How much a verify claim's alternative weighs the namespace's other "
        "enrolled profiles, together, against a stranger (0: strangers only)."
    )
    normalized: bool = Field(description="Scores are AS-Norm scores against a cohort.")
    bands: list[BandOut]
    statistics: GalleryStatisticsOut | None = Field(
        description="What the adaptation measured on the namespace's enrolled profiles."
    )
    centre: CentreOut | None = Field(
        description="How embeddings are centred before their cosines are taken (null: not centred)."
    )
    text_dependent: ThresholdsOut | None = Field(
        default=None,
        description="The operating point the voice part of passphrase claims (text-dependent "
        "profiles) decides with: a prior fitted on same-word trials, adapted to the namespace "
        "and never overridden by a calibration of ordinary speech.",
    )
    calibration_bands: list[Literal["wideband", "narrowband"]] | None = Field(
        default=None,
        description="The bands whose claims the calibration in force decides (a calibration "
        "decides the bands of the trials it was fitted on; null: no calibration decides, or "
        "it was stored before voxprint recorded them).",
    )
    calibrations: list[CalibrationOut] = Field(
        default_factory=list,
        description="Every calibration stored for the encoder version, at most one per band "
        "and scale (empty for the passphrase point, which calibrations do not override).",
    )


class BandCentreOut(BaseModel):
    """One band's centre in a namespace that mixes bands."""

    profiles: int = Field(description="Profiles enrolled wholly in the band whose mean counts.")
    own_share: float = Field(description="The share of the band's centre their mean makes.")


class CentreOut(BaseModel):
    """The centre cosines are taken around: the mean voiceprint of ``profiles`` enrolled
    profiles, shrunk towards a centre shipped with the encoder's prior."""

    profiles: int = Field(
        description="Enrolled profiles whose mean counts (0: the shipped centre alone, e.g. "
        "a namespace mixing app and telephone enrolments, whose pairs use ``bands``)."
    )
    own_share: float = Field(description="The share of the centre their mean makes.")
    bands: dict[str, BandCentreOut] | None = Field(
        default=None,
        description="In a namespace mixing app and telephone enrolments, each band's own "
        "centre (keys ``wideband``, ``narrowband``): each side of a pair is taken around "
        "its band's, a side of mixed clips around the one above (null: one centre).",
    )


class CandidateOut(BaseModel):
    profile_id: str
    profile_name: str
    cosine: float
    score: float = Field(description="Posterior that the speaker is this profile.")
    normalized_score: float | None = None


class IdentificationOut(BaseModel):
    candidates: list[CandidateOut]
    identified: CandidateOut | None
    unknown: bool = Field(description="True when nobody in the gallery is named.")
    reason: ReasonValue = Field(
        description="match, no_match, look_alike (the best voice would be named, but it does "
        "not stand out from the next enrolled profiles), or insufficient_speech (too little "
        "speech to decide)."
    )
    threshold: float = Field(description="The posterior the best candidate needs to be named.")
    unknown_probability: float = Field(
        description="Posterior that the speaker is none of the enrolled profiles."
    )
    gallery_size: int
    net_speech_seconds: float
    speech_needed_seconds: float | None = Field(
        default=None,
        description="When nobody is named: about how much speech an ordinary owner needs to "
        "be named among this gallery (null when not known or when no amount would do).",
    )
    source: ThresholdSourceOut
    activity_logged: bool = Field(
        description="False when the store could not log the answer (read-only or full)."
    )


class ComparisonOut(BaseModel):
    cosine: float
    score: float
    normalized_score: float | None = None
    decision: DecisionValue
    reason: ReasonValue
    threshold: float
    source: ThresholdSourceOut


# --- phrases and challenges ---------------------------------------------------------


class PhrasesOut(BaseModel):
    locale: str
    phrases: list[str]
    supported_locales: list[str]


class ChallengeCreate(Strict):
    kind: Literal["digits", "words"] = Field(
        "digits", description="A challenge of digits (4-6 by default) or of common words."
    )
    # The bounds are the service's challenge policy (one place): out of them is a 400.
    words: JsonInt | None = Field(
        None, description="How many digits or words (the service allows 4-6 by default)."
    )
    ttl_seconds: JsonFloat | None = Field(
        None, description="Lifetime in seconds (default 120, at most 600 by default)."
    )


class ChallengeOut(BaseModel):
    id: str
    kind: Literal["digits", "words"]
    phrase: str = Field(description="What the speaker must say.")
    created_at: datetime
    expires_at: datetime
    used: bool = Field(description="A verification has used it up.")


# --- voiceprints ------------------------------------------------------------------------


class VoiceprintOut(BaseModel):
    """A profile's voiceprint: ``vector`` (floats) or ``vector_base64`` (little-endian float32)."""

    profile_id: str
    encoder_name: str
    encoder_version: str
    dimension: int
    vector: list[float] | None = None
    vector_base64: str | None = None


class VoiceprintIn(BaseModel):
    """An exported voiceprint: give ``vector`` or ``vector_base64``; other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    encoder_name: Text = Field(max_length=200)
    encoder_version: Text = Field(max_length=200)
    vector: Annotated[list[JsonFloat], AfterValidator(_finite)] | None = Field(
        None, max_length=4096
    )
    vector_base64: str | None = Field(None, max_length=65536)


class CompareVoiceprints(Strict):
    first: VoiceprintIn
    second: VoiceprintIn


# --- streams ---------------------------------------------------------------------------


class StreamCreate(Strict):
    format: Literal["encoded", "pcm16"] = Field(
        "encoded",
        description="`encoded`: one audio/video file sent in pieces. "
        "`pcm16`: raw 16 kHz mono 16-bit little-endian PCM.",
    )


class StreamOut(BaseModel):
    id: str
    format: Literal["encoded", "pcm16"]
    bytes: int = Field(description="Bytes received so far.")
    chunks: int = Field(description="Chunks appended so far.")
    audio_seconds: float | None = Field(description="Duration so far (pcm16 only).")
    created_at: datetime
    expires_at: datetime = Field(description="When the stream expires if nothing else happens.")


# --- diarization -----------------------------------------------------------------------


class BestCandidateOut(BaseModel):
    profile_id: str
    profile_name: str


class DiarizedSpeakerOut(BaseModel):
    speaker: str = Field(description='The profile\'s name, or "unknown 1", "unknown 2", ...')
    unknown: bool
    profile_id: str | None
    profile_name: str | None
    score: float | None = Field(
        description="Posterior of the named profile; for an unknown speaker, of the closest "
        "profile while it is under the naming threshold (else null: see unknown_reason)."
    )
    cosine: float | None = Field(description="Cosine with the named (or closest) profile.")
    unknown_probability: float | None = Field(
        description="Posterior of 'not enrolled' (null for an unknown speaker whose closest "
        "profile reaches the naming threshold)."
    )
    unknown_reason: str | None = Field(
        description="Why the speaker is not named: not_enrolled, too_little_speech, "
        "profile_named_elsewhere (the profile names another speaker of this recording) "
        "or not_matched (names off); null when named."
    )
    best_candidate: BestCandidateOut | None
    talk_seconds: float
    turns: int
    first_start: float
    speech_seconds: float = Field(description="Solo speech behind the speaker's embedding.")


class SegmentOut(BaseModel):
    start: float
    end: float
    speaker: str
    profile_id: str | None
    profile_name: str | None
    score: float | None


class SourceOut(BaseModel):
    kind: str
    description: str


class RequestedSpeakersOut(BaseModel):
    num_speakers: int | None
    min_speakers: int | None
    max_speakers: int | None


class DiarizationOut(BaseModel):
    diarization_id: str = Field(description="Use it to enrol a speaker from this recording.")
    expires_in_seconds: float
    duration_seconds: float
    speech_seconds: float
    speaker_count: int = Field(description="Speakers found.")
    requested_speakers: RequestedSpeakersOut
    speakers_missing: int = Field(
        description="How many fewer speakers were found than num_speakers (or min_speakers) "
        "asked for; 0 when met."
    )
    speakers: list[DiarizedSpeakerOut]
    segments: list[SegmentOut]
    gallery_size: int
    source: SourceOut
    processing_seconds: float
    real_time_factor: float
    segmentation_version: str
    encoder_version: str


class SpeakerEnrollmentIn(BaseModel):
    speaker: str = Field(min_length=1, max_length=200, description='e.g. "unknown 1"')
    profile_id: str | None = Field(None, description="Add to this existing profile ...")
    name: str | None = Field(
        None, min_length=1, max_length=200, description="... or to a new profile of this name."
    )


# --- embedding map ---------------------------------------------------------------------


class MapPointOut(BaseModel):
    profile_id: str
    name: str
    kind: str = Field(description="`voiceprint` (the profile's mean) or `clip` (one enrolment).")
    x: float
    y: float


class EmbeddingMapOut(BaseModel):
    method: str
    explained_variance: list[float]
    points: list[MapPointOut]


# --- batch -----------------------------------------------------------------------------

BatchOp = Literal["create_profile", "get_profile", "enroll", "verify", "identify"]


class BatchItem(Strict):
    """One operation. ``audio`` is base64 audio bytes; with a multipart batch,
    ``audio_part`` names the part holding the audio instead."""

    op: BatchOp
    id: Text | None = Field(None, max_length=200, description="Your reference, echoed back.")
    profile_id: Text | None = Field(None, max_length=200)
    audio: str | None = None
    audio_part: Text | None = Field(None, max_length=200)
    force: bool = False
    label: Text | None = Field(None, max_length=200)
    top_n: JsonInt = Field(5, ge=1, le=MAX_TOP_N)
    profile_ids: list[ProfileIdText] | None = Field(None, max_length=1000)
    name: Name | None = None
    external_id: ExternalId | None = None
    metadata: Metadata | None = None


class BatchRequest(Strict):
    #: Each item is checked on its own when it runs (one that is not even an object fails
    #: alone), so the request only needs a list here.
    items: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        description="Operations, each a BatchItem; each is validated and run on its own.",
    )


class BatchError(BaseModel):
    code: str
    message: str


BatchResult = ProfileOut | EnrollmentOut | VerificationOut | IdentificationOut


class BatchItemResult(BaseModel):
    index: int
    id: str | None
    op: str | None
    status: int = Field(description="HTTP status this operation would have had alone.")
    ok: bool
    result: BatchResult | None = None
    error: BatchError | None = None


class BatchOut(BaseModel):
    results: list[BatchItemResult]
    succeeded: int
    failed: int
