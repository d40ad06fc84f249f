"""The interactive API reference (``/docs``), served from this machine.

FastAPI's own page loads Swagger UI from a CDN and its icon from fastapi.tiangolo.com:
blank offline, and a third party told of every visit. Here the page and its assets
come from the ``swagger-ui-bundle`` package (Swagger UI, Apache-2.0); nothing is
fetched from elsewhere.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

router = APIRouter()

#: The Swagger UI files the page loads, with their media types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}


@router.get("/docs", include_in_schema=False)
def api_reference(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="data:,",
    )


@router.get("/docs/assets/{name}", include_in_schema=False)
def api_reference_asset(name: Annotated[str, Path(max_length=64)]) -> Response:
    from swagger_ui_bundle import swagger_ui_path

    media = ASSETS.get(name)
    if media is None:
        return Response(status_code=404)
    content = (swagger_ui_path / name).read_bytes()
    return Response(content, media_type=media, headers={"Cache-Control": "max-age=86400"})
