"""Several operations in one request; each item succeeds or fails on its own.

The body is JSON ``{"items": [...]}`` (audio as base64 in ``audio``), or a multipart
form whose ``request`` field holds that JSON and whose file parts hold the audio,
named by each item's ``audio_part``. Items run in order; each result carries the
HTTP status and error code the operation would have had alone.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from voxprint.api import render
from voxprint.api.body import (
    BINARY,
    Form,
    InvalidRequestError,
    MalformedBodyError,
    inline_schema,
    media_type,
    parse_json,
    read_form,
    read_limited_body,
    request_body,
    require_json,
    validation_message,
)
from voxprint.api.deps import ServiceDep, StateDep
from voxprint.api.errors import status_for
from voxprint.api.schemas import (
    MAX_BATCH_ITEMS,
    BatchItem,
    BatchItemResult,
    BatchOut,
    BatchRequest,
    BatchResult,
    error_responses,
)
from voxprint.api.spoken import app_passphrases
from voxprint.api.state import AppState
from voxprint.errors import InvalidParameterError, UnsupportedAudioError, VoxprintError
from voxprint.service import VoxprintService

router = APIRouter(tags=["batch"])


class _BatchRequestDoc(BaseModel):
    """How the docs show the body (items are validated one by one when run)."""

    items: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


BATCH_BODY = request_body(
    {
        "application/json": {"schema": inline_schema(_BatchRequestDoc)},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "request": {
                        "type": "string",
                        "description": "The JSON body; items name their audio by `audio_part`.",
                    },
                    "audio": BINARY,
                },
                "required": ["request"],
            }
        },
    },
    f"Up to {MAX_BATCH_ITEMS} operations: `create_profile` (name, external_id, metadata), "
    "`get_profile` (profile_id), `enroll` (profile_id, audio, label, force), `verify` "
    "(profile_id, audio, force), `identify` (audio, top_n, profile_ids, force). Audio is "
    "base64 in `audio`, or a multipart file part named by `audio_part`.",
)


@router.post(
    "/v1/batch",
    response_model=BatchOut,
    summary="Run several operations in one request; each gets its own status and result.",
    responses=error_responses(413, 415, 422),
    openapi_extra=BATCH_BODY,
)
async def batch(request: Request, state: StateDep, service: ServiceDep) -> BatchOut:
    limit = state.settings.max_upload_bytes
    match media_type(request):
        case "application/json":
            require_json(request)
            raw = await read_limited_body(request, limit)
            body, form = _batch_request(raw), Form()
        case "multipart/form-data":
            form = await read_form(request, limit)
            if "request" not in form.fields:
                raise InvalidRequestError("a multipart batch needs a 'request' field (JSON)")
            body = _batch_request(form.fields["request"])
        case other:
            raise UnsupportedAudioError(
                f"unsupported Content-Type {other!r}: send application/json or multipart/form-data"
            )
    results = [
        await _run_item(index, raw, form, state, service) for index, raw in enumerate(body.items)
    ]
    return render.batch(results)


def _batch_request(raw: bytes | str) -> BatchRequest:
    """The batch of JSON text (the body, or a multipart field); malformed or of the wrong
    shape is 422 ``invalid_request``, as on every native route."""
    try:
        return parse_json(raw, BatchRequest)
    except MalformedBodyError as bad:
        raise InvalidRequestError(bad.message) from None


async def _run_item(
    index: int, raw: Any, form: Form, state: AppState, service: VoxprintService
) -> BatchItemResult:
    if not isinstance(raw, dict):
        return render.batch_failure(
            index,
            None,
            None,
            422,
            "invalid_request",
            f"an item must be a JSON object with an 'op', not {json.dumps(raw)[:40]}",
        )
    reference = raw.get("id") if isinstance(raw.get("id"), str) else None
    op = raw.get("op") if isinstance(raw.get("op"), str) else None
    try:
        item = BatchItem.model_validate(raw)
    except ValidationError as exc:
        return render.batch_failure(
            index, reference, op, 422, "invalid_request", validation_message(exc)
        )
    try:
        result, status = await _dispatch(item, form, state, service)
    except VoxprintError as exc:
        return render.batch_failure(index, item.id, item.op, status_for(exc), exc.code, exc.message)
    return render.batch_success(index, item.id, item.op, status, result)


async def _dispatch(
    item: BatchItem, form: Form, state: AppState, service: VoxprintService
) -> tuple[BatchResult, int]:
    runner, policy = state.runner, service.enrollment
    match item.op:
        case "create_profile":
            if item.name is None:
                raise InvalidParameterError("create_profile needs a 'name'")
            created = await run_in_threadpool(
                service.create_profile,
                item.name,
                external_id=item.external_id,
                metadata=item.metadata,
            )
            return render.profile(created, policy), 201
        case "get_profile":
            found = await run_in_threadpool(service.get_profile, _profile_id(item))
            return render.profile(found, policy), 200
        case "enroll":  # a text-dependent profile's clip must say its passphrase
            profile_id, audio = _profile_id(item), _audio(item, form)
            passphrases = app_passphrases(state).in_namespace(service.namespace)
            enrolled = await runner.run(
                "enroll", passphrases.enroll, profile_id, audio, label=item.label, force=item.force
            )
            return render.spoken_enrollment(enrolled, policy), 201
        case "verify":
            profile_id, audio = _profile_id(item), _audio(item, form)
            passphrases = app_passphrases(state).in_namespace(service.namespace)
            verified = await runner.run(
                "verify", passphrases.verify, profile_id, audio, force=item.force
            )
            return render.spoken_verification(verified), 200
        case "identify":
            audio = _audio(item, form)
            identified = await runner.run(
                "identify",
                service.identify,
                audio,
                top_n=item.top_n,
                profile_ids=item.profile_ids,
                force=item.force,
            )
            return render.identification(identified), 200


def _profile_id(item: BatchItem) -> str:
    if not item.profile_id:
        raise InvalidParameterError(f"{item.op} needs a 'profile_id'")
    return item.profile_id


def _audio(item: BatchItem, form: Form) -> bytes:
    if item.audio is not None and item.audio_part is not None:
        raise InvalidParameterError("give either 'audio' or 'audio_part', not both")
    if item.audio is not None:
        try:
            return base64.b64decode(item.audio, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterError("'audio' is not valid base64") from None
    if item.audio_part is not None:
        upload = form.files.get(item.audio_part)
        if upload is None:
            raise InvalidParameterError(f"no file part named {item.audio_part!r} in the form")
        return upload.data
    raise InvalidParameterError(f"{item.op} needs 'audio' (base64) or 'audio_part'")
