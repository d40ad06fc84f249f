"""Typed errors raised by voxprint.

Every error carries a stable machine-readable ``code`` (used by the CLI's exit
codes and by the service's JSON errors) and a human message that names the
problem. Library code raises these and never prints or exits.
"""

from __future__ import annotations

from typing import Any, Self


class VoxprintError(Exception):
    """Base class of every error voxprint raises on purpose."""

    code: str = "voxprint_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """Machine-readable extras beyond ``code`` and ``message`` (e.g. how much speech
        was found); the CLI's ``--json`` errors and the service's error bodies add them."""
        return {}

    def prefixed(self, prefix: str) -> Self:
        """The same error (type, code and details) with ``prefix`` before its message,
        e.g. which of two recordings it is about."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.message = prefix + self.message
        clone.args = (clone.message, *self.args[1:])
        return clone

    def naming(self, source: object) -> Self:
        """The same error about one file among many: its message starts with ``source``,
        unless it names that file already (``audio file X is empty``)."""
        name = str(source)
        return self if name in self.message else self.prefixed(f"{name}: ")


# --- audio intake ---------------------------------------------------------


class AudioError(VoxprintError):
    """The audio could not be turned into a usable waveform."""

    code = "invalid_audio"


class EmptyAudioError(AudioError):
    code = "empty_audio"


class CorruptAudioError(AudioError):
    """The bytes look like a media file but could not be decoded."""

    code = "corrupt_audio"


class UnsupportedAudioError(AudioError):
    """The input is not audio (or has no audio track) in any supported format."""

    code = "unsupported_media"


class AudioTooLargeError(AudioError):
    code = "audio_too_large"


class AudioTooLongError(AudioError):
    code = "audio_too_long"


class InvalidSampleRateError(AudioError):
    code = "invalid_sample_rate"


class NonFiniteAudioError(AudioError):
    """The samples contain NaN or infinity."""

    code = "non_finite_audio"


class AudioFileNotFoundError(AudioError):
    """The audio path does not exist, or names a directory."""

    code = "audio_not_found"


class ClipRejectedError(AudioError):
    """The enrolment quality gate refused the clip (too noisy, clipped, several voices).

    ``reasons`` says why in words; ``quality`` is the
    :class:`~voxprint.quality.ClipQuality` that was measured. Nothing was stored.
    """

    code = "clip_rejected"

    def __init__(self, message: str, *, reasons: tuple[str, ...], quality: Any) -> None:
        super().__init__(message)
        self.reasons = reasons
        self.quality = quality

    def details(self) -> dict[str, Any]:
        return {"reasons": list(self.reasons)}


# --- speech -----------------------------------------------------------------


class SpeechError(VoxprintError):
    code = "speech_error"


class NoSpeechError(SpeechError):
    """Voice activity detection found no speech at all."""

    code = "no_speech"


class SpeechTooShortError(SpeechError):
    """There is speech, but less than the configured minimum."""

    code = "speech_too_short"

    def __init__(self, message: str, *, net_speech_seconds: float, required_seconds: float) -> None:
        super().__init__(message)
        self.net_speech_seconds = net_speech_seconds
        self.required_seconds = required_seconds

    def details(self) -> dict[str, Any]:
        return {
            "net_speech_seconds": round(self.net_speech_seconds, 3),
            "required_seconds": round(self.required_seconds, 3),
        }


# --- models -----------------------------------------------------------------


class ModelError(VoxprintError):
    code = "model_error"


class UnknownEncoderError(ModelError):
    code = "unknown_encoder"


class WeightsNotFoundError(ModelError):
    """The package or file that carries a model's weights is not installed."""

    code = "weights_not_found"


class EncoderMismatchError(ModelError):
    """A profile was enrolled with a different encoder than the one in use."""

    code = "encoder_mismatch"


# --- profiles ---------------------------------------------------------------


class ProfileError(VoxprintError):
    code = "profile_error"


class ProfileNotFoundError(ProfileError):
    code = "profile_not_found"


class AmbiguousProfileError(ProfileError):
    code = "ambiguous_profile"


class ProfileNotEnrolledError(ProfileError):
    code = "profile_not_enrolled"


class DuplicateExternalIdError(ProfileError):
    code = "duplicate_external_id"


class DuplicateClipError(ProfileError):
    """The profile already has this exact audio (for instance a retried enrolment)."""

    code = "duplicate_clip"

    def __init__(self, message: str, *, clip_id: str) -> None:
        super().__init__(message)
        self.clip_id = clip_id


class InvalidProfileError(ProfileError):
    """A profile field is invalid (empty name, metadata not JSON, ...)."""

    code = "invalid_profile"


# --- passphrases and spoken challenges ------------------------------------------


class PhraseError(VoxprintError):
    """The words spoken are not the words asked for."""

    code = "phrase_error"


class PhraseMismatchError(PhraseError):
    """An enrolment clip does not say the profile's passphrase (or any offered phrase).

    ``heard`` is what the recogniser heard (``None``: nothing it could recognise) and
    ``reason`` why the phrase check refused it. Nothing was stored.
    """

    code = "invalid_passphrase"

    def __init__(self, message: str, *, heard: str | None, reason: str) -> None:
        super().__init__(message)
        self.heard = heard
        self.reason = reason

    def details(self) -> dict[str, Any]:
        return {"heard": self.heard, "phrase_reason": self.reason}


class ClipLengthError(AudioError):
    """A passphrase clip is shorter or longer than a passphrase clip may be."""

    code = "clip_length"

    def __init__(self, message: str, *, audio_seconds: float, too_long: bool) -> None:
        super().__init__(message)
        self.audio_seconds = audio_seconds
        self.too_long = too_long

    def details(self) -> dict[str, Any]:
        return {"audio_seconds": round(self.audio_seconds, 3)}


class ProfileKindError(ProfileError):
    """The operation does not apply to this kind of profile (a passphrase for a
    text-independent profile, a challenge for a text-dependent one, ...)."""

    code = "wrong_profile_kind"


class VoicesDifferError(ProfileError):
    """Two profiles asked to be merged do not sound like one voice: merging two people
    would let each pass as the other (the caller may insist)."""

    code = "voices_differ"


class ChallengeError(VoxprintError):
    code = "challenge_error"


class ChallengeNotFoundError(ChallengeError):
    """No challenge with this id in the caller's namespace."""

    code = "challenge_not_found"


class ChallengeExpiredError(ChallengeError):
    code = "challenge_expired"


class ChallengeUsedError(ChallengeError):
    """The challenge was already answered: each challenge is good for one attempt."""

    code = "challenge_used"


# --- store, evaluation, parameters --------------------------------------------


class StoreError(VoxprintError):
    code = "store_error"


class DatabaseNotFoundError(StoreError):
    """A command that only reads was given a database file that does not exist."""

    code = "database_not_found"


class SchemaVersionError(StoreError):
    """The database was written by a newer voxprint than this one."""

    code = "schema_too_new"


# --- access and load ---------------------------------------------------------------


class AuthenticationError(VoxprintError):
    """No API key, or one that is unknown or revoked."""

    code = "unauthorized"


class ConflictingKeysError(AuthenticationError):
    """A request carries two different API keys (e.g. one in ``X-API-Key``, another in
    ``Authorization: Bearer``): which tenant acts is never guessed."""

    code = "conflicting_api_keys"


class ApiKeyNotFoundError(VoxprintError):
    code = "api_key_not_found"


class ServiceBusyError(VoxprintError):
    """Every inference slot is taken and the waiting queue is full: retry later."""

    code = "busy"


class ServiceUnavailableError(VoxprintError):
    """The service is starting up or shutting down."""

    code = "unavailable"


class StreamNotFoundError(VoxprintError):
    """An audio stream id that does not exist (or expired) in this namespace."""

    code = "stream_not_found"


class DiarizationNotFoundError(VoxprintError):
    """A diarization id that does not exist (or expired) in this namespace."""

    code = "diarization_not_found"


class DatasetError(VoxprintError):
    code = "invalid_dataset"


class InvalidParameterError(VoxprintError):
    code = "invalid_parameter"


class TrainingSettingError(InvalidParameterError):
    """A training setting is refused (a bad value, an unknown key, a change a resumed run
    cannot take). ``settings`` are the config keys it is about (``learning_rate``), as the
    message names them; the CLI names its flags instead (``--lr``) where they set them."""

    def __init__(self, message: str, *, settings: tuple[str, ...]) -> None:
        super().__init__(message)
        self.settings = settings


class UnsupportedLocaleError(InvalidParameterError):
    """A locale without passphrases; the message names the supported ones."""

    code = "unsupported_locale"


class EmptyCohortError(InvalidParameterError):
    """Score normalisation was asked for with an empty impostor cohort."""

    code = "empty_cohort"
