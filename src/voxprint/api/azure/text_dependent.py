"""Azure Speaker Recognition v2.0 text-dependent verification (passphrases).

Routes under ``/speaker/verification/v2.0/text-dependent``: ``phrases/{locale}``,
``profiles`` (create, list with ``$top``), ``profiles/{id}`` (get, delete),
``.../enrollments``, ``.../verify`` and ``.../reset``, with Azure's fields and messages:

* enrolment: the first clip must say one of the locale's passphrases and fixes it, later
  clips must say it too ("Invalid passphrase.", 400 ``InvalidRequest``, nothing stored);
  clips are 1-10 s ("Invalid audio length. ..."); three make the profile ``Enrolled``;
* verify: ``{"recognitionResult": "Accept" | "Reject", "score"}``: Accept only for the
  passphrase said by the profile's voice; another phrase is a 200 Reject. ``score`` is the
  voice score alone, as Azure's was;
* reset forgets the enrolments and the passphrase.

Profiles made here are voxprint text-dependent profiles, marked in metadata as
``{"azure": {"kind": "text-dependent", "locale": ...}}``: they exist only under these
routes among the Azure ones (and in ``/v1``).

No ``from __future__ import annotations``: FastAPI must see the route annotations.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from voxprint.api.azure import render
from voxprint.api.azure.errors import AzureRequestError, EnrollmentLimitError
from voxprint.api.azure.schemas import (
    AzureTdEnrollment,
    AzureTdProfile,
    AzureTdProfileList,
    AzureTdVerification,
)
from voxprint.api.azure.speakers import LOCALE_PATTERN, METADATA_KEY
from voxprint.api.body import read_audio, read_json
from voxprint.api.deps import StateDep
from voxprint.api.spoken import PassphraseDep
from voxprint.decision import Decision
from voxprint.errors import (
    ClipLengthError,
    ClipRejectedError,
    InvalidParameterError,
    PhraseMismatchError,
    ProfileNotEnrolledError,
    ProfileNotFoundError,
    UnsupportedLocaleError,
    VoxprintError,
)
from voxprint.passphrase.phrases import locale_key, supported_locales
from voxprint.passphrase.service import PassphraseService, SpokenEnrollment, SpokenProfile
from voxprint.store.records import ProfileKind

#: The Azure kind mark of text-dependent profiles.
KIND = "text-dependent"
#: Azure's most enrolments per text-dependent profile.
MAX_ENROLLMENTS = 50
DEFAULT_PAGE = 100
MAX_PAGE = 500
#: Largest create-profile JSON body.
MAX_JSON_BYTES = 64 * 1024
_LIST_BATCH = 500


def _supported_text() -> str:
    return ", ".join(
        locale.split("-")[0] + "-" + locale.split("-")[1].upper() for locale in supported_locales()
    )


def _azure_locale(locale: Any) -> str:
    """A supported locale of a request, or Azure's 400 naming the supported ones."""
    if not isinstance(locale, str) or not LOCALE_PATTERN.match(locale):
        raise InvalidParameterError(
            f"Invalid locale value. Supported locales are {_supported_text()}."
        )
    if locale_key(locale) not in supported_locales():
        raise UnsupportedLocaleError(
            f"Invalid locale value {locale!r}. Supported locales are {_supported_text()}."
        )
    return locale


def _marked(sp: SpokenProfile) -> bool:
    marks = sp.profile.metadata.get(METADATA_KEY)
    return (
        isinstance(marks, dict)
        and marks.get("kind") == KIND
        and sp.phrase.kind is ProfileKind.TEXT_DEPENDENT
    )


@dataclass(frozen=True)
class AzureTextDependent:
    """Azure's text-dependent semantics over a namespaced :class:`PassphraseService`."""

    passphrases: PassphraseService

    def phrases(self, locale: str) -> list[str]:
        return list(self.passphrases.phrases(_azure_locale(locale)))

    def create(self, body: Any) -> SpokenProfile:
        if not isinstance(body, dict) or "locale" not in body:
            raise AzureRequestError("Locale parameter is missing.")
        locale = _azure_locale(body["locale"])
        return self.passphrases.create_profile(
            "azure-text-dependent",
            kind=ProfileKind.TEXT_DEPENDENT,
            locale=locale,
            metadata={METADATA_KEY: {"kind": KIND, "locale": locale}},
        )

    def get(self, profile_id: str) -> SpokenProfile:
        try:
            found = self.passphrases.get_profile(profile_id)
        except ProfileNotFoundError:
            found = None
        if found is None or not _marked(found):
            raise ProfileNotFoundError("Requested profile doesn't exist")
        return found

    def list(self, *, top: int, skip: int) -> tuple[list[SpokenProfile], bool]:
        wanted = skip + top
        matched: list[SpokenProfile] = []
        offset = 0
        while len(matched) <= wanted:
            batch = self.passphrases.core.list_profiles(limit=_LIST_BATCH, offset=offset)
            matched.extend(p for p in self.passphrases.describe(batch) if _marked(p))
            if len(batch) < _LIST_BATCH:
                break
            offset += _LIST_BATCH
        return matched[skip:wanted], len(matched) > wanted

    def delete(self, profile_id: str) -> None:
        self.get(profile_id)
        self.passphrases.core.delete_profile(profile_id)

    def reset(self, profile_id: str) -> None:
        self.get(profile_id)
        self.passphrases.reset_profile(profile_id)

    def enroll(self, profile_id: str, audio: bytes) -> SpokenEnrollment:
        profile = self.get(profile_id).profile
        if profile.clip_count >= MAX_ENROLLMENTS:
            raise EnrollmentLimitError(
                f"Maximum allowed number of enrollments per profile is {MAX_ENROLLMENTS}."
            )
        try:
            return self.passphrases.enroll(profile_id, audio)
        except PhraseMismatchError:
            raise AzureRequestError("Invalid passphrase.") from None
        except (ClipLengthError, ClipRejectedError) as error:
            raise AzureRequestError(self._audio_message(error)) from None

    def verify(self, profile_id: str, audio: bytes) -> tuple[bool, float]:
        self.get(profile_id)
        try:
            result = self.passphrases.verify(profile_id, audio)
        except ProfileNotEnrolledError:
            raise AzureRequestError("Profile is not enrolled.") from None
        except (ClipLengthError, ClipRejectedError) as error:
            raise AzureRequestError(self._audio_message(error)) from None
        return result.decision is Decision.ACCEPT, result.voice.score

    def _audio_message(self, error: VoxprintError) -> str:
        policy = self.passphrases.policy
        if isinstance(error, ClipLengthError):
            if error.too_long:
                return (
                    "Invalid audio length. Maximum allowed length is "
                    f"{policy.max_clip_seconds:g} seconds."
                )
            return (
                f"Invalid audio length. Minimum allowed length is {policy.min_clip_seconds:g} "
                "second."
            )
        floor = self.passphrases.core.enrollment.quality_gate.min_snr_db
        if isinstance(error, ClipRejectedError) and any("SNR" in r for r in error.reasons):
            return (
                "Audio is too noisy. The minimum allowed Signal-to-noise ratio (SNR) is "
                f"{floor or 0:g}dB."
            )
        return error.message


# --- routes -----------------------------------------------------------------------------


def text_dependent(passphrases: PassphraseDep) -> AzureTextDependent:
    return AzureTextDependent(passphrases)


TextDependentDep = Annotated[AzureTextDependent, Depends(text_dependent)]


def add_text_dependent_routes(router: APIRouter, prefix: str) -> None:
    """Azure's text-dependent routes under ``prefix`` on ``router``."""
    collection = f"{prefix}/profiles"
    item = f"{collection}/{{profileId}}"
    summary = "Azure text-dependent"

    def phrases(locale: str, azure: TextDependentDep) -> list[str]:
        return azure.phrases(locale)

    async def create_profile(
        request: Request, response: Response, azure: TextDependentDep
    ) -> AzureTdProfile:
        body = await read_json(request, MAX_JSON_BYTES)
        created = await run_in_threadpool(azure.create, body)
        response.headers["Location"] = str(
            request.url_for("azure_text_dependent_get", profileId=created.profile.id)
        )
        return render.td_profile(created)

    def list_profiles(
        request: Request,
        azure: TextDependentDep,
        top: Annotated[int | None, Query(alias="$top", ge=1, le=MAX_PAGE)] = None,
        max_page_size: Annotated[int | None, Query(alias="maxpagesize", ge=1, le=MAX_PAGE)] = None,
        skip: Annotated[int, Query(alias="$skip", ge=0)] = 0,
    ) -> AzureTdProfileList:
        size = top or max_page_size or DEFAULT_PAGE
        page, more = azure.list(top=size, skip=skip)
        items = [render.td_profile(p) for p in page]
        next_link = None
        if more:
            url = request.url.remove_query_params(["$top", "$skip", "maxpagesize"])
            next_link = str(url.include_query_params(**{"$top": size, "$skip": skip + size}))
        return render.td_profile_list(items, next_link)

    def get_profile(profileId: str, azure: TextDependentDep) -> AzureTdProfile:
        return render.td_profile(azure.get(profileId))

    def delete_profile(profileId: str, azure: TextDependentDep) -> Response:
        azure.delete(profileId)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    def reset_profile(profileId: str, azure: TextDependentDep) -> Response:
        azure.reset(profileId)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    async def enroll(
        profileId: str, request: Request, state: StateDep, azure: TextDependentDep
    ) -> AzureTdEnrollment:
        upload = await read_audio(request, state.settings.azure_max_bytes)
        result = await state.runner.run("azure_td_enroll", azure.enroll, profileId, upload.data)
        locale = azure.get(profileId).phrase.locale
        return render.td_enrollment(result, locale)

    async def verify(
        profileId: str, request: Request, state: StateDep, azure: TextDependentDep
    ) -> AzureTdVerification:
        upload = await read_audio(request, state.settings.azure_max_bytes)
        accepted, score = await state.runner.run(
            "azure_td_verify", azure.verify, profileId, upload.data
        )
        return render.td_verification(accepted, score)

    router.add_api_route(
        f"{prefix}/phrases/{{locale}}",
        phrases,
        methods=["GET"],
        summary=f"{summary}: the passphrases of a locale",
        name="azure_text_dependent_phrases",
    )
    for path in (collection, f"{collection}/"):
        slash = "_slash" if path.endswith("/") else ""
        router.add_api_route(
            path,
            create_profile,
            methods=["POST"],
            status_code=201,
            summary=f"{summary}: create a profile",
            name=f"azure_text_dependent_create{slash}",
            include_in_schema=not slash,
        )
        router.add_api_route(
            path,
            list_profiles,
            methods=["GET"],
            summary=f"{summary}: list profiles ($top, $skip)",
            name=f"azure_text_dependent_list{slash}",
            include_in_schema=not slash,
            response_model_by_alias=True,
        )
    router.add_api_route(
        item,
        get_profile,
        methods=["GET"],
        summary=f"{summary}: get a profile",
        name="azure_text_dependent_get",
    )
    router.add_api_route(
        item,
        delete_profile,
        methods=["DELETE"],
        status_code=204,
        summary=f"{summary}: delete a profile, its voiceprint and passphrase",
        name="azure_text_dependent_delete",
        response_class=Response,
    )
    router.add_api_route(
        f"{item}/reset",
        reset_profile,
        methods=["POST"],
        status_code=204,
        summary=f"{summary}: forget every enrolment and the passphrase",
        name="azure_text_dependent_reset",
        response_class=Response,
    )
    router.add_api_route(
        f"{item}/enrollments",
        enroll,
        methods=["POST"],
        status_code=201,
        summary=f"{summary}: add a passphrase clip (WAV, 1-10 s)",
        name="azure_text_dependent_enroll",
    )
    router.add_api_route(
        f"{item}/verify",
        verify,
        methods=["POST"],
        summary=f"{summary}: the passphrase, said by the profile's voice?",
        name="azure_text_dependent_verify",
    )
