"""``voxprint diarize``: who spoke when, by name for enrolled speakers; enrol from the result."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from voxprint.cli import render
from voxprint.cli.common import (
    AudioArgument,
    DbOption,
    EnrollSecondsOption,
    JsonOption,
    ModelOption,
    database_file,
    handles_errors,
    open_service,
    prepare_outputs,
)
from voxprint.errors import InvalidParameterError
from voxprint.service import VoxprintService


def register(app: typer.Typer) -> None:
    app.command("diarize")(diarize)


def parse_enrollments(values: list[str]) -> list[tuple[str, str]]:
    """``SPEAKER=PROFILE`` pairs (``unknown 1=Bob``)."""
    pairs = []
    for value in values:
        speaker, separator, profile = value.partition("=")
        if not separator or not speaker.strip() or not profile.strip():
            raise InvalidParameterError(
                f"--enroll takes SPEAKER=PROFILE (e.g. 'unknown 1=Bob'), got {value!r}"
            )
        pairs.append((speaker.strip(), profile.strip()))
    return pairs


@contextmanager
def stage_progress(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar per stage (segmentation, embeddings) on stderr; ``None`` if off."""
    if not enabled:
        yield None
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
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield update


def build_diarizer() -> Any:
    """The diarizer the command uses (the segmentation model loads on first use)."""
    from voxprint.diarization import SpeakerDiarizer

    return SpeakerDiarizer()


def _resolve_among(service: VoxprintService, among: list[str] | None) -> list[str] | None:
    if not among:
        return None
    return [service.resolve_profile(reference).id for reference in among]


@handles_errors
def diarize(
    file: AudioArgument,
    names: Annotated[
        bool,
        typer.Option(
            "--names/--no-names",
            help="Name speakers from the enrolled profiles (else: speaker 1, speaker 2, ...).",
        ),
    ] = True,
    among: Annotated[
        list[str] | None,
        typer.Option("--among", help="Match only these profiles (name, id or external id)."),
    ] = None,
    num_speakers: Annotated[
        int | None, typer.Option("--num-speakers", min=1, help="Exactly this many speakers.")
    ] = None,
    min_speakers: Annotated[
        int | None, typer.Option("--min-speakers", min=1, help="At least this many speakers.")
    ] = None,
    max_speakers: Annotated[
        int | None, typer.Option("--max-speakers", min=1, help="At most this many speakers.")
    ] = None,
    rttm: Annotated[Path | None, typer.Option("--rttm", help="Write the turns as RTTM.")] = None,
    srt: Annotated[Path | None, typer.Option("--srt", help="Write SRT subtitles.")] = None,
    vtt: Annotated[Path | None, typer.Option("--vtt", help="Write WebVTT subtitles.")] = None,
    enroll: Annotated[
        list[str] | None,
        typer.Option(
            "--enroll",
            help="SPEAKER=PROFILE: add that speaker's speech to the profile (created if new); "
            "repeatable, e.g. --enroll 'unknown 1=Bob'.",
        ),
    ] = None,
    enroll_seconds: EnrollSecondsOption = None,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Who spoke when in FILE: speaker turns, named from the enrolled profiles.

    A turn gets a profile's name where the open-set rule names it; everyone else is
    "unknown 1", "unknown 2" and so on.
    """
    from voxprint.diarization.formats import talk_time_text, to_json, to_rttm, to_srt, to_vtt

    enrollments = parse_enrollments(enroll or [])
    outputs = [path for path in (rttm, srt, vtt) if path is not None]
    prepare_outputs(outputs)  # before minutes of work, not after

    with ExitStack() as stack:
        service = _open_for_diarization(stack, db, model, enroll_seconds, bool(enrollments))
        diarizer = build_diarizer()
        with stage_progress(not json_output and sys.stderr.isatty()) as progress:
            result = diarizer.diarize(
                service,
                file,
                num_speakers=num_speakers,
                min_speakers=min_speakers,
                max_speakers=max_speakers,
                profile_ids=_resolve_among(service, among),
                name_speakers=names,
                on_progress=progress,
            )
        uri = file.stem
        for path, text in (
            (rttm, to_rttm(result, uri)),
            (srt, to_srt(result)),
            (vtt, to_vtt(result)),
        ):
            if path is not None:
                write_output(path, text)
        reports = [
            (speaker, diarizer.enroll_speaker(service, result, speaker, profile=profile))
            for speaker, profile in enrollments
        ]
        if json_output:
            data = to_json(result)
            data["enrolled"] = [
                {"speaker": speaker, **render.enrollment_json(report, service.enrollment)}
                for speaker, report in reports
            ]
            typer.echo(render.dumps(data))
            return
        typer.echo(turns_text(result))
        typer.echo("")
        typer.echo(talk_time_text(result))
        for speaker, report in reports:
            typer.echo(render.enrollment_line(f"{speaker} -> {report.profile.name}", report))
            for line in render.similar_voice_lines(report.profile, report.similar_voices):
                typer.echo(line)


def write_output(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InvalidParameterError(f"cannot write {path}: {error.strerror or error}") from None


def _open_for_diarization(
    stack: ExitStack,
    db: str | Path | None,
    model: str | None,
    enroll_seconds: float | None,
    enrolling: bool,
) -> VoxprintService:
    """The service on ``db``. Enrolling writes (and may make the database); without a
    database and nothing to enrol, nobody can be named, so the speakers are diarized
    against an empty store that is thrown away (and no database is made at ``db``)."""
    path = database_file(db)
    if not enrolling and path is not None and not path.exists():
        typer.echo(f"note: no database at {path}: speakers are not named", err=True)
        db = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "empty.db"
        enrolling = True
    return open_service(db, model, create=enrolling, enrollment_speech_seconds=enroll_seconds)


def turns_text(result: Any) -> str:
    from voxprint.diarization.formats import shortfall_text

    rows = [
        f"{t.start:9.2f} {t.end:9.2f}  {t.label}"
        + (f"  ({t.score:.2f})" if t.score is not None else "")
        for t in result.turns
    ]
    header = (
        f"{render.plural(len(result.speakers), 'speaker')} in {result.duration_seconds:.1f} s "
        f"({result.processing_seconds:.1f} s to diarize)"
    )
    shortfall = shortfall_text(result)
    return "\n".join([header, *([shortfall] if shortfall else []), *rows])
