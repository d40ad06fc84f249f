"""Audio streams: upload audio in chunks, then enrol, verify or identify from the stream.

``POST /v1/streams`` opens a stream (``{"format": "encoded"}``, the default: one
audio file sent in pieces; or ``{"format": "pcm16"}``: raw 16 kHz mono 16-bit
little-endian PCM). ``POST /v1/streams/{id}`` appends the raw request body.
``POST /v1/streams/{id}/enroll?profile_id=``, ``/verify?profile_id=`` and
``/identify`` use everything uploaded so far; the stream stays until
``DELETE /v1/streams/{id}`` or until it has been idle for ``stream_idle_seconds``.
Streams belong to the caller's namespace: another tenant's stream id is a 404. They live in
the store, so that every worker of the service sees the same streams.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from voxprint.api import render
from voxprint.api.body import is_raw_audio_type, media_type, read_limited_body
from voxprint.api.deps import PrincipalDep, ServiceDep, StateDep
from voxprint.api.ids import ProfileIdsQuery, query_ids
from voxprint.api.schemas import (
    MAX_TOP_N,
    PROFILE_ID_PATTERN,
    EnrollmentOut,
    IdentificationOut,
    StreamCreate,
    StreamOut,
    VerificationOut,
    error_responses,
)
from voxprint.api.spoken import PassphraseDep
from voxprint.api.state import AppState
from voxprint.api.streams import StreamFormat, StreamLimits, StreamRegistry
from voxprint.errors import AudioTooLargeError, UnsupportedAudioError

router = APIRouter(prefix="/v1/streams", tags=["streams"])

REGISTRY_KEY = "voxprint.api.streams"

StreamIdPath = Annotated[
    str, Path(min_length=1, max_length=64, description="The stream id from POST /v1/streams.")
]
ProfileIdQuery = Annotated[
    str, Query(pattern=PROFILE_ID_PATTERN, description="The profile's id (a UUID).")
]
Force = Annotated[
    bool, Query(description="Accept audio with less speech than the minimum per clip.")
]


def stream_registry(state: AppState) -> StreamRegistry:
    """The app's registry over the service's store, made on first use from the settings."""
    registry = state.extensions.get(REGISTRY_KEY)
    if registry is None:
        settings = state.settings
        registry = StreamRegistry(
            state.service.store,
            StreamLimits(
                idle_seconds=settings.stream_idle_seconds,
                max_streams=settings.stream_max_count,
                max_stream_bytes=settings.max_upload_bytes,
                max_namespace_bytes=settings.stream_max_namespace_bytes,
            ),
        )
        state.extensions[REGISTRY_KEY] = registry
    return registry


@router.post(
    "",
    status_code=201,
    response_model=StreamOut,
    summary="Open an audio stream (encoded file in pieces, or raw PCM16 16 kHz mono).",
    responses=error_responses(),
)
def create_stream(
    state: StateDep,
    principal: PrincipalDep,
    body: Annotated[StreamCreate | None, Body()] = None,
) -> StreamOut:
    fmt = StreamFormat((body or StreamCreate()).format)
    return render.stream(stream_registry(state).create(principal.namespace, fmt))


@router.get(
    "/{stream_id}",
    response_model=StreamOut,
    summary="How much audio a stream holds, and when it expires.",
    responses=error_responses(404),
)
def get_stream(stream_id: StreamIdPath, state: StateDep, principal: PrincipalDep) -> StreamOut:
    return render.stream(stream_registry(state).info(principal.namespace, stream_id))


@router.post(
    "/{stream_id}",
    response_model=StreamOut,
    summary="Append the raw request body to the stream.",
    responses=error_responses(404, 413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def append_chunk(
    request: Request, stream_id: StreamIdPath, state: StateDep, principal: PrincipalDep
) -> StreamOut:
    media = media_type(request)
    # curl --data-binary sends this type unless told otherwise: its bytes are the chunk's
    # (found in review: the README's own example was refused once forms were).
    curl_default = media == "application/x-www-form-urlencoded"
    if not curl_default and (media == "multipart/form-data" or not is_raw_audio_type(media)):
        # The body is appended as it is: a form's boundaries or a JSON text would become
        # part of the audio.
        raise UnsupportedAudioError(
            f"unsupported Content-Type {media!r}: a chunk is the raw bytes of the audio "
            "(application/octet-stream, audio/* or video/*), not a form or text"
        )
    registry = stream_registry(state)
    room = await run_in_threadpool(registry.room, principal.namespace, stream_id)
    try:
        chunk = await read_limited_body(request, room)
    except AudioTooLargeError:
        raise AudioTooLargeError(
            f"the chunk does not fit: the stream may take {room} more bytes"
        ) from None
    return render.stream(
        await run_in_threadpool(registry.append, principal.namespace, stream_id, chunk)
    )


@router.delete(
    "/{stream_id}",
    status_code=204,
    summary="Delete a stream and its audio.",
    responses=error_responses(404),
)
def delete_stream(stream_id: StreamIdPath, state: StateDep, principal: PrincipalDep) -> Response:
    stream_registry(state).delete(principal.namespace, stream_id)
    return Response(status_code=204)


@router.post(
    "/{stream_id}/enroll",
    status_code=201,
    response_model=EnrollmentOut,
    summary="Enrol the stream's audio into a profile.",
    responses=error_responses(400, 404, 409, 413, 415),
)
async def enroll_from_stream(
    stream_id: StreamIdPath,
    profile_id: ProfileIdQuery,
    state: StateDep,
    principal: PrincipalDep,
    passphrases: PassphraseDep,
    force: Force = False,
    label: Annotated[str | None, Query(max_length=200)] = None,
) -> EnrollmentOut:
    audio = await run_in_threadpool(stream_registry(state).audio, principal.namespace, stream_id)
    clip_label = label or f"stream {stream_id}"
    result = await state.runner.run(
        "enroll", passphrases.enroll, profile_id, audio, label=clip_label, force=force
    )
    return render.spoken_enrollment(result, passphrases.core.enrollment)


@router.post(
    "/{stream_id}/verify",
    response_model=VerificationOut,
    summary="Verify (1:1) the stream's speaker against a profile.",
    responses=error_responses(400, 404, 409, 413, 415),
)
async def verify_from_stream(
    stream_id: StreamIdPath,
    profile_id: ProfileIdQuery,
    state: StateDep,
    principal: PrincipalDep,
    passphrases: PassphraseDep,
    force: Force = False,
) -> VerificationOut:
    audio = await run_in_threadpool(stream_registry(state).audio, principal.namespace, stream_id)
    result = await state.runner.run("verify", passphrases.verify, profile_id, audio, force=force)
    return render.spoken_verification(result)


@router.post(
    "/{stream_id}/identify",
    response_model=IdentificationOut,
    summary="Identify (1:N, open set) the stream's speaker.",
    responses=error_responses(400, 404, 413, 415),
)
async def identify_from_stream(
    stream_id: StreamIdPath,
    state: StateDep,
    principal: PrincipalDep,
    service: ServiceDep,
    top_n: Annotated[int, Query(ge=1, le=MAX_TOP_N)] = 5,
    profile_ids: ProfileIdsQuery = None,
    force: Force = False,
) -> IdentificationOut:
    subset = query_ids(profile_ids)
    audio = await run_in_threadpool(stream_registry(state).audio, principal.namespace, stream_id)
    result = await state.runner.run(
        "identify", service.identify, audio, top_n=top_n, profile_ids=subset, force=force
    )
    return render.identification(result)
