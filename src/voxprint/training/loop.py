"""The training loop: a speaker classifier whose embedding layer becomes the encoder.

Per epoch: random crops of the training regions (optionally augmented) → log-mel
fbank → network → classification head; then the validation regions are embedded,
their classification loss and accuracy measured, and an operating point fitted on
their cosine scores. The learning rate drops when the validation loss stops
improving; the epoch with the lowest validation loss is exported as ``best.pt``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from voxprint.encoders.trained import ARCHITECTURES, frontend
from voxprint.encoders.weights import (
    CAMPPLUS_WEIGHTS,
    find_weights,
    load_state_strictly,
    load_torch_file,
    torch_threads,
)
from voxprint.errors import InvalidParameterError, ModelError, TrainingSettingError
from voxprint.evaluation.metrics import equal_error_rate
from voxprint.evaluation.operating_point import FittedScores, fit_scores
from voxprint.training.checkpoint import (
    BEST_CHECKPOINT,
    CONFIG_FILE,
    CURVES_FILE,
    HISTORY_FILE,
    cpu_state,
    encoder_checkpoint,
    epoch_checkpoint_path,
    epoch_checkpoints,
    load_training_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from voxprint.training.config import TrainingConfig, save_config
from voxprint.training.curves import plot_training_curves
from voxprint.training.data import (
    SAMPLE_RATE,
    Augmenter,
    CropSampler,
    TrainingData,
    load_noises,
    load_training_data,
)
from voxprint.training.losses import build_head

logger = logging.getLogger(__name__)

#: Settings that may change when a run is resumed.
_RESUMABLE_CHANGES = frozenset({"epochs", "device", "num_threads", "keep_checkpoints"})


@dataclass(frozen=True)
class EpochRecord:
    """Metrics of one finished epoch (accuracies in [0, 1], EER on validation pairs)."""

    epoch: int
    train_loss: float
    train_accuracy: float
    validation_loss: float
    validation_accuracy: float
    validation_eer: float
    learning_rate: float
    seconds: float


@dataclass(frozen=True)
class BatchProgress:
    """Running means over the epoch so far."""

    epoch: int
    batch: int
    batches: int
    loss: float
    accuracy: float


@dataclass(frozen=True)
class TrainingResult:
    run_dir: Path
    best_checkpoint: Path
    best_epoch: int
    history: tuple[EpochRecord, ...]
    device: str
    seconds: float
    n_speakers: int
    train_seconds: float
    validation_seconds: float


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when a GPU is available, else the CPU."""
    match name:
        case "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        case "cuda":
            if not torch.cuda.is_available():
                raise InvalidParameterError("device cuda was asked for but no GPU is available")
            return torch.device("cuda")
        case "cpu":
            return torch.device("cpu")
        case _:
            raise InvalidParameterError(f"unknown device {name!r}")


def network_arguments(config: TrainingConfig) -> dict[str, Any]:
    """The arguments stored in checkpoints to rebuild the embedding network."""
    match config.architecture:
        case "resnet":
            return {
                "depth": config.depth,
                "channels": list(config.channels),
                "n_mels": ARCHITECTURES["resnet"].n_mels,
                "embedding_dim": config.embedding_dim,
                "pooling": config.pooling,
                "stem_stride": config.stem_stride,
            }
        case "campplus":
            return {"feat_dim": ARCHITECTURES["campplus"].n_mels, "embedding_size": 192}
        case _:
            raise InvalidParameterError(f"unknown architecture {config.architecture!r}")


def initial_network(config: TrainingConfig) -> nn.Module:
    """A fresh ResNet, or CAM++ with the bundled pretrained weights."""
    network = ARCHITECTURES[config.architecture].build(network_arguments(config))
    if config.architecture == "campplus":
        path = find_weights(CAMPPLUS_WEIGHTS)
        state = load_torch_file(path)
        if not isinstance(state, dict):
            raise ModelError(f"{path} is not a CAM++ state_dict")
        load_state_strictly(network, state, path, "CAM++")
    return network


def frozen_modules(network: nn.Module, prefixes: Sequence[str]) -> list[nn.Module]:
    """Modules named by ``prefixes`` (their parameters get no gradient, their batch norms
    keep their statistics). Raises when a prefix names nothing."""
    names = dict(network.named_modules())
    missing = [p for p in prefixes if p not in names]
    if missing:
        raise TrainingSettingError(
            f"freeze: no module named {', '.join(missing)}; top-level modules are "
            f"{', '.join(n for n, _ in network.named_children())}",
            settings=("freeze",),
        )
    return [names[p] for p in prefixes]


def _features(waveforms: Sequence[np.ndarray], n_mels: int, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.stack([frontend(w, n_mels) for w in waveforms])).to(device)


def _embed_groups(
    network: nn.Module,
    waveforms: Sequence[np.ndarray],
    n_mels: int,
    device: torch.device,
    batch_size: int,
) -> torch.Tensor:
    """Raw embeddings ``(n, dim)`` of ``waveforms``, batching those of equal length."""
    by_length: dict[int, list[int]] = {}
    for index, waveform in enumerate(waveforms):
        by_length.setdefault(len(waveform), []).append(index)
    rows: dict[int, torch.Tensor] = {}
    for indices in by_length.values():
        for first in range(0, len(indices), batch_size):
            chunk = indices[first : first + batch_size]
            output = network(_features([waveforms[i] for i in chunk], n_mels, device))
            for row, index in enumerate(chunk):
                rows[index] = output[row]
    return torch.stack([rows[i] for i in range(len(waveforms))])


def _pair_scores(embeddings: np.ndarray, speakers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    normed = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    scores = normed @ normed.T
    upper = np.triu_indices(len(speakers), k=1)
    same = speakers[upper[0]] == speakers[upper[1]]
    return scores[upper][same], scores[upper][~same]


@dataclass(frozen=True)
class _Validation:
    loss: float
    accuracy: float
    eer: float
    operating_point: FittedScores | None


def _validate(
    network: nn.Module,
    head: nn.Module,
    data: TrainingData,
    n_mels: int,
    device: torch.device,
    batch_size: int,
) -> _Validation:
    network.eval()
    head.eval()
    waveforms = [data.audio(r) for r in data.validation]
    speakers = np.array([r.speaker for r in data.validation])
    with torch.inference_mode():
        raw = _embed_groups(network, waveforms, n_mels, device, batch_size)
        labels = torch.from_numpy(speakers).to(device)
        loss, logits = head(raw, labels)
        accuracy = float((logits.argmax(dim=1) == labels).float().mean())
        embeddings = raw.cpu().double().numpy()
        target, nontarget = _pair_scores(embeddings, speakers)
        source = "validation split, all pairs"
        if target.size == 0:
            # One validation item per speaker: score first halves against second halves.
            halves = [w[: len(w) // 2] for w in waveforms] + [w[len(w) // 2 :] for w in waveforms]
            half_raw = _embed_groups(network, halves, n_mels, device, batch_size).cpu().double()
            half = half_raw.numpy()
            half /= np.maximum(np.linalg.norm(half, axis=1, keepdims=True), 1e-12)
            n = len(waveforms)
            scores = half[:n] @ half[n:].T
            same = speakers[:, None] == speakers[None, :]
            target, nontarget = scores[same], scores[~same]
            source = "validation split, first vs second halves"
    point: FittedScores | None = None
    eer = float("nan")
    if target.size > 0 and nontarget.size >= 10:
        eer, _ = equal_error_rate(target, nontarget)
        point = fit_scores(target, nontarget, source=f"{source} at training time")
    else:
        logger.warning("too few validation trials to fit an operating point")
    return _Validation(float(loss), accuracy, float(eer), point)


def _check_resumable(saved: dict[str, Any], config: TrainingConfig) -> None:
    current = config.to_dict()
    changed = sorted(
        key
        for key in set(saved) | set(current)
        if key not in _RESUMABLE_CHANGES and saved.get(key) != current.get(key)
    )
    if changed:
        raise TrainingSettingError(
            f"cannot resume: the run was started with different {', '.join(changed)}",
            settings=tuple(changed),
        )


def train(
    data_dir: Path,
    run_dir: Path,
    config: TrainingConfig,
    *,
    resume: bool = False,
    on_batch: Callable[[BatchProgress], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainingResult:
    """Train a speaker encoder on ``data_dir`` (one sub-folder of audio per speaker).

    Writes into ``run_dir``: ``config.json``, ``checkpoints/epoch-NNN.pt`` (the newest
    ``keep_checkpoints``), ``best.pt`` (the encoder of the epoch with the lowest
    validation loss, with its operating point), ``history.json`` and ``curves.png``.
    ``resume`` continues from the newest epoch checkpoint with the same settings.
    """
    started = time.perf_counter()
    device = pick_device(config.device)
    existing = epoch_checkpoints(run_dir)
    if existing and not resume:
        raise InvalidParameterError(
            f"{run_dir} already holds a training run; continue it with resume "
            "(voxprint train --resume) or choose another folder"
        )
    if resume and not existing:
        raise InvalidParameterError(f"nothing to resume in {run_dir}: no epoch checkpoints")
    with torch_threads(config.num_threads):
        return _train(data_dir, run_dir, config, device, existing, started, on_batch, on_epoch)


def _train(
    data_dir: Path,
    run_dir: Path,
    config: TrainingConfig,
    device: torch.device,
    existing: list[tuple[int, Path]],
    started: float,
    on_batch: Callable[[BatchProgress], None] | None,
    on_epoch: Callable[[EpochRecord], None] | None,
) -> TrainingResult:
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed + 1)
    data = load_training_data(data_dir, config)
    n_mels = ARCHITECTURES[config.architecture].n_mels
    arguments = network_arguments(config)
    network = initial_network(config).to(device)
    with torch.inference_mode():
        probe = network.eval()(torch.zeros(2, 200, n_mels, device=device))
    dimension = int(probe.shape[1])
    head = build_head(
        config.loss, dimension, len(data.speakers), margin=config.margin, scale=config.scale
    ).to(device)
    frozen = frozen_modules(network, config.freeze)
    for module in frozen:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
    trainable = [p for p in network.parameters() if p.requires_grad]
    groups = [
        {"params": trainable, "lr": config.learning_rate},
        {
            "params": list(head.parameters()),
            "lr": config.head_learning_rate or config.learning_rate,
        },
    ]
    optimizer: torch.optim.Optimizer
    match config.optimizer:
        case "sgd":
            optimizer = torch.optim.SGD(
                groups, momentum=config.momentum, weight_decay=config.weight_decay
            )
        case _:
            optimizer = torch.optim.Adam(groups, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode="min",
        factor=config.plateau_factor,
        patience=config.plateau_patience,
        min_lr=config.min_learning_rate,
    )
    history: list[EpochRecord] = []
    best_epoch, best_loss = 0, math.inf
    first_epoch = 1
    if existing:
        saved = load_training_checkpoint(existing[-1][1])
        _check_resumable(saved["config"], config)
        state = saved["training"]
        network.load_state_dict(saved["state"])
        head.load_state_dict(state["head"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        history = [EpochRecord(**record) for record in state["history"]]
        best_epoch, best_loss = int(state["best_epoch"]), float(state["best_loss"])
        first_epoch = int(saved["epoch"]) + 1
        logger.info("resuming %s at epoch %d", run_dir, first_epoch)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / CONFIG_FILE)

    augmenter = None
    if config.augment:
        noises = load_noises(Path(config.noise_dir)) if config.noise_dir else ()
        augmenter = Augmenter(config, noises)
    sampler = CropSampler(data, augmenter, rng)
    mean_crop = sum(config.crop_seconds) / 2
    crops = config.crops_per_epoch or max(1, round(data.train_seconds / mean_crop))
    batches = max(1, math.ceil(crops / config.batch_size))

    for epoch in range(first_epoch, config.epochs + 1):
        epoch_started = time.perf_counter()
        network.train()
        for module in frozen:
            module.eval()
        if config.freeze_batch_norm:
            for module in network.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        head.train()
        loss_sum = correct = seen = 0.0
        for batch in range(1, batches + 1):
            size = min(config.batch_size, crops - (batch - 1) * config.batch_size)
            size = max(size, 2)  # batch norm needs two examples
            seconds = rng.uniform(*config.crop_seconds)
            waveforms, labels = sampler.batch(size, int(seconds * SAMPLE_RATE))
            target = torch.from_numpy(labels).to(device)
            loss, logits = head(network(_features(waveforms, n_mels, device)), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if not torch.isfinite(loss):
                raise ModelError(f"training diverged at epoch {epoch} (loss {float(loss)})")
            loss_sum += float(loss.detach()) * size
            correct += float((logits.argmax(dim=1) == target).sum())
            seen += size
            if on_batch is not None:
                on_batch(BatchProgress(epoch, batch, batches, loss_sum / seen, correct / seen))
        validation = _validate(network, head, data, n_mels, device, config.batch_size)
        scheduler.step(validation.loss)
        record = EpochRecord(
            epoch=epoch,
            train_loss=loss_sum / seen,
            train_accuracy=correct / seen,
            validation_loss=validation.loss,
            validation_accuracy=validation.accuracy,
            validation_eer=validation.eer,
            learning_rate=float(optimizer.param_groups[0]["lr"]),
            seconds=time.perf_counter() - epoch_started,
        )
        history.append(record)
        metrics = {
            "validation_loss": validation.loss,
            "validation_accuracy": validation.accuracy,
            "validation_eer": validation.eer,
        }
        encoder = encoder_checkpoint(
            architecture=config.architecture,
            network_arguments=arguments,
            dimension=dimension,
            state=cpu_state(network),
            operating_point=validation.operating_point,
            speakers=data.speakers,
            config=config.to_dict(),
            epoch=epoch,
            metrics=metrics,
        )
        if validation.loss < best_loss:
            best_epoch, best_loss = epoch, validation.loss
            save_checkpoint(encoder, run_dir / BEST_CHECKPOINT)
        training_state = {
            "head": cpu_state(head),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "history": [asdict(r) for r in history],
            "best_epoch": best_epoch,
            "best_loss": best_loss,
        }
        save_checkpoint(
            {**encoder, "training": training_state}, epoch_checkpoint_path(run_dir, epoch)
        )
        prune_checkpoints(run_dir, config.keep_checkpoints)
        (run_dir / HISTORY_FILE).write_text(
            json.dumps([asdict(r) for r in history], indent=2) + "\n"
        )
        plot_training_curves(history, run_dir / CURVES_FILE, best_epoch=best_epoch)
        logger.info(
            "epoch %d: train loss %.3f acc %.3f, validation loss %.3f acc %.3f EER %.4f",
            epoch,
            record.train_loss,
            record.train_accuracy,
            record.validation_loss,
            record.validation_accuracy,
            record.validation_eer,
        )
        if on_epoch is not None:
            on_epoch(record)

    return TrainingResult(
        run_dir=run_dir,
        best_checkpoint=run_dir / BEST_CHECKPOINT,
        best_epoch=best_epoch,
        history=tuple(history),
        device=str(device),
        seconds=time.perf_counter() - started,
        n_speakers=len(data.speakers),
        train_seconds=data.train_seconds,
        validation_seconds=data.validation_seconds,
    )
