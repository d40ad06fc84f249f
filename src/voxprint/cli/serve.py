"""``voxprint serve``: the REST service under uvicorn.

Logging: one stderr handler for uvicorn's and voxprint's loggers (and the root), with
:class:`~voxprint.redaction.RedactSecrets` on it, so no API key secret reaches the log
whatever logger or level a line comes from. voxprint's request log (method, path
without the query string, status, time, key id) replaces uvicorn's access log, which
would print query strings (``?api_key=``).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer

from voxprint.cli.common import (
    VERBOSE_KEY,
    DbOption,
    ModelOption,
    database_file,
    database_path,
    handles_errors,
    require_database,
    settings,
)

FACTORY = "voxprint.api.app:create_app_from_environment"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

logger = logging.getLogger("voxprint.serve")


def log_config(level: str, verbose: bool) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` for ``serve`` (uvicorn applies it in every
    worker). ``level`` applies to uvicorn and voxprint alike; ``verbose`` (``-v``) makes
    voxprint's own loggers log at DEBUG."""
    voxprint_level = "DEBUG" if verbose or level in ("debug", "trace") else level.upper()

    def stderr(formatter: str) -> dict[str, Any]:
        return {
            "class": "logging.StreamHandler",
            "formatter": formatter,
            "filters": ["redact_secrets"],
            "stream": "ext://sys.stderr",
        }

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_secrets": {"()": "voxprint.redaction.RedactSecrets"}},
        "formatters": {
            "uvicorn": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s",
            },
            "named": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(name)s: %(message)s",
            },
        },
        "handlers": {"uvicorn": stderr("uvicorn"), "named": stderr("named")},
        "loggers": {
            "uvicorn": {"handlers": ["uvicorn"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "propagate": False},
            "voxprint": {"handlers": ["named"], "level": voxprint_level, "propagate": False},
        },
        "root": {
            "handlers": ["named"],
            "level": "DEBUG" if level in ("debug", "trace") else "WARNING",
        },
    }


@handles_errors
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to bind (default: VOXPRINT_HOST, else 127.0.0.1).", show_default=False
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="TCP port (default: VOXPRINT_PORT, else 8000).", show_default=False),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Worker processes (default: VOXPRINT_WORKERS, else 1).", show_default=False
        ),
    ] = None,
    db: DbOption = None,
    model: ModelOption = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without API keys (local use only).")
    ] = False,
    log_level: Annotated[
        str,
        typer.Option(
            help=f"Log level of uvicorn and voxprint: {', '.join(LOG_LEVELS)}.",
            case_sensitive=False,
        ),
    ] = "info",
) -> None:
    """Serve the REST API (docs at /docs). Settings also come from VOXPRINT_* variables.

    The database (created if it does not exist) is named in the log at start-up; API
    keys must come from the same one (`voxprint keys create --name NAME --db PATH`).
    """
    import logging.config  # 8 ms (it imports socketserver) that other commands need not pay

    import uvicorn

    from voxprint.errors import InvalidParameterError
    from voxprint.settings import hand_to_workers

    level = log_level.lower()
    if level not in LOG_LEVELS:
        raise InvalidParameterError(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
    chosen = settings(
        host=host,
        port=port,
        workers=workers,
        db=db,
        model=model,
        require_api_key=False if no_auth else None,
    )
    config = log_config(level, bool(ctx.meta.get(VERBOSE_KEY)))
    logging.config.dictConfig(config)
    check_encoder(chosen.model)
    require_database(db, create=True)
    path = database_file(chosen.db)
    if path is not None and not path.exists():
        logger.warning(
            "no database at %s: a new, empty one is created (create API keys with "
            "`voxprint keys create --name NAME --db %s`)",
            database_path(chosen.db),
            database_path(chosen.db),
        )
    if chosen.db is not None:
        # An unreachable or unusable store is one line and exit code 7 here, not a
        # traceback from every worker's startup.
        from voxprint.store import open_store

        open_store(chosen.db).close()
    check_can_listen(chosen.host, chosen.port)
    # uvicorn's workers start from FACTORY and read their settings from the environment.
    hand_to_workers(chosen)
    uvicorn.run(
        FACTORY,
        factory=True,
        host=chosen.host,
        port=chosen.port,
        workers=chosen.workers,
        log_level=level,
        log_config=config,
        access_log=False,
        timeout_graceful_shutdown=30,
    )


def check_encoder(name: str) -> None:
    """Refuse, in one line, an encoder name that is neither built in nor a checkpoint file:
    every worker would otherwise fail its startup with a traceback."""
    from voxprint.encoders.registry import ENCODERS, checkpoint_path

    if name not in ENCODERS:
        checkpoint_path(name)


def check_can_listen(host: str, port: int) -> None:
    """Refuse, in one line, an address this process cannot listen on (a port in use, a
    host that is not this machine's): uvicorn would fail only after the model loaded,
    with its own exit code."""
    import socket

    from voxprint.errors import InvalidParameterError

    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidParameterError(f"cannot listen on {host}:{port}: {reason}") from None
    first: OSError | None = None
    for family, kind, proto, _, address in addresses:  # any one that binds will do
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn
                probe.bind(address)
            return
        except OSError as exc:
            first = first or exc
    reason = (first.strerror or str(first)) if first is not None else "no address"
    raise InvalidParameterError(f"cannot listen on {host}:{port}: {reason}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
