"""Scoring state in the SQLite store: calibrations and cohorts (per encoder version) and
each namespace's gallery statistics (per namespace and encoder version)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import numpy as np

from voxprint.errors import InvalidParameterError
from voxprint.store.checks import (
    band_centres_text,
    bands_text,
    blob_centre,
    calibration_band_key,
    calibration_of,
    centre_blob,
    text_band_centres,
    text_bands,
)
from voxprint.store.records import (
    Band,
    Cohort,
    GalleryStatistics,
    ScoreScale,
    StoredCalibration,
)
from voxprint.store.sqlite.codecs import blob_vector, optional_float, parse_time, time_text
from voxprint.store.sqlite.connection import SQLiteDatabase


def bump_scoring_version(conn: sqlite3.Connection) -> None:
    """Record (inside the caller's transaction) that a calibration or cohort changed."""
    conn.execute(
        "INSERT INTO scoring_version (id, version) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET version = version + 1"
    )


class SQLiteScoring(SQLiteDatabase):
    """:class:`~voxprint.store.base.ScoringStore` on SQLite."""

    def scoring_version(self) -> int:
        with self._transaction(write=False) as conn:
            row = conn.execute("SELECT version FROM scoring_version WHERE id = 1").fetchone()
        return 0 if row is None else int(row["version"])

    def save_statistics(
        self,
        namespace: str,
        encoder_name: str,
        encoder_version: str,
        statistics: GalleryStatistics | None,
    ) -> None:
        """Keep (or, with ``None``, forget) a namespace's gallery statistics."""
        key = (namespace, encoder_name, encoder_version)
        with self._transaction(write=True) as conn:
            conn.execute(
                "DELETE FROM gallery_statistics WHERE namespace = ? AND encoder_name = ? "
                "AND encoder_version = ?",
                key,
            )
            if statistics is not None:
                conn.execute(
                    "INSERT INTO gallery_statistics (namespace, encoder_name, encoder_version, "
                    "band, profiles, clips, pairs, pair_mean, trial_std, updated_at, "
                    "shrink_seconds, speech_offset, narrow_share, other_pairs, other_pair_mean, "
                    "other_trial_std, centre, band_centres) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        *key,
                        Band(statistics.band).value,
                        int(statistics.profiles),
                        int(statistics.clips),
                        int(statistics.pairs),
                        float(statistics.pair_mean),
                        float(statistics.trial_std),
                        time_text(statistics.updated_at, "statistics updated_at"),
                        statistics.shrink_seconds,
                        statistics.speech_offset,
                        statistics.narrow_share,
                        statistics.other_pairs,
                        float(statistics.other_pair_mean),
                        float(statistics.other_trial_std),
                        centre_blob(statistics.centre),
                        band_centres_text(statistics.band_centres),
                    ),
                )

    def get_statistics(
        self, namespace: str, encoder_name: str, encoder_version: str
    ) -> GalleryStatistics | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM gallery_statistics WHERE namespace = ? AND encoder_name = ? "
                "AND encoder_version = ?",
                (namespace, encoder_name, encoder_version),
            ).fetchone()
        if row is None:
            return None
        return GalleryStatistics(
            band=Band(row["band"]),
            profiles=int(row["profiles"]),
            clips=int(row["clips"]),
            pairs=int(row["pairs"]),
            pair_mean=float(row["pair_mean"]),
            trial_std=float(row["trial_std"]),
            updated_at=parse_time(row["updated_at"]),
            shrink_seconds=optional_float(row["shrink_seconds"]),
            speech_offset=optional_float(row["speech_offset"]),
            narrow_share=optional_float(row["narrow_share"]),
            other_pairs=None if row["other_pairs"] is None else int(row["other_pairs"]),
            other_pair_mean=float(row["other_pair_mean"] or 0.0),
            other_trial_std=float(row["other_trial_std"] or 0.0),
            centre=blob_centre(row["centre"]),
            band_centres=text_band_centres(row["band_centres"]),
        )

    def save_calibration(self, calibration: StoredCalibration) -> StoredCalibration:
        """Store the calibration of one encoder version and score scale for its bands: it
        replaces the stored ones of the same scale that share a band with it
        (:meth:`~voxprint.store.records.StoredCalibration.shares_a_band`) and keeps those
        of the other band."""
        numbers = (
            calibration.slope,
            calibration.offset,
            calibration.threshold,
            calibration.target_far,
            calibration.achieved_far,
            calibration.achieved_frr,
            calibration.impostor_mean,
            calibration.impostor_std,
        )
        if not all(np.isfinite(numbers)):
            raise InvalidParameterError("a calibration must hold finite numbers")
        bands = bands_text(calibration.bands)
        scale_key = (
            calibration.encoder_name,
            calibration.encoder_version,
            ScoreScale(calibration.scale).value,
        )
        with self._transaction(write=True) as conn:
            stored = conn.execute(
                "SELECT band_key, bands FROM calibrations WHERE encoder_name = ? "
                "AND encoder_version = ? AND scale = ?",
                scale_key,
            ).fetchall()
            for row in stored:
                if calibration.shares_a_band(replace(calibration, bands=text_bands(row["bands"]))):
                    conn.execute(
                        "DELETE FROM calibrations WHERE encoder_name = ? AND encoder_version = ? "
                        "AND scale = ? AND band_key = ?",
                        (*scale_key, row["band_key"]),
                    )
            conn.execute(
                "INSERT INTO calibrations (encoder_name, encoder_version, scale, band_key, "
                "slope, offset, threshold, target_far, achieved_far, achieved_frr, "
                "impostor_mean, impostor_std, target_trials, nontarget_trials, source, "
                "created_at, bands) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *scale_key,
                    calibration_band_key(calibration.bands),
                    *(float(v) for v in numbers),
                    int(calibration.target_trials),
                    int(calibration.nontarget_trials),
                    calibration.source,
                    time_text(calibration.created_at, "created_at"),
                    bands,
                ),
            )
            bump_scoring_version(conn)
        return calibration

    def get_calibrations(
        self, encoder_name: str, encoder_version: str, scale: ScoreScale | None = None
    ) -> tuple[StoredCalibration, ...]:
        query = "SELECT * FROM calibrations WHERE encoder_name = ? AND encoder_version = ?"
        params: list[str] = [encoder_name, encoder_version]
        if scale is not None:
            query += " AND scale = ?"
            params.append(ScoreScale(scale).value)
        with self._transaction(write=False) as conn:
            rows = conn.execute(query, params).fetchall()
        found = (calibration_of(row, parse_time(row["created_at"])) for row in rows)
        return tuple(sorted(found, key=StoredCalibration.order))

    def delete_calibrations(
        self, encoder_name: str, encoder_version: str, scale: ScoreScale | None = None
    ) -> int:
        query = "DELETE FROM calibrations WHERE encoder_name = ? AND encoder_version = ?"
        params: list[str] = [encoder_name, encoder_version]
        if scale is not None:
            query += " AND scale = ?"
            params.append(ScoreScale(scale).value)
        with self._transaction(write=True) as conn:
            deleted = int(conn.execute(query, params).rowcount)
            if deleted:
                bump_scoring_version(conn)
            return deleted

    def save_cohort(self, cohort: Cohort) -> Cohort:
        """Store (or replace) the impostor cohort of one encoder version."""
        embeddings = np.asarray(cohort.embeddings, dtype="<f4")
        if embeddings.ndim != 2 or embeddings.shape[0] == 0 or embeddings.shape[1] == 0:
            raise InvalidParameterError(
                f"a cohort needs (m, dim) embeddings with m >= 1, got shape {embeddings.shape}"
            )
        if len(cohort.speakers) != embeddings.shape[0]:
            raise InvalidParameterError("a cohort needs one speaker name per embedding")
        if not np.all(np.isfinite(embeddings)):
            raise InvalidParameterError("cohort embeddings contain NaN or infinity")
        with self._transaction(write=True) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO cohorts (encoder_name, encoder_version, dimension, "
                "embeddings, speakers, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    cohort.encoder_name,
                    cohort.encoder_version,
                    int(embeddings.shape[1]),
                    embeddings.tobytes(),
                    json.dumps(list(cohort.speakers)),
                    cohort.source,
                    time_text(cohort.created_at, "created_at"),
                ),
            )
            bump_scoring_version(conn)
        # A replaced cohort's old rows must not linger in the WAL either.
        self._checkpoint()
        return cohort

    def get_cohort(self, encoder_name: str, encoder_version: str) -> Cohort | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM cohorts WHERE encoder_name = ? AND encoder_version = ?",
                (encoder_name, encoder_version),
            ).fetchone()
        if row is None:
            return None
        vectors = blob_vector(row["embeddings"]).reshape(-1, int(row["dimension"]))
        return Cohort(
            encoder_name=row["encoder_name"],
            encoder_version=row["encoder_version"],
            embeddings=vectors,
            speakers=tuple(json.loads(row["speakers"])),
            source=row["source"],
            created_at=parse_time(row["created_at"]),
        )

    def delete_cohort(self, encoder_name: str, encoder_version: str) -> bool:
        """Delete the cohort (secure_delete zeroes it) and checkpoint the WAL."""
        with self._transaction(write=True) as conn:
            deleted = conn.execute(
                "DELETE FROM cohorts WHERE encoder_name = ? AND encoder_version = ?",
                (encoder_name, encoder_version),
            ).rowcount
            if deleted:
                bump_scoring_version(conn)
        self._checkpoint()
        return bool(deleted)
