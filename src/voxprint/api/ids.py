"""Lists of profile ids from a query string or a multipart field, checked as ids.

A profile id is a UUID (:data:`voxprint.api.schemas.PROFILE_ID_PATTERN`); something
else in a list is a 400 ``invalid_parameter`` that names it, as a bad id in a path is a
422, rather than a 404 for a profile that could never exist.
"""

from __future__ import annotations

import json
import re
from typing import Annotated

from fastapi import Query

from voxprint.api.schemas import PROFILE_ID_PATTERN
from voxprint.errors import InvalidParameterError

_PROFILE_ID = re.compile(PROFILE_ID_PATTERN)

#: The ``profile_ids`` query parameter of the identify routes (read with :func:`query_ids`).
ProfileIdsQuery = Annotated[
    list[str] | None,
    Query(
        max_length=1000,
        description="Search only these profiles (repeat the parameter or separate by "
        "commas; at most 1000 in all).",
    ),
]


def checked_ids(ids: list[str]) -> list[str]:
    """``ids`` with blanks dropped; a value that is no profile id is refused."""
    kept = [value.strip() for value in ids if value.strip()]
    for value in kept:
        if not _PROFILE_ID.match(value):
            shown = value if len(value) <= 60 else value[:57] + "..."
            raise InvalidParameterError(f"profile_ids: {shown!r} is not a profile id (a UUID)")
    return kept


def query_ids(values: list[str] | None) -> list[str] | None:
    """A repeated and/or comma-separated ``profile_ids`` query parameter."""
    if values is None:
        return None
    return checked_ids([part for value in values for part in value.split(",")])


def field_ids(value: str) -> list[str]:
    """A multipart ``profile_ids`` field: a JSON array of ids, or ids separated by commas."""
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise InvalidParameterError("profile_ids is not a valid JSON array") from None
        if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
            raise InvalidParameterError("profile_ids must be an array of id strings")
        return checked_ids(parsed)
    return checked_ids(text.split(","))
