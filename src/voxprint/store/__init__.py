"""Persistent storage of speaker profiles, enrolment clips and the activity log.

Open a store with :func:`open_store`, from a plain file path or a URL whose scheme
names the backend (see :data:`STORES`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from voxprint.errors import StoreError
from voxprint.store.base import ProfileStore, Rebuild, Store
from voxprint.store.checks import redact
from voxprint.store.records import (
    DEFAULT_NAMESPACE,
    ActivityEntry,
    Clip,
    EnrollmentState,
    EnrollmentStatus,
    Gallery,
    Profile,
    ProfileChanges,
)
from voxprint.store.sqlite import SQLiteStore

__all__ = [
    "DEFAULT_NAMESPACE",
    "STORES",
    "ActivityEntry",
    "Clip",
    "EnrollmentState",
    "EnrollmentStatus",
    "Gallery",
    "Profile",
    "ProfileChanges",
    "ProfileStore",
    "Rebuild",
    "SQLiteStore",
    "Store",
    "open_store",
]


def _sqlite_path(url: str) -> Path:
    """The file path of a ``sqlite:///...`` URL.

    Follows the SQLAlchemy convention: everything after ``sqlite:///`` is the path,
    so ``sqlite:///voices.db`` is relative and ``sqlite:////var/lib/voices.db`` absolute.
    """
    parts = urlsplit(url)
    if parts.netloc:
        raise StoreError(f"a sqlite URL takes no host ({parts.netloc!r}); use sqlite:///PATH")
    if parts.query or parts.fragment:
        raise StoreError(f"a sqlite URL takes no query or fragment: {url!r}")
    prefix = "sqlite:///"
    if not url.lower().startswith(prefix) or len(url) == len(prefix):
        raise StoreError(f"expected sqlite:///PATH, got {url!r}")
    return Path(unquote(url[len(prefix) :]))


def _open_sqlite(url: str) -> Store:
    return SQLiteStore(_sqlite_path(url))


def _open_postgres(url: str) -> Store:
    """A PostgreSQL + pgvector store (needs the optional ``postgres`` extra)."""
    try:
        from voxprint.store.postgres import PostgresStore
    except ImportError as exc:
        raise StoreError(
            f"a postgresql:// store needs the optional 'postgres' extra ({exc.name} is "
            "missing): pip install 'voxprint[postgres]'"
        ) from exc
    return PostgresStore(url)


#: Store openers keyed by URL scheme; each takes the whole URL.
STORES: dict[str, Callable[[str], Store]] = {
    "sqlite": _open_sqlite,
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
}


def open_store(url_or_path: str) -> Store:
    """Open the store at a plain file path (SQLite) or a URL such as ``sqlite:///voices.db``
    or ``postgresql://user:password@host/voxprint``.

    Raises :class:`StoreError` for an unknown scheme, naming the supported ones.
    """
    if not url_or_path or not url_or_path.strip():
        raise StoreError("no store path or URL given")
    scheme = urlsplit(url_or_path).scheme.lower()
    match scheme:
        case _ if len(scheme) <= 1:
            # A plain path (a one-letter "scheme" is a Windows drive, like C:\voices.db).
            return SQLiteStore(url_or_path)
        case _ if scheme in STORES:
            return STORES[scheme](url_or_path)
        case _:
            supported = ", ".join(f"{name}://" for name in sorted(STORES))
            raise StoreError(
                f"unknown store scheme {scheme!r} in {redact(url_or_path)!r}; "
                f"supported: a plain file path, {supported}"
            )
