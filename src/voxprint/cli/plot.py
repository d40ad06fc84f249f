"""``voxprint plot``: a 2-D map of speakers' embeddings, and trial score histograms."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from voxprint.cli.common import (
    JsonOption,
    ModelOption,
    emit,
    handles_errors,
    open_service,
    prepare_image_output,
    progress_bar,
    service_options,
)
from voxprint.cli.common import show_progress as _show_progress
from voxprint.cli.render import plural

plot_app = typer.Typer(help="Draw embedding maps and score histograms.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(plot_app, name="plot")


@plot_app.command("embeddings")
@handles_errors
def plot_embeddings(
    directory: Annotated[
        Path, typer.Argument(help="One sub-folder of audio per speaker.", show_default=False)
    ],
    method: Annotated[str, typer.Option(help="pca or tsne.")] = "pca",
    out: Annotated[Path, typer.Option("--out", help="PNG to write.")] = Path("embeddings.png"),
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Embed every file in DIRECTORY and draw a 2-D map coloured by speaker."""
    from voxprint.bootstrap import build_pipeline
    from voxprint.evaluation.datasets import folder_eval_set
    from voxprint.evaluation.plots import check_map_method, embedding_map, plot_embedding_map
    from voxprint.evaluation.runner import embed_items

    check_map_method(method)
    prepare_image_output(out)
    eval_set = folder_eval_set(directory)
    pipeline = build_pipeline(service_options(model=model))
    with progress_bar("embedding", len(eval_set.items), _show_progress(json_output)) as advance:
        embedded = embed_items(pipeline, eval_set.items, progress=lambda _d, _t: advance(1))
    points = embedding_map(embedded.embeddings, method)
    speakers = [item.speaker for item in eval_set.items]
    plot_embedding_map(
        points, speakers, out, title=f"{pipeline.encoder.name} embeddings ({method.upper()})"
    )
    data = {
        "plot": str(out),
        "method": method,
        "points": [
            {"key": item.key, "speaker": item.speaker, "x": float(x), "y": float(y)}
            for item, (x, y) in zip(eval_set.items, points, strict=True)
        ],
    }
    emit(
        json_output,
        data,
        lambda: (
            f"{plural(len(points), 'embedding')} of {plural(len(set(speakers)), 'speaker')} → {out}"
        ),
    )


@plot_app.command("scores")
@handles_errors
def plot_scores(
    trials: Annotated[
        Path, typer.Argument(help="Trial list: 'label path1 path2' per line.", show_default=False)
    ],
    root: Annotated[
        Path | None,
        typer.Option(help="Folder the trial paths are relative to (default: the list's folder)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="PNG to write.")] = Path("scores.png"),
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="PATH|URL",
            help="Mark the operating point in force in this database (its calibration or "
            "adaptation); default: the encoder's own prior.",
            show_default=False,
        ),
    ] = None,
    namespace: Annotated[
        str, typer.Option("--namespace", help="With --db: the namespace (tenant).")
    ] = "default",
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Histograms of target and non-target trial scores, with the thresholds marked."""

    from voxprint.adaptation import Band
    from voxprint.bootstrap import build_pipeline
    from voxprint.calibrator import trial_pair_bands
    from voxprint.errors import ModelError
    from voxprint.evaluation.datasets import trial_list_eval_set
    from voxprint.evaluation.metrics import equal_error_rate
    from voxprint.evaluation.plots import plot_score_histograms
    from voxprint.evaluation.runner import embed_items, trial_scores
    from voxprint.operating_points import encoder_operating_point
    from voxprint.scoring.llr import logit
    from voxprint.thresholds import EXAMPLE_ENROL_SECONDS

    prepare_image_output(out)
    eval_set = trial_list_eval_set(root or trials.parent, trials)
    point = None
    service = None
    if db is not None:
        service = open_service(db, model, create=False, namespace=namespace)
        pipeline = service.pipeline
    else:
        pipeline = build_pipeline(service_options(model=model))
    with progress_bar("embedding", len(eval_set.items), _show_progress(json_output)) as advance:
        embedded = embed_items(pipeline, eval_set.items, progress=lambda _d, _t: advance(1))
    # The bands of the trials' pairs pick the point that would decide them (a calibration
    # decides only the bands it was fitted on) and the band model whose threshold is marked.
    pair_bands = trial_pair_bands(eval_set, embedded)
    bands = set() if pair_bands is None else {*pair_bands[0], *pair_bands[1]}
    marked = Band.NARROW if bands == {Band.NARROW} else Band.WIDE
    if service is not None:
        point = service.thresholds.operating_point(namespace, *sorted(bands))
    marks: list[tuple[str, float]] = []
    if point is None:
        with contextlib.suppress(ModelError):  # no operating point: only the EER threshold
            point = encoder_operating_point(pipeline.encoder)
    # the point's model is of centred cosines: histogram the trials as it reads them
    target, nontarget = trial_scores(eval_set, embedded, point)
    note = None
    if point is not None and point.normalized:
        # AS-Norm in force: its threshold is on the normalised scale, not on these cosines
        note = f"{point.source.description}; AS-Norm scale, not marked on raw cosines"
    elif point is not None:
        # The cosine accepted for a 3 s probe against a default voiceprint (a duration-aware
        # prior needs less at less speech; a fitted calibration is the same everywhere).
        accept = logit(point.verification_threshold)
        needed = point.model(marked).cosine_for_llr(accept, 3.0, EXAMPLE_ENROL_SECONDS)
        marks.append(("verification threshold", needed))
        note = point.source.description
    eer = threshold = None
    if target.size and nontarget.size:
        eer, threshold = equal_error_rate(target, nontarget)
        marks.append(("EER threshold", threshold))
    plot_score_histograms(
        target, nontarget, out, thresholds=marks, title=f"{eval_set.name}: {pipeline.encoder.name}"
    )
    data = {
        "plot": str(out),
        "target_trials": int(target.size),
        "nontarget_trials": int(nontarget.size),
        "eer": eer,
        "thresholds": dict(marks),
        "operating_point": note,
    }
    emit(
        json_output,
        data,
        lambda: (
            f"{target.size} target and {nontarget.size} non-target trials → {out}"
            + (f"\nverification threshold: {note}" if note else "")
        ),
    )
