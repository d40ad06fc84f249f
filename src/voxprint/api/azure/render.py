"""voxprint's results → the Azure routes' response bodies (:mod:`voxprint.api.azure.schemas`).

Every success body of the Azure-compatible routes is built here (error bodies are built
in :mod:`voxprint.api.azure.errors`); the routes only call these.
"""

from __future__ import annotations

from datetime import UTC, datetime

from voxprint.api.azure.schemas import (
    AzureEnrollment,
    AzureIdentification,
    AzureProfile,
    AzureProfileList,
    AzureProfileScore,
    AzureStatus,
    AzureTdEnrollment,
    AzureTdProfile,
    AzureTdProfileList,
    AzureTdVerification,
    AzureVerification,
)
from voxprint.api.azure.speakers import METADATA_KEY, AzureSpeakers, profile_locale
from voxprint.decision import Decision
from voxprint.passphrase.service import SpokenEnrollment, SpokenProfile
from voxprint.service import (
    UNKNOWN_PROFILE_ID,
    EnrollmentReport,
    IdentificationResult,
    VerificationResult,
)
from voxprint.store.records import EnrollmentStatus, PhraseProfile, Profile

#: Azure's spelling of the enrolment states.
AZURE_STATUS: dict[EnrollmentStatus, AzureStatus] = {
    EnrollmentStatus.ENROLLING: "Enrolling",
    EnrollmentStatus.ENROLLED: "Enrolled",
}


def azure_time(moment: datetime) -> str:
    """``2020-09-29T14:54:29.683Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _updated(profile: Profile) -> str | None:
    """Azure's ``lastUpdatedDateTime``: null until the profile changes."""
    return azure_time(profile.updated_at) if profile.updated_at != profile.created_at else None


# --- text-independent -------------------------------------------------------------------


def profile(p: Profile, speakers: AzureSpeakers) -> AzureProfile:
    return AzureProfile(
        profileId=p.id,
        locale=profile_locale(p),
        enrollmentStatus=AZURE_STATUS[p.status],
        enrollmentsCount=p.clip_count,
        enrollmentsLength=round(p.audio_seconds, 2),
        enrollmentsSpeechLength=round(p.net_speech_seconds, 2),
        remainingEnrollmentsSpeechLength=round(speakers.remaining_seconds(p), 2),
        createdDateTime=azure_time(p.created_at),
        lastUpdatedDateTime=_updated(p),
        modelVersion=p.encoder_version if p.clip_count > 0 else None,
    )


def profile_list(items: list[AzureProfile], next_link: str | None) -> AzureProfileList:
    return AzureProfileList(profiles=items, value=items, nextLink=next_link)


def enrollment(report: EnrollmentReport, speakers: AzureSpeakers) -> AzureEnrollment:
    return AzureEnrollment(
        **profile(report.profile, speakers).model_dump(),
        audioLength=round(report.clip_audio_seconds, 2),
        audioSpeechLength=round(report.clip_net_speech_seconds, 2),
    )


def verification(result: VerificationResult) -> AzureVerification:
    accepted = result.decision is Decision.ACCEPT
    return AzureVerification(
        recognitionResult="Accept" if accepted else "Reject", score=result.score
    )


def identification(result: IdentificationResult) -> AzureIdentification:
    """``identifiedProfile`` is the all-zeros id with score 0 when nobody matches."""
    best = result.identified
    identified = (
        AzureProfileScore(profileId=best.profile_id, score=best.score)
        if best is not None
        else AzureProfileScore(profileId=UNKNOWN_PROFILE_ID, score=0.0)
    )
    return AzureIdentification(
        identifiedProfile=identified,
        profilesRanking=[
            AzureProfileScore(profileId=c.profile_id, score=c.score) for c in result.candidates
        ],
    )


# --- text-dependent (passphrases) ---------------------------------------------------------


def td_profile(sp: SpokenProfile) -> AzureTdProfile:
    p = sp.profile
    marks = p.metadata.get(METADATA_KEY)
    return AzureTdProfile(
        profileId=p.id,
        locale=marks.get("locale") if isinstance(marks, dict) else sp.phrase.locale,
        enrollmentStatus=AZURE_STATUS[p.status],
        enrollmentsCount=p.clip_count,
        enrollmentsLength=round(p.audio_seconds, 2),
        enrollmentsSpeechLength=round(p.net_speech_seconds, 2),
        remainingEnrollmentsCount=sp.remaining_clips or 0,
        createdDateTime=azure_time(p.created_at),
        lastUpdatedDateTime=_updated(p),
        modelVersion=p.encoder_version if p.clip_count > 0 else None,
    )


def td_profile_list(items: list[AzureTdProfile], next_link: str | None) -> AzureTdProfileList:
    return AzureTdProfileList(profiles=items, value=items, **{"@nextLink": next_link})


def td_enrollment(result: SpokenEnrollment, locale: str | None) -> AzureTdEnrollment:
    phrase = PhraseProfile(result.report.profile.id, result.kind, locale, result.passphrase)
    sp = SpokenProfile(result.report.profile, phrase, result.remaining_clips)
    return AzureTdEnrollment(
        **td_profile(sp).model_dump(),
        passPhrase=result.passphrase,
        audioLength=round(result.report.clip_audio_seconds, 2),
        audioSpeechLength=round(result.report.clip_net_speech_seconds, 2),
    )


def td_verification(accepted: bool, score: float) -> AzureTdVerification:
    """``score`` is the voice's alone, as Azure's was."""
    return AzureTdVerification(recognitionResult="Accept" if accepted else "Reject", score=score)
