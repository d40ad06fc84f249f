"""One PostgreSQL database: a connection pool, transactions, lifetime.

Open it with a libpq URL, ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE`` (or
``postgresql:///DATABASE?host=/run/postgresql`` for a local socket). Query keys that
start with ``pool_``, and ``search_in``, configure the store (:class:`PostgresOptions`)
and are not passed on to libpq; every other key is (``sslmode``, ``connect_timeout``...).

Connections come from a :class:`psycopg_pool.ConnectionPool`, checked before each use,
so that a database restart costs one failed request, not a broken worker. Every store
call is one transaction (``READ COMMITTED``); writes that read before they write lock
the rows they depend on (``SELECT ... FOR UPDATE``) or the namespace (advisory locks).

Errors: an unreachable database, a full pool or a failed statement comes out as
:class:`~voxprint.errors.StoreError` with the reason; the URL in messages and logs has
its password replaced by ``***``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from voxprint.errors import StoreError
from voxprint.store.checks import redact

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostgresOptions:
    """How the store uses PostgreSQL; set from ``pool_*`` keys of the URL's query."""

    #: Connections kept open, and the most opened at once, per process.
    pool_min_size: int = 1
    pool_max_size: int = 10
    #: Seconds a call waits for a free connection (or for the database) before failing.
    pool_timeout: float = 10.0
    #: ``hnsw.ef_search`` of nearest-neighbour queries: breadth of the graph search.
    pool_ef_search: int = 400
    #: Where a large gallery (from ``voxprint.gallery_index.APPROXIMATE_FROM`` voiceprints)
    #: is searched: ``database`` (pgvector's HNSW index, shared by every worker) or
    #: ``worker`` (each worker loads the namespace's gallery once into its own in-process
    #: index and catches up with the store's change log: faster and more exact per query,
    #: at about 0.75 GB and a build per worker per million voiceprints; see
    #: docs/benchmarks.md, "Identify search on PostgreSQL + pgvector").
    search_in: str = "database"

    def __post_init__(self) -> None:
        if not 1 <= self.pool_min_size <= self.pool_max_size:
            raise StoreError("pool_min_size must be >= 1 and at most pool_max_size")
        if self.pool_timeout <= 0 or not 1 <= self.pool_ef_search <= 1000:
            raise StoreError("pool_timeout must be > 0 and pool_ef_search within 1..1000")
        if self.search_in not in SEARCH_IN:
            raise StoreError(
                f"store option search_in must be one of {', '.join(SEARCH_IN)}, "
                f"got {self.search_in!r}"
            )


#: Values of the ``search_in`` store option.
SEARCH_IN = ("database", "worker")


def split_url(url: str) -> tuple[str, PostgresOptions]:
    """The libpq URL (without voxprint's ``pool_*`` and ``search_in`` keys) and the
    options they set."""
    parts = urlsplit(url)
    known = {f.name: f.type for f in fields(PostgresOptions)}
    kept: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "search_in":
            values[key] = value
        elif key.startswith("pool_"):
            if key not in known:
                raise StoreError(f"unknown store option {key!r}; known: {', '.join(sorted(known))}")
            try:
                values[key] = float(value) if key == "pool_timeout" else int(value)
            except ValueError:
                raise StoreError(f"store option {key} must be a number, got {value!r}") from None
        else:
            kept.append((key, value))
    scheme = "postgresql"  # libpq knows postgresql:// and postgres://
    plain = urlunsplit((scheme, parts.netloc, parts.path, urlencode(kept, safe="/"), ""))
    return plain, PostgresOptions(**values)


class PostgresDatabase:
    """A pooled PostgreSQL database, migrated on open; the store's tables are mixins on
    top of it (:mod:`voxprint.store.postgres.store`)."""

    def __init__(self, url: str, *, options: PostgresOptions | None = None) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        from voxprint.store.postgres.schema import migrate

        libpq_url, from_url = split_url(url)
        self.options = options or from_url
        #: Large galleries are searched by pgvector's index unless ``search_in=worker``.
        self.search_in_database = self.options.search_in == "database"
        self._shown = redact(url)
        self._closed = False
        #: Voiceprint dimensions whose HNSW index this process has made sure of.
        self._indexed: set[int] = set()
        try:
            with psycopg.connect(
                libpq_url, connect_timeout=max(1, int(self.options.pool_timeout))
            ) as conn:
                migrate(conn, self._shown)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open the PostgreSQL store at {self._shown}: {_reason(exc)}"
            ) from exc
        self._pool = ConnectionPool(
            libpq_url,
            min_size=self.options.pool_min_size,
            max_size=self.options.pool_max_size,
            timeout=self.options.pool_timeout,
            configure=_configure,
            check=ConnectionPool.check_connection,
            open=False,
            name="voxprint",
        )
        self._pool.open(wait=False)

    @property
    def url(self) -> str:
        """The URL this store was opened with, password redacted."""
        return self._shown

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Any]:
        """One transaction on a pooled connection; database errors come out as
        :class:`StoreError` (the reason only: no URL, no password). ``write`` is for
        symmetry with SQLite: PostgreSQL needs no up-front write lock."""
        import psycopg
        from psycopg_pool import PoolTimeout

        if self._closed:
            raise StoreError("the store is closed")
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn
        except PoolTimeout as exc:
            logger.warning("PostgreSQL store %s unreachable: %s", self._shown, exc)
            raise StoreError(
                "the PostgreSQL store cannot be reached (no connection within "
                f"{self.options.pool_timeout:g} s)"
            ) from exc
        except psycopg.Error as exc:
            logger.warning("store operation failed on %s: %s", self._shown, _reason(exc))
            raise StoreError(f"the store could not complete the operation: {_reason(exc)}") from exc

    def writable(self) -> bool:
        """Whether the database takes writes now (not a read-only standby, reachable)."""
        try:
            with self._transaction(write=True) as conn:
                row = conn.execute(
                    "SELECT pg_is_in_recovery() OR "
                    "current_setting('transaction_read_only') = 'on' AS read_only"
                ).fetchone()
            return not row["read_only"]
        except StoreError as exc:
            logger.warning("the store at %s cannot be written: %s", self._shown, exc)
            return False

    def close(self) -> None:
        """Close the pool (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._shown!r})"


def _configure(conn: Any) -> None:
    """Each new pooled connection: vector types known, rows as dicts."""
    from pgvector.psycopg import register_vector
    from psycopg.rows import dict_row

    register_vector(conn)
    conn.row_factory = dict_row
    conn.commit()


def _reason(exc: BaseException) -> str:
    """The first line of a database error, without connection parameters."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
