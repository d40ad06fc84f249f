"""Request bodies: the one place that parses them, for the native and the Azure routes.

- :func:`read_audio`: audio as a raw body with its Content-Type, or a multipart form
  with the file in ``audio`` (else ``file``, ``data``, else its first file part);
- :func:`read_form`: a multipart form with several files (compare, batch);
- :func:`read_json`: a JSON body, optionally validated as a pydantic model;
  :func:`parse_json` does the same for JSON text from a form field.

Every failure is a :class:`~voxprint.errors.VoxprintError` that the API turns into a 4xx:
415 :class:`~voxprint.errors.UnsupportedAudioError` for a Content-Type the route does not
take, 413 :class:`~voxprint.errors.AudioTooLargeError` over the size limit, and 400
:class:`~voxprint.errors.InvalidParameterError` for a malformed body (for JSON, its
subclass :class:`MalformedBodyError`, which the Azure routes answer as ``InvalidRequest``).

The size limit is enforced before the body is read: a ``Content-Length`` over the
limit is refused at once, and a body without one is counted as it streams in and
refused the moment it passes the limit.

The ``*_BODY`` constants and :func:`request_body` go in a route's ``openapi_extra`` so
``/docs`` still shows the bodies these routes parse themselves.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from voxprint.errors import AudioTooLargeError, InvalidParameterError, UnsupportedAudioError

M = TypeVar("M", bound=BaseModel)

#: Media types accepted as a raw audio body besides ``audio/*`` and ``video/*``.
RAW_APPLICATION_TYPES = frozenset(
    {"octet-stream", "ogg", "x-wav", "wav", "x-flac", "flac", "mp4", "webm", "x-matroska"}
)

#: Room for multipart boundaries and headers on top of the audio limit.
MULTIPART_OVERHEAD = 64 * 1024

JSON_MEDIA_TYPE = "application/json"


class MalformedBodyError(InvalidParameterError):
    """The body is missing, not JSON, or not of the expected shape (400)."""


class InvalidRequestError(MalformedBodyError):
    """A native route's body that is missing, not JSON or of the wrong shape, read by the
    route itself: 422 ``invalid_request``, as every body FastAPI validates answers."""

    code = "invalid_request"


@dataclass(frozen=True)
class FormLimits:
    """How much a multipart form may hold besides its total size."""

    max_files: int
    max_fields: int
    max_field_bytes: int


#: One audio file and a few plain fields (:func:`read_audio`).
AUDIO_FORM = FormLimits(max_files=4, max_fields=32, max_field_bytes=64 * 1024)
#: Several files and a JSON field (:func:`read_form`: compare, batch).
MAX_FORM_FILES = 32
FILES_FORM = FormLimits(max_files=MAX_FORM_FILES, max_fields=64, max_field_bytes=1024 * 1024)


@dataclass(frozen=True)
class AudioUpload:
    """Audio bytes from a request, and any plain form fields that came with them."""

    data: bytes
    content_type: str
    filename: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Form:
    """A parsed multipart form: file parts by field name, and the plain text fields."""

    files: dict[str, AudioUpload] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_json(request: Request) -> None:
    """Refuse (415 :class:`UnsupportedAudioError`) a body not sent as ``application/json``:
    the one rule for routes that read JSON, whether they parse it here or FastAPI does."""
    media = media_type(request)
    if media != JSON_MEDIA_TYPE:
        raise UnsupportedAudioError(
            f"unsupported Content-Type {media!r}: only {JSON_MEDIA_TYPE!r} is accepted"
        )


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) anything over ``limit`` bytes before reading it."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidParameterError(f"invalid Content-Length {declared!r}") from None
        if size > limit:
            raise AudioTooLargeError(f"request body is {size} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise AudioTooLargeError(f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# --- audio --------------------------------------------------------------------------------


def is_raw_audio_type(media: str) -> bool:
    major, _, minor = media.partition("/")
    match major:
        case "audio" | "video":
            return True
        case "application":
            return minor in RAW_APPLICATION_TYPES
        case "":
            return True  # no Content-Type: sniff the bytes
        case _:
            return False


async def read_audio(request: Request, limit: int) -> AudioUpload:
    """Audio from a raw body (``audio/*``, ``video/*``, octet-stream) or a multipart form.

    Raises :class:`UnsupportedAudioError` (415) for any other Content-Type,
    :class:`AudioTooLargeError` (413) over ``limit`` and :class:`InvalidParameterError`
    for a malformed form or one without a file.
    """
    media = media_type(request)
    if media == "multipart/form-data":
        form = await read_form(request, limit, AUDIO_FORM)
        if len(form.files) > 1:
            names = ", ".join(repr(name) for name in form.files)
            raise InvalidParameterError(
                f"multipart body has {len(form.files)} files ({names}); send one, as 'audio'"
            )
        upload = next(iter(form.files.values()), None)
        if upload is None:
            raise InvalidParameterError("multipart body has no file part; send it as 'audio'")
        return AudioUpload(upload.data, upload.content_type, upload.filename, form.fields)
    if not is_raw_audio_type(media):
        raise UnsupportedAudioError(
            f"unsupported Content-Type {media!r}: send audio/* or video/* bytes, "
            "application/octet-stream, or multipart/form-data with an 'audio' file"
        )
    data = await read_limited_body(request, limit)
    return AudioUpload(data=data, content_type=media or "application/octet-stream")


# --- multipart forms ----------------------------------------------------------------------


async def read_form(request: Request, limit: int, limits: FormLimits = FILES_FORM) -> Form:
    """Parse a multipart body whose files hold at most ``limit`` bytes each (413 beyond,
    and for a whole body over ``limit`` plus room for the boundaries, before reading it)."""
    body = await read_limited_body(request, limit + MULTIPART_OVERHEAD)

    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(
        request.headers,
        replay(),
        max_files=limits.max_files,
        max_fields=limits.max_fields,
        max_part_size=limits.max_field_bytes,
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
                if name in files:  # a second file of one name would replace the first
                    raise InvalidParameterError(
                        f"multipart body has more than one file named {name!r}"
                    )
                data = await value.read()
                if len(data) > limit:
                    raise AudioTooLargeError(
                        f"part {name!r} is {len(data)} bytes; the limit is {limit}"
                    )
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


# --- JSON ---------------------------------------------------------------------------------


@overload
async def read_json(request: Request, limit: int) -> Any: ...
@overload
async def read_json(request: Request, limit: int, model: type[M]) -> M: ...
async def read_json(request: Request, limit: int, model: type[M] | None = None) -> Any:
    """The JSON body: a value, or an instance of ``model`` when one is given.

    Raises :class:`UnsupportedAudioError` (415) unless the Content-Type is
    ``application/json``, :class:`AudioTooLargeError` (413) over ``limit`` bytes, and
    :class:`MalformedBodyError` (400) for an empty body, malformed JSON, or (with
    ``model``) a value of the wrong shape.
    """
    require_json(request)
    raw = await read_limited_body(request, limit)
    return parse_json(raw) if model is None else parse_json(raw, model)


@overload
def parse_json(raw: bytes | str) -> Any: ...
@overload
def parse_json(raw: bytes | str, model: type[M]) -> M: ...
def parse_json(raw: bytes | str, model: type[M] | None = None) -> Any:
    """JSON text as a value, or validated as ``model``; :class:`MalformedBodyError` (400)
    for empty or malformed text or a wrong shape."""
    if not raw.strip():
        raise MalformedBodyError("the request body is empty; send JSON")
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedBodyError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise MalformedBodyError("malformed JSON: nested too deeply") from None
    return value if model is None else validate(value, model)


def validate(value: Any, model: type[M]) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise MalformedBodyError(validation_message(exc)) from None
    except RecursionError:
        raise MalformedBodyError("the request body is nested too deeply") from None


def validation_message(exc: ValidationError) -> str:
    parts = []
    for item in exc.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ())) or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


# --- OpenAPI ------------------------------------------------------------------------------

BINARY = {"type": "string", "format": "binary"}


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
