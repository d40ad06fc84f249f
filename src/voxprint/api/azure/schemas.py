"""Response bodies of the Azure-compatible routes, with Azure's field names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from voxprint.api.azure.speakers import AzureSpeakers, profile_locale
from voxprint.decision import Decision
from voxprint.service import (
    UNKNOWN_PROFILE_ID,
    EnrollmentReport,
    IdentificationResult,
    VerificationResult,
)
from voxprint.store.records import EnrollmentStatus, Profile

#: Azure's spelling of the enrolment states.
AZURE_STATUS: dict[EnrollmentStatus, Literal["Enrolling", "Enrolled"]] = {
    EnrollmentStatus.ENROLLING: "Enrolling",
    EnrollmentStatus.ENROLLED: "Enrolled",
}


def azure_time(moment: datetime) -> str:
    """``2020-09-29T14:54:29.683Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AzureProfile(BaseModel):
    """A text-independent profile (Azure's ``TiProfileInfo``)."""

    profileId: str
    locale: str | None
    enrollmentStatus: Literal["Enrolling", "Enrolled"]
    enrollmentsCount: int
    enrollmentsLength: float = Field(description="Seconds of enrolment audio.")
    enrollmentsSpeechLength: float = Field(description="Seconds of net speech in it.")
    remainingEnrollmentsSpeechLength: float = Field(description="Net speech still needed.")
    createdDateTime: str
    lastUpdatedDateTime: str | None = Field(description="null until the profile changes.")
    modelVersion: str | None = Field(description="The encoder version; null before enrolment.")

    @classmethod
    def of(cls, profile: Profile, speakers: AzureSpeakers) -> AzureProfile:
        return cls(**_profile_fields(profile, speakers))


class AzureEnrollment(AzureProfile):
    """An enrolment's outcome (Azure's ``TiEnrollmentInfo``) with the profile's fields."""

    audioLength: float = Field(description="Seconds of audio in this clip.")
    audioSpeechLength: float = Field(description="Seconds of net speech in this clip.")

    @classmethod
    def of_report(cls, report: EnrollmentReport, speakers: AzureSpeakers) -> AzureEnrollment:
        return cls(
            **_profile_fields(report.profile, speakers),
            audioLength=round(report.clip_audio_seconds, 2),
            audioSpeechLength=round(report.clip_net_speech_seconds, 2),
        )


class AzureProfileList(BaseModel):
    """A page of profiles. ``profiles`` is the v2.0 name of the list, ``value`` the
    later API versions' name; both hold the same items."""

    model_config = ConfigDict(populate_by_name=True)

    profiles: list[AzureProfile]
    value: list[AzureProfile]
    nextLink: str | None = Field(None, alias="@nextLink")


class AzureVerification(BaseModel):
    recognitionResult: Literal["Accept", "Reject"]
    score: float = Field(ge=0, le=1)

    @classmethod
    def of(cls, result: VerificationResult) -> AzureVerification:
        accepted = result.decision is Decision.ACCEPT
        return cls(recognitionResult="Accept" if accepted else "Reject", score=result.score)


class AzureProfileScore(BaseModel):
    profileId: str
    score: float = Field(ge=0, le=1)


class AzureIdentification(BaseModel):
    """``identifiedProfile.profileId`` is all zeros when nobody matches (score 0)."""

    identifiedProfile: AzureProfileScore
    profilesRanking: list[AzureProfileScore]

    @classmethod
    def of(cls, result: IdentificationResult) -> AzureIdentification:
        best = result.identified
        identified = (
            AzureProfileScore(profileId=best.profile_id, score=best.score)
            if best is not None
            else AzureProfileScore(profileId=UNKNOWN_PROFILE_ID, score=0.0)
        )
        return cls(
            identifiedProfile=identified,
            profilesRanking=[
                AzureProfileScore(profileId=c.profile_id, score=c.score) for c in result.candidates
            ],
        )


class AzureErrorDetail(BaseModel):
    code: str = Field(description="Azure's code, e.g. InvalidRequest or NotFound.")
    message: str


class AzureErrorBody(BaseModel):
    """Every error of the Azure routes."""

    error: AzureErrorDetail


def _profile_fields(profile: Profile, speakers: AzureSpeakers) -> dict[str, object]:
    enrolled = profile.clip_count > 0
    return {
        "profileId": profile.id,
        "locale": profile_locale(profile),
        "enrollmentStatus": AZURE_STATUS[profile.status],
        "enrollmentsCount": profile.clip_count,
        "enrollmentsLength": round(profile.audio_seconds, 2),
        "enrollmentsSpeechLength": round(profile.net_speech_seconds, 2),
        "remainingEnrollmentsSpeechLength": round(speakers.remaining_seconds(profile), 2),
        "createdDateTime": azure_time(profile.created_at),
        "lastUpdatedDateTime": (
            azure_time(profile.updated_at) if profile.updated_at != profile.created_at else None
        ),
        "modelVersion": profile.encoder_version if enrolled else None,
    }
