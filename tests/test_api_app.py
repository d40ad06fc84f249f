"""The app is assembled from the routers it imports, in the order of ``ROUTERS``."""

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from voxprint.api import create_app
from voxprint.api.app import ROUTERS
from voxprint.api.azure import routes as azure
from voxprint.api.routes import health, web, ws
from voxprint.settings import Settings


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
