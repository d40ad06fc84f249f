"""The web page (``/``, files under ``/web/``) and the embedding map it draws.

The page is plain HTML, CSS and JavaScript shipped inside the package
(``voxprint/api/web/``), served without a key; its own API calls send the key
the user typed (kept for that browser tab only: ``web/key.js``).
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response

from voxprint.api import render
from voxprint.api.deps import ServiceDep, StateDep
from voxprint.api.schemas import EmbeddingMapOut, error_responses
from voxprint.embedding_map import build_embedding_map

router = APIRouter()

#: The files the page is made of, with their media types.
WEB_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "capture.js": "text/javascript; charset=utf-8",
    "key.js": "text/javascript; charset=utf-8",
    "profiles.js": "text/javascript; charset=utf-8",
    "reasons.js": "text/javascript; charset=utf-8",
    "spoken.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


def _read(name: str) -> bytes:
    return resources.files("voxprint.api").joinpath("web", name).read_bytes()


@router.get("/", include_in_schema=False)
def index() -> HTMLResponse:
    return HTMLResponse(_read("index.html"), headers={"Cache-Control": "no-cache"})


@router.get("/web/{name}", include_in_schema=False)
def web_file(name: Annotated[str, Path(max_length=64)]) -> Response:
    media = WEB_FILES.get(name)
    if media is None:
        return Response(status_code=404)
    return Response(_read(name), media_type=media, headers={"Cache-Control": "no-cache"})


@router.get(
    "/v1/embedding-map",
    response_model=EmbeddingMapOut,
    tags=["profiles"],
    summary="2-D map (PCA) of your enrolled profiles' voiceprints and clip embeddings.",
    responses=error_responses(),
)
async def embedding_map(
    state: StateDep,
    service: ServiceDep,
    max_profiles: Annotated[int, Query(ge=1, le=1000)] = 200,
    clips: Annotated[bool, Query(description="Include each enrolment clip.")] = True,
) -> EmbeddingMapOut:
    result = await state.runner.run(
        "embedding_map", build_embedding_map, service, max_profiles=max_profiles, clips=clips
    )
    return render.embedding_map(result)
