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
    assert {"save_cohort", "get_calibrations", "add_key", "gallery_version"} <= set(abilities)
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
    (cosine,) = store.get_calibrations("tone", "1", ScoreScale.COSINE)
    (asnorm,) = store.get_calibrations("tone", "1", ScoreScale.ASNORM)
    assert cosine.threshold == 0.6 and cosine.target_trials == 50
    assert asnorm.threshold == 3.0 and asnorm.scale is ScoreScale.ASNORM
    assert store.get_calibrations("tone", "1") == (cosine, asnorm)  # cosine first
    assert store.get_calibrations("tone", "2", ScoreScale.COSINE) == ()
    assert store.delete_calibrations("tone", "1", ScoreScale.ASNORM) == 1
    assert store.get_calibrations("tone", "1", ScoreScale.ASNORM) == ()
    assert store.delete_calibrations("tone", "1") == 1
    assert store.get_calibrations("tone", "1") == ()


def banded(bands, threshold=0.5, scale=ScoreScale.COSINE) -> StoredCalibration:
    return replace(calibration(scale, threshold), bands=bands)


WIDE, NARROW, BOTH = frozenset({Band.WIDE}), frozenset({Band.NARROW}), frozenset(Band)


def test_a_calibration_keeps_the_bands_of_the_trials_it_was_fitted_on(store):
    store.save_calibration(banded(WIDE))
    (stored,) = store.get_calibrations("tone", "1", ScoreScale.COSINE)
    assert stored.bands == WIDE
    assert stored.covers(Band.WIDE) and not stored.covers(Band.NARROW)


def test_a_calibration_of_one_band_keeps_the_other_bands_and_replaces_its_own(store):
    store.save_calibration(banded(WIDE, 0.5))
    store.save_calibration(banded(NARROW, 0.8))
    assert [c.bands for c in store.get_calibrations("tone", "1")] == [WIDE, NARROW]
    store.save_calibration(banded(NARROW, 0.9))  # replaces the narrowband one only
    wide, narrow = store.get_calibrations("tone", "1", ScoreScale.COSINE)
    assert (wide.bands, wide.threshold) == (WIDE, 0.5)
    assert (narrow.bands, narrow.threshold) == (NARROW, 0.9)
    store.save_calibration(banded(NARROW, 3.0, ScoreScale.ASNORM))  # another scale
    assert len(store.get_calibrations("tone", "1", ScoreScale.COSINE)) == 2


def test_a_calibration_of_both_bands_replaces_each_bands_own(store):
    store.save_calibration(banded(WIDE, 0.5))
    store.save_calibration(banded(NARROW, 0.8))
    store.save_calibration(banded(BOTH, 0.6))
    (stored,) = store.get_calibrations("tone", "1", ScoreScale.COSINE)
    assert (stored.bands, stored.threshold) == (BOTH, 0.6)
    store.save_calibration(banded(WIDE, 0.4))  # shares the wideband: replaces it whole
    (stored,) = store.get_calibrations("tone", "1", ScoreScale.COSINE)
    assert (stored.bands, stored.threshold) == (WIDE, 0.4)


@pytest.mark.parametrize("bands", [WIDE, NARROW, BOTH, None], ids=str)
def test_a_calibration_stored_before_bands_were_recorded_is_replaced_by_any_new_one(store, bands):
    store.save_calibration(banded(None, 0.5))
    store.save_calibration(banded(bands, 0.7))
    (stored,) = store.get_calibrations("tone", "1", ScoreScale.COSINE)
    assert (stored.bands, stored.threshold) == (bands, 0.7)


def test_a_calibration_stored_before_bands_were_recorded_replaces_every_band(store):
    store.save_calibration(banded(WIDE, 0.5))
    store.save_calibration(banded(NARROW, 0.8))
    store.save_calibration(banded(None, 0.6))
    (stored,) = store.get_calibrations("tone", "1", ScoreScale.COSINE)
    assert (stored.bands, stored.threshold) == (None, 0.6)


def test_a_calibration_with_an_empty_set_of_bands_is_refused_and_not_stored(store):
    store.save_calibration(banded(WIDE))
    with pytest.raises(InvalidParameterError, match="cannot be empty"):
        store.save_calibration(replace(calibration(), bands=frozenset()))
    assert [c.bands for c in store.get_calibrations("tone", "1")] == [WIDE]  # left as it was


def test_deleting_a_scales_calibrations_deletes_those_of_every_band(store):
    store.save_calibration(banded(WIDE, 3.0, ScoreScale.ASNORM))
    store.save_calibration(banded(NARROW, 3.5, ScoreScale.ASNORM))
    store.save_calibration(banded(WIDE))
    assert store.delete_calibrations("tone", "1", ScoreScale.ASNORM) == 2
    assert [c.scale for c in store.get_calibrations("tone", "1")] == [ScoreScale.COSINE]


def version_12_database(path: Path, bands: str | None = None) -> None:
    """A database of schema version 12 holding one cosine calibration (its ``bands``
    column, from version 13, is added only when ``bands`` is given: then version 14)."""
    raw = sqlite3.connect(path)
    for step in range(12 if bands is None else 14):
        MIGRATIONS[step](raw)
    stored = calibration()
    values = (
        stored.encoder_name,
        stored.encoder_version,
        stored.scale.value,
        stored.slope,
        stored.offset,
        stored.threshold,
        stored.target_far,
        stored.achieved_far,
        stored.achieved_frr,
        stored.impostor_mean,
        stored.impostor_std,
        stored.target_trials,
        stored.nontarget_trials,
        "calibrate v12",
        stored.created_at.isoformat(),
    )
    if bands is None:
        raw.execute(f"INSERT INTO calibrations VALUES ({', '.join('?' * 15)})", values)
        raw.execute("PRAGMA user_version = 12")
    else:
        raw.execute(f"INSERT INTO calibrations VALUES ({', '.join('?' * 16)})", (*values, bands))
        raw.execute("PRAGMA user_version = 14")
    raw.commit()
    raw.close()


def test_a_calibration_stored_before_bands_were_recorded_covers_every_band(tmp_path):
    path = tmp_path / "v12.db"
    version_12_database(path)
    with SQLiteStore(path) as migrated:
        (stored,) = migrated.get_calibrations("tone", "1", ScoreScale.COSINE)
    assert stored.bands is None and stored.source == "calibrate v12"
    assert stored.covers(Band.WIDE) and stored.covers(Band.NARROW)


@pytest.mark.parametrize("bands", ["wideband", "narrowband", "wideband,narrowband"])
def test_a_version_14_database_keeps_its_calibration_with_its_bands(tmp_path, bands):
    path = tmp_path / "v14.db"
    version_12_database(path, bands)
    with SQLiteStore(path) as migrated:
        (stored,) = migrated.get_calibrations("tone", "1", ScoreScale.COSINE)
        assert stored.bands == frozenset(Band(b) for b in bands.split(","))
        assert stored.threshold == 0.5 and stored.source == "calibrate v12"
        other = NARROW if Band.WIDE in stored.bands else WIDE
        migrated.save_calibration(banded(other, 0.8))  # the other band's is kept beside it
        kept = migrated.get_calibrations("tone", "1", ScoreScale.COSINE)
    expected = {other} if stored.bands == BOTH else {stored.bands, other}
    assert {c.bands for c in kept} == expected
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    key = check.execute("SELECT pk FROM pragma_table_info('calibrations') WHERE name = 'band_key'")
    assert key.fetchone()[0] == 4  # the fourth column of the primary key
    check.close()


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
