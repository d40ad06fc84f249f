"""``voxprint keys``: create, list and revoke the service's API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from voxprint.cli.common import (
    DbOption,
    JsonOption,
    database_path,
    database_target,
    emit,
    handles_errors,
    require_database,
)
from voxprint.store.records import DEFAULT_NAMESPACE, ApiKey

keys_app = typer.Typer(
    help="Create, list and revoke API keys for the service.", no_args_is_help=True
)


def _key_data(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "namespace": key.namespace,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "active": key.is_active,
    }


def _key_line(key: ApiKey) -> str:
    state = "active" if key.is_active else "revoked"
    created = key.created_at.isoformat(timespec="seconds")
    return f"{key.id}  {key.name:<20} {key.namespace:<16} {state:<8} {created}"


@keys_app.command("create")
@handles_errors
def create(
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    namespace: Annotated[
        str, typer.Option("--namespace", help="Tenant whose profiles the key sees.")
    ] = DEFAULT_NAMESPACE,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a key. It is printed once and never stored: keep it safe.

    The key works only for a server on the same database, the one printed after the key:
    `voxprint serve --db PATH` (without --db, both use the per-user database).
    """
    from voxprint.bootstrap import build_key_service

    require_database(db, create=True)
    database = database_path(db)
    issued = build_key_service(database_target(db)).create(name, namespace)
    emit(
        json_output,
        {**_key_data(issued.key), "key": issued.token, "database": str(database)},
        lambda: (
            f"{issued.token}\n"
            f"(key {issued.key.id} for namespace {issued.key.namespace!r}, stored in "
            f"{database}: serve that database, e.g. `voxprint serve --db {database}`; "
            "the key is shown only this once)"
        ),
    )


@keys_app.command("list")
@handles_errors
def list_keys(db: DbOption = None, json_output: JsonOption = False) -> None:
    """List keys (never their secrets)."""
    from voxprint.bootstrap import build_key_service

    require_database(db)
    keys = build_key_service(database_target(db)).list()
    emit(
        json_output,
        [_key_data(k) for k in keys],
        lambda: "\n".join(_key_line(k) for k in keys) if keys else "no API keys",
    )


@keys_app.command("revoke")
@handles_errors
def revoke(
    key: Annotated[
        str, typer.Argument(help="Key id, its name if unique, or the full key (vxp_...).")
    ],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Revoke a key: it stops working at once."""
    from voxprint.bootstrap import build_key_service

    require_database(db)
    revoked = build_key_service(database_target(db)).revoke(key)
    emit(json_output, _key_data(revoked), lambda: f"revoked {revoked.id} ({revoked.name})")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
