"""The store's scoring set-up on every backend: calibrations and AS-Norm cohorts, and the
change counter that lets running services pick them up."""

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from voxprint.errors import InvalidParameterError
from voxprint.store import SQLiteStore, open_store
from voxprint.store.base import Store
from voxprint.store.records import Band, Cohort, ScoreScale, StoredCalibration
from voxprint.store.sqlite import MIGRATIONS, SCHEMA_VERSION

from fakes import tone_calibration


def cohort(rng, rows=5, dim=8, version="1") -> Cohort:
    vectors = rng.normal(size=(rows, dim)).astype(np.float32)
    return Cohort(
        encoder_name="tone",
        encoder_version=version,
        embeddings=vectors,
        speakers=tuple(f"s{i // 2}" for i in range(rows)),
        created_at=datetime.now(UTC),
        source="speakers/",
    )


def calibration(scale=ScoreScale.COSINE, threshold=0.5) -> StoredCalibration:
    return tone_calibration(scale, threshold)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    url = str(tmp_path / "v.db")
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()


def test_every_backend_has_every_ability_of_a_store(store):
    abilities = [name for name in dir(Store) if not name.startswith("_")]
    assert {"save_cohort", "get_calibration", "add_key", "gallery_version"} <= set(abilities)
    assert all(callable(getattr(store, name)) for name in abilities)
    assert SCHEMA_VERSION >= 6


def test_every_calibration_or_cohort_change_moves_the_scoring_version(store, rng):
    seen = [store.scoring_version()]
    store.save_calibration(calibration())
    seen.append(store.scoring_version())
    store.save_cohort(cohort(rng))
    seen.append(store.scoring_version())
    assert store.delete_calibrations("tone", "1") == 1
    seen.append(store.scoring_version())
    assert store.delete_cohort("tone", "1") is True
    seen.append(store.scoring_version())
    assert len(set(seen)) == len(seen)
    # Deleting what is not there changes nothing.
    assert store.delete_cohort("tone", "1") is False
    assert store.delete_calibrations("tone", "1") == 0
    assert store.scoring_version() == seen[-1]


def test_a_cohort_round_trips_per_encoder_version(store, rng):
    saved = cohort(rng)
    store.save_cohort(saved)
    loaded = store.get_cohort("tone", "1")
    assert loaded is not None
    np.testing.assert_array_equal(loaded.embeddings, saved.embeddings)
    assert loaded.speakers == saved.speakers and loaded.source == "speakers/"
    assert loaded.embeddings.dtype == np.float32 and loaded.size == 5
    assert store.get_cohort("tone", "2") is None
    assert store.get_cohort("other", "1") is None


def test_saving_a_cohort_replaces_the_previous_one(store, rng):
    store.save_cohort(cohort(rng, rows=5))
    store.save_cohort(cohort(rng, rows=3))
    loaded = store.get_cohort("tone", "1")
    assert loaded is not None and loaded.size == 3


def test_deleting_a_cohort_removes_its_bytes_from_the_file(tmp_path, rng):
    path = tmp_path / "wipe.db"
    saved = cohort(rng, rows=4)
    with SQLiteStore(path) as store:
        store.save_cohort(saved)
        assert store.delete_cohort("tone", "1") is True
        assert store.get_cohort("tone", "1") is None
        assert store.delete_cohort("tone", "1") is False
    raw = path.read_bytes() + (
        Path(f"{path}-wal").read_bytes() if Path(f"{path}-wal").exists() else b""
    )
    assert saved.embeddings.astype("<f4").tobytes()[:16] not in raw


def test_a_cohort_must_be_a_finite_matrix_with_a_speaker_per_row(store, rng):
    good = cohort(rng)
    with pytest.raises(InvalidParameterError):
        store.save_cohort(Cohort("tone", "1", np.zeros((0, 8), np.float32), (), good.created_at))
    with pytest.raises(InvalidParameterError):
        store.save_cohort(Cohort("tone", "1", good.embeddings, ("a",), good.created_at))
    broken = good.embeddings.copy()
    broken[0, 0] = np.nan
    with pytest.raises(InvalidParameterError):
        store.save_cohort(Cohort("tone", "1", broken, good.speakers, good.created_at))


def test_calibrations_are_kept_per_scale_and_replaced(store):
    store.save_calibration(calibration(ScoreScale.COSINE, 0.5))
    store.save_calibration(calibration(ScoreScale.ASNORM, 3.0))
    store.save_calibration(calibration(ScoreScale.COSINE, 0.6))
    cosine = store.get_calibration("tone", "1", ScoreScale.COSINE)
    asnorm = store.get_calibration("tone", "1", ScoreScale.ASNORM)
    assert cosine is not None and cosine.threshold == 0.6 and cosine.target_trials == 50
    assert asnorm is not None and asnorm.threshold == 3.0 and asnorm.scale is ScoreScale.ASNORM
    assert store.get_calibration("tone", "2", ScoreScale.COSINE) is None
    assert store.delete_calibrations("tone", "1", ScoreScale.ASNORM) == 1
    assert store.get_calibration("tone", "1", ScoreScale.ASNORM) is None
    assert store.delete_calibrations("tone", "1") == 1
    assert store.get_calibration("tone", "1", ScoreScale.COSINE) is None


def test_a_calibration_keeps_the_bands_of_the_trials_it_was_fitted_on(store):
    wideband = replace(calibration(), bands=frozenset({Band.WIDE}))
    store.save_calibration(wideband)
    stored = store.get_calibration("tone", "1", ScoreScale.COSINE)
    assert stored is not None and stored.bands == frozenset({Band.WIDE})
    assert stored.covers(Band.WIDE) and not stored.covers(Band.NARROW)
    store.save_calibration(replace(wideband, bands=frozenset(Band)))  # replaced: both now
    stored = store.get_calibration("tone", "1", ScoreScale.COSINE)
    assert stored is not None and stored.bands == frozenset(Band)


def test_a_calibration_with_an_empty_set_of_bands_is_refused_and_not_stored(store):
    with pytest.raises(InvalidParameterError, match="cannot be empty"):
        store.save_calibration(replace(calibration(), bands=frozenset()))
    assert store.get_calibration("tone", "1", ScoreScale.COSINE) is None


def test_a_calibration_stored_before_bands_were_recorded_covers_every_band(tmp_path):
    path = tmp_path / "v12.db"
    with SQLiteStore(path) as opened:
        opened.save_calibration(replace(calibration(), bands=frozenset({Band.WIDE})))
    raw = sqlite3.connect(path)
    raw.execute("ALTER TABLE calibrations DROP COLUMN bands")
    raw.execute("ALTER TABLE gallery_statistics DROP COLUMN band_centres")
    raw.execute("PRAGMA user_version = 12")
    raw.commit()
    raw.close()
    with SQLiteStore(path) as migrated:
        stored = migrated.get_calibration("tone", "1", ScoreScale.COSINE)
    assert stored is not None and stored.bands is None
    assert stored.covers(Band.WIDE) and stored.covers(Band.NARROW)


def test_a_calibration_with_nan_is_refused(store):
    bad = calibration()
    with pytest.raises(InvalidParameterError):
        store.save_calibration(StoredCalibration(**{**bad.__dict__, "slope": float("nan")}))


def test_a_version_2_database_is_migrated_to_keep_cohorts(tmp_path, rng):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for step in range(2):
        MIGRATIONS[step](conn)
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store:
        store.save_cohort(cohort(rng))
        assert store.get_cohort("tone", "1") is not None
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    check.close()
