"""Compare two recordings, or two exported voiceprints, without touching any profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from voxprint.api import render
from voxprint.api.body import (
    BINARY,
    AudioUpload,
    inline_schema,
    media_type,
    read_form,
    read_json,
    request_body,
)
from voxprint.api.deps import ServiceDep, StateDep
from voxprint.api.schemas import CompareVoiceprints, ComparisonOut, error_responses
from voxprint.errors import InvalidParameterError, UnsupportedAudioError

router = APIRouter(tags=["recognition"])

#: A JSON body of two voiceprints is small; anything bigger is refused unread.
MAX_JSON_BYTES = 256 * 1024

COMPARE_BODY = request_body(
    {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"first": BINARY, "second": BINARY},
                "required": ["first", "second"],
            }
        },
        "application/json": {"schema": inline_schema(CompareVoiceprints)},
    },
    "Either two recordings as a multipart form (files `first` and `second`), or two "
    "voiceprints exported by `GET /v1/profiles/{id}/voiceprint` as JSON. Voiceprints of "
    "another encoder (name or version) are refused with 409 `encoder_mismatch`.",
)


@router.post(
    "/v1/compare",
    response_model=ComparisonOut,
    summary="Score two recordings or two voiceprints against each other.",
    responses=error_responses(400, 409, 413, 415),
    openapi_extra=COMPARE_BODY,
)
async def compare(
    request: Request,
    state: StateDep,
    service: ServiceDep,
    force: Annotated[bool, Query(description="Accept clips below the speech minimum.")] = False,
) -> ComparisonOut:
    match media_type(request):
        case "application/json":
            body = await read_json(request, MAX_JSON_BYTES, CompareVoiceprints)
            name, version = service.encoder_name, service.encoder_version
            first = render.voiceprint_vector(body.first, name, version)
            second = render.voiceprint_vector(body.second, name, version)
            return render.comparison(service.compare_embeddings(first, second))
        case "multipart/form-data":
            form = await read_form(request, state.settings.max_upload_bytes)
            a, b = _two_recordings(form.files)
            result = await state.runner.run("compare", service.compare, a.data, b.data, force=force)
            return render.comparison(result)
        case other:
            raise UnsupportedAudioError(
                f"unsupported Content-Type {other!r}: send multipart/form-data with files "
                "'first' and 'second', or application/json with two voiceprints"
            )


def _two_recordings(files: dict[str, AudioUpload]) -> tuple[AudioUpload, AudioUpload]:
    if "first" in files and "second" in files:
        return files["first"], files["second"]
    if len(files) == 2:
        a, b = files.values()
        return a, b
    raise InvalidParameterError(
        f"compare needs two files, 'first' and 'second'; got {len(files)} ({', '.join(files)})"
    )
