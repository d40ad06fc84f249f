"""Profiles: create, list (paged), look up, read, change, reset, delete, merge, export the
voiceprint.

These touch only the store, so they are plain ``def`` routes (FastAPI's thread pool).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from voxprint.api import render
from voxprint.api.deps import ServiceDep
from voxprint.api.schemas import (
    MAX_PAGE,
    PROFILE_ID_PATTERN,
    MergeProfiles,
    ProfileCreate,
    ProfileList,
    ProfileMergeOut,
    ProfileOut,
    ProfilePatch,
    SimilarVoicesOut,
    VoiceprintOut,
    error_responses,
)
from voxprint.api.spoken import PassphraseDep
from voxprint.passphrase.service import DEFAULT_LOCALE
from voxprint.service import MAX_LISTED
from voxprint.store.records import ProfileChanges, ProfileKind

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])

ProfileIdPath = Annotated[
    str, Path(pattern=PROFILE_ID_PATTERN, description="The profile's id (a UUID).")
]
#: Offsets beyond this are refused (the service's bound).
MAX_OFFSET = MAX_LISTED


@router.post(
    "",
    status_code=201,
    response_model=ProfileOut,
    summary="Create a profile (status `enrolling`): text-independent, or text-dependent "
    "with a passphrase.",
    responses=error_responses(400, 409),
)
def create_profile(body: ProfileCreate, passphrases: PassphraseDep) -> ProfileOut:
    created = passphrases.create_profile(
        body.name,
        kind=ProfileKind(body.kind),
        locale=body.locale or DEFAULT_LOCALE,
        passphrase=body.passphrase,
        external_id=body.external_id,
        metadata=body.metadata,
    )
    return render.spoken_profile(created, passphrases.core.enrollment)


@router.get(
    "",
    response_model=ProfileList,
    summary="List your profiles, oldest first, a page at a time.",
    responses=error_responses(400),
)
def list_profiles(
    passphrases: PassphraseDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Profiles to skip.")] = 0,
) -> ProfileList:
    page = passphrases.list_profiles(limit=limit, offset=offset)
    return render.spoken_profile_page(
        page.profiles, page.total, limit, offset, passphrases.core.enrollment
    )


@router.get(
    "/lookup",
    response_model=ProfileOut,
    summary="Find a profile by your external id.",
    responses=error_responses(404),
)
def lookup_profile(
    passphrases: PassphraseDep,
    external_id: Annotated[str, Query(min_length=1, max_length=200)],
) -> ProfileOut:
    found = passphrases.describe([passphrases.core.get_by_external_id(external_id)])[0]
    return render.spoken_profile(found, passphrases.core.enrollment)


@router.get(
    "/{profile_id}",
    response_model=ProfileOut,
    summary="Read a profile and its enrolment progress.",
    responses=error_responses(404),
)
def get_profile(profile_id: ProfileIdPath, passphrases: PassphraseDep) -> ProfileOut:
    return render.spoken_profile(passphrases.get_profile(profile_id), passphrases.core.enrollment)


@router.patch(
    "/{profile_id}",
    response_model=ProfileOut,
    summary="Change a profile's name, external id or metadata.",
    responses=error_responses(400, 404, 409),
)
def update_profile(
    profile_id: ProfileIdPath, body: ProfilePatch, passphrases: PassphraseDep
) -> ProfileOut:
    clear = "external_id" in body.model_fields_set and body.external_id is None
    changes = ProfileChanges(
        name=body.name,
        external_id=body.external_id,
        clear_external_id=clear,
        metadata=body.metadata,
    )
    updated = passphrases.describe([passphrases.core.update_profile(profile_id, changes)])[0]
    return render.spoken_profile(updated, passphrases.core.enrollment)


@router.delete(
    "/{profile_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a profile, its voiceprint and every clip embedding, for good.",
    responses=error_responses(404),
)
def delete_profile(profile_id: ProfileIdPath, service: ServiceDep) -> Response:
    service.delete_profile(profile_id)
    return Response(status_code=204)


@router.post(
    "/{profile_id}/reset",
    response_model=ProfileOut,
    summary="Forget every enrolment clip (and a text-dependent profile's passphrase); the "
    "profile goes back to `enrolling`.",
    responses=error_responses(404),
)
def reset_profile(profile_id: ProfileIdPath, passphrases: PassphraseDep) -> ProfileOut:
    return render.spoken_profile(passphrases.reset_profile(profile_id), passphrases.core.enrollment)


@router.post(
    "/{profile_id}/merge",
    response_model=ProfileMergeOut,
    summary="Merge another profile of the same voice into this one (one person enrolled "
    "twice): its clips move here, the voiceprint is rebuilt from all of them, and the other "
    "profile is deleted for good. Text-independent profiles of one encoder only.",
    responses=error_responses(400, 404, 409),
)
def merge_profiles(
    profile_id: ProfileIdPath, body: MergeProfiles, service: ServiceDep
) -> ProfileMergeOut:
    merge = service.merge_profiles(profile_id, body.from_, force=body.force)
    return render.profile_merge(merge, service.enrollment)


@router.get(
    "/{profile_id}/voiceprint",
    response_model=VoiceprintOut,
    summary="Export the voiceprint with the name and version of the encoder that made it.",
    responses=error_responses(404, 409),
)
def export_voiceprint(
    profile_id: ProfileIdPath,
    service: ServiceDep,
    format: Annotated[
        render.VectorFormat,
        Query(description="`list` of floats, or `base64` of little-endian float32."),
    ] = "list",
) -> VoiceprintOut:
    return render.voiceprint(service.export_voiceprint(profile_id), format)


@router.get(
    "/{profile_id}/similar-voices",
    response_model=SimilarVoicesOut,
    summary="Other enrolled profiles whose voices are too close to this one's to tell apart "
    "reliably (one person enrolled twice, or two very similar voices); what enrolment "
    "reports, asked again later. Text-independent profiles only.",
    responses=error_responses(404, 409),
)
def similar_voices(profile_id: ProfileIdPath, passphrases: PassphraseDep) -> SimilarVoicesOut:
    return render.similar_voices(passphrases.similar_voices(profile_id))
