"""Azure Speaker Recognition v2.0 compatible routes (text-independent).

An application written for Azure keeps working after changing only its endpoint
URL and using a voxprint key as ``Ocp-Apim-Subscription-Key``:

- ``/speaker/verification/v2.0/text-independent/profiles[/{id}[/enrollments|/verify|/reset]]``
- ``/speaker/identification/v2.0/text-independent/profiles[/{id}[/enrollments|/reset]]``
  and ``.../profiles/identifySingleSpeaker?profileIds=a,b,c``
- ``/speaker/verification/v2.0/text-dependent/phrases/{locale}`` and
  ``.../text-dependent/profiles[/{id}[/enrollments|/verify|/reset]]`` (passphrases;
  :mod:`voxprint.api.azure.text_dependent`).

Clients that build ``main_url + '/identifySingleSpeaker'`` from a ``main_url`` ending
in ``profiles/`` (a double slash) and that post to ``profiles/`` are served as is.
Errors have Azure's shape and codes (see :mod:`voxprint.api.azure.errors`).

No ``from __future__ import annotations`` here: the route functions are made in a
loop per profile kind, and FastAPI must see their dependency annotations evaluated.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from voxprint.api.azure import render
from voxprint.api.azure.errors import AzureRoute, azure_error
from voxprint.api.azure.schemas import (
    AzureEnrollment,
    AzureErrorBody,
    AzureIdentification,
    AzureProfile,
    AzureProfileList,
    AzureVerification,
)
from voxprint.api.azure.speakers import (
    AzureLimits,
    AzureSpeakers,
    ProfileKind,
    parse_locale,
)
from voxprint.api.azure.text_dependent import MAX_JSON_BYTES, add_text_dependent_routes
from voxprint.api.body import read_audio, read_json
from voxprint.api.deps import ServiceDep, StateDep
from voxprint.errors import InvalidParameterError
from voxprint.settings import Settings

VERIFICATION_PREFIX = "/speaker/verification/v2.0/text-independent"
IDENTIFICATION_PREFIX = "/speaker/identification/v2.0/text-independent"
TEXT_DEPENDENT_PREFIX = "/speaker/verification/v2.0/text-dependent"

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

#: Azure's default and largest page of profiles.
DEFAULT_PAGE = 100
MAX_PAGE = 500

#: Error statuses any Azure route may answer, documented in the OpenAPI schema.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status_code: {"model": AzureErrorBody, "description": description}
    for status_code, description in {
        400: "InvalidRequest or InvalidArgument",
        401: "Unauthorized: no valid key",
        403: "InvalidRequest: over an enrolment limit",
        404: "NotFound: no such profile of this kind",
        409: "Conflict: profile enrolled with another model",
        413: "InvalidRequest: body over the size limit",
        415: "UnsupportedMediaType",
        429: "RateLimit: retry after the Retry-After seconds",
        503: "ServiceUnavailable",
    }.items()
}

router = APIRouter(route_class=AzureRoute, tags=["azure"], responses=ERROR_RESPONSES)


def azure_limits(settings: Settings) -> AzureLimits:
    return AzureLimits(
        enroll_seconds=settings.azure_enroll_seconds,
        min_seconds=settings.azure_min_seconds,
        max_enroll_audio_seconds=settings.azure_max_enroll_audio_seconds,
    )


def speakers_of(kind: ProfileKind) -> Callable[..., AzureSpeakers]:
    """A dependency giving the caller's Azure profiles of ``kind``."""

    def dependency(service: ServiceDep, state: StateDep) -> AzureSpeakers:
        return AzureSpeakers(service, kind, azure_limits(state.settings))

    return dependency


def ignore_min_length(
    value: Annotated[str | None, Query(alias="ignoreMinLength")] = None,
) -> bool:
    if value is None:
        return False
    match value.strip().lower():
        case "true":
            return True
        case "false":
            return False
        case _:
            raise InvalidParameterError(
                'Invalid ignoreMinLength parameter value. Valid values are "true" and "false".'
            )


IgnoreMinLength = Annotated[bool, Depends(ignore_min_length)]


def add_profile_routes(prefix: str, kind: ProfileKind) -> None:
    """The profile routes Azure offers for one kind of text-independent profile."""
    collection = f"{prefix}/profiles"
    item = f"{collection}/{{profileId}}"
    label = kind.value

    async def create_profile(
        request: Request,
        response: Response,
        speakers: Annotated[AzureSpeakers, Depends(speakers_of(kind))],
    ) -> AzureProfile:
        locale = parse_locale(await read_json(request, MAX_JSON_BYTES))
        profile = await run_in_threadpool(speakers.create, locale)
        response.headers["Location"] = str(
            request.url_for(f"azure_{label}_get", profileId=profile.id)
        )
        return render.profile(profile, speakers)

    def list_profiles(
        request: Request,
        speakers: Annotated[AzureSpeakers, Depends(speakers_of(kind))],
        top: Annotated[int | None, Query(alias="$top", ge=1, le=MAX_PAGE)] = None,
        max_page_size: Annotated[int | None, Query(alias="maxpagesize", ge=1, le=MAX_PAGE)] = None,
        skip: Annotated[int, Query(alias="$skip", ge=0)] = 0,
    ) -> AzureProfileList:
        size = top or max_page_size or DEFAULT_PAGE
        page = speakers.list(top=size, skip=skip)
        items = [render.profile(p, speakers) for p in page.profiles]
        next_link = None
        if page.has_more:
            url = request.url.remove_query_params(["$top", "$skip", "maxpagesize"])
            next_link = str(url.include_query_params(**{"$top": size, "$skip": skip + size}))
        return render.profile_list(items, next_link)

    def get_profile(
        profileId: str, speakers: Annotated[AzureSpeakers, Depends(speakers_of(kind))]
    ) -> AzureProfile:
        return render.profile(speakers.get(profileId), speakers)

    def delete_profile(
        profileId: str, speakers: Annotated[AzureSpeakers, Depends(speakers_of(kind))]
    ) -> Response:
        speakers.delete(profileId)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    def reset_profile(
        profileId: str, speakers: Annotated[AzureSpeakers, Depends(speakers_of(kind))]
    ) -> Response:
        speakers.reset(profileId)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    async def enroll(
        profileId: str,
        request: Request,
        state: StateDep,
        speakers: Annotated[AzureSpeakers, Depends(speakers_of(kind))],
        ignore: IgnoreMinLength,
    ) -> AzureEnrollment:
        upload = await read_audio(request, state.settings.azure_max_bytes)
        report = await state.runner.run(
            "azure_enroll", speakers.enroll, profileId, upload.data, ignore_min_length=ignore
        )
        return render.enrollment(report, speakers)

    summary = f"Azure {label}"
    for path in (collection, f"{collection}/"):
        router.add_api_route(
            path,
            create_profile,
            methods=["POST"],
            status_code=201,
            summary=f"{summary}: create a profile",
            name=f"azure_{label}_create{'_slash' if path.endswith('/') else ''}",
            include_in_schema=not path.endswith("/"),
        )
        router.add_api_route(
            path,
            list_profiles,
            methods=["GET"],
            summary=f"{summary}: list profiles ($top, $skip)",
            name=f"azure_{label}_list{'_slash' if path.endswith('/') else ''}",
            include_in_schema=not path.endswith("/"),
        )
    if kind is ProfileKind.IDENTIFICATION:
        add_identify_routes(collection)
    router.add_api_route(
        item,
        get_profile,
        methods=["GET"],
        summary=f"{summary}: get a profile",
        name=f"azure_{label}_get",
    )
    router.add_api_route(
        item,
        delete_profile,
        methods=["DELETE"],
        status_code=204,
        summary=f"{summary}: delete a profile and its voiceprint",
        name=f"azure_{label}_delete",
        response_class=Response,
    )
    router.add_api_route(
        f"{item}/reset",
        reset_profile,
        methods=["POST"],
        status_code=204,
        summary=f"{summary}: forget every enrolment",
        name=f"azure_{label}_reset",
        response_class=Response,
    )
    router.add_api_route(
        f"{item}/enrollments",
        enroll,
        methods=["POST"],
        status_code=201,
        summary=f"{summary}: add enrolment audio (WAV)",
        name=f"azure_{label}_enroll",
    )
    if kind is ProfileKind.VERIFICATION:
        add_verify_route(item)


def add_verify_route(item: str) -> None:
    async def verify(
        profileId: str,
        request: Request,
        state: StateDep,
        speakers: Annotated[AzureSpeakers, Depends(speakers_of(ProfileKind.VERIFICATION))],
        ignore: IgnoreMinLength,
    ) -> AzureVerification:
        upload = await read_audio(request, state.settings.azure_max_bytes)
        result = await state.runner.run(
            "azure_verify", speakers.verify, profileId, upload.data, ignore_min_length=ignore
        )
        return render.verification(result)

    router.add_api_route(
        f"{item}/verify",
        verify,
        methods=["POST"],
        name="azure_verification_verify",
        summary="Azure verification: is this the profile's speaker?",
    )


def add_identify_routes(collection: str) -> None:
    async def identify(
        request: Request,
        state: StateDep,
        speakers: Annotated[AzureSpeakers, Depends(speakers_of(ProfileKind.IDENTIFICATION))],
        ignore: IgnoreMinLength,
        profile_ids: Annotated[str, Query(alias="profileIds")] = "",
    ) -> AzureIdentification:
        upload = await read_audio(request, state.settings.azure_max_bytes)
        result = await state.runner.run(
            "azure_identify",
            speakers.identify,
            profile_ids.split(","),
            upload.data,
            ignore_min_length=ignore,
        )
        return render.identification(result)

    # Azure clients often build ``main_url + '/identifySingleSpeaker'`` from a main_url
    # that already ends in a slash: serve the double-slash path too.
    for path in (f"{collection}/identifySingleSpeaker", f"{collection}//identifySingleSpeaker"):
        router.add_api_route(
            path,
            identify,
            methods=["POST"],
            name="azure_identify" + ("_double_slash" if "//" in path else ""),
            summary="Azure identification: who of profileIds is speaking?",
            include_in_schema="//" not in path,
        )


add_profile_routes(VERIFICATION_PREFIX, ProfileKind.VERIFICATION)
add_profile_routes(IDENTIFICATION_PREFIX, ProfileKind.IDENTIFICATION)


add_text_dependent_routes(router, TEXT_DEPENDENT_PREFIX)


@router.api_route("/speaker/{rest:path}", methods=ALL_METHODS, include_in_schema=False)
def unknown_speaker_route(request: Request) -> Response:
    """Azure-shaped 404 (unknown path) or 405 (known path, other method)."""
    path = request.scope["path"]
    known = (
        route.path_regex.match(path)
        for route in router.routes
        if isinstance(route, APIRoute) and route.endpoint is not unknown_speaker_route
    )
    if any(known):
        return azure_error(405, "MethodNotAllowed", f"{request.method} is not allowed here.")
    return azure_error(404, "NotFound", f"Resource not found: {request.url.path}")
