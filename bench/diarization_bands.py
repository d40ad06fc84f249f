"""Diarization names across recording bands: wideband AMI meetings whose participants
enrolled from wideband clips, from telephone clips, or some of each.

    PYTHONPATH=src python bench/diarization_bands.py [--json out.json]

The AMI clips of the shared data (``ami/*.flac``, 30 s of Mix-Headset audio each, 16 kHz)
hold eleven meetings; several people take part in two of them. Two folds: the speakers
of the meetings in one half are enrolled from their solo turns there (every stretch of
1 s and more with nobody else talking, :func:`voxprint.evaluation.domains.ami_turns`;
a profile is enrolled from 1 s of net speech, as little as these clips hold), and the
other half's meetings are diarized and named, then the other way round. Someone in a
diarized meeting not enrolled from the other half is a stranger. The counts are small
(30 s clips): read them as a direction, not a rate.

Each fold is enrolled three ways, each in its own namespace:

* ``wideband``: the turns as recorded;
* ``telephone``: the turns band-limited and resampled to 8 kHz (what a telephone line
  carries; enrolled at 8 kHz, so the profiles are wholly narrowband);
* ``mixed``: every other speaker (by sorted id) as telephone, the rest wideband.

Each reference speaker of a diarized meeting is matched to the diarized speaker that
covers most of their speech time (RTTM reference), and counted as: named right, named
wrong (another enrolled name), unknown; a stranger given any enrolled name is a
stranger named. A person whose speaker is mostly someone else (the clustering merged
them into another's voice), or who is not found at all, is counted as merged: a
diarization error, the same whatever is enrolled. Only the public call is measured:
``SpeakerDiarizer().diarize(service, (audio, 16000))``; the anonymous diarization of
each meeting (segmentation, clustering: the same whatever is enrolled) is computed once
per run and reused, so the bench runs in a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import ClassVar

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from voxprint.audio import load_audio  # noqa: E402
from voxprint.audio.resample import band_limited, resample  # noqa: E402
from voxprint.bootstrap import ServiceOptions, build_service  # noqa: E402
from voxprint.diarization import SpeakerDiarizer, naming  # noqa: E402
from voxprint.encoders.cpu import cpu_info  # noqa: E402
from voxprint.errors import NoSpeechError, VoxprintError  # noqa: E402
from voxprint.evaluation.domains import ami_turns  # noqa: E402
from voxprint.evaluation.transforms import Segment  # noqa: E402
from voxprint.settings import default_data_root  # noqa: E402

RATE = 16000
TELEPHONE_RATE = 8000
#: The two halves: each one's speakers are enrolled while the other's meetings are named.
HALVES = (
    ("dev00", "trn01", "trn04", "trn06", "trn07"),
    ("dev01", "trn02", "trn03", "trn05", "trn08", "trn09"),
)
SETTINGS = ("wideband", "telephone", "mixed")
#: Solo stretches at least this long are enrolment clips; profiles need this much speech.
MIN_SECONDS = 1.0
OUTCOMES = (
    "right",
    "wrong",
    "unknown",
    "merged",
    "stranger named",
    "stranger unknown",
    "stranger merged",
)


def reference(root: Path) -> dict[str, list[tuple[float, float, str]]]:
    """Each meeting's reference turns ``(start, end, speaker)``."""
    turns: dict[str, list[tuple[float, float, str]]] = {}
    for rttm in sorted((root / "ami").glob("*.rttm")):
        for line in rttm.read_text(encoding="utf-8").splitlines():
            f = line.split()
            if len(f) >= 8 and f[0] == "SPEAKER":
                start = float(f[3])
                turns.setdefault(f[1], []).append((start, start + float(f[4]), f[7]))
    return turns


def solo_turns(root: Path, meetings: tuple[str, ...]) -> dict[str, list[np.ndarray]]:
    """Each speaker's solo turns (16 kHz audio) in ``meetings``."""
    audio = {m: load_audio(root / "ami" / f"{m}.flac") for m in meetings}
    out: dict[str, list[np.ndarray]] = {}
    for item in ami_turns(root, min_seconds=MIN_SECONDS):
        meeting = item.key.split("/", 1)[0]
        if meeting not in audio:
            continue
        for t in item.transforms:
            if isinstance(t, Segment):
                piece = audio[meeting][round(t.start * RATE) : round(t.end * RATE)]
                out.setdefault(item.speaker, []).append(piece)
    return out


def telephone(piece: np.ndarray) -> np.ndarray:
    """A telephone line's copy: band-limited to 8 kHz and sampled at 8 kHz."""
    return resample(band_limited(piece, RATE, TELEPHONE_RATE), RATE, TELEPHONE_RATE)


def enrol(service, clips: dict[str, list[np.ndarray]], setting: str) -> dict[str, str]:
    """Enrol each speaker in ``setting``'s band; returns speaker → profile id for the
    profiles that were enrolled (too little speech leaves a speaker a stranger)."""
    enrolled: dict[str, str] = {}
    for i, (speaker, pieces) in enumerate(sorted(clips.items())):
        by_phone = setting == "telephone" or (setting == "mixed" and i % 2 == 1)
        profile = service.create_profile(speaker)
        for piece in pieces:
            clip = (telephone(piece), TELEPHONE_RATE) if by_phone else (piece, RATE)
            try:
                service.enroll(profile.id, clip, force=True, check_quality=False)
            except VoxprintError as error:  # a stretch the voice detector finds no speech in
                print(f"  {speaker}: clip skipped ({error})", file=sys.stderr)
        stored = service.get_profile(profile.id)
        if stored.status.value == "enrolled":
            enrolled[speaker] = profile.id
    return enrolled


class OnceDiarizer(naming.Diarizer):
    """The engine, each recording's anonymous diarization computed once per run."""

    cache: ClassVar[dict[str, object]] = {}

    def diarize(self, waveform, **kwargs):  # type: ignore[override]
        key = hashlib.sha1(np.ascontiguousarray(waveform, np.float32).tobytes()).hexdigest()
        if key not in self.cache:
            self.cache[key] = super().diarize(waveform, **kwargs)
        return self.cache[key]


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def outcomes(
    result, truth: list[tuple[float, float, str]], enrolled: dict[str, str]
) -> dict[str, str]:
    """Each reference speaker's outcome, from the diarized speaker covering most of
    their speech: ``merged`` when that speaker is mostly someone else (or nobody was
    found), a diarization error that says nothing of naming."""
    turns = () if result is None else result.turns
    people = sorted({s for *_, s in truth})

    def shared(label: str, speaker: str) -> float:
        own = [(a, b) for a, b, s in truth if s == speaker]
        return sum(
            overlap((t.start, t.end), span) for t in turns if t.label == label for span in own
        )

    out: dict[str, str] = {}
    for speaker in people:
        cover = Counter({t.label: shared(t.label, speaker) for t in turns})
        label = cover.most_common(1)[0][0] if cover and max(cover.values()) > 0 else None
        diarized = next((s for s in result.speakers if s.label == label), None) if label else None
        stranger = "" if speaker in enrolled else "stranger "
        if diarized is None or max(people, key=lambda p: shared(label, p)) != speaker:
            out[speaker] = f"{stranger}merged"
        elif stranger:
            out[speaker] = "stranger unknown" if diarized.is_unknown else "stranger named"
        else:
            named = diarized.profile_id
            out[speaker] = (
                "unknown" if named is None else "right" if named == enrolled[speaker] else "wrong"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    root = default_data_root()
    truth = reference(root)
    workdir = Path(tempfile.mkdtemp(prefix="voxprint-diar-bands-"))
    base = build_service(
        ServiceOptions(db=workdir / "bench.db", enrollment_speech_seconds=MIN_SECONDS)
    )
    naming.Diarizer = OnceDiarizer  # type: ignore[misc]
    diarizer = SpeakerDiarizer()
    print(f"CPU: {cpu_info().model}, {os.cpu_count()} cores", file=sys.stderr)
    started = time.perf_counter()
    totals = {s: Counter() for s in SETTINGS}
    # in the mixed namespace, owners by the band they enrolled in
    mixed_by_band = {"wideband": Counter(), "telephone": Counter()}
    for fold, (enrolling, diarized) in enumerate((HALVES, HALVES[::-1])):
        clips = solo_turns(root, enrolling)
        order = sorted(clips)
        waves = {m: load_audio(root / "ami" / f"{m}.flac") for m in diarized}
        for setting in SETTINGS:
            service = base.in_namespace(f"{setting}-{fold}")
            enrolled = enrol(service, clips, setting)
            for meeting in diarized:
                try:
                    result = diarizer.diarize(service, (waves[meeting], RATE))
                except NoSpeechError:  # nobody found: every speaker goes unnamed
                    result = None
                found = outcomes(result, truth[meeting], enrolled)
                counts = Counter(found.values())
                totals[setting] += counts
                if setting == "mixed":
                    for speaker in set(found) & set(enrolled):
                        band = "telephone" if order.index(speaker) % 2 == 1 else "wideband"
                        mixed_by_band[band][found[speaker]] += 1
                labels = [] if result is None else [s.label for s in result.speakers]
                print(
                    f"  {setting} {meeting}: {labels} {found}",
                    file=sys.stderr,
                )
    seconds = time.perf_counter() - started
    rows = {**totals, **{f"mixed, {k}-enrolled owners": v for k, v in mixed_by_band.items()}}
    print(f"\n{seconds:.0f} s on {cpu_info().model} ({os.cpu_count()} cores)\n")
    print(
        "| enrolled | owners | named right | named wrong | unknown | merged | "
        "strangers | named | merged |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, c in rows.items():
        owners = c["right"] + c["wrong"] + c["unknown"] + c["merged"]
        strangers = c["stranger named"] + c["stranger unknown"] + c["stranger merged"]
        tail = f"{strangers} | {c['stranger named']} | {c['stranger merged']}"
        print(
            f"| {name} | {owners} | {c['right']} | {c['wrong']} | {c['unknown']} | "
            f"{c['merged']} | {tail if strangers else '- | - | -'} |"
        )
    if args.json:
        report = {"cpu": cpu_info().model, "seconds": seconds}
        report.update({k: {o: v[o] for o in OUTCOMES} for k, v in rows.items()})
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
