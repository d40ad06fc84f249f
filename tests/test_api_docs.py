"""The interactive API reference is served from this machine, with nothing fetched from
elsewhere (found in a walkthrough: FastAPI's page loads Swagger UI from a CDN)."""

from __future__ import annotations

import re

from apihelp import client_for, make_app


def test_the_api_reference_loads_only_files_this_server_serves(tmp_path):
    app, _ = make_app(tmp_path / "d.db")
    with client_for(app) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert not re.search(r"https?://", page.text)
        loaded = re.findall(r"(?:src|href)=['\"]([^'\"]+)['\"]", page.text)
        assert "/docs/assets/swagger-ui-bundle.js" in loaded
        for url in loaded:
            if url.startswith("/"):
                assert client.get(url).status_code == 200, url
        assert "/openapi.json" in page.text
        assert client.get("/openapi.json").status_code == 200


def test_only_the_reference_pages_own_files_are_served(tmp_path):
    app, _ = make_app(tmp_path / "d.db")
    with client_for(app) as client:
        assert client.get("/docs/assets/index.html").status_code == 404
        assert client.get("/docs/assets/..%2F..%2F__init__.py").status_code == 404
        assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN
