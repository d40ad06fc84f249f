"""Profiles and their clips in the PostgreSQL store, the galleries scoring reads, and
nearest-neighbour search on pgvector's HNSW index."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from voxprint.errors import (
    DuplicateClipError,
    DuplicateExternalIdError,
    InvalidParameterError,
    InvalidProfileError,
    ProfileNotFoundError,
    StoreError,
)
from voxprint.store.base import GALLERY_CHANGES_KEPT, Rebuild
from voxprint.store.checks import (
    band_text,
    check_external_id,
    check_name,
    check_phrase_of,
    check_same_encoder,
    check_two_profiles,
    merged_status_before,
    metadata_text,
    now,
    optional_band,
    status_before,
    time_text,
    touched_since,
    vector_blob,
)
from voxprint.store.postgres.activity import insert_activity
from voxprint.store.postgres.codecs import (
    CLIP_COLUMNS,
    PROFILE_COLUMNS,
    clip_from_row,
    profile_from_row,
    vector_array,
)
from voxprint.store.postgres.connection import PostgresDatabase
from voxprint.store.postgres.phrases import write_phrase
from voxprint.store.postgres.schema import ensure_vector_index
from voxprint.store.records import (
    Activity,
    Band,
    Clip,
    EnrollmentState,
    EnrollmentStatus,
    Gallery,
    GalleryChanges,
    PhraseProfile,
    Profile,
    ProfileChanges,
    ProfileKind,
    ProfileMerge,
    RemovedProfile,
)

logger = logging.getLogger(__name__)

_ENROLLED = EnrollmentStatus.ENROLLED.value


def _aware(value: datetime, what: str) -> datetime:
    time_text(value, what)  # refuses a naive datetime
    return value


def _vector(array: np.ndarray, what: str) -> Any:
    """A checked voiceprint as a pgvector value (sent in binary: bit-exact)."""
    from pgvector import Vector

    return Vector(np.frombuffer(vector_blob(array, what), dtype="<f4").astype(np.float32))


def bump_gallery_version(conn: Any, namespace: str, profile_id: str) -> None:
    """Record (inside the caller's transaction) that ``profile_id`` changed ``namespace``'s
    galleries: a new gallery version, and its entry in the change log (which keeps the
    last :data:`~voxprint.store.base.GALLERY_CHANGES_KEPT`)."""
    version = int(
        conn.execute(
            "INSERT INTO gallery_versions (namespace, version) VALUES (%s, 1) "
            "ON CONFLICT (namespace) DO UPDATE SET version = gallery_versions.version + 1 "
            "RETURNING version",
            (namespace,),
        ).fetchone()["version"]
    )
    conn.execute(
        "INSERT INTO gallery_changes (namespace, version, profile_id) VALUES (%s, %s, %s)",
        (namespace, version, profile_id),
    )
    conn.execute(
        "DELETE FROM gallery_changes WHERE namespace = %s AND version <= %s",
        (namespace, version - GALLERY_CHANGES_KEPT),
    )


def _empty_gallery() -> Gallery:
    return Gallery(
        profile_ids=(),
        names=(),
        voiceprints=np.zeros((0, 0), np.float32),
        net_speech_seconds=np.zeros(0),
        bands=(),
        statistics_bands=(),
    )


#: The columns of a gallery row.
_GALLERY_COLUMNS = "id, name, voiceprint, net_speech_seconds, band, statistics_band"


def _gallery_of(rows: Sequence[dict[str, Any]], what: str) -> Gallery:
    if not rows:
        return _empty_gallery()
    vectors = [vector_array(row["voiceprint"]) for row in rows]
    if len({vector.shape[0] for vector in vectors}) != 1:
        raise StoreError(f"voiceprints of {what} have different dimensions")
    return Gallery(
        profile_ids=tuple(row["id"] for row in rows),
        names=tuple(row["name"] for row in rows),
        voiceprints=np.stack(vectors).astype(np.float32, copy=False),
        net_speech_seconds=np.array([float(row["net_speech_seconds"]) for row in rows]),
        bands=tuple(optional_band(row["band"]) for row in rows),
        statistics_bands=tuple(optional_band(row["statistics_band"]) for row in rows),
    )


class PostgresProfiles(PostgresDatabase):
    """:class:`~voxprint.store.base.ProfileStore` on PostgreSQL + pgvector."""

    def gallery_version(self, namespace: str) -> int:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT version FROM gallery_versions WHERE namespace = %s", (namespace,)
            ).fetchone()
        return 0 if row is None else int(row["version"])

    # -- lookups (inside transactions) --

    @staticmethod
    def _fetch_profile(
        conn: Any, namespace: str, profile_id: str, *, lock: bool = False
    ) -> Profile:
        row = conn.execute(
            f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE namespace = %s AND id = %s"
            + (" FOR UPDATE" if lock else ""),
            (namespace, profile_id),
            binary=True,
        ).fetchone()
        if row is None:
            raise ProfileNotFoundError(
                f"no profile with id {profile_id!r} in namespace {namespace!r}"
            )
        return profile_from_row(row)

    @staticmethod
    def _lock_profile(conn: Any, namespace: str, profile_id: str) -> EnrollmentStatus:
        """Lock the profile's row for the transaction (writers of one profile queue here);
        returns its enrolment status as a rebuild starts from it (:data:`Rebuild`)."""
        row = conn.execute(
            "SELECT status, clip_count FROM profiles WHERE namespace = %s AND id = %s FOR UPDATE",
            (namespace, profile_id),
        ).fetchone()
        if row is None:
            raise ProfileNotFoundError(
                f"no profile with id {profile_id!r} in namespace {namespace!r}"
            )
        return status_before(row["status"], row["clip_count"])

    @staticmethod
    def _check_external_id_free(
        conn: Any, namespace: str, external_id: str, own_id: str | None
    ) -> None:
        row = conn.execute(
            "SELECT id FROM profiles WHERE namespace = %s AND external_id = %s",
            (namespace, external_id),
        ).fetchone()
        if row is not None and row["id"] != own_id:
            raise DuplicateExternalIdError(
                f"external id {external_id!r} is already used by profile {row['id']!r} "
                f"in namespace {namespace!r}"
            )

    @staticmethod
    def _clips_of(conn: Any, profile_id: str) -> list[Clip]:
        rows = conn.execute(
            f"SELECT {CLIP_COLUMNS} FROM clips WHERE profile_id = %s ORDER BY created_at, seq",
            (profile_id,),
            binary=True,
        ).fetchall()
        return [clip_from_row(row) for row in rows]

    @staticmethod
    def _write_state(
        conn: Any, profile_id: str, state: EnrollmentState, clip_count: int
    ) -> int | None:
        """Write the rebuilt state; returns the voiceprint's dimension (None without one)."""
        voiceprint = None if state.voiceprint is None else _vector(state.voiceprint, "voiceprint")
        conn.execute(
            "UPDATE profiles SET voiceprint = %b, status = %s, audio_seconds = %s, "
            "net_speech_seconds = %s, clip_count = %s, updated_at = %s, band = %s, "
            "statistics_band = %s WHERE id = %s",
            (
                voiceprint,
                EnrollmentStatus(state.status).value,
                float(state.audio_seconds),
                float(state.net_speech_seconds),
                clip_count,
                now(),
                band_text(state.band),
                band_text(state.statistics_band),
                profile_id,
            ),
        )
        return None if voiceprint is None else int(voiceprint.dimensions())

    def _index_dimension(self, dimension: int | None) -> None:
        """Make sure enrolled voiceprints of ``dimension`` have their HNSW index (once per
        dimension and process; ``CREATE INDEX IF NOT EXISTS`` otherwise)."""
        if dimension is None or dimension in self._indexed:
            return
        try:
            with self._transaction(write=True) as conn:
                ensure_vector_index(conn, dimension)
            self._indexed.add(dimension)
        except StoreError as error:  # e.g. two workers creating it at once: next time
            logger.warning("HNSW index for dimension %d not created: %s", dimension, error)

    # -- profiles --

    def create_profile(
        self,
        profile: Profile,
        *,
        activity: Activity | None = None,
        phrase: PhraseProfile | None = None,
    ) -> Profile:
        import psycopg

        check_phrase_of(profile, phrase)
        check_name(profile.name)
        check_external_id(profile.external_id)
        if not isinstance(profile.namespace, str) or not profile.namespace.strip():
            raise InvalidProfileError("namespace must be a non-empty string")
        metadata = metadata_text(profile.metadata)
        voiceprint = (
            None if profile.voiceprint is None else _vector(profile.voiceprint, "voiceprint")
        )
        values = (
            profile.id,
            profile.namespace,
            profile.name,
            profile.external_id,
            metadata,
            profile.encoder_name,
            profile.encoder_version,
            EnrollmentStatus(profile.status).value,
            int(profile.clip_count),
            float(profile.audio_seconds),
            float(profile.net_speech_seconds),
            voiceprint,
            _aware(profile.created_at, "created_at"),
            _aware(profile.updated_at, "updated_at"),
            band_text(profile.band),
            band_text(profile.statistics_band),
        )
        try:
            with self._transaction(write=True) as conn:
                if conn.execute("SELECT 1 FROM profiles WHERE id = %s", (profile.id,)).fetchone():
                    raise StoreError(f"a profile with id {profile.id!r} already exists")
                if profile.external_id is not None:
                    self._check_external_id_free(conn, profile.namespace, profile.external_id, None)
                conn.execute(
                    f"INSERT INTO profiles ({PROFILE_COLUMNS}) VALUES "
                    "(%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %b, %s, %s, %s, %s)",
                    values,
                )
                if phrase is not None:
                    write_phrase(conn, phrase)
                created = self._fetch_profile(conn, profile.namespace, profile.id)
                insert_activity(conn, profile.namespace, activity, created)
                if created.status is EnrollmentStatus.ENROLLED:
                    bump_gallery_version(conn, profile.namespace, profile.id)
        except StoreError as error:
            if isinstance(error.__cause__, psycopg.errors.UniqueViolation):
                raise self._conflict(error.__cause__, profile) from None
            raise
        self._index_dimension(None if voiceprint is None else int(voiceprint.dimensions()))
        return created

    @staticmethod
    def _conflict(cause: Exception, profile: Profile) -> Exception:
        """A unique violation raced past the checks: which one, in the store's words."""
        constraint = getattr(getattr(cause, "diag", None), "constraint_name", "") or ""
        if "external_id" in constraint:
            return DuplicateExternalIdError(
                f"external id {profile.external_id!r} is already used in namespace "
                f"{profile.namespace!r}"
            )
        return StoreError(f"a profile with id {profile.id!r} already exists")

    def get_profile(self, namespace: str, profile_id: str) -> Profile:
        with self._transaction(write=False) as conn:
            return self._fetch_profile(conn, namespace, profile_id)

    def find_by_external_id(self, namespace: str, external_id: str) -> Profile:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE namespace = %s AND external_id = %s",
                (namespace, external_id),
                binary=True,
            ).fetchone()
        if row is None:
            raise ProfileNotFoundError(
                f"no profile with external id {external_id!r} in namespace {namespace!r}"
            )
        return profile_from_row(row)

    def find_by_name(self, namespace: str, name: str) -> list[Profile]:
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE namespace = %s AND name = %s "
                "ORDER BY created_at, id",
                (namespace, name),
                binary=True,
            ).fetchall()
        return [profile_from_row(row) for row in rows]

    def list_profiles(self, namespace: str, *, limit: int = 100, offset: int = 0) -> list[Profile]:
        if limit < 0 or offset < 0:
            raise InvalidParameterError(f"limit and offset must be >= 0, got {limit} and {offset}")
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE namespace = %s "
                "ORDER BY created_at, id LIMIT %s OFFSET %s",
                (namespace, limit, offset),
                binary=True,
            ).fetchall()
        return [profile_from_row(row) for row in rows]

    def count_profiles(self, namespace: str) -> int:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT COUNT(*) AS n FROM profiles WHERE namespace = %s", (namespace,)
            ).fetchone()
        return int(row["n"])

    def update_profile(self, namespace: str, profile_id: str, changes: ProfileChanges) -> Profile:
        import psycopg

        if changes.clear_external_id and changes.external_id is not None:
            raise InvalidProfileError("set either external_id or clear_external_id, not both")
        assignments: list[str] = []
        params: list[Any] = []
        if changes.name is not None:
            check_name(changes.name)
            assignments.append("name = %s")
            params.append(changes.name)
        if changes.clear_external_id:
            assignments.append("external_id = NULL")
        elif changes.external_id is not None:
            check_external_id(changes.external_id)
            assignments.append("external_id = %s")
            params.append(changes.external_id)
        if changes.metadata is not None:
            assignments.append("metadata = %s::jsonb")
            params.append(metadata_text(changes.metadata))
        assignments.append("updated_at = %s")
        params.append(now())
        try:
            with self._transaction(write=True) as conn:
                self._lock_profile(conn, namespace, profile_id)
                if changes.external_id is not None and not changes.clear_external_id:
                    self._check_external_id_free(conn, namespace, changes.external_id, profile_id)
                conn.execute(
                    f"UPDATE profiles SET {', '.join(assignments)} "
                    "WHERE namespace = %s AND id = %s",
                    (*params, namespace, profile_id),
                )
                if changes.name is not None:
                    bump_gallery_version(conn, namespace, profile_id)
                return self._fetch_profile(conn, namespace, profile_id)
        except StoreError as error:
            if isinstance(error.__cause__, psycopg.errors.UniqueViolation):
                raise DuplicateExternalIdError(
                    f"external id {changes.external_id!r} is already used in namespace "
                    f"{namespace!r}"
                ) from None
            raise

    def delete_profile(
        self, namespace: str, profile_id: str, *, activity: Activity | None = None
    ) -> None:
        """Delete the profile and (by cascade) its clips, and log ``activity``, in one
        transaction. No query sees them afterwards; the dead row versions are reclaimed
        by (auto)vacuum (see docs: disk-level erasure needs encrypted storage)."""
        with self._transaction(write=True) as conn:
            self._lock_profile(conn, namespace, profile_id)
            conn.execute("DELETE FROM clips WHERE profile_id = %s", (profile_id,))
            conn.execute(
                "DELETE FROM profiles WHERE namespace = %s AND id = %s", (namespace, profile_id)
            )
            insert_activity(conn, namespace, activity, None)
            bump_gallery_version(conn, namespace, profile_id)

    # -- clips --

    def add_clip(
        self, namespace: str, clip: Clip, rebuild: Rebuild, *, activity: Activity | None = None
    ) -> Profile:
        """Insert the clip, rebuild the profile from all its clips and log ``activity``, in
        one transaction that holds the profile's row lock (concurrent clips of one profile
        queue; none is lost). A clip whose ``content_hash`` the profile already has raises
        :class:`DuplicateClipError` and writes nothing."""
        embedding = vector_blob(clip.embedding, "clip embedding")
        values = (
            clip.id,
            clip.profile_id,
            embedding,
            float(clip.audio_seconds),
            float(clip.net_speech_seconds),
            clip.label,
            _aware(clip.created_at, "clip created_at"),
            None if clip.bandwidth_hz is None else float(clip.bandwidth_hz),
            clip.content_hash,
        )
        with self._transaction(write=True) as conn:
            before = self._lock_profile(conn, namespace, clip.profile_id)
            if conn.execute("SELECT 1 FROM clips WHERE id = %s", (clip.id,)).fetchone():
                raise StoreError(f"a clip with id {clip.id!r} already exists")
            if clip.content_hash is not None:
                same = conn.execute(
                    "SELECT id FROM clips WHERE profile_id = %s AND content_hash = %s",
                    (clip.profile_id, clip.content_hash),
                ).fetchone()
                if same is not None:
                    raise DuplicateClipError(
                        f"profile {clip.profile_id} already has this audio (clip {same['id']})",
                        clip_id=same["id"],
                    )
            conn.execute(
                f"INSERT INTO clips ({CLIP_COLUMNS}) VALUES (%s, %s, %b, %s, %s, %s, %s, %s, %s)",
                values,
            )
            clips = self._clips_of(conn, clip.profile_id)
            dimension = self._write_state(conn, clip.profile_id, rebuild(clips, before), len(clips))
            updated = self._fetch_profile(conn, namespace, clip.profile_id)
            insert_activity(conn, namespace, activity, updated)
            bump_gallery_version(conn, namespace, clip.profile_id)
        self._index_dimension(dimension)
        return updated

    def reset_profile(
        self,
        namespace: str,
        profile_id: str,
        rebuild: Rebuild,
        *,
        activity: Activity | None = None,
    ) -> Profile:
        return self._rebuild(namespace, profile_id, rebuild, activity, clear=True)

    def rebuild_profile(
        self,
        namespace: str,
        profile_id: str,
        rebuild: Rebuild,
        *,
        activity: Activity | None = None,
    ) -> Profile:
        return self._rebuild(namespace, profile_id, rebuild, activity, clear=False)

    def _rebuild(
        self,
        namespace: str,
        profile_id: str,
        rebuild: Rebuild,
        activity: Activity | None,
        *,
        clear: bool,
    ) -> Profile:
        """Write ``rebuild`` of the profile's clips (``clear``: after deleting them all)
        and log ``activity``, in one transaction holding the profile's row lock."""
        with self._transaction(write=True) as conn:
            before = self._lock_profile(conn, namespace, profile_id)
            if clear:
                conn.execute("DELETE FROM clips WHERE profile_id = %s", (profile_id,))
            clips = [] if clear else self._clips_of(conn, profile_id)
            self._write_state(conn, profile_id, rebuild(clips, before), len(clips))
            profile = self._fetch_profile(conn, namespace, profile_id)
            insert_activity(conn, namespace, activity, profile)
            bump_gallery_version(conn, namespace, profile_id)
        return profile

    def merge_profiles(
        self,
        namespace: str,
        into_id: str,
        from_id: str,
        rebuild: Rebuild,
        *,
        activities: Sequence[Activity] = (),
    ) -> ProfileMerge:
        """As :meth:`voxprint.store.sqlite.SQLiteStore.merge_profiles`, holding both
        profiles' row locks (taken in id order, so two merges of one pair cannot deadlock;
        enrolments of either profile queue behind it)."""
        check_two_profiles(into_id, from_id)
        with self._transaction(write=True) as conn:
            before = {
                pid: self._lock_profile(conn, namespace, pid) for pid in sorted((into_id, from_id))
            }
            removed = self._fetch_profile(conn, namespace, from_id)
            check_same_encoder(self._fetch_profile(conn, namespace, into_id), removed)
            duplicates = conn.execute(
                "DELETE FROM clips WHERE profile_id = %s AND content_hash IS NOT NULL "
                "AND content_hash IN (SELECT content_hash FROM clips WHERE profile_id = %s "
                "AND content_hash IS NOT NULL)",
                (from_id, into_id),
            ).rowcount
            moved = conn.execute(
                "UPDATE clips SET profile_id = %s WHERE profile_id = %s", (into_id, from_id)
            ).rowcount
            clips = self._clips_of(conn, into_id)
            start = merged_status_before(before[into_id], before[from_id])
            dimension = self._write_state(conn, into_id, rebuild(clips, start), len(clips))
            conn.execute("DELETE FROM clips WHERE profile_id = %s", (from_id,))
            conn.execute(
                "DELETE FROM profiles WHERE namespace = %s AND id = %s", (namespace, from_id)
            )
            merged = self._fetch_profile(conn, namespace, into_id)
            for activity in activities:
                insert_activity(conn, namespace, activity, merged)
            bump_gallery_version(conn, namespace, into_id)
            bump_gallery_version(conn, namespace, from_id)
        self._index_dimension(dimension)
        return ProfileMerge(merged, RemovedProfile.of(removed), moved, duplicates)

    def list_clips(self, namespace: str, profile_id: str) -> list[Clip]:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT 1 FROM profiles WHERE namespace = %s AND id = %s", (namespace, profile_id)
            ).fetchone()
            if row is None:
                raise ProfileNotFoundError(
                    f"no profile with id {profile_id!r} in namespace {namespace!r}"
                )
            return self._clips_of(conn, profile_id)

    # -- scoring --

    _GALLERY = (
        "namespace = %s AND status = 'enrolled' AND voiceprint IS NOT NULL "
        "AND encoder_name = %s AND encoder_version = %s"
    )

    def gallery(
        self,
        namespace: str,
        *,
        encoder_name: str,
        encoder_version: str,
        profile_ids: Sequence[str] | None = None,
    ) -> Gallery:
        """As :meth:`voxprint.store.sqlite.SQLiteStore.gallery`."""
        what = f"encoder {encoder_name} {encoder_version} in namespace {namespace!r}"
        base = (namespace, encoder_name, encoder_version)
        with self._transaction(write=False) as conn:
            if profile_ids is None:
                rows = conn.execute(
                    f"SELECT {_GALLERY_COLUMNS} FROM profiles "
                    f"WHERE {self._GALLERY} ORDER BY created_at, id",
                    base,
                    binary=True,
                ).fetchall()
                return _gallery_of(rows, what)
            wanted = list(dict.fromkeys(profile_ids))
            found = {
                row["id"]
                for row in conn.execute(
                    "SELECT id FROM profiles WHERE namespace = %s AND id = ANY(%s)",
                    (namespace, wanted),
                )
            }
            missing = [pid for pid in wanted if pid not in found]
            if missing:
                raise ProfileNotFoundError(
                    f"no profile with id(s) {', '.join(map(repr, missing))} "
                    f"in namespace {namespace!r}"
                )
            by_id = {
                row["id"]: row
                for row in conn.execute(
                    f"SELECT {_GALLERY_COLUMNS} FROM profiles "
                    f"WHERE {self._GALLERY} AND id = ANY(%s)",
                    (*base, wanted),
                    binary=True,
                ).fetchall()
            }
        return _gallery_of([by_id[pid] for pid in wanted if pid in by_id], what)

    def gallery_changes(
        self, namespace: str, since: int, *, encoder_name: str, encoder_version: str
    ) -> GalleryChanges | None:
        """As :meth:`voxprint.store.sqlite.SQLiteStore.gallery_changes`."""
        what = f"encoder {encoder_name} {encoder_version} in namespace {namespace!r}"
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT version FROM gallery_versions WHERE namespace = %s", (namespace,)
            ).fetchone()
            version = 0 if row is None else int(row["version"])
            logged = [
                str(r["profile_id"])
                for r in conn.execute(
                    "SELECT profile_id FROM gallery_changes WHERE namespace = %s "
                    "AND version > %s ORDER BY version",
                    (namespace, since),
                )
            ]
            touched = touched_since(version, since, logged)
            if touched is None:
                return None
            by_id = {
                r["id"]: r
                for r in conn.execute(
                    f"SELECT {_GALLERY_COLUMNS} FROM profiles "
                    f"WHERE {self._GALLERY} AND id = ANY(%s)",
                    (namespace, encoder_name, encoder_version, list(touched)),
                    binary=True,
                ).fetchall()
            }
        rows = [by_id[pid] for pid in touched if pid in by_id]
        return GalleryChanges(version, touched, _gallery_of(rows, what))

    def gallery_size(self, namespace: str, *, encoder_name: str, encoder_version: str) -> int:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT COUNT(*) AS n FROM profiles WHERE {self._GALLERY}",
                (namespace, encoder_name, encoder_version),
            ).fetchone()
        return int(row["n"])

    def nearest(
        self,
        namespace: str,
        query: np.ndarray,
        *,
        encoder_name: str,
        encoder_version: str,
        k: int,
        band: Band | None = None,
    ) -> Gallery:
        """The ``k`` nearest enrolled voiceprints by cosine, on the HNSW index of their
        dimension, filtered to the namespace and encoder with pgvector's iterative scan
        (``hnsw.iterative_scan = relaxed_order``), re-sorted exactly. A partial HNSW index
        of the namespace, when there is one, is used instead: it measured faster and with
        better recall for a namespace that is a minority of the table (docs/benchmarks.md,
        where the statement to make one is given)."""
        from psycopg import sql

        vector = _vector(np.asarray(query, np.float32), "query")
        dimension = int(vector.dimensions())
        if k < 1:
            return _empty_gallery()
        ef_search = min(1000, max(self.options.pool_ef_search, 2 * k))
        # The namespace is written into the statement (quoted as a literal, not a
        # parameter) so that a partial index of one large namespace, where an operator made
        # one, is provably usable by the planner (docs/benchmarks.md).
        statement = sql.SQL(
            "WITH hits AS MATERIALIZED ("
            " SELECT id, name, voiceprint, net_speech_seconds, band, statistics_band,"
            " voiceprint::vector({dim}) <=> %b AS distance FROM profiles"
            " WHERE dimension = {dim} AND status = 'enrolled' AND namespace = {namespace}"
            " AND encoder_name = %s AND encoder_version = %s{in_band}"
            " ORDER BY voiceprint::vector({dim}) <=> %b LIMIT %s)"
            " SELECT * FROM hits ORDER BY distance, id"
        ).format(
            dim=sql.Literal(dimension),
            namespace=sql.Literal(namespace),
            in_band=sql.SQL("" if band is None else " AND band = %s"),
        )
        with self._transaction(write=False) as conn:
            conn.execute(
                "SELECT set_config('hnsw.ef_search', %s, true), "
                "set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                (str(ef_search),),
            )
            rows = conn.execute(
                statement,
                (
                    vector,
                    encoder_name,
                    encoder_version,
                    *(() if band is None else (Band(band).value,)),
                    vector,
                    int(k),
                ),
                binary=True,
            ).fetchall()
        return _gallery_of(rows, f"encoder {encoder_name} {encoder_version}")

    def enrolled_sample(
        self,
        namespace: str,
        *,
        encoder_name: str,
        encoder_version: str,
        limit: int,
        band: Band | None = None,
    ) -> list[tuple[Profile, list[Clip]]]:
        """Up to ``limit`` enrolled text-independent profiles of this encoder (the first by
        id) with their clips."""
        if limit < 1:
            raise InvalidParameterError("limit must be at least 1")
        in_band = "" if band is None else " AND statistics_band = %s"
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE {self._GALLERY} "
                "AND NOT EXISTS (SELECT 1 FROM profile_phrases p "
                f"WHERE p.profile_id = profiles.id AND p.kind = %s){in_band} "
                "ORDER BY id LIMIT %s",
                (
                    namespace,
                    encoder_name,
                    encoder_version,
                    ProfileKind.TEXT_DEPENDENT.value,
                    *(() if band is None else (Band(band).value,)),
                    limit,
                ),
                binary=True,
            ).fetchall()
            return [(profile_from_row(row), self._clips_of(conn, row["id"])) for row in rows]
