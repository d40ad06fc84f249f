"""Profiles and their clips in the SQLite store, and the galleries scoring reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
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
    check_phrase_of,
    check_same_encoder,
    check_two_profiles,
    merged_status_before,
    optional_band,
    status_before,
    touched_since,
)
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
from voxprint.store.sqlite.activity import insert_activity
from voxprint.store.sqlite.codecs import (
    CLIP_COLUMNS,
    PROFILE_COLUMNS,
    blob_vector,
    check_external_id,
    check_name,
    chunks,
    clip_from_row,
    metadata_text,
    now,
    profile_from_row,
    rows_of_profiles,
    time_text,
    vector_blob,
)
from voxprint.store.sqlite.connection import SQLiteDatabase
from voxprint.store.sqlite.phrases import write_phrase


def bump_gallery_version(conn: sqlite3.Connection, namespace: str, profile_id: str) -> None:
    """Record (inside the caller's transaction) that ``profile_id`` changed ``namespace``'s
    galleries: a new gallery version, and its entry in the change log (which keeps the
    last :data:`~voxprint.store.base.GALLERY_CHANGES_KEPT`)."""
    version = int(
        conn.execute(
            "INSERT INTO gallery_versions (namespace, version) VALUES (?, 1) "
            "ON CONFLICT (namespace) DO UPDATE SET version = version + 1 RETURNING version",
            (namespace,),
        ).fetchone()[0]
    )
    conn.execute(
        "INSERT INTO gallery_changes (namespace, version, profile_id) VALUES (?, ?, ?)",
        (namespace, version, profile_id),
    )
    conn.execute(
        "DELETE FROM gallery_changes WHERE namespace = ? AND version <= ?",
        (namespace, version - GALLERY_CHANGES_KEPT),
    )


#: The columns of a gallery row.
_GALLERY_COLUMNS = "id, name, voiceprint, net_speech_seconds, band, statistics_band"


def _gallery_of(rows: Sequence[sqlite3.Row], what: str) -> Gallery:
    if not rows:
        return Gallery(
            profile_ids=(),
            names=(),
            voiceprints=np.zeros((0, 0), np.float32),
            net_speech_seconds=np.zeros(0),
            bands=(),
            statistics_bands=(),
        )
    vectors = [blob_vector(row["voiceprint"]) for row in rows]
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


class SQLiteProfiles(SQLiteDatabase):
    """:class:`~voxprint.store.base.ProfileStore` on SQLite."""

    #: SQLite has no vector index: large galleries are searched in process
    #: (:mod:`voxprint.gallery_index`), and :meth:`nearest` scans.
    search_in_database = False

    def gallery_version(self, namespace: str) -> int:
        """A number that changes whenever a gallery of ``namespace`` may have changed."""
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT version FROM gallery_versions WHERE namespace = ?", (namespace,)
            ).fetchone()
        return 0 if row is None else int(row["version"])

    # -- lookups (used inside transactions) --

    @staticmethod
    def _fetch_profile(conn: sqlite3.Connection, namespace: str, profile_id: str) -> Profile:
        row = conn.execute(
            f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE namespace = ? AND id = ?",
            (namespace, profile_id),
        ).fetchone()
        if row is None:
            raise ProfileNotFoundError(
                f"no profile with id {profile_id!r} in namespace {namespace!r}"
            )
        return profile_from_row(row)

    @staticmethod
    def _require_profile(
        conn: sqlite3.Connection, namespace: str, profile_id: str
    ) -> EnrollmentStatus:
        """The profile's enrolment status as a rebuild starts from it (:data:`Rebuild`);
        :class:`ProfileNotFoundError` when there is no such profile in the namespace."""
        row = conn.execute(
            "SELECT status, clip_count FROM profiles WHERE namespace = ? AND id = ?",
            (namespace, profile_id),
        ).fetchone()
        if row is None:
            raise ProfileNotFoundError(
                f"no profile with id {profile_id!r} in namespace {namespace!r}"
            )
        return status_before(row["status"], row["clip_count"])

    @staticmethod
    def _check_external_id_free(
        conn: sqlite3.Connection, namespace: str, external_id: str, own_id: str | None
    ) -> None:
        row = conn.execute(
            "SELECT id FROM profiles WHERE namespace = ? AND external_id = ?",
            (namespace, external_id),
        ).fetchone()
        if row is not None and row["id"] != own_id:
            raise DuplicateExternalIdError(
                f"external id {external_id!r} is already used by profile {row['id']!r} "
                f"in namespace {namespace!r}"
            )

    @staticmethod
    def _clips_of(conn: sqlite3.Connection, profile_id: str) -> list[Clip]:
        rows = conn.execute(
            f"SELECT {CLIP_COLUMNS} FROM clips WHERE profile_id = ? ORDER BY created_at, rowid",
            (profile_id,),
        ).fetchall()
        return [clip_from_row(row) for row in rows]

    @staticmethod
    def _write_state(
        conn: sqlite3.Connection, profile_id: str, state: EnrollmentState, clip_count: int
    ) -> None:
        voiceprint = (
            None if state.voiceprint is None else vector_blob(state.voiceprint, "voiceprint")
        )
        conn.execute(
            "UPDATE profiles SET voiceprint = ?, status = ?, audio_seconds = ?, "
            "net_speech_seconds = ?, clip_count = ?, updated_at = ?, band = ?, "
            "statistics_band = ? WHERE id = ?",
            (
                voiceprint,
                EnrollmentStatus(state.status).value,
                float(state.audio_seconds),
                float(state.net_speech_seconds),
                clip_count,
                time_text(now(), "updated_at"),
                band_text(state.band),
                band_text(state.statistics_band),
                profile_id,
            ),
        )

    # -- profiles --

    def create_profile(
        self,
        profile: Profile,
        *,
        activity: Activity | None = None,
        phrase: PhraseProfile | None = None,
    ) -> Profile:
        """Insert the profile (and ``activity`` and its ``phrase`` record, in the same
        transaction)."""
        check_phrase_of(profile, phrase)
        check_name(profile.name)
        check_external_id(profile.external_id)
        if not isinstance(profile.namespace, str) or not profile.namespace.strip():
            raise InvalidProfileError("namespace must be a non-empty string")
        metadata = metadata_text(profile.metadata)
        voiceprint = (
            None if profile.voiceprint is None else vector_blob(profile.voiceprint, "voiceprint")
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
            time_text(profile.created_at, "created_at"),
            time_text(profile.updated_at, "updated_at"),
            band_text(profile.band),
            band_text(profile.statistics_band),
        )
        with self._transaction(write=True) as conn:
            if conn.execute("SELECT 1 FROM profiles WHERE id = ?", (profile.id,)).fetchone():
                raise StoreError(f"a profile with id {profile.id!r} already exists")
            if profile.external_id is not None:
                self._check_external_id_free(conn, profile.namespace, profile.external_id, None)
            conn.execute(
                f"INSERT INTO profiles ({PROFILE_COLUMNS}) VALUES ({', '.join('?' * len(values))})",
                values,
            )
            if phrase is not None:
                write_phrase(conn, phrase)
            created = self._fetch_profile(conn, profile.namespace, profile.id)
            insert_activity(conn, profile.namespace, activity, created)
            if created.status is EnrollmentStatus.ENROLLED:  # an imported voiceprint
                bump_gallery_version(conn, profile.namespace, profile.id)
            return created

    def get_profile(self, namespace: str, profile_id: str) -> Profile:
        with self._transaction(write=False) as conn:
            return self._fetch_profile(conn, namespace, profile_id)

    def find_by_external_id(self, namespace: str, external_id: str) -> Profile:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE namespace = ? AND external_id = ?",
                (namespace, external_id),
            ).fetchone()
        if row is None:
            raise ProfileNotFoundError(
                f"no profile with external id {external_id!r} in namespace {namespace!r}"
            )
        return profile_from_row(row)

    def find_by_name(self, namespace: str, name: str) -> list[Profile]:
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE namespace = ? AND name = ? "
                "ORDER BY created_at, id",
                (namespace, name),
            ).fetchall()
        return [profile_from_row(row) for row in rows]

    def list_profiles(self, namespace: str, *, limit: int = 100, offset: int = 0) -> list[Profile]:
        if limit < 0 or offset < 0:
            raise InvalidParameterError(f"limit and offset must be >= 0, got {limit} and {offset}")
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE namespace = ? "
                "ORDER BY created_at, id LIMIT ? OFFSET ?",
                (namespace, limit, offset),
            ).fetchall()
        return [profile_from_row(row) for row in rows]

    def count_profiles(self, namespace: str) -> int:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM profiles WHERE namespace = ?", (namespace,)
            ).fetchone()
        return int(row[0])

    def update_profile(self, namespace: str, profile_id: str, changes: ProfileChanges) -> Profile:
        if changes.clear_external_id and changes.external_id is not None:
            raise InvalidProfileError("set either external_id or clear_external_id, not both")
        assignments: list[str] = []
        params: list[Any] = []
        if changes.name is not None:
            check_name(changes.name)
            assignments.append("name = ?")
            params.append(changes.name)
        if changes.clear_external_id:
            assignments.append("external_id = NULL")
        elif changes.external_id is not None:
            check_external_id(changes.external_id)
            assignments.append("external_id = ?")
            params.append(changes.external_id)
        if changes.metadata is not None:
            assignments.append("metadata = ?")
            params.append(metadata_text(changes.metadata))
        assignments.append("updated_at = ?")
        params.append(time_text(now(), "updated_at"))
        with self._transaction(write=True) as conn:
            self._require_profile(conn, namespace, profile_id)
            if changes.external_id is not None and not changes.clear_external_id:
                self._check_external_id_free(conn, namespace, changes.external_id, profile_id)
            conn.execute(
                f"UPDATE profiles SET {', '.join(assignments)} WHERE namespace = ? AND id = ?",
                (*params, namespace, profile_id),
            )
            if changes.name is not None:
                bump_gallery_version(conn, namespace, profile_id)
            return self._fetch_profile(conn, namespace, profile_id)

    def delete_profile(
        self, namespace: str, profile_id: str, *, activity: Activity | None = None
    ) -> None:
        """Delete the profile and its clips (and log ``activity``) in one transaction, then
        checkpoint so no copy stays in the WAL."""
        with self._transaction(write=True) as conn:
            self._require_profile(conn, namespace, profile_id)
            conn.execute(
                "DELETE FROM profiles WHERE namespace = ? AND id = ?", (namespace, profile_id)
            )
            insert_activity(conn, namespace, activity, None)
            bump_gallery_version(conn, namespace, profile_id)
        self._checkpoint()

    # -- clips --

    def add_clip(
        self, namespace: str, clip: Clip, rebuild: Rebuild, *, activity: Activity | None = None
    ) -> Profile:
        """Insert the clip, rebuild the profile from all its clips and log ``activity``, in
        one transaction.

        If ``rebuild`` raises, nothing is written and its exception propagates. A clip whose
        ``content_hash`` the profile already has raises :class:`DuplicateClipError` and
        writes nothing.
        """
        embedding = vector_blob(clip.embedding, "clip embedding")
        values = (
            clip.id,
            clip.profile_id,
            embedding,
            float(clip.audio_seconds),
            float(clip.net_speech_seconds),
            clip.label,
            time_text(clip.created_at, "clip created_at"),
            None if clip.bandwidth_hz is None else float(clip.bandwidth_hz),
            clip.content_hash,
        )
        with self._transaction(write=True) as conn:
            before = self._require_profile(conn, namespace, clip.profile_id)
            if conn.execute("SELECT 1 FROM clips WHERE id = ?", (clip.id,)).fetchone():
                raise StoreError(f"a clip with id {clip.id!r} already exists")
            if clip.content_hash is not None:
                same = conn.execute(
                    "SELECT id FROM clips WHERE profile_id = ? AND content_hash = ?",
                    (clip.profile_id, clip.content_hash),
                ).fetchone()
                if same is not None:
                    raise DuplicateClipError(
                        f"profile {clip.profile_id} already has this audio (clip {same['id']})",
                        clip_id=same["id"],
                    )
            conn.execute(
                f"INSERT INTO clips ({CLIP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values
            )
            clips = self._clips_of(conn, clip.profile_id)
            self._write_state(conn, clip.profile_id, rebuild(clips, before), len(clips))
            updated = self._fetch_profile(conn, namespace, clip.profile_id)
            insert_activity(conn, namespace, activity, updated)
            bump_gallery_version(conn, namespace, clip.profile_id)
            return updated

    def reset_profile(
        self,
        namespace: str,
        profile_id: str,
        rebuild: Rebuild,
        *,
        activity: Activity | None = None,
    ) -> Profile:
        """Delete every clip, write ``rebuild([], status)`` and log ``activity`` in one transaction;
        then checkpoint the WAL like delete."""
        profile = self._rebuild(namespace, profile_id, rebuild, activity, clear=True)
        self._checkpoint()
        return profile

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
        and log ``activity``, in one transaction."""
        with self._transaction(write=True) as conn:
            before = self._require_profile(conn, namespace, profile_id)
            if clear:
                conn.execute("DELETE FROM clips WHERE profile_id = ?", (profile_id,))
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
        """Move ``from_id``'s clips to ``into_id`` (those whose audio it has are dropped),
        rebuild it, delete ``from_id`` and log ``activities`` in one transaction; then
        checkpoint the WAL like delete (the dropped clips and the removed voiceprint leave
        no copy there)."""
        check_two_profiles(into_id, from_id)
        with self._transaction(write=True) as conn:
            into_before = self._require_profile(conn, namespace, into_id)
            from_before = self._require_profile(conn, namespace, from_id)
            removed = self._fetch_profile(conn, namespace, from_id)
            check_same_encoder(self._fetch_profile(conn, namespace, into_id), removed)
            duplicates = conn.execute(
                "DELETE FROM clips WHERE profile_id = ? AND content_hash IS NOT NULL "
                "AND content_hash IN (SELECT content_hash FROM clips WHERE profile_id = ? "
                "AND content_hash IS NOT NULL)",
                (from_id, into_id),
            ).rowcount
            moved = conn.execute(
                "UPDATE clips SET profile_id = ? WHERE profile_id = ?", (into_id, from_id)
            ).rowcount
            clips = self._clips_of(conn, into_id)
            before = merged_status_before(into_before, from_before)
            self._write_state(conn, into_id, rebuild(clips, before), len(clips))
            conn.execute(
                "DELETE FROM profiles WHERE namespace = ? AND id = ?", (namespace, from_id)
            )
            merged = self._fetch_profile(conn, namespace, into_id)
            for activity in activities:
                insert_activity(conn, namespace, activity, merged)
            bump_gallery_version(conn, namespace, into_id)
            bump_gallery_version(conn, namespace, from_id)
        self._checkpoint()
        return ProfileMerge(merged, RemovedProfile.of(removed), moved, duplicates)

    def list_clips(self, namespace: str, profile_id: str) -> list[Clip]:
        with self._transaction(write=False) as conn:
            self._require_profile(conn, namespace, profile_id)
            return self._clips_of(conn, profile_id)

    # -- scoring --

    def gallery(
        self,
        namespace: str,
        *,
        encoder_name: str,
        encoder_version: str,
        profile_ids: Sequence[str] | None = None,
    ) -> Gallery:
        """Voiceprints of the namespace's enrolled profiles made with this encoder.

        With ``profile_ids``, only those profiles, in the order given (duplicates
        dropped). Ids that do not exist in the namespace raise
        :class:`ProfileNotFoundError` naming them; ids that exist but are not enrolled,
        or were made with another encoder, are silently left out: checking for that is
        the caller's business (compare ``len(gallery)`` or its ``profile_ids``).
        """
        with self._transaction(write=False) as conn:
            if profile_ids is None:
                rows = conn.execute(
                    f"SELECT {_GALLERY_COLUMNS} FROM profiles "
                    f"WHERE {self._GALLERY} ORDER BY created_at, id",
                    self._gallery_params(namespace, encoder_name, encoder_version),
                ).fetchall()
            else:
                wanted = list(dict.fromkeys(profile_ids))
                query = "SELECT id FROM profiles WHERE namespace = ? AND id IN ({marks})"
                found = {row["id"] for row in rows_of_profiles(conn, query, namespace, wanted)}
                missing = [pid for pid in wanted if pid not in found]
                if missing:
                    raise ProfileNotFoundError(
                        f"no profile with id(s) {', '.join(map(repr, missing))} "
                        f"in namespace {namespace!r}"
                    )
                rows = self._gallery_rows(conn, namespace, encoder_name, encoder_version, wanted)
        return _gallery_of(rows, f"encoder {encoder_name} {encoder_version} in {namespace!r}")

    _GALLERY = (
        "namespace = ? AND status = ? AND voiceprint IS NOT NULL "
        "AND encoder_name = ? AND encoder_version = ?"
    )

    @staticmethod
    def _gallery_params(namespace: str, encoder_name: str, encoder_version: str) -> tuple:
        return (namespace, EnrollmentStatus.ENROLLED.value, encoder_name, encoder_version)

    def _gallery_rows(
        self,
        conn: sqlite3.Connection,
        namespace: str,
        encoder_name: str,
        encoder_version: str,
        wanted: Sequence[str],
    ) -> list[sqlite3.Row]:
        """The gallery rows of those of ``wanted`` in the gallery, in ``wanted``'s order."""
        base = self._gallery_params(namespace, encoder_name, encoder_version)
        by_id: dict[str, sqlite3.Row] = {}
        for chunk in chunks(list(wanted)):
            marks = ", ".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT {_GALLERY_COLUMNS} FROM profiles "
                f"WHERE {self._GALLERY} AND id IN ({marks})",
                (*base, *chunk),
            ):
                by_id[row["id"]] = row
        return [by_id[pid] for pid in wanted if pid in by_id]

    def gallery_changes(
        self, namespace: str, since: int, *, encoder_name: str, encoder_version: str
    ) -> GalleryChanges | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT version FROM gallery_versions WHERE namespace = ?", (namespace,)
            ).fetchone()
            version = 0 if row is None else int(row["version"])
            logged = [
                str(r["profile_id"])
                for r in conn.execute(
                    "SELECT profile_id FROM gallery_changes WHERE namespace = ? AND version > ? "
                    "ORDER BY version",
                    (namespace, since),
                )
            ]
            touched = touched_since(version, since, logged)
            if touched is None:
                return None
            rows = self._gallery_rows(conn, namespace, encoder_name, encoder_version, touched)
        what = f"encoder {encoder_name} {encoder_version} in {namespace!r}"
        return GalleryChanges(version, touched, _gallery_of(rows, what))

    def gallery_size(self, namespace: str, *, encoder_name: str, encoder_version: str) -> int:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM profiles WHERE namespace = ? AND status = ? "
                "AND voiceprint IS NOT NULL AND encoder_name = ? AND encoder_version = ?",
                (namespace, EnrollmentStatus.ENROLLED.value, encoder_name, encoder_version),
            ).fetchone()
        return int(row[0])

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
        """The ``k`` nearest by an exact scan of the whole gallery (SQLite has no vector
        index; the service searches large galleries in process instead)."""
        gallery = self.gallery(
            namespace, encoder_name=encoder_name, encoder_version=encoder_version
        )
        bands = gallery.bands or (None,) * len(gallery)
        rows = np.array([i for i, b in enumerate(bands) if band is None or b is band], np.int64)
        if rows.size == 0 or k < 1:
            return _gallery_of([], "")
        vectors = gallery.voiceprints[rows]
        vectors = vectors / np.linalg.norm(vectors, axis=1)[:, None]
        scores = vectors @ (np.asarray(query, np.float32) / np.linalg.norm(query))
        return gallery.take(rows[np.argsort(-scores, kind="stable")[:k]])

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
        id: a stable, effectively random sample) with their clips."""
        if limit < 1:
            raise InvalidParameterError("limit must be at least 1")
        in_band = "" if band is None else " AND statistics_band = ?"
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE namespace = ? AND status = ? "
                "AND voiceprint IS NOT NULL AND encoder_name = ? AND encoder_version = ? "
                "AND NOT EXISTS (SELECT 1 FROM profile_phrases p "
                f"WHERE p.profile_id = profiles.id AND p.kind = ?){in_band} "
                "ORDER BY id LIMIT ?",
                (
                    namespace,
                    EnrollmentStatus.ENROLLED.value,
                    encoder_name,
                    encoder_version,
                    ProfileKind.TEXT_DEPENDENT.value,
                    *(() if band is None else (Band(band).value,)),
                    limit,
                ),
            ).fetchall()
            return [(profile_from_row(row), self._clips_of(conn, row["id"])) for row in rows]
