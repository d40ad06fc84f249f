"""Open-set protocols on every domain of the shared data: who is enrolled, what is probed.

Decisions (accept/reject, a name or "unknown", the calibrated score) must hold on the
user's own audio, not only on LibriSpeech. Each :class:`OpenSetDomain` describes one
domain the same way, following the data README ("More domains"):

* the speakers are sorted and about two thirds of them are *enrollable*: each has
  enrolment clips (its first files, up to :data:`ENROL_AUDIO_SECONDS` of audio and at
  most half of its files) and probes (every other file);
* the remaining third is never enrolled anywhere: their files are the *unknown* probes.

Everything is deterministic (sorted names, seeded choices), so every run of a
benchmark sees the same trials. Building a domain reads file headers only; no audio is
decoded until the items are embedded.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from voxprint.errors import DatasetError
from voxprint.evaluation.datasets import (
    TC100_CONDITIONS,
    AudioItem,
    Part,
    _conditioned,
    _rng,
    protocol_tc100_halves,
    speaker_folders,
)
from voxprint.evaluation.transforms import Append, Segment

#: Enrolment clips are taken until they hold this much audio (the default enrolment
#: needs 20 s of net speech) ...
ENROL_AUDIO_SECONDS = 20.0
#: ... and never more than this share of a speaker's files, so probes remain.
ENROL_MAX_SHARE = 0.5
#: Share of the (sorted) speakers who can be enrolled; the rest are the unknown probes.
ENROLLABLE_SHARE = 2 / 3
#: AMI speaker turns shorter than this are not used (data README, "More domains").
AMI_MIN_TURN_SECONDS = 2.0


@dataclass(frozen=True)
class OpenSetDomain:
    """One domain's open-set protocol.

    ``enrolment`` maps each enrollable speaker (sorted) to the keys of its enrolment
    clips; ``probes`` are the keys of every probe, known and unknown. ``groups`` maps a
    speaker to a sub-population reported apart (e.g. ``child``/``adult``); it is empty
    when the domain has none. ``family`` names the data source, for leave-one-out.
    """

    name: str
    family: str
    items: tuple[AudioItem, ...]
    enrolment: Mapping[str, tuple[str, ...]]
    probes: tuple[str, ...]
    groups: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        keys = {item.key for item in self.items}
        enrol_keys = [key for clips in self.enrolment.values() for key in clips]
        missing = [key for key in (*enrol_keys, *self.probes) if key not in keys]
        if missing:
            raise DatasetError(f"{self.name}: keys without an item: {missing[:3]}")
        if set(enrol_keys) & set(self.probes):
            raise DatasetError(f"{self.name}: a clip is both enrolled and probed")
        if any(not clips for clips in self.enrolment.values()):
            raise DatasetError(f"{self.name}: every enrollable speaker needs a clip")

    @functools.cached_property
    def speaker_of(self) -> dict[str, str]:
        return {item.key: item.speaker for item in self.items}

    @property
    def enrollable(self) -> tuple[str, ...]:
        return tuple(self.enrolment)

    @property
    def unknown_speakers(self) -> tuple[str, ...]:
        enrollable = set(self.enrolment)
        return tuple(sorted({self.speaker_of[k] for k in self.probes} - enrollable))

    def used_items(self) -> tuple[AudioItem, ...]:
        """The items that are enrolled or probed (what a benchmark needs to embed)."""
        used = {key for clips in self.enrolment.values() for key in clips} | set(self.probes)
        return tuple(item for item in self.items if item.key in used)


def _duration(path: Path) -> float:
    try:
        return float(soundfile.info(str(path)).duration)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise DatasetError(f"cannot read {path}: {error}") from error


def enrolment_count(durations: Sequence[float]) -> int:
    """How many of a speaker's first files to enrol (at least 1): until they hold
    :data:`ENROL_AUDIO_SECONDS` of audio, at most :data:`ENROL_MAX_SHARE` of the files."""
    cap = max(1, math.floor(len(durations) * ENROL_MAX_SHARE))
    total = 0.0
    for count, seconds in enumerate(durations, start=1):
        total += seconds
        if total >= ENROL_AUDIO_SECONDS or count >= cap:
            return count
    return max(1, min(cap, len(durations)))


def split_speakers(
    speakers: Sequence[str], groups: Mapping[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """``(enrollable, unknown)``: the first two thirds of the sorted speakers, per group."""
    by_group: dict[str, list[str]] = {}
    for speaker in sorted(speakers):
        by_group.setdefault((groups or {}).get(speaker, ""), []).append(speaker)
    enrollable: list[str] = []
    unknown: list[str] = []
    for members in by_group.values():
        cut = round(len(members) * ENROLLABLE_SHARE)
        enrollable += members[:cut]
        unknown += members[cut:]
    return sorted(enrollable), sorted(unknown)


def _folder_domain(
    name: str,
    family: str,
    root: Path,
    *,
    groups: Mapping[str, str] | None = None,
    description: str = "",
) -> OpenSetDomain:
    speakers = speaker_folders(root)
    enrollable, _ = split_speakers(list(speakers), groups)
    items: list[AudioItem] = []
    enrolment: dict[str, tuple[str, ...]] = {}
    probes: list[str] = []
    for speaker, paths in speakers.items():
        keys = [f"{speaker}/{path.name}" for path in paths]
        items += [AudioItem(k, speaker, p) for k, p in zip(keys, paths, strict=True)]
        if speaker in enrollable and len(paths) >= 2:
            count = enrolment_count([_duration(p) for p in paths])
            enrolment[speaker] = tuple(keys[:count])
            probes += keys[count:]
        else:  # never enrolled (a speaker with one file cannot be: nothing left to probe)
            probes += keys
    return OpenSetDomain(
        name,
        family,
        tuple(items),
        dict(sorted(enrolment.items())),
        tuple(probes),
        dict(groups or {}),
        description,
    )


def domain_test_other(root: Path) -> OpenSetDomain:
    return _folder_domain(
        "test-other",
        "librispeech",
        root / "librispeech" / "test-other",
        description="LibriSpeech test-other: read speech, 10 speakers",
    )


def domain_tc100(name: str, root: Path) -> OpenSetDomain:
    """``tc100-halves`` and its conditions: enrol first halves, probe second halves."""
    base = protocol_tc100_halves(root)
    enrol_condition, test_condition = TC100_CONDITIONS[name]
    firsts = tuple(i for i in base.items if i.part is Part.FIRST_HALF)
    seconds = tuple(i for i in base.items if i.part is Part.SECOND_HALF)
    enrollable, _ = split_speakers([i.speaker for i in firsts])
    wanted = set(enrollable)
    items = _conditioned(tuple(i for i in firsts if i.speaker in wanted), enrol_condition, root)
    items += _conditioned(seconds, test_condition, root)
    enrolment = {i.speaker: (i.key,) for i in items if i.part is Part.FIRST_HALF}
    probes = tuple(i.key for i in items if i.part is Part.SECOND_HALF)
    labels = {
        "tc100-halves": "LibriSpeech train-clean-100 halves (same session)",
        "tel-8k": "tc100-halves, both sides band-limited to 8 kHz",
        "noise-5dB": "tc100-halves, probes 3 s crops with noise at 5 dB SNR",
        "noise-0dB": "tc100-halves, probes 3 s crops with noise at 0 dB SNR",
        "test-3s": "tc100-halves, probes 3 s crops",
        "both-2s": "tc100-halves, 2 s crops on both sides",
    }
    return OpenSetDomain(
        name,
        "librispeech",
        items,
        dict(sorted(enrolment.items())),
        probes,
        description=labels.get(name, name),
    )


#: FSDD: enrolment repetitions per digit, and probes per digit (seeded) per speaker.
FSDD_ENROL_REPETITIONS = 5
FSDD_PROBES_PER_DIGIT = 10
#: Digits said one after another in an ``fsdd-pin`` probe.
FSDD_PIN_DIGITS = 5


def _fsdd_files(root: Path) -> dict[str, dict[str, list[Path]]]:
    """``{speaker: {digit: [files sorted by repetition]}}``."""
    table: dict[str, dict[str, list[Path]]] = {}
    for speaker, paths in speaker_folders(root / "fsdd").items():
        by_digit: dict[str, list[Path]] = {}
        for path in paths:
            by_digit.setdefault(path.stem.split("_")[0], []).append(path)
        table[speaker] = {
            digit: sorted(files, key=lambda p: int(p.stem.split("_")[-1]))
            for digit, files in sorted(by_digit.items())
        }
    return table


def domain_fsdd(root: Path, *, pin: bool = False) -> OpenSetDomain:
    """FSDD digits at 8 kHz. Enrolment: repetitions 0-4 of every digit (50 digits, about
    20 s). Probes: 10 seeded later repetitions per digit; with ``pin``, each probe is
    followed by 4 more seeded digits of the same speaker (a spoken PIN, about 2.5 s)."""
    table = _fsdd_files(root)
    enrollable, _ = split_speakers(list(table))
    name = "fsdd-pin" if pin else "fsdd"
    items: list[AudioItem] = []
    enrolment: dict[str, tuple[str, ...]] = {}
    probes: list[str] = []
    for speaker, digits in table.items():
        if speaker in enrollable:
            clips = [f for files in digits.values() for f in files[:FSDD_ENROL_REPETITIONS]]
            keys = tuple(f"{speaker}/{p.name}" for p in clips)
            items += [AudioItem(k, speaker, p) for k, p in zip(keys, clips, strict=True)]
            enrolment[speaker] = keys
        rest = [f for files in digits.values() for f in files[FSDD_ENROL_REPETITIONS:]]
        for digit, files in digits.items():
            later = files[FSDD_ENROL_REPETITIONS:]
            rng = _rng(name, speaker, digit)
            picked = rng.choice(
                len(later), size=min(FSDD_PROBES_PER_DIGIT, len(later)), replace=False
            )
            for index in sorted(int(i) for i in picked):
                path = later[index]
                key = f"{speaker}/{path.name}" + ("#pin" if pin else "")
                transforms: tuple[Append, ...] = ()
                if pin:
                    others = rng.choice(len(rest), size=FSDD_PIN_DIGITS - 1, replace=False)
                    transforms = (Append(tuple(rest[int(i)] for i in others)),)
                items.append(AudioItem(key, speaker, path, transforms=transforms))
                probes.append(key)
    description = (
        "FSDD: 5 digits said in a row by 6 speakers, 8 kHz"
        if pin
        else "FSDD: single spoken digits (about 0.4 s) by 6 speakers, 8 kHz"
    )
    return OpenSetDomain(
        name,
        "fsdd",
        tuple(items),
        dict(sorted(enrolment.items())),
        tuple(probes),
        description=description,
    )


def speechocean_groups(root: Path) -> dict[str, str]:
    """``{speaker: "child" | "adult"}`` from ``SPEAKERS.tsv`` (children are under 16)."""
    table = root / "speechocean762" / "SPEAKERS.tsv"
    if not table.is_file():
        raise DatasetError(f"{table} is missing")
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {row["speaker"]: "child" if int(row["age"]) < 16 else "adult" for row in rows}


def domain_speechocean(root: Path) -> OpenSetDomain:
    return _folder_domain(
        "speechocean762",
        "speechocean762",
        root / "speechocean762",
        groups=speechocean_groups(root),
        description="speechocean762: accented English, children and adults",
    )


def domain_speechcommands(root: Path) -> OpenSetDomain:
    return _folder_domain(
        "speechcommands",
        "speechcommands",
        root / "speechcommands",
        description="Speech Commands: one-second words, each speaker on their own device",
    )


def _subtract(
    start: float, end: float, others: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The parts of ``[start, end)`` that none of ``others`` covers."""
    pieces = [(start, end)]
    for other_start, other_end in sorted(others):
        kept: list[tuple[float, float]] = []
        for s, e in pieces:
            if other_end <= s or other_start >= e:
                kept.append((s, e))
                continue
            if other_start > s:
                kept.append((s, other_start))
            if other_end < e:
                kept.append((other_end, e))
        pieces = kept
    return pieces


def ami_turns(root: Path, *, min_seconds: float = AMI_MIN_TURN_SECONDS) -> list[AudioItem]:
    """Stretches of at least ``min_seconds`` of one speaker from every AMI clip's RTTM:
    each turn with the parts where another speaker talks cut out (no overlapped speech)."""
    folder = root / "ami"
    rows: dict[str, list[tuple[float, float, str]]] = {}
    for rttm in sorted(folder.glob("*.rttm")):
        for line in rttm.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) < 8 or fields[0] != "SPEAKER":
                continue
            start, length = float(fields[3]), float(fields[4])
            rows.setdefault(fields[1], []).append((start, start + length, fields[7]))
    if not rows:
        raise DatasetError(f"no RTTM speaker turns in {folder}")
    items: list[AudioItem] = []
    for clip, turns in sorted(rows.items()):
        path = folder / f"{clip}.flac"
        if not path.is_file():
            raise DatasetError(f"{path} is missing")
        for start, end, speaker in sorted(turns):
            others = [(s, e) for s, e, other in turns if other != speaker]
            for piece_start, piece_end in _subtract(start, end, others):
                if piece_end - piece_start >= min_seconds:
                    key = f"{clip}/{piece_start:.3f}-{piece_end:.3f}/{speaker}"
                    segment = Segment(piece_start, piece_end)
                    items.append(AudioItem(key, speaker, path, transforms=(segment,)))
    return items


def domain_ami(root: Path) -> OpenSetDomain:
    turns = ami_turns(root)
    by_speaker: dict[str, list[AudioItem]] = {}
    for item in turns:
        by_speaker.setdefault(item.speaker, []).append(item)
    enrollable, _ = split_speakers(list(by_speaker))
    enrolment: dict[str, tuple[str, ...]] = {}
    probes: list[str] = []
    for speaker, items in sorted(by_speaker.items()):
        keys = [i.key for i in items]
        if speaker in enrollable and len(items) >= 2:
            spans = [t.end - t.start for i in items for t in i.transforms if isinstance(t, Segment)]
            count = enrolment_count(spans)
            enrolment[speaker] = tuple(keys[:count])
            probes += keys[count:]
        else:
            probes += keys
    return OpenSetDomain(
        "ami",
        "ami",
        tuple(turns),
        enrolment,
        tuple(probes),
        description="AMI meetings (headset mix): single-speaker turns of 2 s and more",
    )


#: Every domain of the decision benchmark, by name.
DOMAINS: dict[str, Callable[[Path], OpenSetDomain]] = {
    "test-other": domain_test_other,
    "tc100-halves": functools.partial(domain_tc100, "tc100-halves"),
    "tel-8k": functools.partial(domain_tc100, "tel-8k"),
    "noise-5dB": functools.partial(domain_tc100, "noise-5dB"),
    "noise-0dB": functools.partial(domain_tc100, "noise-0dB"),
    "fsdd": domain_fsdd,
    "fsdd-pin": functools.partial(domain_fsdd, pin=True),
    "speechocean762": domain_speechocean,
    "speechcommands": domain_speechcommands,
    "ami": domain_ami,
}


def build_domain(name: str, data_root: Path) -> OpenSetDomain:
    builder = DOMAINS.get(name)
    if builder is None:
        raise DatasetError(f"unknown domain {name!r}; choose from {', '.join(DOMAINS)}")
    return builder(data_root)


def galleries(domain: OpenSetDomain, size: int, *, draws: int = 5) -> list[tuple[str, ...]]:
    """Deterministic galleries of ``size`` enrollable speakers: all of them when ``size``
    covers them, else ``draws`` seeded draws (different draws may share speakers)."""
    speakers = domain.enrollable
    if size >= len(speakers):
        return [speakers]
    rng = np.random.default_rng(_rng("gallery", domain.name, str(size)).integers(2**32))
    return [
        tuple(sorted(speakers[int(i)] for i in rng.choice(len(speakers), size, replace=False)))
        for _ in range(draws)
    ]


def domain_tc100_closed(root: Path) -> OpenSetDomain:
    """The earlier LibriSpeech open-set check: all 251 ``tc100-halves`` first halves
    enrolled, their second halves probed, and the 100 ``test-other`` files (10 speakers
    never enrolled) as strangers."""
    base = protocol_tc100_halves(root)
    strangers = _folder_domain("test-other", "librispeech", root / "librispeech" / "test-other")
    items = (*base.items, *strangers.items)
    enrolment = {i.speaker: (i.key,) for i in base.items if i.part is Part.FIRST_HALF}
    probes = tuple(i.key for i in base.items if i.part is Part.SECOND_HALF) + tuple(
        i.key for i in strangers.items
    )
    return OpenSetDomain(
        "tc100-251+test-other",
        "librispeech",
        items,
        dict(sorted(enrolment.items())),
        probes,
        description="all 251 tc100 speakers enrolled; test-other speakers as strangers",
    )


def domain_group(domain: OpenSetDomain, group: str) -> OpenSetDomain:
    """The part of ``domain`` spoken by speakers of ``group`` (e.g. children only)."""
    members = {speaker for speaker, g in domain.groups.items() if g == group}
    if not members:
        raise DatasetError(f"{domain.name} has no speakers in group {group!r}")
    enrolment = {s: keys for s, keys in domain.enrolment.items() if s in members}
    probes = tuple(k for k in domain.probes if domain.speaker_of[k] in members)
    return OpenSetDomain(
        f"{domain.name}-{group}",
        domain.family,
        domain.items,
        enrolment,
        probes,
        {s: g for s, g in domain.groups.items() if s in members},
        f"{domain.description} ({group} only)",
    )
