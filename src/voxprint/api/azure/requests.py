"""Reading the JSON body of an Azure-compatible route (create profile)."""

from __future__ import annotations

import json

from fastapi import Request

from voxprint.api.azure.errors import AzureRequestError, UnsupportedMediaTypeError
from voxprint.api.body import media_type, read_limited_body

#: Largest create-profile JSON body.
MAX_JSON_BYTES = 64 * 1024


async def read_json(request: Request) -> object:
    if media_type(request) != "application/json":
        raise UnsupportedMediaTypeError(
            "Unsupported media type. Only 'application/json' is accepted."
        )
    body = await read_limited_body(request, MAX_JSON_BYTES)
    if not body.strip():
        raise AzureRequestError("Request body is missing.")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise AzureRequestError("Invalid JSON format.") from None
