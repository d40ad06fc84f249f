"""Text-dependent verification and spoken challenges on top of :class:`VoxprintService`.

:class:`PassphraseService` wraps the core service: profiles, clips, voiceprints and the
one scoring chain stay the core's; this adds what the words say.

* **Text-dependent profiles** (kind ``text-dependent``) have a passphrase: one of the
  locale's phrases or a custom one whose words the recogniser knows. The first enrolment
  clip fixes it (unless it was given at creation); every clip must say it, or it is
  refused with :class:`PhraseMismatchError` and nothing is stored. ``min_clips`` clips
  of 1-10 s enrol the profile. Verification accepts only when the phrase was said *and*
  the voice clears the threshold; the answer says which part failed. The voiceprint is
  the mean of the enrolment clips, all of which say the passphrase, so the voice is
  compared on the same words.
* **Spoken challenges**: :meth:`create_challenge` draws a random phrase with an expiry;
  :meth:`verify` with ``challenge_id`` uses it up (whatever the outcome) and accepts only
  when the challenge phrase was said and the voice matches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np

from voxprint.audio import AudioSource
from voxprint.decision import Decision
from voxprint.enrollment import EnrollmentPolicy
from voxprint.errors import (
    ClipLengthError,
    InvalidParameterError,
    PhraseMismatchError,
    ProfileKindError,
    ProfileNotEnrolledError,
    ProfileNotFoundError,
    StoreError,
    VoxprintError,
)
from voxprint.passphrase.audio import phrase_audio
from voxprint.passphrase.challenges import (
    ChallengeKind,
    ChallengePolicy,
    competitors_of,
    new_challenge,
)
from voxprint.passphrase.phrases import locale_key, phrases_for
from voxprint.passphrase.recognizer import (
    Competitors,
    PhraseMatch,
    PhraseReason,
    PhraseRecognizer,
    normalize_phrase,
)
from voxprint.passphrase.voice import text_dependent_prior
from voxprint.service import (
    EnrollmentReport,
    MeasuredClip,
    SimilarVoices,
    VerificationResult,
    VoxprintService,
    measure_clip,
    measure_waveform,
)
from voxprint.store.records import (
    Challenge,
    Clip,
    EnrollmentState,
    EnrollmentStatus,
    PhraseProfile,
    Profile,
    ProfileKind,
)
from voxprint.thresholds import ThresholdReport

logger = logging.getLogger(__name__)

DEFAULT_LOCALE = "en-us"


@dataclass(frozen=True)
class PassphrasePolicy:
    """How text-dependent profiles enrol, and how challenges are made."""

    #: Clips that make a text-dependent profile enrolled (Azure: 3).
    min_clips: int = 3
    #: Length of each passphrase clip (audio, not only speech), in seconds.
    min_clip_seconds: float = 1.0
    max_clip_seconds: float = 10.0
    #: Longest answer to a spoken challenge (audio): 4-6 words and a pause or two. A
    #: long recording that merely contains the words is no answer.
    max_answer_seconds: float = 20.0
    #: Fewest words of a custom passphrase (the locale's phrases have 6 to 10): one or two
    #: words are said by chance, heard in other speech, and give the voice check little.
    min_passphrase_words: int = 3
    challenges: ChallengePolicy = field(default_factory=ChallengePolicy)

    def __post_init__(self) -> None:
        if self.min_clips < 1:
            raise InvalidParameterError("a text-dependent profile needs at least one clip")
        if not 0 <= self.min_clip_seconds < self.max_clip_seconds:
            raise InvalidParameterError("passphrase clip lengths must satisfy 0 <= min < max")
        if not self.max_answer_seconds > 0:
            raise InvalidParameterError("max_answer_seconds must be positive")
        if self.min_passphrase_words < 1:
            raise InvalidParameterError("a passphrase needs at least one word")


@dataclass(frozen=True)
class ClipCountPolicy(EnrollmentPolicy):
    """Text-dependent enrolment: enrolled at ``min_clips`` clips (any speech in each)."""

    min_clips: int = 3

    def summarize(
        self, clips: Sequence[Clip], before: EnrollmentStatus = EnrollmentStatus.ENROLLING
    ) -> EnrollmentState:
        state = super().summarize(clips, before)
        enough = len(clips) >= self.min_clips or before is EnrollmentStatus.ENROLLED
        status = (
            EnrollmentStatus.ENROLLED
            if enough and state.voiceprint is not None
            else EnrollmentStatus.ENROLLING
        )
        return replace(state, status=status)

    def remaining_seconds(self, net_speech_seconds: float) -> float:
        return 0.0

    def met_by(self, profile: Profile) -> bool:
        return profile.clip_count >= self.min_clips

    def remaining_clips(self, profile: Profile) -> int:
        """Passphrase clips ``profile`` still needs to be enrolled: 0 once it is."""
        if profile.status is EnrollmentStatus.ENROLLED:
            return 0
        return max(0, self.min_clips - profile.clip_count)

    def still_needed(self, profile: Profile) -> str:
        """What ``profile`` still needs, counted in clips, not seconds: "2 more passphrase
        clips are needed"."""
        clips = self.remaining_clips(profile)
        if clips == 1:
            return "1 more passphrase clip is needed"
        return f"{clips} more passphrase clips are needed"


class SpokenReason(StrEnum):
    """Why a verification with words answered as it did."""

    MATCH = "match"
    #: The voice matched but the phrase (passphrase or challenge) was not said.
    WRONG_PHRASE = "wrong_phrase"
    #: The phrase was said, by another voice (or too unlike the profile's).
    VOICE_MISMATCH = "no_match"
    #: The voice alone would pass, but another enrolled profile scores as high.
    LOOK_ALIKE = "look_alike"
    #: Neither the phrase nor the voice.
    WRONG_PHRASE_AND_VOICE = "wrong_phrase_and_voice"
    #: Too little speech to decide on the voice.
    INSUFFICIENT_SPEECH = "insufficient_speech"


@dataclass(frozen=True)
class SpokenEnrollment:
    """One enrolment clip's outcome; for a text-dependent profile also the phrase check,
    the passphrase in force and how many clips are still needed."""

    report: EnrollmentReport
    kind: ProfileKind
    phrase: PhraseMatch | None = None
    passphrase: str | None = None
    remaining_clips: int | None = None
    #: The locale of a text-dependent profile's passphrase.
    locale: str | None = None


@dataclass(frozen=True)
class SpokenVerification:
    """A verification: the voice result and, when words were checked (a text-dependent
    profile or a challenge), the phrase result. ``decision`` joins both."""

    voice: VerificationResult
    kind: ProfileKind
    decision: Decision
    reason: SpokenReason
    phrase: PhraseMatch | None = None
    challenge: Challenge | None = None

    @property
    def score(self) -> float:
        """The voice score, or 0 when the words were wrong (an Azure-style score)."""
        if self.phrase is not None and not self.phrase.accepted:
            return 0.0
        return self.voice.score


@dataclass(frozen=True)
class SpokenProfile:
    """A profile with its kind and passphrase."""

    profile: Profile
    phrase: PhraseProfile
    remaining_clips: int | None = None


@dataclass(frozen=True)
class SpokenProfilePage:
    profiles: list[SpokenProfile]
    total: int


@dataclass(frozen=True)
class _HeardClip:
    """The first clip of a new text-dependent profile, decoded and its words checked
    before the profile is created."""

    waveform: np.ndarray
    match: PhraseMatch
    #: Its quality as measured then (``None``: not checked), reused when it is stored.
    measured: MeasuredClip | None = None


@dataclass(frozen=True)
class PassphraseService:
    """Passphrases and spoken challenges for one namespace of a core service."""

    core: VoxprintService
    recognizer: PhraseRecognizer
    policy: PassphrasePolicy = field(default_factory=PassphrasePolicy)

    def in_namespace(self, namespace: str) -> PassphraseService:
        return replace(self, core=self.core.in_namespace(namespace))

    @property
    def namespace(self) -> str:
        return self.core.namespace

    # --- phrases and profiles -------------------------------------------------------

    def phrases(self, locale: str = DEFAULT_LOCALE) -> tuple[str, ...]:
        """The passphrases offered for ``locale``; :class:`UnsupportedLocaleError` names
        the supported locales otherwise."""
        return phrases_for(locale)

    def check_passphrase(self, passphrase: str, locale: str = DEFAULT_LOCALE) -> str:
        """The normalised passphrase, if the recogniser can check it (a phrase of the
        locale, or custom words all in its dictionary, at least ``min_passphrase_words``
        of them)."""
        phrases_for(locale)
        normalized = normalize_phrase(passphrase)
        missing = self.recognizer.unknown_words(normalized)
        if missing:
            raise InvalidParameterError(
                f"the passphrase has words the phrase check does not know: "
                f"{', '.join(missing)}; choose a listed phrase (voxprint phrases) or other words"
            )
        words = len(normalized.split())
        wanted = self.policy.min_passphrase_words
        if words < wanted:
            raise InvalidParameterError(
                f"a passphrase needs at least {wanted} words, {normalized!r} has {words}; "
                "choose a listed phrase (voxprint phrases) or more words"
            )
        return normalized

    def create_profile(
        self,
        name: str,
        *,
        kind: ProfileKind = ProfileKind.TEXT_INDEPENDENT,
        locale: str = DEFAULT_LOCALE,
        passphrase: str | None = None,
        external_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> SpokenProfile:
        """A new profile of ``kind``; a text-dependent one may be given its passphrase."""
        if kind is ProfileKind.TEXT_INDEPENDENT:
            if passphrase is not None:
                raise ProfileKindError(
                    "a passphrase needs a text-dependent profile (kind text-dependent)"
                )
            profile = self.core.create_profile(name, external_id=external_id, metadata=metadata)
            return SpokenProfile(profile, PhraseProfile(profile.id, kind))
        key = locale_key(locale)
        phrases_for(key)
        fixed = None if passphrase is None else self.check_passphrase(passphrase, key)
        profile = self.core.create_profile(
            name,
            external_id=external_id,
            metadata=metadata,
            kind=ProfileKind.TEXT_DEPENDENT,
            locale=key,
            passphrase=fixed,
        )
        record = PhraseProfile(profile.id, ProfileKind.TEXT_DEPENDENT, key, fixed)
        return SpokenProfile(profile, record, self.policy.min_clips)

    def ensure_profile(
        self,
        reference: str,
        *,
        external_id: str | None = None,
        passphrase: str | None = None,
        locale: str = DEFAULT_LOCALE,
    ) -> Profile:
        """The profile ``reference`` resolves to, or a new one named ``reference``
        (text-dependent when a ``passphrase`` is given). An existing profile must agree
        with the ``passphrase``: a text-independent one, or one with another passphrase,
        is refused."""
        return self._ensure_profile(
            reference, external_id=external_id, passphrase=passphrase, locale=locale
        )[0]

    def enroll_clips(
        self,
        reference: str,
        sources: Sequence[tuple[str, AudioSource]],
        *,
        external_id: str | None = None,
        passphrase: str | None = None,
        locale: str = DEFAULT_LOCALE,
        force: bool = False,
        check_quality: bool = True,
        on_enrolled: Callable[[str, SpokenEnrollment], None] | None = None,
    ) -> list[SpokenEnrollment]:
        """Enrol ``sources`` (``(label, audio)``, in order) into the profile ``reference``
        resolves to, or a new one (:meth:`ensure_profile`); ``on_enrolled`` hears of each
        clip as it is stored. The first clip refused stops it with its error. For a new
        profile the first clip is checked before the profile is created (decoded, its
        words heard for a text-dependent profile, its quality measured: see
        :meth:`_prepare_first_clip`), so that a file that is no audio, holds no speech, or
        is refused by the quality gate or the phrase check creates nothing and logs
        nothing. A profile this call created is deleted again (with the
        passphrase it was given) when it holds no clip then, however the call ends, so a
        failed first enrolment leaves nothing behind; a profile that existed before is
        never deleted."""
        if not sources:
            raise InvalidParameterError("no clips to enrol")
        first = self._prepare_first_clip(
            reference, external_id, passphrase, locale, sources[0][1], force, check_quality
        )
        profile, created = self._ensure_profile(
            reference, external_id=external_id, passphrase=passphrase, locale=locale
        )
        results: list[SpokenEnrollment] = []
        try:
            for index, (label, source) in enumerate(sources):
                prepared = first if index == 0 else None
                if isinstance(prepared, MeasuredClip):
                    report = self.core.enroll_measured(
                        profile.id, prepared, label=label, check_quality=check_quality
                    )
                    result = SpokenEnrollment(report, ProfileKind.TEXT_INDEPENDENT)
                elif isinstance(prepared, _HeardClip):
                    record = self.core.store.get_phrase_profile(self.namespace, profile.id)
                    result = self._enroll_heard(
                        profile,
                        record,
                        prepared.waveform,
                        prepared.match,
                        label,
                        check_quality,
                        measured=prepared.measured,
                    )
                else:
                    result = self.enroll(
                        profile.id,
                        source if prepared is None else prepared,
                        label=label,
                        force=force,
                        check_quality=check_quality,
                    )
                results.append(result)
                if on_enrolled is not None:
                    on_enrolled(label, result)
        except BaseException:  # interrupted too: nothing stored means nothing kept
            if created and not results:
                self.core.discard_if_empty(profile.id)
            raise
        return results

    def _prepare_first_clip(
        self,
        reference: str,
        external_id: str | None,
        passphrase: str | None,
        locale: str,
        source: AudioSource,
        force: bool,
        check_quality: bool,
    ) -> MeasuredClip | _HeardClip | None:
        """The first clip of an enrolment that will create its profile, checked before
        the profile is, so that a clip refused leaves no profile and no activity behind:
        measured (decoded, embedded) and put to the quality gate for a text-independent
        profile; for a text-dependent one decoded, its words checked against
        ``passphrase`` and its quality measured (that measure is stored with it).
        ``None`` when ``reference`` names a profile already (nothing is created)."""
        try:
            self.core.resolve_for_enrolment(reference, external_id)
        except ProfileNotFoundError:
            pass
        else:
            return None
        gate = self.core.enrollment.quality_gate
        if passphrase is None:
            measured = measure_clip(self.core.pipeline, gate, source, force=force)
            if check_quality:
                self.core.check_clip_quality(measured.quality)
            return measured
        key = locale_key(locale)
        wanted = self.check_passphrase(passphrase, key)
        waveform = self.core.pipeline.load(source)
        match = self._hear_passphrase(waveform, wanted, key)
        heard = None
        if check_quality:
            heard = measure_waveform(self.core.pipeline, gate, waveform, force=True)
            self.core.check_clip_quality(heard.quality)
        return _HeardClip(waveform, match, heard)

    def _ensure_profile(
        self,
        reference: str,
        *,
        external_id: str | None,
        passphrase: str | None,
        locale: str,
    ) -> tuple[Profile, bool]:
        """:meth:`ensure_profile`, and whether this call created the profile."""
        try:
            found = self.core.resolve_for_enrolment(reference, external_id)
        except ProfileNotFoundError:
            kind = ProfileKind.TEXT_DEPENDENT if passphrase else ProfileKind.TEXT_INDEPENDENT
            created = self.create_profile(
                reference, kind=kind, locale=locale, passphrase=passphrase, external_id=external_id
            )
            return created.profile, True
        if passphrase is None:
            return found, False
        record = self.core.store.get_phrase_profile(self.namespace, found.id)
        if record.kind is not ProfileKind.TEXT_DEPENDENT:
            raise ProfileKindError(
                f"profile {found.name!r} is text-independent; a passphrase needs a new profile"
            )
        wanted = self.check_passphrase(passphrase, record.locale or locale)
        fixed = self.core.store.fix_passphrase(self.namespace, found.id, wanted)
        if fixed != wanted:
            raise ProfileKindError(
                f'profile {found.name!r} has the passphrase "{fixed}"; reset it to change it'
            )
        return found, False

    def similar_voices(self, profile_id: str) -> SimilarVoices:
        """:meth:`VoxprintService.similar_voices` for a text-independent profile; a
        text-dependent one is refused (:class:`ProfileKindError`): the similar-voice bar is
        text-independent, and one passphrase said by different people scores above it."""
        self.core.get_profile(profile_id)
        record = self.core.store.get_phrase_profile(self.namespace, profile_id)
        if record.kind is ProfileKind.TEXT_DEPENDENT:
            raise ProfileKindError(
                "similar voices are checked for text-independent profiles only; this one "
                "is text-dependent"
            )
        return self.core.similar_voices(profile_id)

    def get_profile(self, profile_id: str) -> SpokenProfile:
        profile = self.core.get_profile(profile_id)
        record = self.core.store.get_phrase_profile(self.namespace, profile_id)
        return SpokenProfile(profile, record, self._remaining(profile, record))

    def list_profiles(self, *, limit: int = 100, offset: int = 0) -> SpokenProfilePage:
        """A page of profiles with their kinds, and how many there are in all."""
        profiles = self.core.list_profiles(limit=limit, offset=offset)
        return SpokenProfilePage(self.describe(profiles), self.core.count_profiles())

    def describe(self, profiles: Sequence[Profile]) -> list[SpokenProfile]:
        """``profiles`` with their kinds (one store read for all)."""
        records = self.core.store.get_phrase_profiles(self.namespace, [p.id for p in profiles])
        out = []
        for profile in profiles:
            default = PhraseProfile(profile.id, ProfileKind.TEXT_INDEPENDENT)
            record = records.get(profile.id, default)
            out.append(SpokenProfile(profile, record, self._remaining(profile, record)))
        return out

    def reset_profile(self, profile_id: str) -> SpokenProfile:
        """Forget every clip; a text-dependent profile also forgets its passphrase."""
        record = self.core.store.get_phrase_profile(self.namespace, profile_id)
        if record.kind is ProfileKind.TEXT_DEPENDENT:
            profile = self._td_core().reset_profile(profile_id)
            self.core.store.clear_passphrase(self.namespace, profile_id)
            return SpokenProfile(profile, replace(record, passphrase=None), self.policy.min_clips)
        return SpokenProfile(self.core.reset_profile(profile_id), record)

    def _remaining(self, profile: Profile, record: PhraseProfile) -> int | None:
        if record.kind is not ProfileKind.TEXT_DEPENDENT:
            return None
        return self._clip_policy().remaining_clips(profile)

    def threshold_report(self) -> ThresholdReport:
        """The namespace's operating point in force (:meth:`VoxprintService.threshold_report`)
        with the one passphrase claims decide their voice part with (none for an encoder
        without a built-in prior: its calibration decides both)."""
        report = self.core.threshold_report()
        scoring = self._td_scoring()
        if scoring is self.core:  # no built-in prior: both decide with the calibration
            return report
        return replace(report, text_dependent=scoring.threshold_report())

    def _td_scoring(self) -> VoxprintService:
        """The core service deciding with the text-dependent operating point: same-word
        claims (voxprint.passphrase.voice). A calibration does not override it: its trials
        were ordinary speech, and a walkthrough found one fitted on LibriSpeech sentences
        accepting another speaker saying the passphrase (2 of 5 FSDD impostors, one at
        score 0.16). An encoder without a built-in prior keeps its calibration."""
        thresholds = self.core.thresholds
        if thresholds.prior is None:
            return self.core
        prior = text_dependent_prior(thresholds.prior, self.core.encoder_name)
        return replace(
            self.core, thresholds=replace(thresholds, prior=prior, use_calibration=False)
        )

    def _clip_policy(self) -> ClipCountPolicy:
        """Text-dependent enrolment: enrolled at ``min_clips`` clips."""
        return ClipCountPolicy(
            min_net_speech_seconds=0.0,
            quality_gate=self.core.enrollment.quality_gate,
            min_clips=self.policy.min_clips,
        )

    def _td_core(self) -> VoxprintService:
        """The core service with text-dependent enrolment (enrolled at ``min_clips``)."""
        return replace(self.core, enrollment=self._clip_policy())

    def _enrolled_profile(self, profile_id: str, record: PhraseProfile) -> Profile:
        """The profile if it can be verified against (the core decides); one still
        enrolling is refused saying what it still needs: passphrase clips for a
        text-dependent profile, net speech for another."""
        if record.kind is ProfileKind.TEXT_DEPENDENT:
            return self._td_core().enrolled_profile(profile_id)
        return self.core.enrolled_profile(profile_id)

    # --- enrolment --------------------------------------------------------------------

    def enroll(
        self,
        profile_id: str,
        source: AudioSource,
        *,
        label: str | None = None,
        force: bool = False,
        check_quality: bool = True,
    ) -> SpokenEnrollment:
        """Add a clip; a text-dependent profile's clip must say its passphrase."""
        record = self.core.store.get_phrase_profile(self.namespace, profile_id)
        if record.kind is not ProfileKind.TEXT_DEPENDENT:
            report = self.core.enroll(
                profile_id, source, label=label, force=force, check_quality=check_quality
            )
            return SpokenEnrollment(report, record.kind)
        profile = self.core.get_profile(profile_id)
        waveform = self.core.pipeline.load(source)
        try:
            match = self._hear_passphrase(waveform, record.passphrase, record.locale)
        except PhraseMismatchError as refused:
            self._log("enroll", profile.id, "rejected", None, f"passphrase {refused.reason}")
            raise
        return self._enroll_heard(profile, record, waveform, match, label, check_quality)

    def _hear_passphrase(
        self, waveform: np.ndarray, passphrase: str | None, locale: str | None
    ) -> PhraseMatch:
        """The phrase check of a text-dependent enrolment clip: ``passphrase`` said (any
        phrase of ``locale`` when the profile has none yet), or
        :class:`PhraseMismatchError`. Logs nothing (the caller knows whether a profile
        exists to log it against)."""
        self._check_length(waveform)
        phrases = phrases_for(locale or DEFAULT_LOCALE)
        audio = self._phrase_audio(waveform)
        if passphrase is None:
            match = self.recognizer.recognize(audio, phrases)
        else:
            match = self.recognizer.check(
                audio, passphrase, passphrase_competitors(phrases, passphrase)
            )
        if not match.accepted:
            raise PhraseMismatchError(
                _mismatch_message(match, passphrase), heard=match.heard, reason=match.reason.value
            )
        return match

    def _enroll_heard(
        self,
        profile: Profile,
        record: PhraseProfile,
        waveform: np.ndarray,
        match: PhraseMatch,
        label: str | None,
        check_quality: bool,
        *,
        measured: MeasuredClip | None = None,
    ) -> SpokenEnrollment:
        """Store a text-dependent clip whose words passed (:meth:`_hear_passphrase`);
        ``measured``: its quality already measured (a new profile's first clip)."""
        fixed_now = False
        passphrase = record.passphrase
        if passphrase is None:
            passphrase = self.core.store.fix_passphrase(self.namespace, profile.id, match.expected)
            fixed_now = passphrase == match.expected
            if not fixed_now:  # another first clip fixed another phrase meanwhile
                raise PhraseMismatchError(
                    _mismatch_message(match, passphrase), heard=match.heard, reason="other_phrase"
                )
        rate = self.core.pipeline.encoder.sample_rate
        try:
            report = self._td_core().enroll(
                profile.id,
                (waveform, rate),
                label=label,
                force=True,
                check_quality=check_quality,
                measured=measured,
            )
        except VoxprintError:
            if fixed_now and profile.clip_count == 0:
                self._forget_passphrase(profile.id)
            raise
        # The similar-voice bar is text-independent: voiceprints of one passphrase said by
        # different people score above it, so a text-dependent profile is not checked.
        report = replace(report, similar_voices=())
        return SpokenEnrollment(
            report,
            ProfileKind.TEXT_DEPENDENT,
            match,
            passphrase,
            self._remaining(report.profile, record),
            record.locale,
        )

    def _forget_passphrase(self, profile_id: str) -> None:
        try:
            if not self.core.store.list_clips(self.namespace, profile_id):
                self.core.store.clear_passphrase(self.namespace, profile_id)
        except StoreError as error:
            logger.warning("could not clear the passphrase of %s: %s", profile_id, error)

    # --- verification -------------------------------------------------------------------

    def verify(
        self,
        profile_id: str,
        source: AudioSource,
        *,
        challenge_id: str | None = None,
        force: bool = False,
    ) -> SpokenVerification:
        """Verify a claim the way the profile's kind asks for: the voice alone, the
        passphrase and the voice, or (with ``challenge_id``) the challenge phrase and
        the voice. A challenge is used up by this call whatever the answer."""
        record = self.core.store.get_phrase_profile(self.namespace, profile_id)
        if challenge_id is not None:
            return self._verify_challenge(profile_id, record, challenge_id, source, force)
        if record.kind is not ProfileKind.TEXT_DEPENDENT:
            voice = self.core.verify(profile_id, source, force=force)
            return SpokenVerification(voice, record.kind, voice.decision, _voice_reason(voice))
        profile = self._enrolled_profile(profile_id, record)
        if record.passphrase is None:  # enrolled profiles always have one; be safe
            raise ProfileNotEnrolledError(f"profile {profile_id} has no passphrase yet")
        waveform = self.core.pipeline.load(source)
        self._check_length(waveform)
        phrases = phrases_for(record.locale or DEFAULT_LOCALE)
        match = self.recognizer.check(
            self._phrase_audio(waveform),
            record.passphrase,
            passphrase_competitors(phrases, record.passphrase),
        )
        return self._decide(profile, record.kind, waveform, match, None, force)

    def _verify_challenge(
        self,
        profile_id: str,
        record: PhraseProfile,
        challenge_id: str,
        source: AudioSource,
        force: bool,
    ) -> SpokenVerification:
        profile = self._enrolled_profile(profile_id, record)
        waveform = self.core.pipeline.load(source)
        self._check_answer_length(waveform)  # before the challenge is used up
        challenge = self.core.store.use_challenge(
            self.namespace, challenge_id, now=datetime.now(UTC), profile_id=profile.id
        )
        match = self.recognizer.check(
            self._phrase_audio(waveform),
            challenge.phrase,
            competitors_of(challenge),
            max_word_errors=self.policy.challenges.word_errors,
        )
        return self._decide(profile, record.kind, waveform, match, challenge, force)

    def _decide(
        self,
        profile: Profile,
        kind: ProfileKind,
        waveform: np.ndarray,
        match: PhraseMatch,
        challenge: Challenge | None,
        force: bool,
    ) -> SpokenVerification:
        passphrase = kind is ProfileKind.TEXT_DEPENDENT
        scoring = self._td_scoring() if passphrase else self.core
        speech = scoring.pipeline.prepare(waveform, force=True)
        utterance = scoring.claim_utterance(profile, waveform, speech)
        # A passphrase claim is neither weighed against the namespace's other profiles nor
        # measured against its neighbours: their voiceprints were made from other words
        # (and one may be this speaker's own text-independent profile).
        voice = scoring.verify_utterance(
            profile,
            utterance,
            record=False,
            force=force,
            rivals=not passphrase,
            neighbours=not passphrase,
        )
        voice_ok = voice.decision is Decision.ACCEPT
        if match.accepted and voice_ok:
            reason = SpokenReason.MATCH
        elif not match.accepted:
            reason = SpokenReason.WRONG_PHRASE if voice_ok else SpokenReason.WRONG_PHRASE_AND_VOICE
        else:
            reason = _voice_reason(voice)
        decision = Decision.ACCEPT if reason is SpokenReason.MATCH else Decision.REJECT
        what = "challenge" if challenge is not None else "passphrase"
        logged = self._log(
            "verify",
            profile.id,
            decision.value,
            voice.score,
            f"{what} {match.reason.value}; voice {voice.reason.value}",
        )
        return SpokenVerification(
            replace(voice, activity_logged=logged), kind, decision, reason, match, challenge
        )

    # --- challenges -----------------------------------------------------------------

    def create_challenge(
        self,
        kind: ChallengeKind = ChallengeKind.DIGITS,
        *,
        words: int | None = None,
        ttl_seconds: float | None = None,
    ) -> Challenge:
        """A new single-use challenge phrase for this namespace (expired ones are purged)."""
        now = datetime.now(UTC)
        challenge = new_challenge(
            self.namespace, kind, self.policy.challenges, now, words=words, ttl_seconds=ttl_seconds
        )
        try:
            self.core.store.purge_challenges(now)
        except StoreError as error:
            logger.warning("could not purge expired challenges: %s", error)
        return self.core.store.create_challenge(challenge)

    def get_challenge(self, challenge_id: str) -> Challenge:
        return self.core.store.get_challenge(self.namespace, challenge_id)

    # --- helpers --------------------------------------------------------------------

    def _check_length(self, waveform: np.ndarray) -> None:
        policy = self.policy
        self._check_seconds(
            waveform,
            policy.min_clip_seconds,
            policy.max_clip_seconds,
            f"a passphrase clip is {policy.min_clip_seconds:g} to {policy.max_clip_seconds:g} s",
        )

    def _check_answer_length(self, waveform: np.ndarray) -> None:
        longest = self.policy.max_answer_seconds
        self._check_seconds(
            waveform, 0.0, longest, f"an answer to a challenge is at most {longest:g} s"
        )

    def _check_seconds(
        self, waveform: np.ndarray, shortest: float, longest: float, rule: str
    ) -> None:
        seconds = len(waveform) / self.core.pipeline.encoder.sample_rate
        if seconds < shortest or seconds > longest:
            too_long = seconds > longest
            raise ClipLengthError(
                f"Audio is too {'long' if too_long else 'short'}: {seconds:.2f} s; {rule}.",
                audio_seconds=seconds,
                too_long=too_long,
            )

    def _phrase_audio(self, waveform: np.ndarray) -> np.ndarray:
        pipeline = self.core.pipeline
        segments = pipeline.vad.detect(waveform)
        return phrase_audio(waveform, segments, self.recognizer.sample_rate)

    def _log(
        self, action: str, profile_id: str, result: str, score: float | None, detail: str
    ) -> bool:
        try:
            self.core.store.log_activity(
                self.namespace,
                action,
                profile_id=profile_id,
                result=result,
                score=score,
                detail=detail,
            )
            return True
        except StoreError as error:
            logger.warning("activity of namespace %r not logged: %s", self.namespace, error)
            return False


def _others(phrases: Sequence[str], passphrase: str) -> tuple[str, ...]:
    return tuple(p for p in phrases if p != passphrase)


def passphrase_competitors(phrases: Sequence[str], passphrase: str) -> Competitors:
    """What competes with a passphrase: the locale's other phrases. (Adding any sequence
    of their words, to hear near misses as such, made PocketSphinx hear strings of short
    words in right phrases: docs/benchmarks.md.)"""
    return Competitors(_others(phrases, passphrase))


def _voice_reason(voice: VerificationResult) -> SpokenReason:
    if voice.decision is Decision.ACCEPT:
        return SpokenReason.MATCH
    if voice.reason.value == SpokenReason.INSUFFICIENT_SPEECH.value:
        return SpokenReason.INSUFFICIENT_SPEECH
    if voice.reason.value == SpokenReason.LOOK_ALIKE.value:
        return SpokenReason.LOOK_ALIKE
    return SpokenReason.VOICE_MISMATCH


def _mismatch_message(match: PhraseMatch, passphrase: str | None) -> str:
    heard = f'heard "{match.heard}"' if match.heard else "no phrase recognised"
    if passphrase is None:
        wanted = "one of the offered passphrases"
    else:
        wanted = f'the passphrase "{passphrase}"'
    why = {
        PhraseReason.OTHER_PHRASE: "another phrase was said",
        PhraseReason.NOT_THE_PHRASE: "the words do not match well enough",
        PhraseReason.UNRECOGNIZED: "no words could be recognised",
    }.get(match.reason, match.reason.value)
    return f"Invalid passphrase: the clip must say {wanted} ({why}; {heard}). Nothing was stored."
