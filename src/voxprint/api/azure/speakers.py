"""Azure's text-independent semantics on top of the core :class:`VoxprintService`.

Profiles made through the Azure routes are ordinary voxprint profiles, marked in
their metadata as ``{"azure": {"kind": "verification" | "identification",
"locale": "en-us"}}``. Under a verification route only verification profiles exist
(and likewise for identification), as in Azure, where the two are separate
resources. Azure's own thresholds apply on these routes: a profile is enrolled at
``enroll_seconds`` of net speech (or at once with ``ignoreMinLength``), and a
verify/identify clip needs ``min_seconds`` of net speech unless ``ignoreMinLength``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np

from voxprint.api.azure.errors import AzureRequestError, EnrollmentQuotaError
from voxprint.enrollment import DEFAULT_ENROLLMENT_SPEECH_SECONDS
from voxprint.errors import (
    InvalidParameterError,
    ProfileNotEnrolledError,
    ProfileNotFoundError,
    SpeechTooShortError,
)
from voxprint.pipeline import PreparedSpeech
from voxprint.rounding import speech_still_needed
from voxprint.service import (
    EnrollmentReport,
    IdentificationResult,
    VerificationResult,
    VoxprintService,
)
from voxprint.store.records import AZURE_METADATA_KEY, EnrollmentStatus, Profile

#: Profile metadata key holding the Azure marks.
METADATA_KEY = AZURE_METADATA_KEY

#: Azure's locale syntax: language and country code, e.g. ``en-us``.
LOCALE_PATTERN = re.compile(r"^[a-zA-Z]{2}-?[a-zA-Z]{2}$")

#: Azure identified among at most this many candidate profiles.
MAX_CANDIDATES = 50

#: Azure ranked this many profiles in ``profilesRanking``.
RANKING_SIZE = 5

#: Profiles read from the store per page while filtering a listing by kind.
_LIST_BATCH = 500


class ProfileKind(StrEnum):
    VERIFICATION = "verification"
    IDENTIFICATION = "identification"


@dataclass(frozen=True)
class AzureLimits:
    """Azure's speech thresholds, in seconds (from the service settings)."""

    enroll_seconds: float = DEFAULT_ENROLLMENT_SPEECH_SECONDS
    min_seconds: float = 4.0
    max_enroll_audio_seconds: float = 300.0


@dataclass(frozen=True)
class ProfilePage:
    profiles: list[Profile]
    has_more: bool


def profile_kind(profile: Profile) -> ProfileKind | None:
    """The Azure kind a profile was created as, or None for a native profile."""
    marks = profile.metadata.get(METADATA_KEY)
    if not isinstance(marks, dict):
        return None
    try:
        return ProfileKind(str(marks.get("kind")))
    except ValueError:
        return None


def profile_locale(profile: Profile) -> str | None:
    marks = profile.metadata.get(METADATA_KEY)
    locale = marks.get("locale") if isinstance(marks, dict) else None
    return locale if isinstance(locale, str) else None


def parse_locale(body: Any) -> str:
    """The locale of a create-profile body ``{"locale": "en-us"}``."""
    if not isinstance(body, dict) or "locale" not in body:
        raise AzureRequestError("Locale parameter is missing.")
    locale = body["locale"]
    if not isinstance(locale, str) or not LOCALE_PATTERN.match(locale):
        raise InvalidParameterError(
            f"Invalid locale value {locale!r}: use a language and country code such as en-us."
        )
    return locale


@dataclass(frozen=True)
class AzureSpeakers:
    """One kind of Azure text-independent profile, for one namespaced service."""

    service: VoxprintService
    kind: ProfileKind
    limits: AzureLimits = AzureLimits()

    # --- profiles -------------------------------------------------------------

    def create(self, locale: str) -> Profile:
        return self.service.create_profile(
            f"azure-{self.kind.value}",
            metadata={METADATA_KEY: {"kind": self.kind.value, "locale": locale}},
        )

    def get(self, profile_id: str) -> Profile:
        """The profile, if it exists *as this kind*; else ProfileNotFoundError with one
        Azure message, whether the id is unknown, malformed or another kind's."""
        try:
            profile: Profile | None = self.service.get_profile(profile_id)
        except ProfileNotFoundError:
            profile = None
        if profile is None or profile_kind(profile) is not self.kind:
            raise ProfileNotFoundError(
                f"no {self.kind.value} profile {profile_id}: requested profile doesn't exist"
            )
        return profile

    def list(self, *, top: int, skip: int) -> ProfilePage:
        """Profiles of this kind, oldest first, ``top`` of them after ``skip``."""
        wanted = skip + top
        matched: list[Profile] = []
        offset = 0
        while len(matched) <= wanted:
            batch = self.service.list_profiles(limit=_LIST_BATCH, offset=offset)
            matched.extend(p for p in batch if profile_kind(p) is self.kind)
            if len(batch) < _LIST_BATCH:
                break
            offset += _LIST_BATCH
        return ProfilePage(matched[skip:wanted], has_more=len(matched) > wanted)

    def delete(self, profile_id: str) -> None:
        self.get(profile_id)
        self.service.delete_profile(profile_id)

    def reset(self, profile_id: str) -> Profile:
        self.get(profile_id)
        return self._with_policy(self.limits.enroll_seconds).reset_profile(profile_id)

    def remaining_seconds(self, profile: Profile) -> float:
        """Net speech still needed before the profile is enrolled (0 once it is)."""
        return self._with_policy(self.limits.enroll_seconds).enrollment.remaining_for(profile)

    # --- recognition ------------------------------------------------------------

    def enroll(
        self, profile_id: str, audio: bytes, *, ignore_min_length: bool = False
    ) -> EnrollmentReport:
        """Add one clip (through the service's quality gate). With ``ignore_min_length``
        the profile is enrolled at once."""
        profile = self.get(profile_id)
        pipeline = self.service.pipeline
        waveform = pipeline.load(audio)
        total = profile.audio_seconds + len(waveform) / pipeline.encoder.sample_rate
        if total > self.limits.max_enroll_audio_seconds:
            raise EnrollmentQuotaError(
                f"Maximum allowed length across all profile enrollments is "
                f"{self.limits.max_enroll_audio_seconds:g} seconds; this clip would make "
                f"{total:.1f} s. Reset the profile to start over."
            )
        # A profile once enrolled stays enrolled as clips are added.
        already = profile.status is EnrollmentStatus.ENROLLED
        threshold = 0.0 if ignore_min_length or already else self.limits.enroll_seconds
        source = (waveform, pipeline.encoder.sample_rate)
        return self._with_policy(threshold).enroll(profile.id, source)

    def verify(
        self, profile_id: str, audio: bytes, *, ignore_min_length: bool = False
    ) -> VerificationResult:
        profile = self._enrolled(self.get(profile_id))
        waveform, speech = self._speech_for_recognition(audio, ignore_min_length)
        utterance = self.service.claim_utterance(profile, waveform, speech)
        # Azure's verification profiles are resources apart from its identification
        # ones, and Azure weighed a claim against a stranger only: so does this route.
        return self.service.verify_utterance(profile, utterance, rivals=False)

    def identify(
        self, profile_ids: Sequence[str], audio: bytes, *, ignore_min_length: bool = False
    ) -> IdentificationResult:
        """Open-set identification among ``profile_ids`` (1 to 50 of this kind, enrolled)."""
        candidates = list(dict.fromkeys(p.strip() for p in profile_ids if p.strip()))
        if not candidates:
            raise InvalidParameterError("profileIds is required: a comma-separated list of ids.")
        if len(candidates) > MAX_CANDIDATES:
            raise InvalidParameterError(
                f"{len(candidates)} profileIds given; at most {MAX_CANDIDATES} are supported."
            )
        profiles = [self.get(profile_id) for profile_id in candidates]
        for profile in profiles:
            self._enrolled(profile)
        waveform, speech = self._speech_for_recognition(audio, ignore_min_length)
        utterance = self.service.pipeline.embed(speech)
        return self.service.identify_utterance(
            utterance,
            top_n=RANKING_SIZE,
            profile_ids=candidates,
            telephone=lambda: self.service.pipeline.telephone_copy(waveform, utterance.segments),
        )

    # --- helpers ------------------------------------------------------------------

    def _with_policy(self, enroll_seconds: float) -> VoxprintService:
        """The service with Azure's enrolment threshold (its quality gate kept)."""
        policy = replace(self.service.enrollment, min_net_speech_seconds=enroll_seconds)
        return replace(self.service, enrollment=policy)

    def _enrolled(self, profile: Profile) -> Profile:
        if profile.status is not EnrollmentStatus.ENROLLED or profile.voiceprint is None:
            remaining = self.remaining_seconds(profile)
            raise ProfileNotEnrolledError(
                f"Profile {profile.id} is not enrolled: {speech_still_needed(remaining)} s "
                "more net speech is needed."
            )
        return profile

    def _speech_for_recognition(
        self, audio: bytes, ignore_min_length: bool
    ) -> tuple[np.ndarray, PreparedSpeech]:
        """The decoded audio and its speech, not yet embedded, refused under Azure's
        minimum."""
        pipeline = self.service.pipeline
        waveform = pipeline.load(audio)
        needed = self.limits.min_seconds
        try:
            speech = pipeline.prepare(waveform, force=ignore_min_length)
        except SpeechTooShortError as short:
            # Under voxprint's own per-clip minimum too: one answer, Azure's, for any clip
            # under the minimum (not "at least 1 s" for one and "at least 4 s" for another).
            raise _too_short(
                short.net_speech_seconds, max(needed, short.required_seconds)
            ) from None
        seconds = speech.segments.net_speech_seconds
        if not ignore_min_length and seconds < needed:
            raise _too_short(seconds, needed)
        return waveform, speech


def _too_short(seconds: float, needed: float) -> SpeechTooShortError:
    return SpeechTooShortError(
        f"Audio is too short: {seconds:.2f} s of speech, at least "
        f"{needed:g} s is needed (or set ignoreMinLength=true).",
        net_speech_seconds=seconds,
        required_seconds=needed,
    )
