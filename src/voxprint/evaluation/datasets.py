"""Evaluation sets: speaker folders, trial lists, and the standard protocols on the shared data."""

from __future__ import annotations

import functools
import itertools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import numpy as np

from voxprint.audio import AudioLimits, load_audio
from voxprint.errors import DatasetError
from voxprint.evaluation.transforms import (
    BandLimit,
    Crop,
    MixNoise,
    WaveformTransform,
    apply_transforms,
)

AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".webm", ".mp4", ".mkv"}
)


class Part(StrEnum):
    """Which part of a file an item uses."""

    WHOLE = "whole"
    FIRST_HALF = "first-half"
    SECOND_HALF = "second-half"


@dataclass(frozen=True)
class AudioItem:
    """One evaluation recording: a file (or half of one) spoken by ``speaker``.

    ``transforms`` (crops, added noise, band limits) are applied in order after
    the part is cut, when the item is loaded.
    """

    key: str
    speaker: str
    path: Path
    part: Part = Part.WHOLE
    transforms: tuple[WaveformTransform, ...] = ()


@dataclass(frozen=True)
class Trial:
    """A verification trial: is ``test`` spoken by the speaker of ``enrol``?"""

    enrol: str
    test: str
    target: bool


@dataclass(frozen=True)
class EvalSet:
    """Items, trials, and how identification is scored.

    With ``gallery_keys`` set, identification enrols those items per speaker
    and identifies each of ``probe_keys``. Without it, every item is identified
    against per-speaker means of all *other* items (leave one out).
    """

    name: str
    items: tuple[AudioItem, ...]
    trials: tuple[Trial, ...]
    gallery_keys: tuple[str, ...] | None = None
    probe_keys: tuple[str, ...] | None = None

    def item(self, key: str) -> AudioItem:
        return self._by_key()[key]

    def _by_key(self) -> dict[str, AudioItem]:
        return {item.key: item for item in self.items}


def load_item(
    item: AudioItem, *, sample_rate: int = 16000, limits: AudioLimits | None = None
) -> np.ndarray:
    """Decode an item to ``(n,) float32`` at ``sample_rate``, cut to its part, transformed."""
    waveform = load_audio(item.path, sample_rate=sample_rate, limits=limits or AudioLimits())
    half = len(waveform) // 2
    match item.part:
        case Part.WHOLE:
            pass
        case Part.FIRST_HALF:
            waveform = waveform[:half]
        case Part.SECOND_HALF:
            waveform = waveform[half:]
    if item.transforms:
        waveform = apply_transforms(waveform, sample_rate, item.transforms)
    return waveform


def speaker_folders(root: Path) -> dict[str, list[Path]]:
    """``{speaker: [audio files]}`` from a folder holding one sub-folder per speaker."""
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    speakers: dict[str, list[Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
        )
        if files:
            speakers[folder.name] = files
    if not speakers:
        raise DatasetError(f"{root} has no speaker sub-folders with audio files")
    return speakers


def folder_eval_set(root: Path, *, name: str | None = None) -> EvalSet:
    """Every pair of files under ``root`` is a trial; identification is leave-one-out."""
    speakers = speaker_folders(root)
    items = tuple(
        AudioItem(key=str(path.relative_to(root)), speaker=speaker, path=path)
        for speaker, paths in speakers.items()
        for path in paths
    )
    if len(items) < 2:
        raise DatasetError(f"{root} needs at least two audio files")
    trials = tuple(
        Trial(a.key, b.key, a.speaker == b.speaker) for a, b in itertools.combinations(items, 2)
    )
    return EvalSet(name or root.name, items, trials)


def trial_list_eval_set(root: Path, trial_file: Path) -> EvalSet:
    """A VoxCeleb-style list: one ``label path1 path2`` per line, paths relative to ``root``.

    ``label`` is 1 for same speaker and 0 for different speakers. The speaker of
    each file is its first path component (for leave-one-out identification).
    """
    if not trial_file.is_file():
        raise DatasetError(f"trial list {trial_file} does not exist")
    items: dict[str, AudioItem] = {}
    trials: list[Trial] = []
    for number, line in enumerate(trial_file.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != 3 or fields[0] not in {"0", "1"}:
            raise DatasetError(
                f"{trial_file}:{number}: expected 'label path1 path2' with label 0 or 1"
            )
        for key in fields[1:]:
            path = root / key
            if not path.is_file():
                raise DatasetError(f"{trial_file}:{number}: {path} does not exist")
            items.setdefault(key, AudioItem(key, Path(key).parts[0], path))
        trials.append(Trial(fields[1], fields[2], fields[0] == "1"))
    if not trials:
        raise DatasetError(f"{trial_file} holds no trials")
    return EvalSet(trial_file.stem, tuple(items.values()), tuple(trials))


def protocol_test_other(data_root: Path) -> EvalSet:
    """``test-other``: all 100 files of LibriSpeech test-other, every pair a trial."""
    return folder_eval_set(data_root / "librispeech" / "test-other", name="test-other")


def protocol_tc100_halves(data_root: Path) -> EvalSet:
    """``tc100-halves``: enrol each train-clean-100 file's first half, test its second half."""
    speakers = speaker_folders(data_root / "librispeech" / "train-clean-100")
    firsts, seconds = [], []
    for speaker, paths in speakers.items():
        path = paths[0]
        firsts.append(AudioItem(f"{speaker}#first", speaker, path, Part.FIRST_HALF))
        seconds.append(AudioItem(f"{speaker}#second", speaker, path, Part.SECOND_HALF))
    trials = tuple(Trial(a.key, b.key, a.speaker == b.speaker) for a in firsts for b in seconds)
    return EvalSet(
        "tc100-halves",
        tuple(firsts + seconds),
        trials,
        gallery_keys=tuple(i.key for i in firsts),
        probe_keys=tuple(i.key for i in seconds),
    )


#: Seed of every random choice the derived protocols make (crop starts, noise files and
#: stretches, the FSDD subset). Fixed, so a protocol is the same set of inputs in every run.
PROTOCOL_SEED = 20261121


def _rng(*labels: str) -> np.random.Generator:
    """A generator determined by the protocol seed and ``labels`` (not by build order)."""
    return np.random.default_rng([PROTOCOL_SEED, *(zlib.crc32(label.encode()) for label in labels)])


@dataclass(frozen=True)
class Condition:
    """How one side of a derived protocol is degraded, in this order: a random crop of
    ``crop_seconds``, a random stretch of a random ``noise/`` file mixed in at ``snr_db``,
    a band limit to ``band_limit_rate`` Hz and back.

    Random choices depend only on the item key, so the same test item gets the same
    crop in ``test-3s`` and in both noise protocols, and the same noise stretch at
    5 dB and at 0 dB.
    """

    crop_seconds: float | None = None
    snr_db: float | None = None
    band_limit_rate: int | None = None

    def transforms(self, key: str, noise_files: tuple[Path, ...]) -> tuple[WaveformTransform, ...]:
        chosen: list[WaveformTransform] = []
        if self.crop_seconds is not None:
            position = float(_rng("crop", f"{self.crop_seconds:g}", key).random())
            chosen.append(Crop(self.crop_seconds, position))
        if self.snr_db is not None:
            if not noise_files:
                raise DatasetError("a noisy condition needs noise files")
            rng = _rng("noise", key)
            noise = noise_files[int(rng.integers(len(noise_files)))]
            chosen.append(MixNoise(noise, self.snr_db, float(rng.random())))
        if self.band_limit_rate is not None:
            chosen.append(BandLimit(self.band_limit_rate))
        return tuple(chosen)

    @property
    def needs_noise(self) -> bool:
        return self.snr_db is not None


CLEAN = Condition()

#: (enrolment side, test side) conditions of the protocols derived from ``tc100-halves``.
TC100_CONDITIONS: dict[str, tuple[Condition, Condition]] = {
    "tc100-halves": (CLEAN, CLEAN),
    "test-3s": (CLEAN, Condition(crop_seconds=3.0)),
    "both-2s": (Condition(crop_seconds=2.0), Condition(crop_seconds=2.0)),
    "noise-5dB": (CLEAN, Condition(crop_seconds=3.0, snr_db=5.0)),
    "noise-0dB": (CLEAN, Condition(crop_seconds=3.0, snr_db=0.0)),
    "tel-8k": (Condition(band_limit_rate=8000), Condition(band_limit_rate=8000)),
}


def noise_files(data_root: Path) -> tuple[Path, ...]:
    """The background noise recordings of the shared data, sorted."""
    files = tuple(sorted((data_root / "noise").glob("*.wav")))
    if not files:
        raise DatasetError(f"no noise recordings in {data_root / 'noise'}")
    return files


def _conditioned(
    items: tuple[AudioItem, ...], condition: Condition, data_root: Path, *, prefix: str = ""
) -> tuple[AudioItem, ...]:
    noise = noise_files(data_root) if condition.needs_noise else ()
    return tuple(
        replace(item, key=prefix + item.key, transforms=condition.transforms(item.key, noise))
        for item in items
    )


def protocol_tc100_condition(name: str, data_root: Path) -> EvalSet:
    """A ``tc100-halves`` condition of the data README (``test-3s``, ``both-2s``,
    ``noise-5dB``, ``noise-0dB``, ``tel-8k``): the same 251 x 251 trials, with the
    enrolment (first-half) and test (second-half) items degraded by
    :data:`TC100_CONDITIONS`."""
    if name not in TC100_CONDITIONS:
        raise DatasetError(f"{name!r} is not a tc100-halves condition")
    base = protocol_tc100_halves(data_root)
    enrol, test = TC100_CONDITIONS[name]
    gallery = set(base.gallery_keys or ())
    firsts = tuple(i for i in base.items if i.key in gallery)
    seconds = tuple(i for i in base.items if i.key not in gallery)
    items = _conditioned(firsts, enrol, data_root) + _conditioned(seconds, test, data_root)
    return replace(base, name=name, items=items)


#: FSDD files used per speaker and digit (of the 50 repetitions), chosen with the seed.
FSDD_FILES_PER_DIGIT = 10


def protocol_fsdd(data_root: Path) -> EvalSet:
    """``fsdd``: 6 speakers x 10 digits x 10 seeded repetitions = 600 single spoken digits
    (8 kHz, ~0.4 s), every pair a trial (179,700 trials, 29,700 target; most pairs are
    different digits, so it is text-independent on tiny utterances). Identification is
    leave-one-out against per-speaker means."""
    speakers = speaker_folders(data_root / "fsdd")
    items: list[AudioItem] = []
    for speaker, paths in speakers.items():
        by_digit: dict[str, list[Path]] = {}
        for path in paths:
            by_digit.setdefault(path.name.split("_")[0], []).append(path)
        for digit, files in sorted(by_digit.items()):
            count = min(FSDD_FILES_PER_DIGIT, len(files))
            picked = _rng("fsdd", speaker, digit).choice(len(files), size=count, replace=False)
            for index in sorted(int(i) for i in picked):
                items.append(AudioItem(f"{speaker}/{files[index].name}", speaker, files[index]))
    trials = tuple(
        Trial(a.key, b.key, a.speaker == b.speaker) for a, b in itertools.combinations(items, 2)
    )
    return EvalSet("fsdd", tuple(items), trials)


def cohort_items(name: str, data_root: Path) -> tuple[tuple[AudioItem, ...], ...]:
    """An impostor cohort for score normalisation on protocol ``name``.

    Returns ``(enrol_side, test_side)`` item tuples of speakers who appear in no trial
    of the protocol, degraded like that protocol's enrolment and test items:

    * ``test-other``: 4 s crops of the 251 ``train-clean-100`` first halves (LibriSpeech
      splits are speaker-disjoint);
    * ``tc100-halves`` and its conditions: the 100 ``test-other`` files (10 speakers),
      with the protocol's enrolment-side and test-side conditions;
    * ``fsdd``: the 251 ``train-clean-100`` first halves, cropped to 0.5 s and
      band-limited to 8 kHz like the digits.
    """
    root = data_root
    firsts = tuple(i for i in protocol_tc100_halves(root).items if i.part is Part.FIRST_HALF)
    if name == "test-other":
        cohort = _conditioned(firsts, Condition(crop_seconds=4.0), root, prefix="cohort:")
        return cohort, cohort
    if name == "fsdd":
        short_narrow = Condition(crop_seconds=0.5, band_limit_rate=8000)
        cohort = _conditioned(firsts, short_narrow, root, prefix="cohort:")
        return cohort, cohort
    if name in TC100_CONDITIONS:
        other = protocol_test_other(root).items
        enrol, test = TC100_CONDITIONS[name]
        return (
            _conditioned(other, enrol, root, prefix="cohort:"),
            _conditioned(other, test, root, prefix="cohort:"),
        )
    raise DatasetError(f"unknown protocol {name!r}; choose from {', '.join(PROTOCOLS)}")


def _tc100(name: str) -> Callable[[Path], EvalSet]:
    return functools.partial(protocol_tc100_condition, name)


#: The standard protocols of the shared data README, by name.
PROTOCOLS: dict[str, Callable[[Path], EvalSet]] = {
    "test-other": protocol_test_other,
    "tc100-halves": protocol_tc100_halves,
    "test-3s": _tc100("test-3s"),
    "both-2s": _tc100("both-2s"),
    "noise-5dB": _tc100("noise-5dB"),
    "noise-0dB": _tc100("noise-0dB"),
    "tel-8k": _tc100("tel-8k"),
    "fsdd": protocol_fsdd,
}


def build_protocol(name: str, data_root: Path) -> EvalSet:
    """The standard protocol ``name`` on the shared data in ``data_root``."""
    builder = PROTOCOLS.get(name)
    if builder is None:
        raise DatasetError(f"unknown protocol {name!r}; choose from {', '.join(PROTOCOLS)}")
    if not (data_root / "librispeech").is_dir():
        raise DatasetError(f"shared speech data not found at {data_root}; set VOXPRINT_DATA")
    return builder(data_root)
