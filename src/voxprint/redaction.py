"""Keep API key secrets out of every log line.

A voxprint key is ``vxp_<id>_<secret>``. The id may be logged (it names the key);
the secret never. :class:`RedactSecrets` is a :class:`logging.Filter` that rewrites
a record before any handler formats it:

* anything shaped like a key keeps its id and loses its secret (``vxp_<id>_***``);
* the value of a key-bearing query parameter (``?api_key=...``, ``subscription-key``,
  ``access_token``...) becomes ``***``, whatever it looks like;
* the value of an ``Authorization``, ``X-API-Key`` or ``Ocp-Apim-Subscription-Key``
  header becomes ``***`` where a header is printed (e.g. uvicorn's and websockets'
  debug and trace lines);
* a WebSocket data frame that the ``websockets`` library logs (``< TEXT '...'``) keeps
  its type and length and loses its payload: a client may send its key as its first
  message, and the library shortens long payloads to their start and end, so a
  secret's tail can show without the ``vxp_`` that marks it.

``voxprint serve`` puts the filter on its log handler, so whatever logger a line comes
from and at whatever level, it is redacted; :func:`install_redaction` also puts it on
the loggers that print request lines (uvicorn's), so a record is clean before it
reaches any handler, including ones an embedding application adds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"

#: A voxprint key: the id (16 hex digits) stays, the secret goes.
_KEY_TOKEN = re.compile(r"(vxp_[0-9a-fA-F]{16}_)[A-Za-z0-9_-]+")
#: Query parameters that carry a key, and their value.
_QUERY_SECRET = re.compile(
    r"((?:api[_-]?key|subscription[_-]key|access[_-]?token|token)=)[^&\s\"'<>)\]]+",
    re.IGNORECASE,
)
#: A printed key header (``Authorization: Bearer x``, ``(b'x-api-key', b'x')``, ...).
_HEADER_SECRET = re.compile(
    r"((?:authorization|x-api-key|ocp-apim-subscription-key)['\"]?\s*[:=,]\s*(?:b?['\"])?"
    r"(?:(?:bearer|basic)\s+)?)[^'\"\s,)\]}]+",
    re.IGNORECASE,
)

#: Loggers that print request lines with the path and query string (uvicorn's; the
#: websockets library logs the handshake through ``uvicorn.error`` under uvicorn).
REQUEST_LINE_LOGGERS = ("uvicorn.error", "uvicorn.access", "uvicorn.asgi")


_REDACTED_KEY = re.compile(rf"vxp_[0-9a-fA-F]{{16}}_{re.escape(MASK)}")


def _mask_value(match: re.Match[str]) -> str:
    """The name part of a ``name=value`` or header match, and ``***`` for the value; a key
    already reduced to ``vxp_<id>_***`` keeps its id."""
    value = match.group(0)[len(match.group(1)) :]
    kept = _REDACTED_KEY.match(value)
    return match.group(1) + (kept.group(0) if kept else MASK)


def redact(text: str) -> str:
    """``text`` with every key secret replaced by ``***``."""
    text = _KEY_TOKEN.sub(rf"\g<1>{MASK}", text)
    text = _QUERY_SECRET.sub(_mask_value, text)
    return _HEADER_SECRET.sub(_mask_value, text)


#: Opcodes of WebSocket frames that carry a payload (``websockets.frames.Opcode`` names).
_DATA_FRAMES = frozenset({"TEXT", "BINARY", "CONT"})


def _data_frame(value: Any) -> str | None:
    """``TEXT [n bytes]`` for a ``websockets`` data frame (payload left out), else None
    (also for any object whose attributes cannot be read: a filter must never raise)."""
    try:
        opcode, data = getattr(value, "opcode", None), getattr(value, "data", None)
        name = getattr(opcode, "name", None)
        if not isinstance(name, str) or name not in _DATA_FRAMES:
            return None
        if not isinstance(data, bytes | bytearray | memoryview):
            return None
        return f"{name} [{len(data)} bytes, payload not logged]"
    except Exception:
        return None


def _redact_value(value: Any) -> Any:
    """A log argument without secrets: strings are redacted; a WebSocket data frame is
    logged without its payload; other objects are replaced by their redacted text only
    when their text holds a secret (numbers pass unchanged)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    frame = _data_frame(value)
    if frame is not None:
        return frame
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("latin-1")
        cleaned = redact(text)
        return value if cleaned == text else cleaned
    try:
        text = str(value)
    except Exception:  # a broken __str__ is the handler's problem, not a secret
        return value
    cleaned = redact(text)
    return value if cleaned == text else cleaned


def redact_record(record: logging.LogRecord) -> None:
    """Remove secrets from ``record`` in place: its message, arguments, traceback text."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    else:
        record.msg = _redact_value(record.msg)
    args = record.args
    if isinstance(args, Mapping):
        record.args = {key: _redact_value(value) for key, value in args.items()}
    elif isinstance(args, tuple):
        record.args = tuple(_redact_value(value) for value in args)
    # A secret split over several arguments (``"< %s: %s", header, value``) shows only
    # in the whole message. uvicorn's access formatter unpacks its arguments, so its
    # records keep their shape (each argument is already clean).
    if record.args and record.name != "uvicorn.access":
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler to report
            message = None
        if message is not None and redact(message) != message:
            record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactSecrets(logging.Filter):
    """A filter that lets every record through, without its secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install_redaction(logger_names: Iterable[str] = REQUEST_LINE_LOGGERS) -> None:
    """Put :class:`RedactSecrets` on these loggers (once each)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
