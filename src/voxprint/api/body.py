"""Reading audio out of a request: a raw body with its Content-Type, or multipart.

The size limit is enforced before the body is read: a ``Content-Length`` over the
limit is refused at once, and a body without one is counted as it streams in and
refused the moment it passes the limit.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from voxprint.errors import AudioTooLargeError, InvalidParameterError, UnsupportedAudioError

#: Multipart field names searched for the audio, in order; else the first file part.
AUDIO_FIELDS = ("audio", "file", "data")

#: Media types accepted as a raw audio body besides ``audio/*`` and ``video/*``.
RAW_APPLICATION_TYPES = frozenset(
    {"octet-stream", "ogg", "x-wav", "wav", "x-flac", "flac", "mp4", "webm", "x-matroska"}
)

#: Room for multipart boundaries and headers on top of the audio limit.
MULTIPART_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class AudioUpload:
    """Audio bytes from a request, and any plain form fields that came with them."""

    data: bytes
    content_type: str
    filename: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


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
        return await _read_multipart(request, limit)
    if not is_raw_audio_type(media):
        raise UnsupportedAudioError(
            f"unsupported Content-Type {media!r}: send audio/* or video/* bytes, "
            "application/octet-stream, or multipart/form-data with an 'audio' file"
        )
    data = await read_limited_body(request, limit)
    return AudioUpload(data=data, content_type=media or "application/octet-stream")


async def _read_multipart(request: Request, limit: int) -> AudioUpload:
    body = await read_limited_body(request, limit + MULTIPART_OVERHEAD)

    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(
        request.headers, replay(), max_files=4, max_fields=32, max_part_size=64 * 1024
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidParameterError(f"malformed multipart body: {exc.message}") from None
    try:
        files = {k: v for k, v in form.multi_items() if isinstance(v, UploadFile)}
        texts = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        upload = next((files[name] for name in AUDIO_FIELDS if name in files), None)
        if upload is None and files:
            upload = next(iter(files.values()))
        if upload is None:
            raise InvalidParameterError("multipart body has no file part; send it as 'audio'")
        data = await upload.read()
        if len(data) > limit:
            raise AudioTooLargeError(f"audio is {len(data)} bytes; the limit is {limit}")
        return AudioUpload(
            data=data,
            content_type=(upload.content_type or "application/octet-stream").lower(),
            filename=upload.filename,
            fields=texts,
        )
    finally:
        await form.close()
