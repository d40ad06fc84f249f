"""What every ``voxprint`` command shares: options, error handling, progress and output.

Also the command group itself (:class:`VoxprintGroup`): ``-v`` anywhere on the command
line, and ``--json`` errors for mistakes Click finds before a command runs.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import select
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from typer.core import TyperGroup, TyperOption

from voxprint.cli import render
from voxprint.cli.exit_codes import ExitCode, exit_code_for
from voxprint.decision import Decision
from voxprint.enrollment import MAX_ENROLLMENT_SPEECH_SECONDS
from voxprint.errors import DatabaseNotFoundError, InvalidParameterError, VoxprintError
from voxprint.redaction import RedactSecrets

if TYPE_CHECKING:
    from voxprint.passphrase.service import PassphraseService
    from voxprint.service import VoxprintService
    from voxprint.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

# Options that are also settings (voxprint.settings) default to None: "not given", so that
# the VOXPRINT_* variable, or else the setting's default, applies (load_settings).
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="PATH|URL",
        help="Database file, sqlite:/// URL, or a store URL such as "
        "postgresql://USER:PASSWORD@HOST/DB (default: VOXPRINT_DB, else a file in a per-user "
        "data folder).",
        show_default=False,
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="NAME|PATH",
        help="Encoder: campplus, ge2e, campplus+ge2e (for one-second words and digits), or a "
        "trained checkpoint (RUN/best.pt) (default: VOXPRINT_MODEL, else campplus).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
EnrollSecondsOption = Annotated[
    float | None,
    typer.Option(
        "--enroll-seconds",
        min=0.0,
        max=MAX_ENROLLMENT_SPEECH_SECONDS,
        help="Net speech a profile needs to become enrolled, applied whenever clips are "
        "added (or sent again) to one still enrolling; an enrolled profile stays enrolled "
        "(default: VOXPRINT_ENROLL_SECONDS, else 20).",
        show_default=False,
    ),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Accept clips with less than the minimum speech.")
]
NoQualityGateOption = Annotated[
    bool,
    typer.Option(
        "--no-quality-gate",
        help="Enrol clips even if they are noisy, clipped, hold several voices or do not "
        "sound like the voice the profile holds so far.",
    ),
]
AudioArgument = Annotated[
    Path, typer.Argument(metavar="FILE", help="Audio or video file.", show_default=False)
]
ProfileArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="Profile name, id or external id.")
]


VERBOSE_FLAGS = ("-v", "--verbose")
#: Where the root callback leaves ``-v`` for commands that set up logging themselves.
VERBOSE_KEY = "voxprint.verbose"
JSON_FLAG = "--json"


def _before_separator(args: Sequence[str]) -> list[str]:
    args = list(args)
    return args[: args.index("--")] if "--" in args else args


class VoxprintGroup(TyperGroup):
    """The ``voxprint`` group: ``-v/--verbose`` works before or after the subcommand, and
    Click's own errors (unknown command or option, missing argument) are one line on
    stderr like every other error, naming the help to read (with ``--json``, a JSON error
    object), with Click's exit code (2)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        head = _before_separator(args)
        if ctx.parent is None and any(flag in head for flag in VERBOSE_FLAGS):
            tail = args[len(head) :]
            args = ["--verbose", *(a for a in head if a not in VERBOSE_FLAGS), *tail]
        return super().parse_args(ctx, args)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        json_output = JSON_FLAG in _before_separator(argv)
        try:
            result = super().main(argv, prog_name, complete_var, False, **extra)
        except typer.TyperException as error:  # Click's errors (Typer vendors Click)
            exit_code = int(getattr(error, "exit_code", 1))
            format_message = getattr(error, "format_message", None)
            message = format_message() if callable(format_message) else str(error)
            if not message.strip():  # a group called bare: Click printed its help
                sys.exit(exit_code)
            context = getattr(error, "ctx", None)
            if context is not None and not json_output:
                message = f"{message} (see '{context.command_path} --help')"
            echo_error("usage" if exit_code == 2 else "error", message, json_output=json_output)
            sys.exit(exit_code)
        except typer.Abort:
            echo_error("aborted", "aborted", json_output=json_output)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def _flag_aware_display_type(self: TyperOption, ctx: Any) -> str | None:
    """A flag takes no value, so its help shows no type (Typer would show ``<bool>``)."""
    if self.is_flag and not self.count and self.metavar is None:
        return None
    return _typer_display_type(self, ctx)


_typer_display_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_aware_display_type  # type: ignore[method-assign]


def error_json(code: str, message: str, **details: Any) -> str:
    """The ``--json`` error: ``{"error": {"code", "message", ...}}`` on one line, the shape
    the REST service answers with."""
    body = {"error": {"code": code, "message": message, **details}}
    return json.dumps(render.to_jsonable(body), separators=(",", ":"))


def echo_error(code: str, message: str, *, json_output: bool, **details: Any) -> None:
    """An error on stderr: ``error: message``, or with ``--json`` the JSON error object."""
    if json_output:
        typer.echo(error_json(code, message, **details), err=True)
    else:
        typer.echo(f"error: {message}", err=True)


def fail(
    message: str,
    code: ExitCode,
    *,
    json_output: bool = False,
    error_code: str = "error",
    **details: Any,
) -> typer.Exit:
    """Print the error (one line) and return the :class:`typer.Exit` to raise."""
    echo_error(error_code, message, json_output=json_output, **details)
    return typer.Exit(int(code))


def fail_with(error: VoxprintError, *, json_output: bool, prefix: str = "") -> typer.Exit:
    """:func:`fail` for a voxprint error: its message (after ``prefix``), code, details
    and exit code."""
    return fail(
        prefix + error.message,
        exit_code_for(error),
        json_output=json_output,
        error_code=error.code,
        **error.details(),
    )


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn voxprint errors into a one-line message and a documented exit code (a JSON
    error object on stderr when the command was given ``--json``)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        json_output = bool(kwargs.get("json_output", False))
        try:
            return command(*args, **kwargs)
        except VoxprintError as error:
            raise fail_with(error, json_output=json_output) from None
        except KeyboardInterrupt:
            raise fail(
                "interrupted", ExitCode.INTERNAL, json_output=json_output, error_code="interrupted"
            ) from None
        except typer.Exit:
            raise
        except Exception as error:  # a bug: one line, and the traceback only in the log
            if isinstance(error, BrokenPipeError) and _stdout_closed():
                raise _output_closed() from None
            logging.getLogger("voxprint").debug("unexpected error", exc_info=True)
            raise fail(
                f"internal error: {type(error).__name__}: {error}",
                ExitCode.INTERNAL,
                json_output=json_output,
                error_code="internal_error",
            ) from None

    return wrapper


def _stdout_closed() -> bool:
    """Whether standard output's reader has gone, so that a broken pipe was ours and not
    some other pipe's: a pipe without a reader polls as an error; where standard output
    cannot be polled, whether what is buffered still flushes."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    except (OSError, ValueError):
        return False
    return False


def _output_closed() -> typer.Exit:
    """The reader of standard output went away (``voxprint activity | head``): stop
    quietly, as other command-line tools do, and keep Python from reporting the closed
    pipe again when it flushes standard output at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # not a real file: nothing to flush
        pass
    return typer.Exit(int(ExitCode.OUTPUT_CLOSED))


def configure_logging(verbose: bool) -> None:
    """Log to stderr (DEBUG with ``-v``, else WARNING), with key secrets redacted.

    Like :func:`logging.basicConfig`, it leaves a root logger that already has handlers
    (an embedding program's, or pytest's) alone.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def confirm(question: str, *, yes: bool, refused: str, json_output: bool) -> None:
    """Go on when ``--yes`` was given or the user answers yes; otherwise stop, having
    changed nothing: without a terminal to ask on, with :attr:`ExitCode.USAGE` (the
    command line needs ``--yes``); on "no", Ctrl-C or end of input, with
    :attr:`ExitCode.CANCELLED`. ``refused`` says what did not happen ("not deleted")."""
    if yes:
        return
    if not stdin_is_terminal():
        raise fail(
            f"{refused}: no terminal to ask for confirmation; add --yes",
            ExitCode.USAGE,
            json_output=json_output,
            error_code="confirmation_required",
        )
    try:
        answer = typer.confirm(question, err=True)
    except typer.Abort:  # Ctrl-C or end of input at the prompt
        typer.echo("", err=True)
        answer = False
    if not answer:
        raise fail(
            f"{refused}: cancelled",
            ExitCode.CANCELLED,
            json_output=json_output,
            error_code="cancelled",
        )


def settings(**given: Any) -> Settings:
    """The settings of this command: the ``VOXPRINT_*`` environment, with the options that
    were given (not ``None``) winning over it."""
    from voxprint.settings import load_settings

    return load_settings(**given)


def service_options(
    db: str | Path | None = None, model: str | None = None, **overrides: Any
) -> Any:
    """The :class:`~voxprint.bootstrap.ServiceOptions` of a command: its settings, with
    ``overrides`` (ServiceOptions fields) that are not ``None`` on top."""
    given = {name: value for name, value in overrides.items() if value is not None}
    return settings(db=None if db is None else str(db), model=model).command_options(**given)


def database_path(db: str | Path | None) -> str:
    """The store a command uses, for people to read: ``--db`` / ``VOXPRINT_DB`` or the
    per-user database, as an absolute path (a URL without its password)."""
    from voxprint.store.checks import redact

    target = database_target(db)
    path = _sqlite_file(target)
    return redact(target) if path is None else str(path.absolute())


def database_file(db: str | Path | None) -> Path | None:
    """The SQLite file behind the store a command uses (``db`` resolved as
    :func:`database_path` does); ``None`` for a store that is not a local file."""
    return _sqlite_file(database_target(db))


def database_target(db: str | Path | None) -> str:
    """The store a command opens: ``--db`` if given, else ``VOXPRINT_DB``, else the
    per-user database."""
    if db is not None:
        return str(db)
    from voxprint.bootstrap import default_db_path

    return settings().db or str(default_db_path())


def _sqlite_file(target: str) -> Path | None:
    """The file of a store path or ``sqlite:///`` URL; ``None`` for another store's URL."""
    from urllib.parse import urlsplit

    from voxprint.store import _sqlite_path

    scheme = urlsplit(target).scheme.lower()
    if len(scheme) <= 1:  # a plain path (or a Windows drive letter)
        return Path(target)
    return _sqlite_path(target) if scheme == "sqlite" else None


def require_database(db: str | Path | None, *, create: bool = False) -> None:
    """Refuse a database file that does not exist: commands that only read (or change
    what is already there) never create one, so a mistyped ``--db`` is an error rather
    than a new, empty database. ``create=True`` (commands that may make one): a new
    database named by ``--db`` or ``VOXPRINT_DB`` must go in a folder that exists, so a
    mistyped folder is an error rather than a tree of new folders; only the per-user
    default location's folders are made."""
    path = database_file(db)
    where = "--db" if db else "VOXPRINT_DB" if settings().db else "the default location; give --db"
    if create:
        named = bool(db) or bool(settings().db)
        if named and path is not None and not path.exists() and not path.parent.is_dir():
            raise DatabaseNotFoundError(
                f"database {path} cannot be made: its folder {path.parent} does not exist "
                f"(check {where}, or create the folder first)"
            )
        return
    if path is None or path.is_file():
        return
    state = "is a folder, not a database file" if path.is_dir() else "does not exist"
    raise DatabaseNotFoundError(f"database {path} {state} (check {where})")


def open_service(
    db: str | Path | None, model: str | None, *, create: bool, **overrides: Any
) -> VoxprintService:
    """The service on ``db``. ``create=False`` (commands that only read, or change what is
    there) refuses a database that does not exist, before any model is loaded."""
    from voxprint.bootstrap import build_service

    require_database(db, create=create)
    return build_service(service_options(db, model, **overrides))


def open_passphrases(
    db: str | Path | None, model: str | None, *, create: bool, **overrides: Any
) -> PassphraseService:
    """The service with passphrases and spoken challenges (recogniser from
    ``VOXPRINT_PHRASE_RECOGNIZER``, default pocketsphinx)."""
    from voxprint.passphrase import load_recognizer
    from voxprint.passphrase.service import PassphraseService

    return PassphraseService(
        open_service(db, model, create=create, **overrides),
        load_recognizer(settings().phrase_recognizer),
    )


class ProgressBar:
    """``advance(n)`` a progress bar on stderr (silent when disabled), and ``echo`` result
    lines while it runs."""

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self._progress = progress
        self._task = task

    def __call__(self, n: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=n)

    def echo(self, text: str, *, err: bool = False) -> None:
        """Print a line on stdout (``err``: stderr). When the bar is live on the same
        terminal the line goes above the bar, never glued to it."""
        live = self._progress is not None and (err or sys.stdout.isatty())
        if live:
            self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            typer.echo(text, err=err)


@contextmanager
def progress_bar(description: str, total: int, enabled: bool) -> Iterator[ProgressBar]:
    """A progress bar on stderr; yields a :class:`ProgressBar`. Silent when disabled."""
    if not enabled:
        yield ProgressBar()
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
        redirect_stdout=False,  # stdout may be a file: what goes there stays there
    ) as progress:
        yield ProgressBar(progress, progress.add_task(description, total=total))


def exit_if_rejected(decision: Decision) -> None:
    """A rejected claim (or two recordings of different speakers) exits with
    :attr:`ExitCode.REJECTED`, after its answer is shown."""
    if decision is Decision.REJECT:
        raise typer.Exit(int(ExitCode.REJECTED))


def emit(json_output: bool, data: Any, text: Callable[[], str]) -> None:
    """Print ``data`` as JSON, or the human text, depending on ``--json``."""
    typer.echo(render.dumps(data) if json_output else text())


def show_progress(json_output: bool) -> bool:
    return not json_output and sys.stderr.isatty()


def prepare_outputs(paths: list[Path]) -> None:
    """Check that the output files can be written, making nothing yet; raises
    :class:`InvalidParameterError` naming the first that cannot (a folder given as a
    file, a folder that cannot be made or written to). Missing folders are made when the
    files are written, so a failed run leaves none behind."""
    for path in paths:
        if path.is_dir():
            raise InvalidParameterError(f"{path} is a folder, not a file to write")
        existing = next(p for p in (path.parent, *path.parent.parents) if p.exists())
        if not existing.is_dir():
            raise InvalidParameterError(
                f"cannot make the folder of {path}: {existing} is a file, not a folder"
            )
        if not os.access(existing, os.W_OK | os.X_OK) or (
            path.exists() and not os.access(path, os.W_OK)
        ):
            raise InvalidParameterError(f"cannot write {path}: permission denied")


#: The image formats plots are written in (by the output's suffix).
IMAGE_SUFFIXES = (".png", ".svg", ".pdf")


def prepare_image_output(path: Path) -> None:
    """:func:`prepare_outputs` for a plot, which must also be a PNG, SVG or PDF file."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InvalidParameterError(
            f"{path}: a plot is written as {', '.join(IMAGE_SUFFIXES)}; give one of those"
        )
    prepare_outputs([path])
