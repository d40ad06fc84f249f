"""Response bodies of the Azure-compatible routes, with Azure's field names.

They are built from voxprint's results in :mod:`voxprint.api.azure.render`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AzureStatus = Literal["Enrolling", "Enrolled"]


class AzureProfile(BaseModel):
    """A text-independent profile (Azure's ``TiProfileInfo``)."""

    profileId: str
    locale: str | None
    enrollmentStatus: AzureStatus
    enrollmentsCount: int
    enrollmentsLength: float = Field(description="Seconds of enrolment audio.")
    enrollmentsSpeechLength: float = Field(description="Seconds of net speech in it.")
    remainingEnrollmentsSpeechLength: float = Field(description="Net speech still needed.")
    createdDateTime: str
    lastUpdatedDateTime: str | None = Field(description="null until the profile changes.")
    modelVersion: str | None = Field(description="The encoder version; null before enrolment.")


class AzureEnrollment(AzureProfile):
    """An enrolment's outcome (Azure's ``TiEnrollmentInfo``) with the profile's fields."""

    audioLength: float = Field(description="Seconds of audio in this clip.")
    audioSpeechLength: float = Field(description="Seconds of net speech in this clip.")


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


class AzureProfileScore(BaseModel):
    profileId: str
    score: float = Field(ge=0, le=1)


class AzureIdentification(BaseModel):
    """``identifiedProfile.profileId`` is all zeros when nobody matches (score 0)."""

    identifiedProfile: AzureProfileScore
    profilesRanking: list[AzureProfileScore]


class AzureErrorDetail(BaseModel):
    code: str = Field(description="Azure's code, e.g. InvalidRequest or NotFound.")
    message: str


class AzureErrorBody(BaseModel):
    """Every error of the Azure routes."""

    error: AzureErrorDetail


# --- text-dependent (passphrases) -------------------------------------------------


class AzureTdProfile(BaseModel):
    """Azure's ``TdProfileInfo``."""

    profileId: str
    locale: str | None
    enrollmentStatus: AzureStatus
    enrollmentsCount: int
    enrollmentsLength: float = Field(description="Seconds of enrolment audio.")
    enrollmentsSpeechLength: float = Field(description="Seconds of net speech in it.")
    remainingEnrollmentsCount: int = Field(description="Passphrase clips still needed.")
    createdDateTime: str
    lastUpdatedDateTime: str | None
    modelVersion: str | None


class AzureTdEnrollment(AzureTdProfile):
    """Azure's ``TdEnrollmentInfo`` (with the profile's fields)."""

    passPhrase: str | None
    audioLength: float
    audioSpeechLength: float


class AzureTdProfileList(BaseModel):
    profiles: list[AzureTdProfile]
    value: list[AzureTdProfile]
    nextLink: str | None = Field(None, alias="@nextLink")


class AzureTdVerification(BaseModel):
    recognitionResult: Literal["Accept", "Reject"]
    score: float = Field(ge=0, le=1, description="The voice's similarity alone.")
