"""Speaker part of text-dependent verification: same words or other words, same clips.

Usage:
    .venv/bin/python bench/passphrase_speakers.py          # prints the tables

Two sources of repeated words, each speaker enrolled on a "passphrase":

* ``speechcommands``: a keyword a speaker said at least three times; enrolment = two
  clips of it, probes = the others;
* ``fsdd-triples``: three FSDD digits in a row (8 kHz), five triples per speaker, eight
  renditions of each from different recordings of the digits; enrolment = three
  renditions, probes = the other five.

Every probe says the passphrase (target-correct: its speaker; impostor-correct: another
speaker saying the same words). Each probe is scored twice, against two voiceprints of the
claimed speaker built from the same number of clips: **text-dependent** (clips of the
passphrase) and **text-independent** (clips of other words). Reported: EER, and the
false-reject and false-accept rates at the service's default operating point (the prior,
threshold 0.9), with the text-dependent operating point too when one is given
(``voxprint.passphrase.voice``).
Embeddings come from the service's pipeline (Silero VAD, CAM++ default runtime), forced.
"""

from __future__ import annotations

import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.errors import NoSpeechError
from voxprint.evaluation.metrics import equal_error_rate
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.passphrase.voice import text_dependent_prior
from voxprint.pipeline import EmbeddingPipeline
from voxprint.scorer import Probe, Scorer
from voxprint.scoring.similarity import l2_normalise
from voxprint.settings import default_data_root

SEED = 14


@dataclass(frozen=True)
class Clip:
    speaker: str
    phrase: str
    embedding: np.ndarray
    seconds: float
    bandwidth: float | None


@dataclass(frozen=True)
class Enrolment:
    speaker: str
    phrase: str
    same_words: list[Clip]
    other_words: list[Clip]
    probes: list[Clip]


def embed(
    pipeline: EmbeddingPipeline, waveform: np.ndarray, speaker: str, phrase: str
) -> Clip | None:
    """The clip embedded by the service's pipeline; ``None`` when VAD finds no speech."""
    try:
        u = pipeline.process_waveform(waveform, force=True)
    except NoSpeechError:
        return None
    return Clip(speaker, phrase, u.embedding, u.net_speech_seconds, u.bandwidth_hz)


def speechcommands(pipeline: EmbeddingPipeline, root: Path) -> list[Enrolment]:
    by_speaker: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted((root / "speechcommands").glob("*/*.flac")):
        by_speaker[path.parent.name][path.name.split("_")[0]].append(path)
    clips: dict[Path, Clip | None] = {}

    def clip(path: Path, speaker: str, word: str) -> Clip | None:
        if path not in clips:
            clips[path] = embed(pipeline, pipeline.load(path), speaker, word)
        return clips[path]

    def embedded(pairs: list[tuple[Path, str]], speaker: str) -> list[Clip]:
        return [c for p, w in pairs if (c := clip(p, speaker, w)) is not None]

    sets: list[Enrolment] = []
    for speaker, words in sorted(by_speaker.items()):
        for word, paths in sorted(words.items()):
            same = embedded([(p, word) for p in paths], speaker)
            others = embedded(
                [(p, w) for w, ps in sorted(words.items()) if w != word for p in ps], speaker
            )
            if len(same) < 3 or len(others) < 2:
                continue
            sets.append(Enrolment(speaker, word, same[:2], others[:2], same[2:]))
    # Impostor-correct probes: everyone's clips of the word (other speakers are picked
    # when scoring).
    for speaker, words in by_speaker.items():
        for word, paths in words.items():
            for p in paths:
                clip(p, speaker, word)
    _ALL[id(sets)] = [c for c in clips.values() if c is not None]
    return sets


_ALL: dict[int, list[Clip]] = {}
_POOL: list[Clip] = []


def fsdd_triples(pipeline: EmbeddingPipeline, root: Path) -> list[Enrolment]:
    rng = random.Random(SEED)
    files: dict[str, dict[int, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted((root / "fsdd").glob("*/*.wav")):
        digit, speaker, _ = path.stem.split("_")
        files[speaker][int(digit)].append(path)
    triples = [tuple(rng.sample(range(10), 3)) for _ in range(5)]
    gap = np.zeros(int(0.1 * 16000), np.float32)
    renditions: dict[tuple[str, tuple[int, ...]], list[Clip]] = {}
    for speaker, digits in sorted(files.items()):
        for triple in triples:
            made = []
            for r in range(8):
                parts = []
                for d in triple:
                    parts += [pipeline.load(digits[d][(r * 3 + d) % len(digits[d])]), gap]
                rendition = embed(pipeline, np.concatenate(parts), speaker, str(triple))
                if rendition is not None:  # a few FSDD recordings are too faint for the VAD
                    made.append(rendition)
            renditions[(speaker, triple)] = made
    sets = []
    for (speaker, triple), made in sorted(renditions.items()):
        other = next(t for t in triples if t != triple)
        if len(made) >= 4 and len(renditions[(speaker, other)]) >= 3:
            sets.append(
                Enrolment(
                    speaker, str(triple), made[:3], renditions[(speaker, other)][:3], made[3:]
                )
            )
    _ALL[id(sets)] = [c for made in renditions.values() for c in made[3:]]
    return sets


def voiceprint(clips: list[Clip]) -> tuple[np.ndarray, float]:
    mean = np.mean([c.embedding for c in clips], axis=0)
    return l2_normalise(mean), float(sum(c.seconds for c in clips))


def evaluate(name: str, sets: list[Enrolment], pool: list[Clip]) -> list[str]:
    rng = random.Random(SEED)
    by_phrase: dict[str, list[Clip]] = defaultdict(list)
    for c in pool:
        by_phrase[c.phrase].append(c)
    prior = DEFAULT_PRIORS["campplus"]
    scorers = {
        "text-independent operating point": Scorer(prior.operating_point()),
        "text-dependent operating point": Scorer(text_dependent_prior(prior).operating_point()),
    }
    rows: dict[str, dict[str, list[float]]] = {
        kind: {"target": [], "impostor": []} for kind in ("same", "other")
    }
    decisions: dict[tuple[str, str], dict[str, list[bool]]] = defaultdict(
        lambda: {"target": [], "impostor": []}
    )
    for enrolment in sets:
        strangers = [c for c in by_phrase[enrolment.phrase] if c.speaker != enrolment.speaker]
        strangers = rng.sample(strangers, min(40, len(strangers)))
        for kind, clips in (("same", enrolment.same_words), ("other", enrolment.other_words)):
            vp, seconds = voiceprint(clips)
            for label, probes in (("target", enrolment.probes), ("impostor", strangers)):
                for probe in probes:
                    rows[kind][label].append(float(probe.embedding @ vp))
                    for point, scorer in scorers.items():
                        verdict = scorer.verify(
                            Probe(probe.embedding, probe.seconds, probe.bandwidth), vp, seconds
                        )
                        decisions[(kind, point)][label].append(verdict.decision.value == "accept")
    lines = []
    _POOL[:] = pool
    _fit_shrink(name, sets)
    for kind, title in (
        ("same", "text-dependent (same words)"),
        ("other", "text-independent (other words)"),
    ):
        eer, _ = equal_error_rate(np.array(rows[kind]["target"]), np.array(rows[kind]["impostor"]))
        cells = []
        for point in scorers:
            d = decisions[(kind, point)]
            frr = 100 * (1 - np.mean(d["target"]))
            far = 100 * np.mean(d["impostor"])
            cells.append(f"{frr:.1f} / {far:.2f}")
        lines.append(
            f"| {name} | {title} | {len(rows[kind]['target'])} / {len(rows[kind]['impostor'])} | "
            f"{100 * eer:.2f} % | {np.mean(rows[kind]['target']):.3f} | "
            f"{np.mean(rows[kind]['impostor']):.3f} | {' | '.join(cells)} |"
        )
    return lines


def _fit_shrink(name: str, sets: list[Enrolment]) -> None:
    """The duration shrinkage that best fits same-word owner cosines (printed to stderr)."""
    from voxprint.scoring.llr import shrink_factor

    ceiling = DEFAULT_PRIORS["campplus"].targets.ceiling
    # The speech the detector misses is the same whatever the words: the prior's offset.
    offset = DEFAULT_PRIORS["campplus"].speech_offset
    cos, dp, de = [], [], []
    for enrolment in sets:
        vp, seconds = voiceprint(enrolment.same_words)
        for probe in enrolment.probes:
            cos.append(float(probe.embedding @ vp))
            dp.append(probe.seconds)
            de.append(seconds)
    c, p, e = np.array(cos), np.array(dp), np.array(de)
    grid = np.linspace(0.05, 2.0, 196)
    errors = [
        np.mean((c - ceiling * shrink_factor(p, k, offset) * shrink_factor(e, k, offset)) ** 2)
        for k in grid
    ]
    best = grid[int(np.argmin(errors))]
    # Same-word impostors: their mean cosine, scaled to unlimited speech at that shrinkage,
    # against the text-independent prior's impostor mean of the band.
    rng = random.Random(SEED)
    scaled = []
    for enrolment in sets:
        vp, _ = voiceprint(enrolment.same_words)
        strangers = [
            c for c in _POOL if c.phrase == enrolment.phrase and c.speaker != enrolment.speaker
        ]
        for probe in rng.sample(strangers, min(40, len(strangers))):
            shrink = float(shrink_factor(probe.seconds, best, offset))
            scaled.append(float(probe.embedding @ vp) / shrink)
    print(
        f"  {name}: same-word owner cosines fit shrinkage {best:.2f} s "
        f"(prior {DEFAULT_PRIORS['campplus'].shrink_seconds:.2f} s; mean probe speech "
        f"{p.mean():.2f} s, enrolment {e.mean():.2f} s); same-word impostor mean at that "
        f"shrinkage {np.mean(scaled):.3f}",
        file=sys.stderr,
    )


def main() -> None:
    root = default_data_root()
    pipeline = build_pipeline(ServiceOptions())
    print(
        "| source | enrolment voiceprint | target / impostor-correct trials | EER | "
        "mean target cosine | mean impostor cosine | FRR / FAR at the text-independent "
        "operating point (%) | FRR / FAR at the text-dependent operating point (%) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, build in (("speechcommands", speechcommands), ("fsdd-triples", fsdd_triples)):
        started = time.perf_counter()
        sets = build(pipeline, root)
        print("\n".join(evaluate(name, sets, _ALL[id(sets)])), flush=True)
        print(f"  ({name}: {time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
