"""``voxprint calibrate TRIALS``: fit the encoder's calibration and threshold on your own trials."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voxprint.cli.common import (
    DbOption,
    JsonOption,
    ModelOption,
    emit,
    handles_errors,
    progress_bar,
    require_database,
    service_options,
    show_progress,
)
from voxprint.store.records import Band

if TYPE_CHECKING:
    from voxprint.calibrator import FittedScale


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)


def _false_accept_rate(value: float) -> float:
    """--far, checked by the calibrator's rule before anything is opened or embedded."""
    from voxprint.calibrator import check_false_accept_rate
    from voxprint.errors import InvalidParameterError

    try:
        return check_false_accept_rate(value)
    except InvalidParameterError as error:
        raise typer.BadParameter(error.message) from None


@handles_errors
def calibrate(
    trials: Annotated[
        Path, typer.Argument(help="Trial list: one 'label path1 path2' per line (1 = same).")
    ],
    far: Annotated[
        float,
        typer.Option(
            "--far",
            callback=_false_accept_rate,
            help="Target false-accept rate, strictly between 0 and 1 (0<x<1), e.g. 0.01.",
        ),
    ] = 0.01,
    root: Annotated[
        Path | None,
        typer.Option("--root", help="Folder the trial paths are relative to (default: its own)."),
    ] = None,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Fit a calibration and the threshold for --far on labelled trials, for this encoder.

    The logistic calibration and the threshold are stored for this encoder version and the
    bands its trials cover (app/wideband, telephone/narrowband): it replaces the earlier
    calibration of those bands and keeps another band's. With a stored cohort, AS-Norm
    scores are fitted too.
    """
    from voxprint.bootstrap import build_calibrator
    from voxprint.evaluation.datasets import trial_list_eval_set

    eval_set = trial_list_eval_set(root or trials.parent, trials)
    require_database(db, create=True)
    calibrator = build_calibrator(service_options(db, model))
    with progress_bar("embedding", len(eval_set.items), show_progress(json_output)) as advance:
        report = calibrator.calibrate(
            eval_set, false_accept_rate=far, progress=lambda _done, _total: advance(1)
        )
    data: dict[str, Any] = {
        "trial_list": report.trial_list,
        "items": report.items,
        "encoder": calibrator.encoder_name,
        "encoder_version": calibrator.encoder_version,
        "cohort_size": report.cohort_size,
        "cosine": {**_scale_json(report.cosine), "eer": report.cosine.eer},
        "asnorm": None
        if report.asnorm is None
        else {**_scale_json(report.asnorm), "eer": report.asnorm.eer},
        "kept": [
            {
                "bands": _bands_json(kept.bands),
                "source": kept.source,
                "created_at": kept.created_at.isoformat(),
            }
            for kept in report.kept
        ],
    }
    if not report.cosine.measures_target_far:
        typer.echo(_too_few_line(report.cosine), err=True)
    emit(json_output, data, lambda: _text(data))


def _too_few_line(fitted: FittedScale) -> str:
    calibration = fitted.calibration
    return (
        f"warning: {calibration.nontarget_trials} different-speaker trials are too few to "
        f"measure a false-accept rate of {100 * calibration.target_far:g} % (it takes at "
        f"least {fitted.nontarget_trials_needed}): the threshold is a guess; add trials or "
        "raise --far"
    )


def _bands_json(bands: frozenset[Band] | None) -> list[str] | None:
    return None if bands is None else [band.value for band in Band if band in bands]


def _scale_json(fitted: FittedScale) -> dict[str, Any]:
    calibration = fitted.calibration
    return {
        "slope": calibration.slope,
        "offset": calibration.offset,
        "threshold": calibration.threshold,
        "target_far": calibration.target_far,
        "achieved_far": calibration.achieved_far,
        "achieved_frr": calibration.achieved_frr,
        "impostor_mean": calibration.impostor_mean,
        "impostor_std": calibration.impostor_std,
        "target_trials": calibration.target_trials,
        "nontarget_trials": calibration.nontarget_trials,
        "nontarget_trials_needed": fitted.nontarget_trials_needed,
        "bands": _bands_json(calibration.bands),
    }


def _scale_line(label: str, fitted: dict[str, Any]) -> str:
    return (
        f"{label:<8} slope {fitted['slope']:.4f}  offset {fitted['offset']:.4f}  "
        f"threshold {fitted['threshold']:.4f}  FAR {100 * fitted['achieved_far']:.2f} % "
        f"(target {100 * fitted['target_far']:.2f} %)  FRR {100 * fitted['achieved_frr']:.2f} %  "
        f"EER {100 * fitted['eer']:.2f} %"
    )


def _text(data: dict[str, Any]) -> str:
    cosine = data["cosine"]
    lines = [
        f"calibrated {data['encoder']} ({data['encoder_version']}) on {data['trial_list']}: "
        f"{data['items']} files, {cosine['target_trials']} same-speaker and "
        f"{cosine['nontarget_trials']} different-speaker trials",
        _scale_line("cosine", cosine),
    ]
    if data["asnorm"] is not None:
        lines.append(_scale_line("as-norm", data["asnorm"]))
        lines.append(f"(AS-Norm against the stored cohort of {data['cohort_size']} embeddings)")
    else:
        lines.append("(no cohort stored: AS-Norm not fitted; see `voxprint cohort build`)")
    bands = cosine["bands"]
    if bands is None or len(bands) == len(Band):
        lines.append("stored: verify, identify and compare now use it for this encoder version")
        return "\n".join(lines)
    others = " and ".join(band.value for band in Band if band.value not in bands)
    lines.append(
        f"stored: verify, identify and compare now use it for {' and '.join(bands)} claims "
        "of this encoder version"
    )
    kept = [k for k in data["kept"] if k["bands"] is not None]
    if kept:
        earlier = kept[0]
        lines.append(
            f"kept: the {' and '.join(earlier['bands'])} calibration fitted earlier "
            f"({earlier['source'] or 'voxprint calibrate'}, {earlier['created_at'][:10]}) "
            f"still decides {' and '.join(earlier['bands'])} claims; a decision that scores "
            "both bands at once (identify among app and telephone profiles) is decided "
            "without either"
        )
    else:
        lines.append(
            f"{others} claims are decided without it (built-in or adapted point): its "
            f"{others} trials were too few to show its threshold holds there, or showed it "
            f"does not. To cover {others} claims too, calibrate on a list of {others} trials "
            "(each band keeps its own calibration)"
        )
    return "\n".join(lines)
