"""Diarization: who spoke when in an uploaded recording, by name for enrolled speakers.

``POST /v1/diarize`` takes audio like every other route (raw body or multipart
``audio``, within ``VOXPRINT_MAX_UPLOAD_BYTES`` and ``VOXPRINT_MAX_AUDIO_SECONDS``) and
runs on the inference runner. The answer carries a ``diarization_id``: for
``DIARIZATION_TTL_SECONDS`` the speakers' embedded speech is kept (in memory, per
namespace, no audio), so that ``POST /v1/diarizations/{id}/enroll`` can add an unknown
speaker to a new or existing profile without uploading the recording again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from voxprint.api import render
from voxprint.api.body import AUDIO_BODY, read_audio
from voxprint.api.deps import ServiceDep, StateDep
from voxprint.api.ids import query_ids
from voxprint.api.schemas import (
    DiarizationOut,
    EnrollmentOut,
    SpeakerEnrollmentIn,
    error_responses,
)
from voxprint.api.state import AppState
from voxprint.diarization import Diarization, SpeakerDiarizer
from voxprint.diarization.clustering import MAX_SPEAKERS
from voxprint.diarization.formats import to_rttm, to_srt, to_vtt
from voxprint.errors import DiarizationNotFoundError, InvalidParameterError

router = APIRouter(tags=["diarization"])

EXTENSION = "diarization"
#: How long a diarization's speakers stay available for enrolment.
DIARIZATION_TTL_SECONDS = 1800.0
#: Diarizations kept at most (all namespaces); the oldest go first.
MAX_KEPT = 64


class DiarizationRegistry:
    """The diarizer (segmentation model loaded once) and recent results, by id."""

    def __init__(self, diarizer: SpeakerDiarizer, *, ttl: float = DIARIZATION_TTL_SECONDS):
        self.diarizer = diarizer
        self.ttl = ttl
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[str, float, Diarization]] = OrderedDict()

    def keep(self, namespace: str, diarization: Diarization) -> str:
        identifier = str(uuid.uuid4())
        with self._lock:
            self._expire()
            self._kept[identifier] = (namespace, time.monotonic(), diarization)
            while len(self._kept) > MAX_KEPT:
                self._kept.popitem(last=False)
        return identifier

    def get(self, namespace: str, identifier: str) -> Diarization:
        with self._lock:
            self._expire()
            entry = self._kept.get(identifier)
        if entry is None or entry[0] != namespace:
            raise DiarizationNotFoundError(
                f"no diarization {identifier!r}: it never existed here or has expired "
                f"(kept {self.ttl / 60:.0f} minutes)"
            )
        return entry[2]

    def _expire(self) -> None:
        now = time.monotonic()
        for identifier in [k for k, (_, t, _) in self._kept.items() if now - t > self.ttl]:
            del self._kept[identifier]


def registry(state: AppState) -> DiarizationRegistry:
    """The app's registry, made on first use (tests may put their own in first)."""
    found = state.extensions.get(EXTENSION)
    if found is None:
        found = state.extensions.setdefault(EXTENSION, DiarizationRegistry(SpeakerDiarizer()))
    assert isinstance(found, DiarizationRegistry)
    return found


@router.post(
    "/v1/diarize",
    response_model=DiarizationOut,
    summary="Who spoke when: speaker turns, named from your enrolled profiles.",
    responses={
        **error_responses(400, 404, 409, 413, 415),
        200: {
            "content": {"text/plain": {}},
            "description": "JSON, or RTTM / SRT / WebVTT text with ?format=",
        },
    },
    openapi_extra=AUDIO_BODY,
)
async def diarize(
    request: Request,
    state: StateDep,
    service: ServiceDep,
    num_speakers: Annotated[
        int | None, Query(ge=1, le=MAX_SPEAKERS, description="Exactly this many speakers.")
    ] = None,
    min_speakers: Annotated[int | None, Query(ge=1, le=MAX_SPEAKERS)] = None,
    max_speakers: Annotated[int | None, Query(ge=1, le=MAX_SPEAKERS)] = None,
    profile_ids: Annotated[
        list[str] | None,
        Query(max_length=1000, description="Match only these profiles (comma-separated)."),
    ] = None,
    names: Annotated[bool, Query(description="Name speakers from enrolled profiles.")] = True,
    format: Annotated[
        Literal["json", "rttm", "srt", "vtt"], Query(description="Answer format.")
    ] = "json",
) -> Any:
    upload = await read_audio(request, state.settings.max_upload_bytes)
    kept = registry(state)
    result: Diarization = await state.runner.run(
        "diarize",
        kept.diarizer.diarize,
        service,
        upload.data,
        num_speakers=num_speakers,
        min_speakers=min_speakers,
        max_speakers=max_speakers,
        profile_ids=query_ids(profile_ids),
        name_speakers=names,
    )
    identifier = kept.keep(service.namespace, result)
    if format != "json":
        uri = (upload.filename or "audio").rsplit(".", 1)[0]
        text = {"rttm": to_rttm(result, uri), "srt": to_srt(result), "vtt": to_vtt(result)}
        media = {"rttm": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}
        return PlainTextResponse(
            text[format],
            media_type=media[format],
            headers={"X-Diarization-Id": identifier},
        )
    return render.diarization(identifier, kept.ttl, result)


@router.get(
    "/v1/diarizations/{diarization_id}",
    response_model=DiarizationOut,
    summary="A recent diarization again (kept 30 minutes).",
    responses=error_responses(404),
)
async def get_diarization(
    diarization_id: str, state: StateDep, service: ServiceDep
) -> DiarizationOut:
    kept = registry(state)
    result = kept.get(service.namespace, diarization_id)
    return render.diarization(diarization_id, kept.ttl, result)


@router.post(
    "/v1/diarizations/{diarization_id}/enroll",
    status_code=201,
    response_model=EnrollmentOut,
    summary="Enrol a diarized speaker (e.g. 'unknown 1') into a new or existing profile.",
    responses=error_responses(400, 404, 409),
)
async def enroll_speaker(
    diarization_id: str,
    body: SpeakerEnrollmentIn,
    state: StateDep,
    service: ServiceDep,
) -> EnrollmentOut:
    if (body.profile_id is None) == (body.name is None):
        raise InvalidParameterError("give exactly one of profile_id (existing) or name (new)")
    kept = registry(state)
    result = kept.get(service.namespace, diarization_id)
    report = await state.runner.run(
        "enroll",
        kept.diarizer.enroll_speaker,
        service,
        result,
        body.speaker,
        profile_id=body.profile_id,
        new_profile=body.name,
    )
    return render.enrollment(report, service.enrollment)
