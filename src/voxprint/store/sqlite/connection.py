"""One SQLite database file: per-thread connections, transactions, lifetime.

Durability and concurrency
--------------------------
The database runs in WAL mode with ``synchronous=NORMAL``, ``foreign_keys=ON`` and
``secure_delete=ON`` (deleted voiceprints and embeddings are overwritten with zeros,
not merely unlinked). Every write is one transaction opened with ``BEGIN IMMEDIATE``,
so writers (threads of one process, or several processes each with their own store on
the same file) take the write lock up front and serialise; a writer that finds the lock
taken waits up to ``timeout_seconds``. A delete then folds the WAL into the file
(``wal_checkpoint(TRUNCATE)``) so no copy of what it deleted stays there; a checkpoint
that fails or is blocked by an open read is logged, never turns the committed delete into
an error, and is tried again after each later write.

Threading
---------
One store may be shared by many threads. Each thread gets its own connection (kept in a
:class:`threading.local`), so readers run concurrently under WAL and writers serialise in
SQLite itself. A thread's connection is closed when the thread ends, and ``close``
closes every connection still open; call it once no call is in flight.

Read-only
---------
A database file this process can read but not write (the file, or its folder) is opened
read-only: reads work, a write raises :class:`StoreError` before touching it, and
``writable()`` is False.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

from voxprint.errors import StoreError
from voxprint.store.sqlite.schema import migrate

logger = logging.getLogger(__name__)


class _ThreadSlot:
    """Held only by a thread's ``threading.local``; its death closes that thread's connection."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


def _release(
    registry: set[sqlite3.Connection], lock: threading.Lock, conn: sqlite3.Connection
) -> None:
    with lock:
        if conn not in registry:
            return  # already closed by the store's close()
        registry.discard(conn)
    conn.close()


class SQLiteDatabase:
    """One SQLite file, migrated on open (see the module docstring); the tables of the
    store are mixins on top of it (:mod:`voxprint.store.sqlite.store`).

    Raises :class:`StoreError` when the file is not a SQLite database or cannot be
    opened, and :class:`SchemaVersionError` when it was written by a newer voxprint.
    """

    def __init__(self, path: str | Path, *, timeout_seconds: float = 30.0) -> None:
        self._path = Path(path)
        self._timeout = float(timeout_seconds)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: set[sqlite3.Connection] = set()
        self._closed = False
        #: A checkpoint after a delete failed or was blocked: tried again after each write.
        self._checkpoint_owed = False
        if self._path.is_dir():
            raise StoreError(f"cannot open store: {self._path} is a folder, not a database file")
        #: A database this process may read but not write (the file, or the folder its
        #: write-ahead log lives in) is opened read-only: listing and deciding work,
        #: writes fail with a StoreError, and ``writable()`` says False.
        self.read_only = self._path.is_file() and not (
            os.access(self._path, os.W_OK) and os.access(self._path.parent, os.W_OK | os.X_OK)
        )
        if self.read_only:
            logger.info("%s cannot be written by this user: opened read-only", self._path)
        self._read_only_url: str | None = None
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of {self._path}: {exc}") from exc
        conn = self._connection()
        try:
            migrate(conn, self._path)
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot migrate the store at {self._path}: {exc}") from exc
        except BaseException:
            self.close()
            raise

    @property
    def path(self) -> Path:
        return self._path

    # -- connections and transactions --

    def _connect(self, target: str | Path, *, uri: bool = False) -> sqlite3.Connection:
        return sqlite3.connect(
            target,
            timeout=self._timeout,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # only close() touches it from another thread
            uri=uri,
        )

    def _connect_read_only(self) -> sqlite3.Connection:
        """A read-only connection. A database in WAL mode needs its shared-memory file,
        which a folder this user cannot write cannot hold: then the file is read as
        immutable (a writer with more rights could change it meanwhile; reads see the
        file as it was)."""
        if self._read_only_url is not None:  # decided by the first connection
            return self._connect(self._read_only_url, uri=True)
        url = f"{self._path.absolute().as_uri()}?mode=ro"
        conn = self._connect(url, uri=True)
        try:
            conn.execute("PRAGMA user_version").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            logger.info(
                "%s: no shared-memory file can be made; reading it as immutable", self._path
            )
            url += "&immutable=1"
            conn = self._connect(url, uri=True)
        self._read_only_url = url
        return conn

    def _open_connection(self) -> sqlite3.Connection:
        try:
            conn = self._connect_read_only() if self.read_only else self._connect(self._path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store at {self._path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            if not self.read_only:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    logger.warning("%s: journal_mode is %s, not WAL", self._path, mode)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
                raise StoreError(
                    f"{self._path} is not a SQLite database (or it is encrypted or corrupt)"
                ) from exc
            raise StoreError(f"cannot open the store at {self._path}: {exc}") from exc
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"the store at {self._path} is closed")
        slot: _ThreadSlot | None = getattr(self._local, "slot", None)
        if slot is not None:
            return slot.conn
        conn = self._open_connection()
        with self._lock:
            if self._closed:
                conn.close()
                raise StoreError(f"the store at {self._path} is closed")
            self._connections.add(conn)
        slot = _ThreadSlot(conn)
        weakref.finalize(slot, _release, self._connections, self._lock, conn)
        self._local.slot = slot
        return conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction: ``BEGIN IMMEDIATE`` for writes, a consistent snapshot for reads.

        Rolls back on any exception; SQLite errors come out as :class:`StoreError`.
        """
        if write and self.read_only:
            raise StoreError("the store is read-only for this user: nothing was written")
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    logger.exception("rollback failed on %s", self._path)
            if isinstance(exc, sqlite3.Error):
                # The path stays in the server's log; clients get the reason only.
                logger.warning("store operation failed on %s: %s", self._path, exc)
                raise StoreError(f"the store could not complete the operation: {exc}") from exc
            raise
        if write and self._checkpoint_owed:
            self._checkpoint()

    def writable(self) -> bool:
        """Whether the store can take writes now (a read-only file or folder cannot)."""
        if self.read_only:
            return False
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except (sqlite3.Error, StoreError) as exc:
            logger.warning("the store at %s cannot be written: %s", self._path, exc)
            return False

    def _checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it, so no deleted copy lingers there.

        Called after a delete has committed, so it never undoes or hides that write: a
        checkpoint that fails, or that another connection's open read blocks, is logged
        and owed, and tried again after every later write until one succeeds (closing
        the last connection folds the WAL too)."""
        self._checkpoint_owed = not self._fold_wal()

    def _fold_wal(self) -> bool:
        """One ``wal_checkpoint(TRUNCATE)``; whether it folded the whole WAL."""
        try:
            busy, _, _ = self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            logger.warning(
                "WAL checkpoint failed on %s: %s; deleted data stays in the WAL until the "
                "next checkpoint (tried after the next write)",
                self._path,
                exc,
            )
            return False
        if busy:
            logger.warning(
                "%s: WAL checkpoint blocked by another connection; deleted data stays in "
                "the WAL until the next checkpoint (tried after the next write)",
                self._path,
            )
        return not busy

    def close(self) -> None:
        """Close every connection of this store (all threads). Idempotent."""
        with self._lock:
            self._closed = True
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                logger.exception("closing a connection to %s failed", self._path)

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
        return f"{type(self).__name__}({str(self._path)!r})"
