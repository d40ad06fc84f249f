"""``voxprint serve``: the REST service under uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from voxprint.cli.common import DbOption, ModelOption, handles_errors

FACTORY = "voxprint.api.app:create_app_from_environment"


@handles_errors
def serve(
    host: Annotated[str, typer.Option(envvar="VOXPRINT_HOST", help="Interface to bind.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(envvar="VOXPRINT_PORT", help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(envvar="VOXPRINT_WORKERS", min=1, help="Worker processes.")
    ] = 1,
    db: DbOption = None,
    model: ModelOption = "campplus",
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without API keys (local use only).")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the REST API (docs at /docs). Settings also come from VOXPRINT_* variables."""
    import uvicorn

    # Settings travel to the worker processes through the environment; the app reads
    # them with pydantic-settings (voxprint.api.settings).
    os.environ["VOXPRINT_MODEL"] = model
    if db is not None:
        os.environ["VOXPRINT_DB"] = str(db)
    if no_auth:
        os.environ["VOXPRINT_REQUIRE_API_KEY"] = "false"
    if db is not None:
        # An unreachable or unusable store is one line and exit code 7 here, not a
        # traceback from every worker's startup.
        from voxprint.store import open_store

        open_store(str(db)).close()
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        timeout_graceful_shutdown=30,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
