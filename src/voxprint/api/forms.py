"""Request bodies the native routes parse themselves, and how OpenAPI describes them.

Routes that take audio read it with :func:`voxprint.api.body.read_audio`; routes
that take either JSON or a multipart form with several files (compare, batch) use
:func:`read_json` and :func:`read_form`. The ``*_BODY`` constants and
:func:`request_body` go in a route's ``openapi_extra`` so ``/docs`` still shows them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from voxprint.api.body import MULTIPART_OVERHEAD, AudioUpload, read_limited_body
from voxprint.errors import AudioTooLargeError, InvalidParameterError

M = TypeVar("M", bound=BaseModel)

MAX_FORM_FILES = 32

BINARY = {"type": "string", "format": "binary"}


@dataclass(frozen=True)
class Form:
    """A parsed multipart form: file parts by field name, and the plain text fields."""

    files: dict[str, AudioUpload] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)


async def read_form(request: Request, limit: int) -> Form:
    """Parse a multipart body of at most ``limit`` bytes (413 beyond, before reading it)."""
    body = await read_limited_body(request, limit + MULTIPART_OVERHEAD)

    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(
        request.headers,
        replay(),
        max_files=MAX_FORM_FILES,
        max_fields=64,
        max_part_size=1024 * 1024,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidParameterError(f"malformed multipart body: {exc.message}") from None
    try:
        files: dict[str, AudioUpload] = {}
        fields: dict[str, str] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                if len(data) > limit:
                    raise AudioTooLargeError(f"part {name!r} is over the limit of {limit} bytes")
                files[name] = AudioUpload(
                    data=data,
                    content_type=(value.content_type or "application/octet-stream").lower(),
                    filename=value.filename,
                )
            else:
                fields[name] = value
        return Form(files=files, fields=fields)
    finally:
        await form.close()


def parse_json(raw: bytes | str, model: type[M]) -> M:
    """Validate JSON text as ``model``; malformed JSON or a wrong shape is a 400."""
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidParameterError(f"malformed JSON: {exc}") from None
    return validate(value, model)


def validate(value: Any, model: type[M]) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise InvalidParameterError(validation_message(exc)) from None


def validation_message(exc: ValidationError) -> str:
    parts = []
    for item in exc.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ())) or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


async def read_json(request: Request, limit: int, model: type[M]) -> M:
    return parse_json(await read_limited_body(request, limit), model)


# --- OpenAPI ----------------------------------------------------------------------------


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with every ``#/$defs/...`` reference replaced by its definition,
    so it can sit inside an OpenAPI document on its own."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved = resolve(schema)
    assert isinstance(resolved, dict)
    return resolved


def request_body(content: dict[str, Any], description: str) -> dict[str, Any]:
    """An ``openapi_extra`` value declaring a required request body."""
    return {"requestBody": {"required": True, "description": description, "content": content}}


#: Audio as the raw body (any ``audio/*`` or ``video/*`` type too) or a multipart ``audio`` file.
AUDIO_CONTENT: dict[str, Any] = {
    "application/octet-stream": {"schema": BINARY},
    "audio/wav": {"schema": BINARY},
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"audio": BINARY},
            "required": ["audio"],
        }
    },
}

AUDIO_BODY = request_body(
    AUDIO_CONTENT,
    "The audio: the raw body with its Content-Type (WAV, FLAC, OGG, MP3, M4A, WebM, "
    "MP4, ...: any `audio/*` or `video/*`, or `application/octet-stream`), or a "
    "multipart form with the file in the field `audio`.",
)
