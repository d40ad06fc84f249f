"""``voxprint cohort``: the impostor cohort that AS-Norm score normalisation compares against."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from voxprint.cli.common import (
    DbOption,
    JsonOption,
    ModelOption,
    confirm,
    emit,
    handles_errors,
    progress_bar,
    require_database,
    service_options,
    show_progress,
)
from voxprint.store.records import Cohort

cohort_app = typer.Typer(
    help="Build, show and delete the AS-Norm impostor cohort (one per encoder version).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(cohort_app, name="cohort")


def _cohort_json(cohort: Cohort) -> dict[str, Any]:
    return {
        "encoder": cohort.encoder_name,
        "encoder_version": cohort.encoder_version,
        "embeddings": cohort.size,
        "speakers": len(set(cohort.speakers)),
        "dimension": int(cohort.embeddings.shape[1]),
        "source": cohort.source,
        "created_at": cohort.created_at,
    }


def _cohort_text(data: dict[str, Any]) -> str:
    return (
        f"cohort for {data['encoder']} ({data['encoder_version']}): {data['embeddings']} "
        f"embeddings of {data['speakers']} speakers, built "
        f"{data['created_at'].isoformat(timespec='seconds')} "
        f"from {data['source'] or '-'}"
    )


def _calibrator(db: str | Path | None, model: str | None, *, create: bool) -> Any:
    """Cohort management on ``db``; ``create=False`` refuses a database that does not exist."""
    from voxprint.bootstrap import build_calibrator

    require_database(db, create=create)
    return build_calibrator(service_options(db, model))


@cohort_app.command("build")
@handles_errors
def build(
    directory: Annotated[
        Path, typer.Argument(help="One sub-folder of audio per speaker, none of them enrolled.")
    ],
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Embed every file under DIRECTORY and store them as this encoder's AS-Norm cohort.

    Replaces the previous cohort. Use speakers who are not enrolled and not tested.
    """
    from voxprint.evaluation.datasets import speaker_folders

    speakers = speaker_folders(directory)
    calibrator = _calibrator(db, model, create=True)
    total = sum(len(paths) for paths in speakers.values())
    with progress_bar("embedding", total, show_progress(json_output)) as advance:
        cohort = calibrator.build_cohort(
            speakers, source=str(directory), progress=lambda _done, _total: advance(1)
        )
    data = _cohort_json(cohort)
    # Building a cohort drops the AS-Norm calibration fitted on the previous one, and
    # without one the cohort is not applied: say what makes it count.
    emit(
        json_output,
        data,
        lambda: (
            _cohort_text(data)
            + "\nnot used yet: run `voxprint calibrate TRIALS` (same --db and --model) to fit "
            "AS-Norm on it; until then verify and identify score raw cosines"
        ),
    )


@cohort_app.command("show")
@handles_errors
def show(
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the stored cohort of this encoder version."""
    cohort = _calibrator(db, model, create=False).cohort()
    if cohort is None:
        emit(json_output, None, lambda: "no cohort stored for this encoder: scores are raw cosines")
        return
    data = _cohort_json(cohort)
    emit(json_output, data, lambda: _cohort_text(data))


@cohort_app.command("delete")
@handles_errors
def delete(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Delete this encoder's cohort (and its AS-Norm calibration) for good."""
    calibrator = _calibrator(db, model, create=False)
    confirm(
        f"Delete the {calibrator.encoder_name} cohort and its embeddings for good?",
        yes=yes,
        refused="not deleted",
        json_output=json_output,
    )
    deleted = calibrator.delete_cohort()
    emit(
        json_output,
        {"deleted": deleted},
        lambda: "cohort deleted" if deleted else "no cohort was stored for this encoder",
    )
