"""The ``voxprint`` command: each command parses, calls the service, and renders the result."""

from __future__ import annotations

import functools
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voxprint import __version__
from voxprint.cli import render
from voxprint.cli.common import (
    VERBOSE_KEY,
    AudioArgument,
    DbOption,
    EnrollSecondsOption,
    ForceOption,
    JsonOption,
    ModelOption,
    NoQualityGateOption,
    ProfileArgument,
    VoxprintGroup,
    configure_logging,
    confirm,
    emit,
    exit_if_rejected,
    fail_with,
    handles_errors,
    open_passphrases,
    open_service,
    prepare_image_output,
    progress_bar,
    service_options,
    settings,
    show_progress,
)
from voxprint.cli.exit_codes import ExitCode, exit_code_for
from voxprint.cli.process_exit import end_process
from voxprint.errors import (
    AudioFileNotFoundError,
    DuplicateClipError,
    InvalidParameterError,
    ProfileNotFoundError,
    VoxprintError,
)
from voxprint.service import MAX_ACTIVITY_ID, MAX_LISTED
from voxprint.store.records import ProfileKind

if TYPE_CHECKING:
    from voxprint.passphrase.service import SpokenEnrollment
    from voxprint.service import VoxprintService

app = typer.Typer(
    name="voxprint",
    help="Self-hosted speaker recognition: enrol voices, verify and identify speakers offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=VoxprintGroup,
)
profiles_app = typer.Typer(
    help="List, show, reset, merge and delete profiles; find similar voices.", no_args_is_help=True
)
app.add_typer(profiles_app, name="profiles")


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"voxprint {__version__}")
        raise typer.Exit()


YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


@app.callback()
@handles_errors
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Log progress to stderr (before or after the command)."
        ),
    ] = False,
) -> None:
    """Self-hosted speaker recognition."""
    verbose = verbose or settings().debug
    ctx.meta[VERBOSE_KEY] = verbose
    configure_logging(verbose)


EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="Where files are embedded: local or ray (default: VOXPRINT_ENGINE, else local).",
        show_default=False,
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster for --engine ray (e.g. ray://head:10001; default: RAY_ADDRESS, "
        "else a local Ray).",
        show_default=False,
    ),
]
RayWorkersOption = Annotated[
    int, typer.Option("--ray-workers", min=1, help="Ray actors, each with its own model.")
]


@app.command()
@handles_errors
def enroll(
    name: ProfileArgument,
    files: Annotated[
        list[Path], typer.Argument(metavar="FILES", help="Audio or video files of this speaker.")
    ],
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="Your own id for a new profile.")
    ] = None,
    phrase: Annotated[
        str | None,
        typer.Option(
            "--phrase",
            help="Passphrase: makes a new profile text-dependent (see `voxprint phrases`, "
            "or at least 3 words of your own); every file must say it.",
        ),
    ] = None,
    force: ForceOption = False,
    no_quality_gate: NoQualityGateOption = False,
    enroll_seconds: EnrollSecondsOption = None,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Enrol FILES into the profile NAME (created if it does not exist).

    A text-dependent profile (made with --phrase) takes 1-10 s clips that say its
    passphrase, and is enrolled after three of them.
    """
    missing = [path for path in files if not path.exists()]
    if missing:  # before the store is opened (or made): nothing is written
        error = AudioFileNotFoundError(
            f"audio file not found: {', '.join(map(str, missing))}; nothing was enrolled"
        )
        raise fail_with(error, json_output=json_output) from None
    passphrases = open_passphrases(db, model, create=True, enrollment_speech_seconds=enroll_seconds)

    stored: list[str] = []

    def show(label: str, result: SpokenEnrollment) -> None:
        stored.append(label)
        if not json_output:
            typer.echo(render.spoken_enrollment_line(label, result))

    try:
        results = passphrases.enroll_clips(
            name,
            [(path.name, path) for path in files],
            external_id=external_id,
            passphrase=phrase,
            force=force,
            check_quality=not no_quality_gate,
            on_enrolled=show,
        )
    except VoxprintError as error:
        # A file's own error names the file; a profile's error (found before any file) not.
        about_a_file = exit_code_for(error) in (ExitCode.BAD_AUDIO, ExitCode.NOT_ENOUGH_SPEECH)
        prefix = render.stopped_at(files, len(stored)) if about_a_file else ""
        raise fail_with(error, json_output=json_output, prefix=prefix) from None
    if results and not json_output:
        last = results[-1]
        for line in render.similar_voice_lines(last.report.profile, last.report.similar_voices):
            typer.echo(line)
        if last.kind is ProfileKind.TEXT_INDEPENDENT:
            required = passphrases.core.enrollment.min_net_speech_seconds
            hint = render.still_enrolling_line(last.report, required)
            if hint is not None:
                typer.echo(hint)
    if json_output:
        policy = passphrases.core.enrollment
        typer.echo(render.dumps([render.spoken_enrollment_json(r, policy) for r in results]))


@app.command("enroll-dir")
@handles_errors
def enroll_dir(
    directory: Annotated[
        Path, typer.Argument(metavar="DIRECTORY", help="One sub-folder of audio files per speaker.")
    ],
    force: ForceOption = False,
    no_quality_gate: NoQualityGateOption = False,
    reenroll: Annotated[
        bool,
        typer.Option(
            "--reenroll",
            help="Enrol files again whose names the profile already has (re-recorded files); "
            "audio it already holds is still not stored twice.",
        ),
    ] = False,
    enroll_seconds: EnrollSecondsOption = None,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
    ray_workers: RayWorkersOption = 1,
) -> None:
    """Enrol every speaker folder in DIRECTORY; the folder name becomes the profile name.

    A file the profile already has a clip of (by its path in the speaker folder) is
    skipped with a warning, so running this again after adding files enrols only the
    new ones; --reenroll enrols them again (audio the profile already holds, by content,
    is never stored twice). Files that fail (no speech, unreadable) are
    reported and skipped; the exit code is then that of the first failure. With
    --no-quality-gate the files are embedded in batches, decoding ahead in a background
    thread. With --engine ray the files are embedded by Ray workers (each loads the
    model once); this process writes the profiles to the store.
    """
    from voxprint.engines import embed_files, measure_files
    from voxprint.evaluation.datasets import speaker_folders

    speakers = speaker_folders(directory)
    service = open_service(db, model, create=True, enrollment_speech_seconds=enroll_seconds)
    plans: list[render.SpeakerEnrollment] = []
    for speaker, paths in speakers.items():
        # A new speaker's profile is made with its first clip: a folder of files that all
        # fail leaves no empty profile behind.
        profile = service.find_profile(speaker)
        plan = render.SpeakerEnrollment(speaker, profile)
        # A clip's label is the file's path inside the speaker folder ("0.wav" when flat).
        known = (
            set()
            if profile is None
            else {c.label for c in service.store.list_clips(service.namespace, profile.id)}
        )
        for path in paths:
            label = path.relative_to(directory / speaker).as_posix()
            if label in known and not reenroll:
                plan.skipped.append(
                    render.SkippedFile(path, "already_enrolled", f"{speaker} already has {label}")
                )
            else:
                plan.files.append((path, label))
        plans.append(plan)
    total = sum(len(plan.files) for plan in plans)
    first_error: VoxprintError | None = None
    # Every file to enrol is embedded (and, with the quality gate, measured) by the
    # engine, in the order the loop below consumes them; this process writes each clip to
    # the store. Without the quality gate a clip needs only its embedding, so files go
    # through the batched pipeline.
    work = (
        functools.partial(embed_files, force=force)
        if no_quality_gate
        else functools.partial(measure_files, gate=service.enrollment.quality_gate, force=force)
    )
    embedded = batch_engine(engine, service, model, ray_address, ray_workers).run(
        work, [path for plan in plans for path, _ in plan.files]
    )

    def enrol(plan: render.SpeakerEnrollment, label: str) -> Any:
        result = next(embedded)
        if isinstance(result, VoxprintError):
            raise result
        made = plan.profile is None
        if plan.profile is None:
            plan.profile = service.create_profile(plan.speaker)
        profile_id = plan.profile.id
        try:
            if no_quality_gate:
                utterance, content_hash = result
                return service.enroll_utterance(
                    profile_id, utterance, label=label, content_hash=content_hash
                )
            return service.enroll_measured(profile_id, result, label=label)
        except VoxprintError:
            if made:  # e.g. the quality gate refused the first clip: no empty profile left
                service.discard_if_empty(profile_id)
                plan.profile = None
            raise

    with progress_bar("enrolling", total, show_progress(json_output)) as bar:
        for plan in plans:
            for skipped in plan.skipped:
                if not json_output:
                    bar.echo(
                        f"skipped {skipped.path}: {skipped.message} (--reenroll enrols it again)",
                        err=True,
                    )
            for path, label in plan.files:
                try:
                    report = enrol(plan, label)
                except VoxprintError as error:
                    first_error = first_error or error
                    plan.skipped.append(render.SkippedFile(path, error.code, error.message))
                    if not json_output:
                        bar.echo(f"skipped {path}: {error.message}", err=True)
                else:
                    if report.duplicate:  # the same audio under another name: no failure
                        message = f"{plan.speaker} already has this audio"
                        plan.skipped.append(
                            render.SkippedFile(path, DuplicateClipError.code, message)
                        )
                        if not json_output:
                            bar.echo(f"skipped {path}: {message}", err=True)
                    else:
                        plan.added.append((label, report))
                bar(1)
            if not json_output:
                bar.echo(render.speaker_enrollment_text(plan, service.enrollment))
    if json_output:
        typer.echo(
            render.dumps([render.speaker_enrollment_json(p, service.enrollment) for p in plans])
        )
    if first_error is not None:
        if json_output:
            raise fail_with(first_error, json_output=True)
        raise typer.Exit(int(exit_code_for(first_error)))


@app.command()
@handles_errors
def verify(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Claimed profile: name, id or external id.")
    ],
    file: AudioArgument,
    challenge: Annotated[
        str | None,
        typer.Option(
            "--challenge",
            help="A spoken challenge id (`voxprint challenge`): FILE must say its phrase.",
        ),
    ] = None,
    force: ForceOption = False,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Is the speaker in FILE who they claim to be? Exit 0 on accept, 1 on reject.

    A text-dependent profile also needs its passphrase said; with --challenge the
    challenge's phrase must be said (and the challenge is used up).
    """
    passphrases = open_passphrases(db, model, create=False)
    profile_id = passphrases.core.resolve_profile(name).id
    result = passphrases.verify(profile_id, file, challenge_id=challenge, force=force)
    emit(
        json_output,
        render.spoken_verification_json(result),
        lambda: render.spoken_verification_text(result),
    )
    exit_if_rejected(result.decision)


@app.command()
@handles_errors
def identify(
    file: AudioArgument,
    top: Annotated[int, typer.Option("--top", min=1, help="How many candidates to rank.")] = 5,
    among: Annotated[
        list[str] | None,
        typer.Option("--among", help="Only consider these profiles (repeatable)."),
    ] = None,
    force: ForceOption = False,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Who is speaking in FILE? Answers "unknown" when nobody enrolled matches."""
    service = open_service(db, model, create=False)
    subset = [service.resolve_profile(ref).id for ref in among] if among else None
    result = service.identify(file, top_n=top, profile_ids=subset, force=force)
    emit(
        json_output,
        render.identification_json(result),
        lambda: render.identification_text(result),
    )


@app.command()
@handles_errors
def compare(
    first: AudioArgument,
    second: Annotated[
        Path, typer.Argument(metavar="SECOND", help="The other recording (any audio or video).")
    ],
    force: ForceOption = False,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Are the speakers of FILE and SECOND one person? Exit 0 if so, 1 if not.

    No profile is read or changed; the thresholds are those in force for the database's
    namespace, each recording judged in its own band. Like other commands that only
    read, it refuses a database that does not exist.
    """
    service = open_service(db, model, create=False)
    result = service.compare(first, second, force=force)
    emit(json_output, render.comparison_json(result), lambda: render.comparison_text(result))
    exit_if_rejected(result.decision)


@profiles_app.command("list")
@handles_errors
def profiles_list(
    limit: Annotated[int, typer.Option(min=1, max=MAX_LISTED, help="Most profiles to show.")] = 100,
    offset: Annotated[int, typer.Option(min=0, max=MAX_LISTED, help="Profiles to skip.")] = 0,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """List profiles."""
    passphrases = open_passphrases(db, model, create=False)
    profiles = passphrases.list_profiles(limit=limit, offset=offset).profiles
    if json_output:
        policy = passphrases.core.enrollment
        typer.echo(render.dumps([render.profile_json(p, policy) for p in profiles]))
    elif not profiles:
        typer.echo("no profiles")
    else:
        for spoken in profiles:
            typer.echo(render.profile_line(spoken.profile))


@profiles_app.command("show")
@handles_errors
def profiles_show(
    name: ProfileArgument,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one profile (a text-dependent one with its passphrase)."""
    passphrases = open_passphrases(db, model, create=False)
    profile = passphrases.get_profile(passphrases.core.resolve_profile(name).id)
    emit(
        json_output,
        render.profile_json(profile, passphrases.core.enrollment),
        lambda: render.profile_details(profile),
    )


@profiles_app.command("similar")
@handles_errors
def profiles_similar(
    name: ProfileArgument,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Other enrolled profiles whose voices are too close to this one's to tell apart.

    What enrolment warns of, asked again later (e.g. of a profile enrolled before the
    others). Text-independent profiles only.
    """
    passphrases = open_passphrases(db, model, create=False)
    result = passphrases.similar_voices(passphrases.core.resolve_profile(name).id)
    emit(
        json_output,
        render.similar_voices_json(result),
        lambda: render.similar_voices_text(result),
    )


@profiles_app.command("delete")
@handles_errors
def profiles_delete(
    name: ProfileArgument,
    yes: YesOption = False,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Delete a profile with its voiceprint and every enrolment embedding, for good.

    Asks first unless --yes; with no terminal to ask on, --yes is required (exit 2).
    Answering no changes nothing and exits 8.
    """
    service = open_service(db, model, create=False)
    profile = service.resolve_profile(name)
    confirm(
        f"Delete profile {profile.name!r} ({profile.id}) and its voiceprint for good?",
        yes=yes,
        refused="not deleted",
        json_output=json_output,
    )
    service.delete_profile(profile.id)
    emit(json_output, {"deleted": profile.id}, lambda: f"deleted {profile.name} ({profile.id})")


@profiles_app.command("merge")
@handles_errors
def profiles_merge(
    into: Annotated[
        str, typer.Argument(metavar="INTO", help="The profile to keep: name, id or external id.")
    ],
    source: Annotated[
        str,
        typer.Argument(
            metavar="FROM",
            help="The profile merged into it, then deleted: name, id or external id.",
        ),
    ],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Merge even when the two voiceprints do not sound like one voice (refused "
            "otherwise, since once merged either person could pass as the other).",
        ),
    ] = False,
    yes: YesOption = False,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Merge two profiles of one voice (one person enrolled twice): FROM's clips move to
    INTO, whose voiceprint is rebuilt from all of them, and FROM is deleted for good.

    INTO keeps its name, external id and metadata. Text-independent profiles of one
    encoder only. Asks first unless --yes, like delete.
    """
    service = open_service(db, model, create=False)
    kept, merged_away = service.check_merge(
        service.resolve_profile(into).id, service.resolve_profile(source).id, force=force
    )
    confirm(
        f"Merge {merged_away.name!r} ({merged_away.id}) into {kept.name!r} ({kept.id}) and "
        f"delete {merged_away.name!r}?",
        yes=yes,
        refused="not merged",
        json_output=json_output,
    )
    merge = service.merge_profiles(kept.id, merged_away.id, force=force)
    emit(
        json_output,
        render.merge_json(merge, service.enrollment),
        lambda: render.merge_line(merge),
    )


@profiles_app.command("reset")
@handles_errors
def profiles_reset(
    name: ProfileArgument,
    yes: YesOption = False,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Forget a profile's enrolment audio and voiceprint; it goes back to enrolling.

    A text-dependent profile forgets its passphrase too (its next clip sets it again).

    Asks first unless --yes, like delete.
    """
    passphrases = open_passphrases(db, model, create=False)
    profile = passphrases.core.resolve_profile(name)
    confirm(
        f"Forget every enrolment clip and the voiceprint of {profile.name!r} ({profile.id})?",
        yes=yes,
        refused="not reset",
        json_output=json_output,
    )
    reset = passphrases.reset_profile(profile.id)
    emit(
        json_output,
        render.profile_json(reset, passphrases.core.enrollment),
        lambda: render.profile_line(reset.profile),
    )


@app.command()
@handles_errors
def activity(
    limit: Annotated[int, typer.Option(min=1, max=MAX_LISTED, help="Most entries to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, max=MAX_LISTED, help="Newest entries to skip.")] = 0,
    before_id: Annotated[
        int | None,
        typer.Option(
            "--before-id",
            min=1,
            max=MAX_ACTIVITY_ID,
            help="Only entries whose id (#N) is below this (the last id of the page "
            "before): pages that entries logged meanwhile do not shift.",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Only this profile's entries: its id (a deleted profile's too), "
            "external id or name.",
        ),
    ] = None,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the activity log, newest first: enrolments, decisions, resets and deletions.

    Each entry shows the profile's name and the reason or detail. --json prints the
    `items` of the REST API's `GET /v1/activity`.
    """
    service = open_service(db, model, create=False)
    profile_id = None if profile is None else _activity_profile(service, profile)
    page = service.activity_page(
        limit=limit, offset=offset, profile_id=profile_id, before_id=before_id
    )
    if json_output:
        typer.echo(render.dumps(render.activity_json(page)))
    elif not page.entries:
        typer.echo("no activity")
    else:
        for entry in page.entries:
            typer.echo(render.activity_line(entry, page.names))


def _activity_profile(service: VoxprintService, reference: str) -> str:
    """The id of the profile ``reference`` names; a deleted profile's id stands for itself
    (its entries outlive it)."""
    try:
        return service.resolve_profile(reference).id
    except ProfileNotFoundError:
        try:
            return str(uuid.UUID(reference))
        except ValueError:
            pass
        raise


@app.command("eval")
@handles_errors
def evaluate(
    directory: Annotated[
        Path | None, typer.Argument(help="Dataset: one sub-folder of audio per speaker.")
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option(
            help="A standard protocol on the shared data, e.g. test-other or tc100-halves "
            "(an unknown name lists them all)."
        ),
    ] = None,
    trials: Annotated[
        Path | None, typer.Option(help="Trial list 'label path1 path2' relative to DIRECTORY.")
    ] = None,
    det: Annotated[Path | None, typer.Option(help="Also draw the DET curve into this PNG.")] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Shared data folder (default: VOXPRINT_DATA, else ../shared/data).",
            show_default=False,
        ),
    ] = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
    ray_workers: RayWorkersOption = 1,
) -> None:
    """Measure EER, minDCF, top-1 identification and speed on a dataset or protocol.

    With --engine ray the embedding runs on Ray workers.
    """
    from voxprint.bootstrap import build_pipeline
    from voxprint.evaluation.datasets import build_protocol, folder_eval_set, trial_list_eval_set
    from voxprint.evaluation.plots import plot_det
    from voxprint.evaluation.runner import evaluate as run_evaluation

    if directory is None and protocol is None:
        raise InvalidParameterError("give a DIRECTORY of speakers' audio or a --protocol")
    if directory is not None and protocol is not None:
        raise InvalidParameterError("give either a DIRECTORY or --protocol, not both")
    if protocol is not None:
        eval_set = build_protocol(protocol, settings(data=data).data_folder())
    elif trials is not None:
        assert directory is not None
        eval_set = trial_list_eval_set(directory, trials)
    else:
        assert directory is not None
        eval_set = folder_eval_set(directory)
    if det is not None:
        prepare_image_output(det)  # before the evaluation, not after
    pipeline = build_pipeline(service_options(model=model))
    with progress_bar("embedding", len(eval_set.items), show_progress(json_output)) as advance:
        report = run_evaluation(
            pipeline,
            eval_set,
            progress=lambda _done, _total: advance(1),
            engine=batch_engine(engine, pipeline, model, ray_address, ray_workers),
        )
    if det is not None:
        plot_det(
            [(pipeline.encoder.name, report.target_scores, report.nontarget_scores)],
            det,
            title=f"DET: {eval_set.name}",
        )
    det_plot = None if det is None else str(det)
    emit(
        json_output,
        {**report.summary(), "det_plot": det_plot},
        lambda: render.evaluation_text(report, det_plot),
    )


def batch_engine(
    name: str | None, source: Any, model: str | None, address: str | None, workers: int
) -> Any:
    """The engine for ``--engine`` (``None``: the ``engine`` setting): ``source`` is the
    service or pipeline of this process."""
    from voxprint.engines import RayOptions, engine_for

    pipeline = getattr(source, "pipeline", source)
    chosen = settings(engine=name, ray_address=address)
    return engine_for(
        chosen.engine,
        lambda: pipeline,
        service_options(model=model, min_speech_seconds=pipeline.config.min_speech_seconds),
        RayOptions(address=chosen.ray_address, workers=workers),
    )


# Commands that live in their own modules (imported here, after the app exists, because
# they register themselves on it).
from voxprint.cli import (  # noqa: E402
    calibrate,
    cohort,
    diarize,
    info,
    keys,
    listen,
    phrases,
    plot,
    serve,
    thresholds,
    train,
)

for _module in (
    keys,
    serve,
    calibrate,
    cohort,
    thresholds,
    train,
    listen,
    plot,
    info,
    phrases,
    diarize,
):
    _module.register(app)


def main() -> None:
    """Console-script entry point: runs the command, then ends the process without
    Python's module teardown (:func:`voxprint.cli.process_exit.end_process`)."""
    try:
        app()
    except SystemExit as stop:
        end_process(stop.code)
    end_process(0)
