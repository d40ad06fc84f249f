"""Checks and conversions every store backend applies to the values it is given."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from voxprint.errors import EncoderMismatchError, InvalidParameterError, InvalidProfileError
from voxprint.store.records import (
    MAX_NAME_LENGTH,
    NARROWBAND_MAX_HZ,
    Band,
    BandCentre,
    EnrollmentStatus,
    PhraseProfile,
    Profile,
    ScoreScale,
    StoredCalibration,
    unprintable,
)

#: Most ids bound in one ``IN (...)`` query (well under SQLite's variable limit).
ID_CHUNK = 500


def touched_since(version: int, since: int, logged: Sequence[str]) -> tuple[str, ...] | None:
    """The profiles a gallery change log names after version ``since`` (``logged``: one
    entry per version up to ``version``, oldest first), each once, in the order they were
    first changed; ``None`` when the log does not cover every version in between (pruned,
    older than the log, or a version the store never reached)."""
    if version < since or len(logged) != version - since:
        return None
    return tuple(dict.fromkeys(logged))


def optional_float(value: Any) -> float | None:
    """A nullable number column as a float (``None`` stays ``None``)."""
    return None if value is None else float(value)


def now() -> datetime:
    return datetime.now(UTC)


def time_text(value: datetime, what: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidProfileError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def vector_blob(vector: np.ndarray, what: str) -> bytes:
    array = np.asarray(vector, dtype="<f4")
    if array.ndim != 1 or array.size == 0:
        raise InvalidProfileError(f"{what} must be a non-empty 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidProfileError(f"{what} contains NaN or infinity")
    return array.tobytes()


def blob_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4").copy()


def centre_blob(centre: tuple[float, ...] | None) -> bytes | None:
    """A statistics centre (:attr:`GalleryStatistics.centre`) as stored; ``None`` stays."""
    return None if centre is None else vector_blob(np.asarray(centre), "a statistics centre")


def blob_centre(blob: bytes | memoryview | None) -> tuple[float, ...] | None:
    """The statistics centre :func:`centre_blob` stored; ``None`` stays."""
    return None if blob is None else tuple(float(v) for v in blob_vector(bytes(blob)))


def band_centres_text(centres: tuple[BandCentre, ...] | None) -> str | None:
    """Each band's mean (:attr:`GalleryStatistics.band_centres`) as stored: JSON, one
    entry per band with its profile count and mean; ``None`` stays."""
    if centres is None:
        return None
    for centre in centres:
        vector_blob(np.asarray(centre.mean), "a band centre")  # finite and 1-D
    return json.dumps(
        {c.band.value: {"profiles": int(c.profiles), "mean": list(c.mean)} for c in centres},
        allow_nan=False,
    )


def text_band_centres(text: str | None) -> tuple[BandCentre, ...] | None:
    """The band means :func:`band_centres_text` stored; ``None`` stays."""
    if text is None:
        return None
    return tuple(
        BandCentre(Band(band), int(entry["profiles"]), tuple(float(v) for v in entry["mean"]))
        for band, entry in json.loads(text).items()
    )


def metadata_text(metadata: dict[str, Any]) -> str:
    if not isinstance(metadata, dict):
        raise InvalidProfileError(f"metadata must be a dict, got {type(metadata).__name__}")
    try:
        return json.dumps(metadata, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidProfileError(f"metadata is not JSON-serialisable: {exc}") from exc


def check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InvalidProfileError("profile name must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidProfileError(f"a profile name has at most {MAX_NAME_LENGTH} characters")
    problem = unprintable(name)
    if problem:
        raise InvalidProfileError(f"profile name refused: {problem}")


def check_external_id(external_id: str | None) -> None:
    if external_id is not None and (not isinstance(external_id, str) or not external_id.strip()):
        raise InvalidProfileError("external id must be a non-empty string or None")
    if external_id is not None and len(external_id) > MAX_NAME_LENGTH:
        raise InvalidProfileError(f"an external id has at most {MAX_NAME_LENGTH} characters")
    problem = None if external_id is None else unprintable(external_id)
    if problem:
        raise InvalidProfileError(f"external id refused: {problem}")


def check_phrase_of(profile: Profile, phrase: PhraseProfile | None) -> None:
    """A phrase record stored with a new profile (its kind, locale and passphrase, in the
    same transaction) must be that profile's."""
    if phrase is not None and phrase.profile_id != profile.id:
        raise InvalidParameterError(
            f"a phrase record for profile {phrase.profile_id!r} cannot be stored with "
            f"profile {profile.id!r}"
        )


def chunks(items: Sequence[str], size: int = ID_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def redact(url: str) -> str:
    """``url`` with its password (in the authority or the query) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            credentials, _, host = netloc.rpartition("@")
            user, colon, _password = credentials.partition(":")
            netloc = f"{user}:***@{host}" if colon else f"{user}@{host}"
        query = urlencode(
            [
                (key, "***" if key.lower() == "password" else value)
                for key, value in parse_qsl(parts.query, keep_blank_values=True)
            ],
            safe="/",
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "the PostgreSQL URL given"


def optional_band(value: Any) -> Band | None:
    """A stored band (``NULL``: not known)."""
    return None if value is None else Band(value)


def band_text(band: Band | None) -> str | None:
    return None if band is None else Band(band).value


def bands_text(bands: frozenset[Band] | None) -> str | None:
    """A set of bands as stored (comma-separated, in :class:`Band` order); ``None``
    (not recorded) stays."""
    if bands is None:
        return None
    if not bands:
        raise InvalidParameterError("a set of bands cannot be empty (None: not recorded)")
    return ",".join(band.value for band in Band if band in bands)


def text_bands(text: str | None) -> frozenset[Band] | None:
    """The bands :func:`bands_text` stored; ``NULL`` stays ``None``."""
    return None if text is None else frozenset(Band(value) for value in text.split(","))


#: The ``band_key`` of a calibration stored before voxprint recorded its trials' bands.
EVERY_BAND_KEY = "all"


def calibration_of(row: Any, created_at: datetime) -> StoredCalibration:
    """The calibration a row of the calibrations table holds (``row`` maps column names
    to values, as both backends' cursors give them), created at ``created_at`` (each
    backend reads its own time column)."""
    return StoredCalibration(
        encoder_name=row["encoder_name"],
        encoder_version=row["encoder_version"],
        scale=ScoreScale(row["scale"]),
        slope=float(row["slope"]),
        offset=float(row["offset"]),
        threshold=float(row["threshold"]),
        target_far=float(row["target_far"]),
        achieved_far=float(row["achieved_far"]),
        achieved_frr=float(row["achieved_frr"]),
        impostor_mean=float(row["impostor_mean"]),
        impostor_std=float(row["impostor_std"]),
        target_trials=int(row["target_trials"]),
        nontarget_trials=int(row["nontarget_trials"]),
        source=row["source"],
        created_at=created_at,
        bands=text_bands(row["bands"]),
    )


def calibration_band_key(bands: frozenset[Band] | None) -> str:
    """The key of a calibration among those of its encoder version and scale (part of the
    calibrations table's primary key, so that each band can keep its own): its bands as
    :func:`bands_text` stores them, :data:`EVERY_BAND_KEY` when they were not recorded."""
    return bands_text(bands) or EVERY_BAND_KEY


def _clip_exists(condition: str) -> str:
    return f"EXISTS (SELECT 1 FROM clips c WHERE c.profile_id = profiles.id AND {condition})"


def profile_bands_backfill() -> str:
    """One ``UPDATE`` (for either backend) that gives every profile the bands its stored
    clips were recorded in, by the rule of :func:`voxprint.adaptation.clips_band` and
    :func:`voxprint.adaptation.statistics_band_of` (for clips stored before profiles kept
    their band): a clip is narrowband when its measured bandwidth is above 0 and at most
    :data:`~voxprint.store.records.NARROWBAND_MAX_HZ`; NULL, 0 or below, and non-finite
    bandwidths were never measured."""
    bandwidth = "COALESCE(c.bandwidth_hz, 0)"
    narrow = f"{bandwidth} > 0 AND {bandwidth} <= {NARROWBAND_MAX_HZ!r}"
    measured = f"{bandwidth} > 0 AND {bandwidth} < 1e308"
    any_clip = _clip_exists("TRUE")
    wide, narrowband = f"'{Band.WIDE.value}'", f"'{Band.NARROW.value}'"
    return (
        "UPDATE profiles SET "
        f"band = CASE WHEN NOT {any_clip} THEN NULL "
        f"WHEN {_clip_exists(f'NOT ({measured})')} THEN NULL "
        f"WHEN {_clip_exists(narrow)} THEN {narrowband} ELSE {wide} END, "
        f"statistics_band = CASE WHEN NOT {any_clip} THEN NULL "
        f"WHEN NOT {_clip_exists(f'NOT ({narrow})')} THEN {narrowband} "
        f"WHEN NOT {_clip_exists(narrow)} THEN {wide} ELSE NULL END"
    )


def status_before(status: str, clip_count: int) -> EnrollmentStatus:
    """A profile's status as a rebuild of its clips starts from it: enrolled only when it
    was enrolled from clips. A ready-made voiceprint enrolled without clips does not keep
    a profile enrolled on the first small clip added (found in review)."""
    enrolled = EnrollmentStatus(status) is EnrollmentStatus.ENROLLED and int(clip_count) > 0
    return EnrollmentStatus.ENROLLED if enrolled else EnrollmentStatus.ENROLLING


def check_two_profiles(into_id: str, from_id: str) -> None:
    """A merge names two different profiles (one merged into itself would delete it)."""
    if into_id == from_id:
        raise InvalidParameterError(f"cannot merge profile {into_id} into itself")


def check_same_encoder(into: Profile, source: Profile) -> None:
    """Two profiles merge only when one encoder made both (one voiceprint is the mean of
    clip embeddings of one encoder)."""
    if (into.encoder_name, into.encoder_version) != (source.encoder_name, source.encoder_version):
        raise EncoderMismatchError(
            f"cannot merge {source.name!r} ({source.id}), enrolled with {source.encoder_name} "
            f"({source.encoder_version}), into {into.name!r} ({into.id}), enrolled with "
            f"{into.encoder_name} ({into.encoder_version}): one voiceprint cannot mix encoders"
        )


def merged_status_before(into: EnrollmentStatus, source: EnrollmentStatus) -> EnrollmentStatus:
    """The status a merged profile's rebuild starts from (each side's by
    :func:`status_before`): enrolled when either profile was enrolled from clips, so that
    merging never takes a voice out of identification."""
    enrolled = EnrollmentStatus.ENROLLED in (into, source)
    return EnrollmentStatus.ENROLLED if enrolled else EnrollmentStatus.ENROLLING
