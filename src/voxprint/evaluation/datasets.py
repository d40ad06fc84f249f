"""Evaluation sets: speaker folders, trial lists, and the standard protocols on the shared data."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from voxprint.audio import AudioLimits, load_audio
from voxprint.errors import DatasetError

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
    """One evaluation recording: a file (or half of one) spoken by ``speaker``."""

    key: str
    speaker: str
    path: Path
    part: Part = Part.WHOLE


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
    """Decode an item to ``(n,) float32`` at ``sample_rate``, cut to its part."""
    waveform = load_audio(item.path, sample_rate=sample_rate, limits=limits or AudioLimits())
    half = len(waveform) // 2
    match item.part:
        case Part.WHOLE:
            return waveform
        case Part.FIRST_HALF:
            return waveform[:half]
        case Part.SECOND_HALF:
            return waveform[half:]


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


def default_data_root() -> Path:
    """The shared speech data: ``$VOXPRINT_DATA``, else ``../shared/data``.

    ``../shared/data`` is looked up from the working directory first, then from
    the root of a source checkout of voxprint.
    """
    configured = os.environ.get("VOXPRINT_DATA")
    if configured:
        return Path(configured)
    from_cwd = Path("..") / "shared" / "data"
    if from_cwd.is_dir():
        return from_cwd
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


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


#: The standard protocols of the shared data README, by name.
PROTOCOLS: dict[str, Callable[[Path], EvalSet]] = {
    "test-other": protocol_test_other,
    "tc100-halves": protocol_tc100_halves,
}


def build_protocol(name: str, data_root: Path | None = None) -> EvalSet:
    builder = PROTOCOLS.get(name)
    if builder is None:
        raise DatasetError(f"unknown protocol {name!r}; choose from {', '.join(PROTOCOLS)}")
    root = data_root or default_data_root()
    if not (root / "librispeech").is_dir():
        raise DatasetError(f"shared speech data not found at {root}; set VOXPRINT_DATA")
    return builder(root)
