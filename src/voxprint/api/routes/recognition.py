"""Enrolment, verification (1:1) and identification (1:N) from uploaded audio.

Audio is the raw body with its Content-Type, or a multipart ``audio`` file. The
model work runs on the app's inference runner (429 when its queue is full).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from voxprint.api import render
from voxprint.api.body import AUDIO_BODY, read_audio
from voxprint.api.deps import ServiceDep, StateDep
from voxprint.api.ids import field_ids, query_ids
from voxprint.api.routes.profiles import ProfileIdPath
from voxprint.api.schemas import (
    MAX_TOP_N,
    PROFILE_ID_PATTERN,
    EnrollmentOut,
    IdentificationOut,
    ThresholdsOut,
    VerificationOut,
    error_responses,
)
from voxprint.api.spoken import PassphraseDep

router = APIRouter(tags=["recognition"])

AUDIO_ERRORS = (400, 404, 409, 413, 415)

Force = Annotated[
    bool,
    Query(
        description="Enrolment: accept clips with less speech than the minimum per clip. "
        "Verify and identify: decide even with less speech than the decision minimum."
    ),
]


@router.post(
    "/v1/profiles/{profile_id}/enrollments",
    status_code=201,
    response_model=EnrollmentOut,
    summary="Add an enrolment clip; reports the clip's and the profile's net speech. "
    "A text-dependent profile's clip must say its passphrase (the first clip fixes it). "
    "Audio the profile already has is not stored again (200, duplicate: true).",
    responses=error_responses(*AUDIO_ERRORS),
    openapi_extra=AUDIO_BODY,
)
async def enroll(
    request: Request,
    response: Response,
    profile_id: ProfileIdPath,
    state: StateDep,
    passphrases: PassphraseDep,
    force: Force = False,
    label: Annotated[
        str | None, Query(max_length=200, description="A note kept with the clip.")
    ] = None,
    quality_gate: Annotated[
        bool,
        Query(
            description="Refuse noisy, clipped or multi-speaker clips, and clips whose "
            "voice does not sound like the one the profile holds so far."
        ),
    ] = True,
) -> EnrollmentOut:
    upload = await read_audio(request, state.settings.max_upload_bytes)
    result = await state.runner.run(
        "enroll",
        passphrases.enroll,
        profile_id,
        upload.data,
        label=label or upload.fields.get("label"),
        force=force,
        check_quality=quality_gate,
    )
    if result.report.duplicate:
        response.status_code = 200
    return render.spoken_enrollment(result, passphrases.core.enrollment)


@router.post(
    "/v1/profiles/{profile_id}/verify",
    response_model=VerificationOut,
    summary="Verify (1:1): is the speaker the profile's owner? A text-dependent profile "
    "also needs its passphrase said; with `challenge`, the challenge phrase must be said.",
    responses=error_responses(*AUDIO_ERRORS),
    openapi_extra=AUDIO_BODY,
)
async def verify(
    request: Request,
    profile_id: ProfileIdPath,
    state: StateDep,
    passphrases: PassphraseDep,
    force: Force = False,
    challenge: Annotated[
        str | None,
        Query(
            pattern=PROFILE_ID_PATTERN,
            description="A spoken challenge (POST /v1/challenges) to answer: used up by "
            "this call whatever the answer.",
        ),
    ] = None,
) -> VerificationOut:
    upload = await read_audio(request, state.settings.max_upload_bytes)
    result = await state.runner.run(
        "verify", passphrases.verify, profile_id, upload.data, challenge_id=challenge, force=force
    )
    return render.spoken_verification(result)


@router.post(
    "/v1/identify",
    response_model=IdentificationOut,
    summary="Identify (1:N, open set): who among your enrolled profiles is speaking?",
    responses=error_responses(*AUDIO_ERRORS),
    openapi_extra=AUDIO_BODY,
)
async def identify(
    request: Request,
    state: StateDep,
    service: ServiceDep,
    top_n: Annotated[int, Query(ge=1, le=MAX_TOP_N, description="Candidates to return.")] = 5,
    profile_ids: Annotated[
        list[str] | None,
        Query(
            max_length=1000,
            description="Search only these profiles (repeat the parameter or separate by "
            "commas; at most 1000 in all). For long lists send a multipart form with the "
            "audio in `audio` and the ids in a `profile_ids` field (JSON array or commas).",
        ),
    ] = None,
    force: Force = False,
) -> IdentificationOut:
    upload = await read_audio(request, state.settings.max_upload_bytes)
    subset = query_ids(profile_ids)
    if "profile_ids" in upload.fields:  # long lists: a multipart field instead of the URL
        subset = (subset or []) + field_ids(upload.fields["profile_ids"])
    result = await state.runner.run(
        "identify", service.identify, upload.data, top_n=top_n, profile_ids=subset, force=force
    )
    return render.identification(result)


@router.get(
    "/v1/thresholds",
    response_model=ThresholdsOut,
    summary="The decision thresholds in force for your namespace, and how they were derived.",
    responses=error_responses(401),
)
async def thresholds(passphrases: PassphraseDep) -> ThresholdsOut:
    return render.thresholds(passphrases.threshold_report())
