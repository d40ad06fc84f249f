"""``voxprint train``: train or fine-tune a speaker encoder on folders of speakers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voxprint.cli.common import JsonOption, ProgressBar, emit, handles_errors, show_progress

if TYPE_CHECKING:
    from voxprint.training.loop import BatchProgress, EpochRecord, TrainingResult


class _EpochBar(ProgressBar):
    """``update(progress)`` the epoch's bar; ``echo`` prints an epoch line above the bars."""

    def __init__(self, bar: Any = None) -> None:
        super().__init__(bar)
        self.tasks: dict[int, Any] = {}

    def update(self, progress: BatchProgress) -> None:
        if self._progress is None:
            return
        task = self.tasks.get(progress.epoch)
        if task is None:
            task = self._progress.add_task(
                f"epoch {progress.epoch}", total=progress.batches, loss=0.0, accuracy=0.0
            )
            self.tasks[progress.epoch] = task
        self._progress.update(
            task, completed=progress.batch, loss=progress.loss, accuracy=progress.accuracy
        )


@contextmanager
def _epoch_bar(enabled: bool) -> Iterator[_EpochBar]:
    """A progress bar per epoch showing the running loss and accuracy."""
    if not enabled:
        yield _EpochBar()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        "loss {task.fields[loss]:.3f}  acc {task.fields[accuracy]:.1%}",
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=False,  # stdout may be a file: what goes there stays there
    ) as bar:
        yield _EpochBar(bar)


def _epoch_line(record: EpochRecord) -> str:
    return (
        f"epoch {record.epoch:3d}  train loss {record.train_loss:.3f}"
        f" acc {record.train_accuracy:.1%}"
        f"  validation loss {record.validation_loss:.3f} acc {record.validation_accuracy:.1%}"
        f" EER {record.validation_eer:.2%}  lr {record.learning_rate:.2g}  {record.seconds:.0f} s"
    )


def _summary(result: TrainingResult) -> dict[str, Any]:
    return {
        "run_dir": str(result.run_dir),
        "best_checkpoint": str(result.best_checkpoint),
        "best_epoch": result.best_epoch,
        "epochs": len(result.history),
        "device": result.device,
        "seconds": round(result.seconds, 1),
        "speakers": result.n_speakers,
        "train_seconds": round(result.train_seconds, 1),
        "validation_seconds": round(result.validation_seconds, 1),
        "history": [asdict(r) for r in result.history],
    }


#: The flags whose names are not their settings' keys with dashes (``batch_size``:
#: ``--batch-size``).
_FLAG_NAMES = {"learning_rate": "--lr", "num_threads": "--threads"}


def flag_for(setting: str) -> str:
    """The ``voxprint train`` flag that sets the config key ``setting``."""
    return _FLAG_NAMES.get(setting, "--" + setting.replace("_", "-"))


@contextmanager
def _naming_flags(given: dict[str, Any]) -> Iterator[None]:
    """A refused setting that a flag set is named as that flag (``--lr``), not as its
    config key (``learning_rate``): the library's error names the key, for a config file."""
    from voxprint.errors import TrainingSettingError

    try:
        yield
    except TrainingSettingError as error:
        message = error.message
        for setting in error.settings:
            if setting in given:
                key = rf"(?<![\w-]){re.escape(setting)}(?![\w-])"
                message = re.sub(key, flag_for(setting), message)
        if message == error.message:
            raise
        raise TrainingSettingError(message, settings=error.settings) from None


def register(app: typer.Typer) -> None:
    @app.command("train")
    @handles_errors
    def train_command(
        data_dir: Annotated[
            Path, typer.Argument(help="One sub-folder of audio per speaker.", show_default=False)
        ],
        out: Annotated[
            Path, typer.Option("--out", help="Run folder for checkpoints, config and curves.")
        ],
        config_file: Annotated[
            Path | None, typer.Option("--config", help="Settings file (.toml or .json).")
        ] = None,
        architecture: Annotated[
            str | None, typer.Option(help="resnet (from scratch) or campplus (fine-tune).")
        ] = None,
        depth: Annotated[int | None, typer.Option(help="ResNet depth: 18 or 34.")] = None,
        loss: Annotated[str | None, typer.Option(help="softmax or aam.")] = None,
        optimizer: Annotated[str | None, typer.Option(help="sgd or adam.")] = None,
        lr: Annotated[float | None, typer.Option("--lr", help="Learning rate.")] = None,
        epochs: Annotated[int | None, typer.Option(help="Number of epochs.")] = None,
        batch_size: Annotated[int | None, typer.Option(help="Crops per batch.")] = None,
        segment_seconds: Annotated[
            float | None, typer.Option(help="Cut files into segments of this length first.")
        ] = None,
        validation_fraction: Annotated[
            float | None, typer.Option(help="Share of each speaker's files held out.")
        ] = None,
        freeze: Annotated[
            list[str] | None, typer.Option(help="Network module to keep fixed (repeatable).")
        ] = None,
        augment: Annotated[
            bool | None, typer.Option("--augment/--no-augment", help="Gain, speed, noise.")
        ] = None,
        noise_dir: Annotated[
            Path | None, typer.Option(help="Folder of noise recordings to mix in.")
        ] = None,
        seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
        device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
        threads: Annotated[int | None, typer.Option(help="CPU threads for torch.")] = None,
        resume: Annotated[
            bool, typer.Option("--resume", help="Continue the run in --out from its last epoch.")
        ] = False,
        json_output: JsonOption = False,
    ) -> None:
        """Train a speaker classifier on DATA_DIR and keep its embedding layer as an encoder.

        The run folder gets config.json, a checkpoint per epoch, best.pt and curves.png.
        Give RUN/best.pt wherever a model name is accepted, e.g.
        `voxprint enroll alice alice.wav --model RUN/best.pt` (then verify, identify,
        eval and serve with the same --model).
        """
        from voxprint.training.config import TrainingConfig, load_config
        from voxprint.training.loop import train

        base = load_config(config_file) if config_file is not None else TrainingConfig()
        flags: dict[str, Any] = {
            "architecture": architecture,
            "depth": depth,
            "loss": loss,
            "optimizer": optimizer,
            "learning_rate": lr,
            "epochs": epochs,
            "batch_size": batch_size,
            "segment_seconds": segment_seconds,
            "validation_fraction": validation_fraction,
            "freeze": freeze,
            "augment": augment,
            "noise_dir": None if noise_dir is None else str(noise_dir),
            "seed": seed,
            "device": device,
            "num_threads": threads,
        }
        given = {k: v for k, v in flags.items() if v is not None}
        with _naming_flags(given):
            config = base.replace(**given)
            with _epoch_bar(show_progress(json_output)) as bar:
                result = train(
                    data_dir,
                    out,
                    config,
                    resume=resume,
                    on_batch=bar.update,
                    on_epoch=None if json_output else lambda r: bar.echo(_epoch_line(r)),
                )
        emit(
            json_output,
            _summary(result),
            lambda: (
                f"best epoch {result.best_epoch} → {result.best_checkpoint} "
                f"({result.seconds:.0f} s on {result.device})"
            ),
        )
