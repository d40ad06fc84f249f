"""Training configuration: one typed, frozen dataclass, read from TOML or JSON of plain keys."""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voxprint.encoders.trained import ARCHITECTURES
from voxprint.errors import InvalidParameterError, TrainingSettingError

LOSSES = ("softmax", "aam")
OPTIMIZERS = ("sgd", "adam")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainingConfig:
    """Everything a training run depends on; saved as ``config.json`` in the run folder."""

    # Model
    architecture: str = "resnet"  # "resnet" (from scratch) or "campplus" (fine-tune bundled)
    depth: int = 18  # ResNet-18 or ResNet-34
    channels: tuple[int, int, int, int] = (16, 32, 64, 128)
    embedding_dim: int = 128
    pooling: str = "stats"  # "mean" (tutorial) or "stats" (mean + std over time)
    stem_stride: int = 1  # 1 as in the tutorial; 2 quarters the ResNet's cost
    freeze: tuple[str, ...] = ()  # network modules kept fixed, e.g. "head", "xvector.block1"
    freeze_batch_norm: bool = False  # keep every batch norm's statistics (for fine-tuning)
    # Loss
    loss: str = "softmax"  # "softmax" (cross-entropy) or "aam" (additive angular margin)
    margin: float = 0.2  # AAM additive angular margin (radians)
    scale: float = 30.0  # AAM logit scale
    # Optimisation
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    head_learning_rate: float | None = None  # classifier head; None: same as learning_rate
    momentum: float = 0.9
    weight_decay: float = 1e-4
    epochs: int = 20
    batch_size: int = 64
    plateau_factor: float = 0.5
    plateau_patience: int = 1
    min_learning_rate: float = 1e-6
    # Data
    validation_fraction: float = 0.1
    segment_seconds: float | None = None  # cut files into segments before splitting
    crop_seconds: tuple[float, float] = (2.0, 3.0)
    crops_per_epoch: int | None = None  # None: training audio / mean crop length
    # Augmentation
    augment: bool = False
    noise_dir: str | None = None
    noise_probability: float = 0.5
    snr_db: tuple[float, float] = (5.0, 20.0)
    gain_db: tuple[float, float] = (-6.0, 6.0)
    speeds: tuple[float, ...] = (0.9, 1.0, 1.1)
    # Run
    seed: int = 0
    device: str = "auto"
    num_threads: int | None = None
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        _choice("architecture", self.architecture, tuple(sorted(ARCHITECTURES)))
        _choice("loss", self.loss, LOSSES)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("device", self.device, DEVICES)
        positive = {
            "learning_rate": self.learning_rate,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "scale": self.scale,
            "keep_checkpoints": self.keep_checkpoints,
        }
        for key, value in positive.items():
            if not value > 0:
                raise TrainingSettingError(f"{key} must be positive, got {value}", settings=(key,))
        if self.head_learning_rate is not None and not self.head_learning_rate > 0:
            raise _refused("head_learning_rate", "head_learning_rate must be positive")
        if not 0.0 <= self.margin < 1.0:
            raise _refused("margin", "margin must be in [0, 1) radians")
        if not 0.0 < self.validation_fraction < 1.0:
            raise _refused(
                "validation_fraction", "validation_fraction must be strictly between 0 and 1"
            )
        if not 0.0 < self.plateau_factor < 1.0:
            raise _refused("plateau_factor", "plateau_factor must be strictly between 0 and 1")
        low, high = self.crop_seconds
        if not 0.5 <= low <= high:
            raise _refused(
                "crop_seconds", "crop_seconds must be (low, high) with 0.5 <= low <= high"
            )
        if self.segment_seconds is not None and self.segment_seconds < 0.5:
            raise _refused("segment_seconds", "segment_seconds must be at least 0.5")
        if self.crops_per_epoch is not None and self.crops_per_epoch < 1:
            raise _refused("crops_per_epoch", "crops_per_epoch must be positive")
        if self.snr_db[0] > self.snr_db[1] or self.gain_db[0] > self.gain_db[1]:
            raise TrainingSettingError(
                "snr_db and gain_db must be (low, high) ranges", settings=("snr_db", "gain_db")
            )
        if not self.speeds or any(not 0.5 <= s <= 2.0 for s in self.speeds):
            raise _refused("speeds", "speeds must be a non-empty list of factors in [0.5, 2]")
        if self.num_threads is not None and self.num_threads < 1:
            raise _refused("num_threads", "num_threads must be at least 1")
        if self.noise_dir is not None and not self.augment:
            # noise is mixed in by the augmentation only: a folder given without it would
            # be silently ignored (and a wrong path never noticed)
            raise _refused(
                "noise_dir",
                "noise_dir is mixed in only with augmentation: turn augment on (--augment) "
                "or leave noise_dir out",
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples become lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }

    def replace(self, **changes: Any) -> TrainingConfig:
        """A copy with ``changes`` applied (checked like a file)."""
        return config_from_dict({**self.to_dict(), **changes})


def _refused(key: str, message: str) -> TrainingSettingError:
    return TrainingSettingError(message, settings=(key,))


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _refused(key, f"{key} must be one of {', '.join(choices)}, got {value!r}")


def _coerce(key: str, kind: Any, value: Any) -> Any:
    """Check ``value`` against the annotation ``kind`` (plain types, optionals, tuples)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        (inner,) = (o for o in options if o is not type(None))
        return _coerce(key, inner, value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _refused(key, f"{key} must be a list, got {value!r}")
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(key, args[0], v) for v in value)
        if len(value) != len(args):
            raise _refused(key, f"{key} must have {len(args)} values, got {value!r}")
        return tuple(_coerce(key, a, v) for a, v in zip(args, value, strict=True))
    if kind is bool:
        if not isinstance(value, bool):
            raise _refused(key, f"{key} must be true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _refused(key, f"{key} must be an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _refused(key, f"{key} must be a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise _refused(key, f"{key} must be a string, got {value!r}")
        return value
    raise InvalidParameterError(f"{key}: unsupported setting type {kind!r}")


def config_from_dict(data: dict[str, Any]) -> TrainingConfig:
    """Build a config from plain keys; unknown keys and wrong types raise."""
    hints = typing.get_type_hints(TrainingConfig)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise TrainingSettingError(
            f"unknown training settings: {', '.join(unknown)}", settings=tuple(unknown)
        )
    values = {key: _coerce(key, hints[key], value) for key, value in data.items()}
    return TrainingConfig(**values)


def load_config(path: Path) -> TrainingConfig:
    """Read a ``.toml`` or ``.json`` config file of plain keys."""
    if not path.is_file():
        raise InvalidParameterError(f"config file {path} does not exist")
    text = path.read_text()
    match path.suffix.lower():
        case ".toml":
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise InvalidParameterError(f"{path}: invalid TOML: {exc}") from exc
        case ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidParameterError(f"{path}: invalid JSON: {exc}") from exc
        case _:
            raise InvalidParameterError(f"{path}: config files are .toml or .json")
    if not isinstance(data, dict):
        raise InvalidParameterError(f"{path}: expected a table of settings")
    return config_from_dict(data)


def save_config(config: TrainingConfig, path: Path) -> Path:
    path.write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    return path
