"""Scoring state in the PostgreSQL store: calibrations and cohorts (per encoder version),
each namespace's gallery statistics, and the change counter of calibrations and cohorts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from typing import Any

import numpy as np
from psycopg.types.json import Jsonb

from voxprint.errors import InvalidParameterError
from voxprint.store.checks import (
    band_centres_text,
    bands_text,
    blob_centre,
    blob_vector,
    calibration_band_key,
    calibration_of,
    centre_blob,
    optional_float,
    text_band_centres,
    text_bands,
    time_text,
)
from voxprint.store.postgres.connection import PostgresDatabase
from voxprint.store.records import (
    Band,
    Cohort,
    GalleryStatistics,
    ScoreScale,
    StoredCalibration,
)


def bump_scoring_version(conn: Any) -> None:
    conn.execute(
        "INSERT INTO scoring_version (id, version) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET version = scoring_version.version + 1"
    )


class PostgresScoring(PostgresDatabase):
    """:class:`~voxprint.store.base.ScoringStore` and gallery statistics on PostgreSQL."""

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
        key = (namespace, encoder_name, encoder_version)
        with self._transaction(write=True) as conn:
            conn.execute(
                "DELETE FROM gallery_statistics WHERE namespace = %s AND encoder_name = %s "
                "AND encoder_version = %s",
                key,
            )
            if statistics is not None:
                time_text(statistics.updated_at, "statistics updated_at")
                conn.execute(
                    "INSERT INTO gallery_statistics (namespace, encoder_name, encoder_version, "
                    "band, profiles, clips, pairs, pair_mean, trial_std, updated_at, "
                    "shrink_seconds, speech_offset, narrow_share, other_pairs, other_pair_mean, "
                    "other_trial_std, centre, band_centres) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                    "%s)",
                    (
                        *key,
                        Band(statistics.band).value,
                        int(statistics.profiles),
                        int(statistics.clips),
                        int(statistics.pairs),
                        float(statistics.pair_mean),
                        float(statistics.trial_std),
                        statistics.updated_at,
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
                "SELECT * FROM gallery_statistics WHERE namespace = %s AND encoder_name = %s "
                "AND encoder_version = %s",
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
            updated_at=row["updated_at"].astimezone(UTC),
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
        replaces the stored ones of the same scale that share a band with it and keeps
        those of the other band (as the SQLite store)."""
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
        time_text(calibration.created_at, "created_at")
        bands = bands_text(calibration.bands)
        scale_key = (
            calibration.encoder_name,
            calibration.encoder_version,
            ScoreScale(calibration.scale).value,
        )
        with self._transaction(write=True) as conn:
            # First: the counter's one row, locked until commit, makes concurrent saves
            # take turns, so two of them cannot both keep a calibration of one band.
            bump_scoring_version(conn)
            stored = conn.execute(
                "SELECT band_key, bands FROM calibrations WHERE encoder_name = %s "
                "AND encoder_version = %s AND scale = %s",
                scale_key,
            ).fetchall()
            for row in stored:
                if calibration.shares_a_band(replace(calibration, bands=text_bands(row["bands"]))):
                    conn.execute(
                        "DELETE FROM calibrations WHERE encoder_name = %s "
                        "AND encoder_version = %s AND scale = %s AND band_key = %s",
                        (*scale_key, row["band_key"]),
                    )
            conn.execute(
                "INSERT INTO calibrations (encoder_name, encoder_version, scale, band_key, "
                'slope, "offset", threshold, target_far, achieved_far, achieved_frr, '
                "impostor_mean, impostor_std, target_trials, nontarget_trials, source, "
                "created_at, bands) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    *scale_key,
                    calibration_band_key(calibration.bands),
                    *(float(v) for v in numbers),
                    int(calibration.target_trials),
                    int(calibration.nontarget_trials),
                    calibration.source,
                    calibration.created_at,
                    bands,
                ),
            )
        return calibration

    def get_calibrations(
        self, encoder_name: str, encoder_version: str, scale: ScoreScale | None = None
    ) -> tuple[StoredCalibration, ...]:
        query = "SELECT * FROM calibrations WHERE encoder_name = %s AND encoder_version = %s"
        params: list[str] = [encoder_name, encoder_version]
        if scale is not None:
            query += " AND scale = %s"
            params.append(ScoreScale(scale).value)
        with self._transaction(write=False) as conn:
            rows = conn.execute(query, params).fetchall()
        found = (calibration_of(row, row["created_at"].astimezone(UTC)) for row in rows)
        return tuple(sorted(found, key=StoredCalibration.order))

    def delete_calibrations(
        self, encoder_name: str, encoder_version: str, scale: ScoreScale | None = None
    ) -> int:
        query = "DELETE FROM calibrations WHERE encoder_name = %s AND encoder_version = %s"
        params: list[str] = [encoder_name, encoder_version]
        if scale is not None:
            query += " AND scale = %s"
            params.append(ScoreScale(scale).value)
        with self._transaction(write=True) as conn:
            deleted = int(conn.execute(query, params).rowcount)
            if deleted:
                bump_scoring_version(conn)
            return deleted

    def save_cohort(self, cohort: Cohort) -> Cohort:
        embeddings = np.asarray(cohort.embeddings, dtype="<f4")
        if embeddings.ndim != 2 or embeddings.shape[0] == 0 or embeddings.shape[1] == 0:
            raise InvalidParameterError(
                f"a cohort needs (m, dim) embeddings with m >= 1, got shape {embeddings.shape}"
            )
        if len(cohort.speakers) != embeddings.shape[0]:
            raise InvalidParameterError("a cohort needs one speaker name per embedding")
        if not np.all(np.isfinite(embeddings)):
            raise InvalidParameterError("cohort embeddings contain NaN or infinity")
        time_text(cohort.created_at, "created_at")
        with self._transaction(write=True) as conn:
            conn.execute(
                "DELETE FROM cohorts WHERE encoder_name = %s AND encoder_version = %s",
                (cohort.encoder_name, cohort.encoder_version),
            )
            conn.execute(
                "INSERT INTO cohorts (encoder_name, encoder_version, dimension, embeddings, "
                "speakers, source, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    cohort.encoder_name,
                    cohort.encoder_version,
                    int(embeddings.shape[1]),
                    embeddings.tobytes(),
                    Jsonb(list(cohort.speakers)),
                    cohort.source,
                    cohort.created_at,
                ),
            )
            bump_scoring_version(conn)
        return cohort

    def get_cohort(self, encoder_name: str, encoder_version: str) -> Cohort | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM cohorts WHERE encoder_name = %s AND encoder_version = %s",
                (encoder_name, encoder_version),
            ).fetchone()
        if row is None:
            return None
        vectors = blob_vector(bytes(row["embeddings"])).reshape(-1, int(row["dimension"]))
        return Cohort(
            encoder_name=row["encoder_name"],
            encoder_version=row["encoder_version"],
            embeddings=vectors,
            speakers=tuple(row["speakers"]),
            source=row["source"],
            created_at=row["created_at"].astimezone(UTC),
        )

    def delete_cohort(self, encoder_name: str, encoder_version: str) -> bool:
        with self._transaction(write=True) as conn:
            deleted = conn.execute(
                "DELETE FROM cohorts WHERE encoder_name = %s AND encoder_version = %s",
                (encoder_name, encoder_version),
            ).rowcount
            if deleted:
                bump_scoring_version(conn)
        return bool(deleted)
