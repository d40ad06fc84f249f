"""Training data: speaker folders split into train/validation, random crops, augmentation.

Audio is decoded once and held in memory (the intended data sets are small).
A *region* is a stretch of one recording: the training side draws random crops
from its regions, the validation side is embedded region by region.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from voxprint.audio import AudioLimits, load_audio
from voxprint.errors import DatasetError, VoxprintError
from voxprint.evaluation.datasets import AUDIO_SUFFIXES, speaker_folders
from voxprint.training.config import TrainingConfig

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
_TRAINING_LIMITS = AudioLimits()


@dataclass(frozen=True)
class Region:
    """Samples ``[start, end)`` of recording ``recording`` spoken by speaker ``speaker``."""

    recording: int
    speaker: int
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class TrainingData:
    """Decoded recordings and their split. ``recordings[i]`` is ``(n,) float32`` at 16 kHz."""

    speakers: tuple[str, ...]
    paths: tuple[Path, ...]
    recordings: tuple[np.ndarray, ...]
    train: tuple[Region, ...]
    validation: tuple[Region, ...]

    def audio(self, region: Region) -> np.ndarray:
        return self.recordings[region.recording][region.start : region.end]

    @property
    def train_seconds(self) -> float:
        return sum(r.length for r in self.train) / SAMPLE_RATE

    @property
    def validation_seconds(self) -> float:
        return sum(r.length for r in self.validation) / SAMPLE_RATE


def _units(recording: int, speaker: int, length: int, segment: int | None) -> list[Region]:
    """A whole recording, or its consecutive segments (a short tail joins the last one)."""
    if segment is None or length < 2 * segment:
        return [Region(recording, speaker, 0, length)]
    count = length // segment
    bounds = [i * segment for i in range(count)] + [length]
    return [Region(recording, speaker, bounds[i], bounds[i + 1]) for i in range(count)]


def _merge(regions: list[Region]) -> list[Region]:
    """Join touching regions of the same recording, so crops can span them."""
    merged: list[Region] = []
    for region in sorted(regions, key=lambda r: (r.recording, r.start)):
        last = merged[-1] if merged else None
        if last is not None and last.recording == region.recording and last.end == region.start:
            merged[-1] = Region(last.recording, last.speaker, last.start, region.end)
        else:
            merged.append(region)
    return merged


def load_training_data(root: Path, config: TrainingConfig) -> TrainingData:
    """Decode every speaker folder under ``root`` and split it per speaker.

    Each speaker's units (files, or ``segment_seconds`` segments of files) are
    shuffled with the config's seed; ``round(validation_fraction * n)`` of them
    (at least one, and never all) go to validation. Speakers with a single unit
    train only. Training units of one recording that touch are merged.
    """
    folders = speaker_folders(root)
    if len(folders) < 2:
        raise DatasetError(f"{root} needs at least two speaker folders to train a classifier")
    rng = np.random.default_rng(config.seed)
    segment = None if config.segment_seconds is None else int(config.segment_seconds * SAMPLE_RATE)
    paths: list[Path] = []
    recordings: list[np.ndarray] = []
    train: list[Region] = []
    validation: list[Region] = []
    for speaker, files in enumerate(folders.values()):
        units: list[Region] = []
        for path in files:
            try:
                waveform = load_audio(path, sample_rate=SAMPLE_RATE, limits=_TRAINING_LIMITS)
            except VoxprintError as error:  # which of many files it is
                raise error.naming(path) from None
            if len(waveform) < SAMPLE_RATE // 2:
                logger.warning("skipping %s: shorter than 0.5 s", path)
                continue
            units.extend(_units(len(recordings), speaker, len(waveform), segment))
            paths.append(path)
            recordings.append(np.ascontiguousarray(waveform, dtype=np.float32))
        if not units:
            raise DatasetError(f"speaker folder {list(folders)[speaker]!r} has no usable audio")
        order = rng.permutation(len(units))
        n_val = 0
        if len(units) >= 2:
            n_val = min(max(1, round(config.validation_fraction * len(units))), len(units) - 1)
        validation.extend(units[i] for i in sorted(order[:n_val]))
        train.extend(_merge([units[i] for i in order[n_val:]]))
    if not validation:
        raise DatasetError(
            "no validation audio: give speakers at least two files, or cut files into "
            "segments (segment_seconds, voxprint train --segment-seconds 2)"
        )
    return TrainingData(
        speakers=tuple(folders),
        paths=tuple(paths),
        recordings=tuple(recordings),
        train=tuple(train),
        validation=tuple(validation),
    )


def load_noises(folder: Path) -> tuple[np.ndarray, ...]:
    """Every audio file in ``folder`` (recursively), decoded to 16 kHz."""
    if not folder.is_dir():
        raise DatasetError(f"noise folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    noises = tuple(load_audio(p, sample_rate=SAMPLE_RATE, limits=_TRAINING_LIMITS) for p in files)
    noises = tuple(n for n in noises if len(n) >= SAMPLE_RATE // 10)
    if not noises:
        raise DatasetError(f"noise folder {folder} has no audio files")
    return noises


def fit_length(waveform: np.ndarray, length: int) -> np.ndarray:
    """Trim to ``length`` samples, or repeat the signal until it is that long."""
    if len(waveform) >= length:
        return waveform[:length]
    return np.resize(waveform, length)


@dataclass(frozen=True)
class Augmenter:
    """Speed change, additive noise at a random SNR and a random gain."""

    config: TrainingConfig
    noises: tuple[np.ndarray, ...] = ()

    def source_length(self, length: int, speed: float) -> int:
        """Samples to take so that playing them at ``speed`` lasts ``length`` samples."""
        return int(np.ceil(length * speed))

    def pick_speed(self, rng: np.random.Generator) -> float:
        return float(rng.choice(np.asarray(self.config.speeds)))

    def apply(
        self, waveform: np.ndarray, speed: float, length: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Augment a crop of ``source_length(length, speed)`` samples into ``length`` samples."""
        signal = waveform.astype(np.float64)
        if speed != 1.0:
            ratio = Fraction(speed).limit_denominator(50)
            signal = resample_poly(signal, ratio.denominator, ratio.numerator)
        signal = fit_length(signal, length)
        if self.noises and rng.random() < self.config.noise_probability:
            noise = self.noises[int(rng.integers(len(self.noises)))]
            start = int(rng.integers(max(1, len(noise) - length + 1)))
            piece = fit_length(noise[start:], length).astype(np.float64)
            snr = rng.uniform(*self.config.snr_db)
            speech_power = float(np.mean(signal**2)) + 1e-10
            noise_power = float(np.mean(piece**2)) + 1e-10
            signal = signal + piece * np.sqrt(speech_power / (noise_power * 10 ** (snr / 10)))
        gain = 10 ** (rng.uniform(*self.config.gain_db) / 20)
        return np.clip(signal * gain, -1.0, 1.0).astype(np.float32)


class CropSampler:
    """Random crops of the training regions, with speaker labels.

    Regions are drawn in proportion to their length; a region shorter than the
    crop is repeated to fill it.
    """

    def __init__(
        self, data: TrainingData, augmenter: Augmenter | None, rng: np.random.Generator
    ) -> None:
        self._data = data
        self._augmenter = augmenter
        self._rng = rng
        lengths = np.array([r.length for r in data.train], dtype=np.float64)
        self._weights = lengths / lengths.sum()

    def batch(self, size: int, length: int) -> tuple[list[np.ndarray], np.ndarray]:
        """``size`` crops ``(length,) float32`` and their speaker labels ``(size,) int64``."""
        rng = self._rng
        picks = rng.choice(len(self._data.train), size=size, p=self._weights)
        crops: list[np.ndarray] = []
        labels = np.empty(size, dtype=np.int64)
        for row, index in enumerate(picks):
            region = self._data.train[int(index)]
            speed = 1.0 if self._augmenter is None else self._augmenter.pick_speed(rng)
            take = (
                length if self._augmenter is None else self._augmenter.source_length(length, speed)
            )
            start = region.start + int(rng.integers(max(1, region.length - take + 1)))
            audio = self._data.recordings[region.recording][start : min(start + take, region.end)]
            if self._augmenter is None:
                crops.append(fit_length(audio, length))
            else:
                crops.append(self._augmenter.apply(fit_length(audio, take), speed, length, rng))
            labels[row] = region.speaker
        return crops, labels
