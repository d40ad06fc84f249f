"""The ``voxprint`` command: each command parses, calls the service, and renders the result."""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from voxprint import __version__
from voxprint.cli import render
from voxprint.cli.common import (
    AudioArgument,
    DbOption,
    EnrollSecondsOption,
    ForceOption,
    JsonOption,
    ModelOption,
    NoQualityGateOption,
    emit,
    fail,
    handles_errors,
    open_service,
    progress_bar,
    service_options,
    show_progress,
)
from voxprint.cli.exit_codes import ExitCode, exit_code_for
from voxprint.errors import InvalidParameterError, VoxprintError

app = typer.Typer(
    name="voxprint",
    help="Self-hosted speaker recognition: enrol voices, verify and identify speakers offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
profiles_app = typer.Typer(help="List, show, reset and delete profiles.", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"voxprint {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")
    ] = False,
) -> None:
    """Self-hosted speaker recognition."""
    level = logging.DEBUG if verbose or os.environ.get("VOXPRINT_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@app.command()
@handles_errors
def enroll(
    name: Annotated[str, typer.Argument(help="Profile name, id or external id.")],
    files: Annotated[list[Path], typer.Argument(help="Audio or video files of this speaker.")],
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="Your own id for a new profile.")
    ] = None,
    force: ForceOption = False,
    no_quality_gate: NoQualityGateOption = False,
    enroll_seconds: EnrollSecondsOption = 20.0,
    db: DbOption = None,
    model: ModelOption = "campplus",
    json_output: JsonOption = False,
) -> None:
    """Enrol FILES into the profile NAME (created if it does not exist)."""
    service = open_service(db, model, enrollment_speech_seconds=enroll_seconds)
    profile = service.ensure_profile(name, external_id=external_id)
    reports = []
    for path in files:
        report = service.enroll(
            profile.id, path, label=path.name, force=force, check_quality=not no_quality_gate
        )
        reports.append(report)
        if not json_output:
            typer.echo(render.enrollment_line(path.name, report))
    if json_output:
        typer.echo(render.dumps([render.enrollment_json(r) for r in reports]))


@app.command("enroll-dir")
@handles_errors
def enroll_dir(
    directory: Annotated[Path, typer.Argument(help="One sub-folder of audio files per speaker.")],
    force: ForceOption = False,
    no_quality_gate: NoQualityGateOption = False,
    enroll_seconds: EnrollSecondsOption = 20.0,
    db: DbOption = None,
    model: ModelOption = "campplus",
    json_output: JsonOption = False,
) -> None:
    """Enrol every speaker folder in DIRECTORY; the folder name becomes the profile name.

    Files that fail (no speech, unreadable) are reported and skipped; the exit
    code is then that of the first failure. With --no-quality-gate the files are
    embedded in batches, decoding ahead in a background thread.
    """
    from voxprint.evaluation.datasets import speaker_folders

    speakers = speaker_folders(directory)
    service = open_service(db, model, enrollment_speech_seconds=enroll_seconds)
    total = sum(len(paths) for paths in speakers.values())
    results: list[dict[str, Any]] = []
    first_error: VoxprintError | None = None
    # Without the quality gate a clip needs only its embedding, so all files go through
    # the batched pipeline, in the order the loop below consumes them.
    embedded = service.pipeline.process_many(
        [path for paths in speakers.values() for path in paths], force=force
    )

    def enrol(profile_id: str, path: Path) -> Any:
        if no_quality_gate:
            utterance = next(embedded)
            if isinstance(utterance, VoxprintError):
                raise utterance
            return service.enroll_utterance(profile_id, utterance, label=path.name)
        return service.enroll(profile_id, path, label=path.name, force=force)

    with progress_bar("enrolling", total, show_progress(json_output)) as advance:
        for speaker, paths in speakers.items():
            profile = service.ensure_profile(speaker)
            report = None
            for path in paths:
                try:
                    report = enrol(profile.id, path)
                except VoxprintError as error:
                    first_error = first_error or error
                    typer.echo(f"skipped {path}: {error.message}", err=True)
                advance(1)
            if report is not None:
                results.append(render.enrollment_json(report))
                if not json_output:
                    typer.echo(render.enrollment_line(speaker, report))
    if json_output:
        typer.echo(render.dumps(results))
    if first_error is not None:
        raise typer.Exit(int(exit_code_for(first_error)))


@app.command()
@handles_errors
def verify(
    name: Annotated[str, typer.Argument(help="Claimed profile: name, id or external id.")],
    file: AudioArgument,
    force: ForceOption = False,
    db: DbOption = None,
    model: ModelOption = "campplus",
    json_output: JsonOption = False,
) -> None:
    """Is the speaker in FILE who they claim to be? Exit 0 on accept, 1 on reject."""
    service = open_service(db, model)
    result = service.verify(service.resolve_profile(name).id, file, force=force)
    emit(json_output, result, lambda: render.verification_text(result))
    if result.decision.value == "reject":
        raise typer.Exit(int(ExitCode.REJECTED))


@app.command()
@handles_errors
def identify(
    file: AudioArgument,
    top: Annotated[int, typer.Option("--top", help="How many candidates to rank.")] = 5,
    among: Annotated[
        list[str] | None,
        typer.Option("--among", help="Only consider these profiles (repeatable)."),
    ] = None,
    force: ForceOption = False,
    db: DbOption = None,
    model: ModelOption = "campplus",
    json_output: JsonOption = False,
) -> None:
    """Who is speaking in FILE? Answers "unknown" when nobody enrolled matches."""
    service = open_service(db, model)
    subset = [service.resolve_profile(ref).id for ref in among] if among else None
    result = service.identify(file, top_n=top, profile_ids=subset, force=force)
    if json_output:
        data = render.to_jsonable(result)
        data["unknown"] = result.is_unknown
        typer.echo(render.dumps(data))
    else:
        typer.echo(render.identification_text(result))


@profiles_app.command("list")
@handles_errors
def profiles_list(
    limit: Annotated[int, typer.Option(help="Most profiles to show.")] = 100,
    offset: Annotated[int, typer.Option(help="Profiles to skip.")] = 0,
    db: DbOption = None,
    model: ModelOption = "campplus",
    json_output: JsonOption = False,
) -> None:
    """List profiles."""
    service = open_service(db, model)
    profiles = service.list_profiles(limit=limit, offset=offset)
    if json_output:
        typer.echo(render.dumps([render.profile_json(p) for p in profiles]))
    elif not profiles:
        typer.echo("no profiles")
    else:
        for profile in profiles:
            typer.echo(render.profile_line(profile))


@profiles_app.command("show")
@handles_errors
def profiles_show(
    name: Annotated[str, typer.Argument(help="Profile name, id or external id.")],
    db: DbOption = None,
    model: ModelOption = "campplus",
    json_output: JsonOption = False,
) -> None:
    """Show one profile."""
    profile = open_service(db, model).resolve_profile(name)
    emit(json_output, render.profile_json(profile), lambda: render.profile_details(profile))


@profiles_app.command("delete")
@handles_errors
def profiles_delete(
    name: Annotated[str, typer.Argument(help="Profile name, id or external id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
    model: ModelOption = "campplus",
    json_output: JsonOption = False,
) -> None:
    """Delete a profile with its voiceprint and every enrolment embedding, for good."""
    service = open_service(db, model)
    profile = service.resolve_profile(name)
    if not yes and not typer.confirm(f"Delete profile {profile.name!r} ({profile.id}) for good?"):
        raise fail("not deleted", ExitCode.USAGE)
    service.delete_profile(profile.id)
    emit(json_output, {"deleted": profile.id}, lambda: f"deleted {profile.name} ({profile.id})")


@profiles_app.command("reset")
@handles_errors
def profiles_reset(
    name: Annotated[str, typer.Argument(help="Profile name, id or external id.")],
    db: DbOption = None,
    model: ModelOption = "campplus",
    json_output: JsonOption = False,
) -> None:
    """Forget a profile's enrolment audio; it goes back to enrolling."""
    service = open_service(db, model)
    profile = service.reset_profile(service.resolve_profile(name).id)
    emit(json_output, render.profile_json(profile), lambda: render.profile_line(profile))


@app.command()
@handles_errors
def activity(
    limit: Annotated[int, typer.Option(help="Most entries to show.")] = 50,
    db: DbOption = None,
    model: ModelOption = "campplus",
    json_output: JsonOption = False,
) -> None:
    """Show the activity log: enrolments, verifications, identifications, deletions."""
    entries = open_service(db, model).activity(limit=limit)
    if json_output:
        typer.echo(render.dumps(entries))
        return
    for e in entries:
        score = f" score={e.score:.3f}" if e.score is not None else ""
        typer.echo(
            f"{e.time.isoformat(timespec='seconds')}  {e.action:<9} {e.result:<10} "
            f"{e.profile_id or '-'}{score}"
        )


@app.command("eval")
@handles_errors
def evaluate(
    directory: Annotated[
        Path | None, typer.Argument(help="Dataset: one sub-folder of audio per speaker.")
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option(help="A standard protocol on the shared data: test-other or tc100-halves."),
    ] = None,
    trials: Annotated[
        Path | None, typer.Option(help="Trial list 'label path1 path2' relative to DIRECTORY.")
    ] = None,
    det: Annotated[Path | None, typer.Option(help="Write the DET curve to this PNG.")] = None,
    data: Annotated[
        Path | None, typer.Option(envvar="VOXPRINT_DATA", help="Shared data folder.")
    ] = None,
    model: ModelOption = "campplus",
    json_output: JsonOption = False,
) -> None:
    """Measure EER, minDCF, top-1 identification and speed on a dataset or protocol."""
    from voxprint.bootstrap import build_pipeline
    from voxprint.evaluation.datasets import build_protocol, folder_eval_set, trial_list_eval_set
    from voxprint.evaluation.plots import plot_det
    from voxprint.evaluation.runner import evaluate as run_evaluation

    if (directory is None) == (protocol is None):
        raise InvalidParameterError("give either a DIRECTORY or --protocol, not both")
    if protocol is not None:
        eval_set = build_protocol(protocol, data)
    elif trials is not None:
        assert directory is not None
        eval_set = trial_list_eval_set(directory, trials)
    else:
        assert directory is not None
        eval_set = folder_eval_set(directory)
    pipeline = build_pipeline(service_options(model=model))
    with progress_bar("embedding", len(eval_set.items), show_progress(json_output)) as advance:
        report = run_evaluation(pipeline, eval_set, progress=lambda _done, _total: advance(1))
    det_path = det or Path(f"det-{eval_set.name}-{pipeline.encoder.name}.png")
    plot_det(
        [(pipeline.encoder.name, report.target_scores, report.nontarget_scores)],
        det_path,
        title=f"DET: {eval_set.name}",
    )
    emit(
        json_output,
        {**report.summary(), "det_plot": str(det_path)},
        lambda: render.evaluation_text(report, str(det_path)),
    )


# Commands that live in their own modules register themselves here.
COMMAND_MODULES: tuple[str, ...] = (
    "keys",
    "serve",
    "calibrate",
    "cohort",
    "thresholds",
    "train",
    "listen",
    "plot",
    "diarize",
)
for _module in COMMAND_MODULES:
    importlib.import_module(f"voxprint.cli.{_module}").register(app)


def main() -> None:
    """Console-script entry point."""
    app()
