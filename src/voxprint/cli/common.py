"""What every ``voxprint`` command shares: options, error handling, progress and output."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from voxprint.cli import render
from voxprint.cli.exit_codes import ExitCode, exit_code_for
from voxprint.encoders.options import EncoderOptions
from voxprint.errors import InvalidParameterError, VoxprintError

if TYPE_CHECKING:
    from voxprint.passphrase.service import PassphraseService
    from voxprint.service import VoxprintService

P = ParamSpec("P")
R = TypeVar("R")

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar="VOXPRINT_DB",
        help="Database file (default: a per-user data folder).",
        show_default=False,
    ),
]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        envvar="VOXPRINT_MODEL",
        help="Encoder: campplus, ge2e, or a trained checkpoint (RUN/best.pt).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
EnrollSecondsOption = Annotated[
    float,
    typer.Option(
        "--enroll-seconds",
        envvar="VOXPRINT_ENROLL_SECONDS",
        min=0.0,
        help="Net speech a profile needs to become enrolled.",
    ),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Accept clips with less than the minimum speech.")
]
NoQualityGateOption = Annotated[
    bool,
    typer.Option(
        "--no-quality-gate",
        help="Enrol clips even if they are noisy, clipped or hold several voices.",
    ),
]
AudioArgument = Annotated[Path, typer.Argument(help="Audio or video file.", show_default=False)]


def fail(message: str, code: ExitCode) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(int(code))


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn voxprint errors into a one-line message and a documented exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except VoxprintError as error:
            raise fail(error.message, exit_code_for(error)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", ExitCode.INTERNAL) from None
        except typer.Exit:
            raise
        except Exception as error:  # a bug: one line, and the traceback only in the log
            logging.getLogger("voxprint").debug("unexpected error", exc_info=True)
            raise fail(
                f"internal error: {type(error).__name__}: {error}", ExitCode.INTERNAL
            ) from None

    return wrapper


def encoder_options_from_environment() -> EncoderOptions:
    """Encoder runtime options from ``VOXPRINT_CAMPPLUS_RUNTIME``, ``VOXPRINT_QUANTIZE``
    and ``VOXPRINT_NUM_THREADS`` (unset or empty: the encoder's default)."""
    runtime = os.environ.get("VOXPRINT_CAMPPLUS_RUNTIME", "").strip() or None
    quantize = os.environ.get("VOXPRINT_QUANTIZE", "").strip() or None
    threads_text = os.environ.get("VOXPRINT_NUM_THREADS", "").strip()
    try:
        threads = int(threads_text) if threads_text else None
    except ValueError:
        raise InvalidParameterError(
            f"VOXPRINT_NUM_THREADS must be an integer, got {threads_text!r}"
        ) from None
    return EncoderOptions(runtime=runtime, quantize=quantize, num_threads=threads)


def service_options(db: Path | None = None, model: str = "campplus", **overrides: Any) -> Any:
    """The :class:`~voxprint.bootstrap.ServiceOptions` of a command, with encoder options
    from the environment."""
    from voxprint.bootstrap import ServiceOptions

    return ServiceOptions(
        db=db, model=model, encoder=encoder_options_from_environment(), **overrides
    )


def open_service(db: Path | None, model: str, **overrides: Any) -> VoxprintService:
    from voxprint.bootstrap import build_service

    return build_service(service_options(db, model, **overrides))


def open_passphrases(db: Path | None, model: str, **overrides: Any) -> PassphraseService:
    """The service with passphrases and spoken challenges (recogniser from
    ``VOXPRINT_PHRASE_RECOGNIZER``, default pocketsphinx)."""
    from voxprint.passphrase import DEFAULT_RECOGNIZER, load_recognizer
    from voxprint.passphrase.service import PassphraseService

    name = os.environ.get("VOXPRINT_PHRASE_RECOGNIZER", "").strip() or DEFAULT_RECOGNIZER
    return PassphraseService(open_service(db, model, **overrides), load_recognizer(name))


@contextmanager
def progress_bar(description: str, total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields ``advance(n)``. Silent when disabled."""
    if not enabled:
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.update(task, advance=n)


def emit(json_output: bool, data: Any, text: Callable[[], str]) -> None:
    """Print ``data`` as JSON, or the human text, depending on ``--json``."""
    typer.echo(render.dumps(data) if json_output else text())


def show_progress(json_output: bool) -> bool:
    return not json_output and sys.stderr.isatty()
