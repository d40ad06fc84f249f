"""Diarization settings that need the whole pipeline rerun (issue 16): the piece length and
the segmentation's own decision. ``bench/diarization_levers.py`` covers the levers that
reuse cached piece embeddings.

    PYTHONPATH=src python bench/diarization_grid.py [--part pieces segmentation]

* ``pieces``: ``piece_seconds`` / ``min_solo_seconds`` of (3, 1), (2, 1), (2, 0.5) and
  (1.5, 0.5), each on AMI ``debug.train``, ``debug.development`` and the 12 simulated
  conversations of ``bench/diarization.py`` (about 2 min per setting on 2 cores);
* ``step``: ``step_seconds`` (the hop between 10 s chunks) of 2, 1 and 0.5 s on the same
  three sets (pyannote 3.1 hops 1 s);
* ``rounding``: ``count_rounding`` of 0.5, 0.4 and 0.3 (how many speakers a frame gets
  from the averaged count of local speakers) on the same three sets;
* ``resegment``: the resegmentation window, hop and margin (``resegment_*``; off, and
  windows of 1 and 1.5 s) on the same three sets;
* ``segmentation``: ``activity_threshold`` (most likely class, 0.5, 0.4, 0.3) by
  ``count_rounding`` (0.5, 0.3) on ``debug.train`` only.

DER parts without a collar, overlap counted, as ``bench/diarization.py`` scores them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

import diarization as bench  # type: ignore[import-not-found]  # noqa: E402
from voxprint.bootstrap import ServiceOptions, build_service  # noqa: E402
from voxprint.diarization import DiarizationConfig, SpeakerDiarizer  # noqa: E402

PIECES = ((3.0, 1.0), (2.0, 1.0), (2.0, 0.5), (1.5, 0.5))
STEPS = (2.0, 1.0, 0.5)
THRESHOLDS = (None, 0.5, 0.4, 0.3)
ROUNDINGS = (0.5, 0.3)
#: (window s or None for off, hop s, margin)
RESEGMENTS = (
    (None, 0.5, 0.0),
    (1.5, 0.5, 0.0),
    (1.5, 0.5, 0.1),
    (1.5, 0.25, 0.0),
    (1.0, 0.5, 0.0),
)


def parts(row: dict[str, float]) -> str:
    return (
        f"DER {row['DER none']:.1f} % (miss {row['missed detection none']:.1f}, "
        f"FA {row['false alarm none']:.1f}, confusion {row['confusion none']:.1f})"
    )


def quietly(run, *args):  # type: ignore[no-untyped-def]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return run(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", nargs="+", default=["pieces", "segmentation"])
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="voxprint-diar-grid-"))
    service = build_service(ServiceOptions(db=workdir / "grid.db", enrollment_speech_seconds=10.0))
    print(f"CPU: {bench.cpu_name()}")
    grids = {
        "pieces": (
            "piece s, solo s",
            [
                (f"{p:g}, {o:g}", DiarizationConfig(piece_seconds=p, min_solo_seconds=o))
                for p, o in PIECES
            ],
        ),
        "step": ("step s", [(f"{t:g}", DiarizationConfig(step_seconds=t)) for t in STEPS]),
        "rounding": (
            "count rounding",
            [(f"{r:g}", DiarizationConfig(count_rounding=r)) for r in (0.5, 0.4, 0.3)],
        ),
        "resegment": (
            "resegment window s, hop s, margin",
            [
                (
                    "off" if w is None else f"{w:g}, {h:g}, {m:g}",
                    DiarizationConfig(
                        resegment_window_seconds=w, resegment_hop_seconds=h, resegment_margin=m
                    ),
                )
                for w, h, m in RESEGMENTS
            ],
        ),
    }
    wanted = [part for part in ("pieces", "step", "rounding", "resegment") if part in args.part]
    if wanted:
        root = bench.data_root()
        pools = {
            "ls": bench.speaker_files(root / "librispeech" / "test-other"),
            "so": bench.speaker_files(root / "speechocean762"),
        }
        enrolled = quietly(bench.build_gallery, service, pools)
    for part in wanted:
        title, settings = grids[part]
        print(f"\n| {title} | train | development | simulated | named | strangers | RTF sim |")
        print("|---|---|---|---|---|---|---|")
        for label, config in settings:
            diarizer = SpeakerDiarizer(config=config)
            train = quietly(bench.run_ami, "train", service, diarizer, None)["voxprint"]
            dev = quietly(bench.run_ami, "development", service, diarizer, None)["voxprint"]
            sim = quietly(bench.run_simulated, 12, service, diarizer, None, enrolled, pools)
            print(
                f"| {label} | {parts(train)} | {parts(dev)} | "
                f"{parts(sim['voxprint'])} | {sim['enrolled_time_named_right']:.2f} % | "
                f"{sim['unenrolled_time_not_misnamed']:.1f} % | {sim['voxprint']['RTF']:.3f} |",
                flush=True,
            )
    if "segmentation" in args.part:
        print("\n| activity threshold | count rounding | train |")
        print("|---|---|---|")
        for threshold in THRESHOLDS:
            for rounding in ROUNDINGS:
                config = DiarizationConfig(activity_threshold=threshold, count_rounding=rounding)
                diarizer = SpeakerDiarizer(config=config)
                train = quietly(bench.run_ami, "train", service, diarizer, None)["voxprint"]
                label = "most likely class" if threshold is None else f"{threshold:g}"
                print(f"| {label} | {rounding:g} | {parts(train)} |", flush=True)


if __name__ == "__main__":
    main()
