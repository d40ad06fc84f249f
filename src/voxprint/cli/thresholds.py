"""``voxprint thresholds show``: the operating point in force, and how it was derived."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from voxprint import views
from voxprint.cli.common import (
    DbOption,
    JsonOption,
    ModelOption,
    emit,
    handles_errors,
    open_passphrases,
)
from voxprint.cli.render import probability_text
from voxprint.decision import SourceKind
from voxprint.store.records import Band
from voxprint.thresholds import CalibrationRow, ThresholdReport

thresholds_app = typer.Typer(
    help="Show the decision thresholds in force (built-in prior, adapted, or calibrated).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(thresholds_app, name="thresholds")


def report_json(report: ThresholdReport) -> dict[str, Any]:
    """``--json``: the REST API's ``GET /v1/thresholds`` object (voxprint.views)."""
    return views.thresholds(report)


def report_text(report: ThresholdReport) -> str:
    lines = [
        f"namespace {report.namespace!r}, encoder {report.encoder_name} ({report.encoder_version})",
        *_point_lines(report),
    ]
    if report.text_dependent is not None:
        lines.append("passphrase claims (text-dependent profiles), the voice part:")
        lines += [f"  {line}" for line in _point_lines(report.text_dependent)]
    return "\n".join(lines)


def _point_lines(report: ThresholdReport) -> list[str]:
    when = (
        f", last changed {report.source.updated_at:%Y-%m-%d %H:%M:%S} UTC"
        if report.source.updated_at
        else ""
    )
    lines = [
        f"source: {report.source.kind.value}: {report.source.description}{when}",
        f"accept a claim at score >= {probability_text(report.verification_threshold)}; "
        f"name a speaker at posterior >= {probability_text(report.identification_threshold)}; "
        "decide from "
        f"{report.min_speech_seconds:.2f} s of speech",
        "a claim is weighed against a stranger and against the namespace's other enrolled "
        "profiles, which together weigh "
        + ("as much" if report.rival_weight == 1 else f"{report.rival_weight:g} times as much")
        + " as a stranger"
        if report.rival_weight > 0
        else "a claim is weighed against a stranger only",
    ]
    if report.band_centres:
        each = ", ".join(
            f"{band.value} around the mean voiceprint of {count} profiles enrolled in it "
            f"({100 * share:.0f} %)"
            for band, (count, share) in report.band_centres.items()
        )
        lines.append(
            "the namespace mixes bands: each side of a pair is taken around its own band's "
            f"centre ({each}, the rest a centre shipped with the encoder)"
        )
    elif report.centre_profiles is not None:
        lines.append(
            "cosines are taken around the mean voiceprint of "
            f"{report.centre_profiles} enrolled profiles "
            f"({100 * (report.centre_own_share or 0.0):.0f} % of the centre) and a centre "
            "shipped with the encoder"
            if report.centre_profiles
            else "cosines are taken around the centre shipped with the encoder alone"
        )
    if report.calibration_bands is not None and len(report.calibration_bands) < len(report.bands):
        fitted = " and ".join(band.value for band in report.calibration_bands)
        lines.append(f"the calibration was fitted on {fitted} trials and decides those claims")
    elif report.source.kind is SourceKind.CALIBRATED and report.calibration_bands is None:
        lines.append(
            "the calibration was stored before voxprint recorded its trials' bands: it "
            "decides claims of every band (calibrate again to scope it to its trials' bands)"
        )
    for row in report.calibrations:
        lines.append(_calibration_line(row))
    for band in report.bands:
        if band.source is not None and band.verification_threshold is not None:
            lines.append(
                f"{band.band.value} claims: {band.source.kind.value}: {band.source.description}; "
                f"accept at score >= {probability_text(band.verification_threshold)}"
            )
        if band.impostor_mean is None:
            continue
        needed = ", ".join(
            f"{seconds:g} s: {cosine:.3f}" for seconds, cosine in band.cosine_to_accept.items()
        )
        lines.append(
            f"{band.band.value}: strangers score {band.impostor_mean:.3f} ± "
            f"{band.impostor_std:.3f}; cosine to accept vs a 20 s voiceprint: {needed}"
        )
    return lines


@thresholds_app.command("show")
@handles_errors
def show(
    namespace: Annotated[
        str, typer.Option("--namespace", help="Namespace (tenant) to report on.")
    ] = "default",
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """The operating point in force: its thresholds, how it was derived, when it changed."""
    report = open_passphrases(db, model, create=False, namespace=namespace).threshold_report()
    emit(json_output, report_json(report), lambda: report_text(report))


def _calibration_line(row: CalibrationRow) -> str:
    """One stored calibration: its scale, bands, threshold and trial list."""
    calibration = row.calibration
    bands = (
        "every band (stored before voxprint recorded its trials' bands)"
        if calibration.bands is None
        else " and ".join(band.value for band in Band if band in calibration.bands)
    )
    return (
        f"stored calibration ({calibration.scale.value}) of {bands} claims: threshold "
        f"{calibration.threshold:.4f} for {100 * calibration.target_far:.2f} % false accepts, "
        f"from {calibration.source or 'voxprint calibrate'}, "
        f"{calibration.created_at:%Y-%m-%d}; " + ("in use" if row.in_use else "not in use")
    )
