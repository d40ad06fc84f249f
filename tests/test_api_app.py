"""The app is assembled from the routers it imports, in the order of ``ROUTERS``, and
loads the galleries requests can reach at start-up."""

import logging
import threading
from dataclasses import replace

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from freshprocess import fresh_python
from voxprint.access import KeyService
from voxprint.api import app as app_module
from voxprint.api import create_app
from voxprint.api.app import ROUTERS, load_galleries, search_namespaces
from voxprint.api.azure import routes as azure
from voxprint.api.routes import health, web, ws
from voxprint.errors import StoreError
from voxprint.gallery_index import GalleryIndex
from voxprint.settings import Settings

from apihelp import client_for, fake_service, open_test_store, settings, voice_wav
from fakes import RATE, voice


def test_the_app_serves_every_route_of_its_routers_in_their_order():
    app = create_app(Settings())
    documented = [
        route.path
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
    ]
    assert list(app.openapi()["paths"]) == list(dict.fromkeys(documented))
    assert ROUTERS[0] is health.router and ROUTERS[-1] is web.router
    assert ws.router in ROUTERS and azure.router in ROUTERS
    client = TestClient(app)  # no lifespan: only routes that need no service
    assert client.get("/healthz").status_code == 200
    assert client.get("/").headers["content-type"].startswith("text/html")
    unknown = client.get("/speaker/nothing/here")  # the Azure catch-all, after its routes
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "NotFound"


def indexed_service(db):
    service = fake_service(db)
    return replace(service, index=GalleryIndex(service.store, "tone", "1"))


def with_alice(db):
    """A service with one enrolled profile, whose index has not read the gallery yet."""
    service = indexed_service(db)
    profile = service.create_profile("alice")
    service.enroll(profile.id, (voice(110, 12.0, seed=1), RATE))
    return replace(service, index=GalleryIndex(service.store, "tone", "1"))


def count_gallery_reads(monkeypatch, store) -> list[str]:
    reads: list[str] = []
    read = store.gallery

    def counted(namespace, **kwargs):
        reads.append(namespace)
        return read(namespace, **kwargs)

    monkeypatch.setattr(store, "gallery", counted)
    return reads


def test_the_galleries_loaded_at_start_up_are_those_requests_can_reach(tmp_path):
    keys = KeyService(open_test_store(tmp_path / "k.db"))
    keys.create("a", "tenant-a")
    keys.create("b", "tenant-b")
    keys.revoke(keys.create("gone", "tenant-c").key.id)
    listed = keys.list()
    assert search_namespaces(listed, keys_required=True) == ["tenant-a", "tenant-b"]
    assert search_namespaces(listed, keys_required=False) == ["default", "tenant-a", "tenant-b"]
    assert search_namespaces([], keys_required=True) == []


def test_a_loaded_gallery_is_not_read_again_by_the_first_identification(tmp_path, monkeypatch):
    service = with_alice(tmp_path / "v.db")
    reads = count_gallery_reads(monkeypatch, service.store)
    load_galleries(service, ["default"], threading.Event())
    assert reads == ["default"]
    assert service.identify((voice(110, 3.0, seed=7), RATE)).identified.name == "alice"
    assert reads == ["default"]


def test_a_gallery_that_fails_to_load_is_logged_and_the_next_one_still_loads(
    tmp_path, monkeypatch, caplog
):
    service = indexed_service(tmp_path / "v.db")
    reads = count_gallery_reads(monkeypatch, service.store)
    failing = {"broken"}
    original = service.store.gallery

    def gallery(namespace, **kwargs):
        if namespace in failing:
            raise StoreError("the database is gone")
        return original(namespace, **kwargs)

    monkeypatch.setattr(service.store, "gallery", gallery)
    with caplog.at_level(logging.INFO, logger="voxprint.api.app"):
        load_galleries(service, ["broken", "default"], threading.Event())
    assert "'broken' was not loaded: the database is gone" in caplog.text
    assert "namespace 'default' ready to identify among 0 voiceprints" in caplog.text
    stopped = threading.Event()
    stopped.set()
    load_galleries(service, ["default"], stopped)
    assert reads == ["default"]  # and nothing read once stopping


def test_the_server_loads_the_galleries_at_start_up_not_at_the_first_request(tmp_path, monkeypatch):
    service = with_alice(tmp_path / "v.db")
    monkeypatch.setattr(app_module, "build_service", lambda options: service)
    monkeypatch.setattr(app_module, "warm_up", lambda service: None)
    reads = count_gallery_reads(monkeypatch, service.store)
    with client_for(create_app(settings(require_api_key=False))) as client:
        for thread in threading.enumerate():
            if thread.name == "voxprint-galleries":
                thread.join(timeout=30)
        assert reads == ["default"]
        response = client.post(
            "/v1/identify",
            content=voice_wav(110, 3.0, seed=7),
            headers={"Content-Type": "audio/wav"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["identified"]["profile_name"] == "alice"
    assert reads == ["default"]


def test_importing_the_service_and_the_diarization_types_does_not_import_torch_or_scipy() -> None:
    """The server runs CAM++ on onnxruntime or OpenVINO: torch (about 180 MB) is loaded
    only when something needs it (segmenting a recording, a torch runtime, an export),
    and scipy (0.3-0.5 s of the server's start on a 2-core AVX2 CPU) only when a
    recording is clustered."""
    code = (
        "import sys, voxprint.api.app, voxprint.api.render, voxprint.cli.app, "
        "voxprint.diarization, voxprint.diarization.segmentation; "
        "print(sorted(m for m in ('torch', 'scipy') if m in sys.modules))"
    )
    output = fresh_python(code)
    assert output.strip() == "[]"


def test_the_service_runs_numpys_blas_on_one_thread():
    """Its worker threads spun after every small product, doubling the server's CPU per
    verify once rivals were searched (bench/load.py --others 5000)."""
    from threadpoolctl import ThreadpoolController, threadpool_limits

    from voxprint.api.app import small_products_on_one_thread

    blas = [i for i in ThreadpoolController().info() if i["user_api"] == "blas"]
    if not blas:
        pytest.skip("numpy here has no BLAS that threadpoolctl can see")
    before = max(i["num_threads"] for i in blas)
    try:
        small_products_on_one_thread()
        after = [i for i in ThreadpoolController().info() if i["user_api"] == "blas"]
        assert {i["num_threads"] for i in after} == {1}
    finally:
        threadpool_limits(limits=before, user_api="blas")
