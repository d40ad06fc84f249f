"""Phrase-check benchmark: right phrases accepted, wrong phrases rejected, and speed.

Usage:
    .venv/bin/python bench/phrases.py                       # every source; prints tables
    .venv/bin/python bench/phrases.py --sources espeak fsdd-sequences
    .venv/bin/python bench/phrases.py --sweep               # margins at other thresholds
    .venv/bin/python bench/phrases.py --recognizer whisper  # the opt-in Whisper check

Every trial goes the way the service goes: decode to 16 kHz, Silero VAD, the speech
with 0.3 s margins (``voxprint.passphrase.audio.phrase_audio``), then the PocketSphinx
check of the phrase against its competitors (or, with ``--recognizer whisper``, the
Whisper check). The margins of every trial are kept in ``reports/phrase-cache/`` (one
folder per recogniser other than PocketSphinx; ignored by git), so thresholds can be
re-read without decoding again (``--sweep``); delete the folder after changing the
recogniser.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import phrase_data
from voxprint.passphrase import RECOGNIZERS, load_recognizer
from voxprint.passphrase.audio import phrase_audio
from voxprint.passphrase.challenges import CHALLENGE_WORD_ERRORS
from voxprint.passphrase.recognizer import Competitors, PhraseRecognizer
from voxprint.passphrase.sphinx import SphinxRecognizer
from voxprint.passphrase.whisper import WhisperRecognizer, second_look_allowed
from voxprint.settings import default_data_root
from voxprint.vad import SileroVad

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "reports" / "phrase-cache"

SOURCES = (
    "speechcommands",
    "fsdd-digits",
    "fsdd-sequences",
    "librispeech",
    "espeak",
    "challenge-replay",
    "espeak-word-challenges",
)


def build(source: str, root: Path) -> list[phrase_data.PhraseTrial]:
    match source:
        case "speechcommands":
            return phrase_data.speechcommands(root)
        case "fsdd-digits":
            return phrase_data.fsdd_digits(root)
        case "fsdd-sequences":
            return phrase_data.fsdd_sequences(root)
        case "librispeech":
            return phrase_data.librispeech(root)
        case "espeak":
            return phrase_data.espeak()
        case "challenge-replay":
            return phrase_data.challenge_replays(root)
        case "espeak-word-challenges":
            return phrase_data.espeak_word_challenges()
    raise SystemExit(f"unknown source {source!r}; known: {', '.join(SOURCES)}")


def cache_dir(recognizer: str) -> Path:
    return CACHE if recognizer == "pocketsphinx" else CACHE / recognizer


def run_source(
    source: str,
    root: Path,
    recognizer: PhraseRecognizer,
    vad: SileroVad,
    folder: Path = CACHE,
) -> Path:
    """Check every trial of ``source``; one JSON line per trial in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{source}.jsonl"
    if out.exists():
        return out
    trials = build(source, root)
    audio_cache: dict[str, np.ndarray] = {}
    rows = []
    for i, trial in enumerate(trials):
        cache_key = f"{trial.source}/{trial.key}/{trial.said}"
        if cache_key not in audio_cache:
            audio_cache.clear()
            waveform = trial.load()
            audio_cache[cache_key] = phrase_audio(waveform, vad.detect(waveform), 16000)
        audio = audio_cache[cache_key]
        started = time.perf_counter()
        match = recognizer.check(
            audio, trial.checked, competitors(trial), max_word_errors=allowed_errors(trial.words)
        )
        elapsed = time.perf_counter() - started
        rows.append(
            {
                "source": trial.source,
                "key": trial.key,
                "speaker": trial.speaker,
                "said": trial.said,
                "checked": trial.checked,
                "right": trial.right,
                "accepted": match.accepted,
                "heard": match.heard,
                "reason": match.reason.value,
                "word_errors": match.word_errors,
                "loop_margin": match.loop_margin,
                "weakest_word": match.weakest_word,
                "weakest_word_margin": match.weakest_word_margin,
                "allowed_errors": allowed_errors(trial.words),
                "frames": match.frames,
                "seconds": len(audio) / 16000,
                "time": elapsed,
            }
        )
        if (i + 1) % 100 == 0:
            print(f"  {source}: {i + 1}/{len(trials)}", file=sys.stderr, flush=True)
    out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return out


def load_rows(source: str, recognizer: str = "pocketsphinx") -> list[dict]:
    path = cache_dir(recognizer) / f"{source}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def competitors(trial: phrase_data.PhraseTrial) -> Competitors:
    """As the service asks: challenges against any sequence of their words, phrases
    against the other phrases of their set."""
    others = tuple(p for p in trial.phrases if p != trial.checked)
    return Competitors(others, trial.words)


def allowed_errors(words: tuple[str, ...]) -> int:
    """Challenges (any sequence of words) allow the service's word errors; phrases none."""
    return CHALLENGE_WORD_ERRORS if words else 0


def accepted(
    row: dict,
    loop_threshold: float,
    errors: int | None = None,
    second_look: bool = False,
    word_threshold: float | None = None,
) -> bool:
    """Would the row pass at ``loop_threshold`` with ``errors`` word errors allowed?
    PocketSphinx needs the words, the loop margin and (``word_threshold``, rows that
    measured it) every word's own margin; Whisper (``second_look``) passes on its
    transcript, or failing that on the forced margin."""
    if row["reason"] == "unrecognized" or row["word_errors"] < 0:
        return False
    allowed = row["allowed_errors"] if errors is None else errors
    heard_right = row["word_errors"] <= allowed
    if second_look:
        others = Competitors(tuple(row.get("phrases", ())), tuple(row.get("words", ())))
        looked = row["heard"] is not None and second_look_allowed(
            row["heard"], row["checked"], others
        )
        return heard_right or (looked and row["loop_margin"] >= loop_threshold)
    weakest = row.get("weakest_word_margin")
    words_fit = word_threshold is None or weakest is None or weakest >= word_threshold
    return heard_right and row["loop_margin"] >= loop_threshold and words_fit


def answered(row: dict, loop_threshold: float, second_look: bool) -> bool:
    """The recogniser's answer: for Whisper re-read from the row's transcript and margin
    with the recogniser's rule (so rows cached before a change of the rule that only
    takes fewer second looks read as the recogniser answers now); otherwise as the row
    kept it (older caches did not)."""
    if second_look or "accepted" not in row:
        return accepted(row, loop_threshold, second_look=second_look)
    return bool(row["accepted"])


def with_competitors(rows: list[dict], source: str, root: Path) -> list[dict]:
    """``rows`` with each trial's competitors (``phrases``, ``words``), as checked."""
    trials = {(t.key, t.said, t.checked): competitors(t) for t in build(source, root)}
    for row in rows:
        others = trials[(row["key"], row["said"], row["checked"])]
        row["phrases"], row["words"] = list(others.phrases), list(others.words)
    return rows


def loop_threshold(recognizer: PhraseRecognizer) -> float:
    """The recogniser's own threshold on ``loop_margin``: PocketSphinx's loop threshold,
    or minus Whisper's rescue margin (+inf: no second look)."""
    if isinstance(recognizer, SphinxRecognizer):
        return recognizer.config.loop_threshold
    if isinstance(recognizer, WhisperRecognizer):
        margin = recognizer.config.rescue_margin
        return np.inf if margin is None else -margin
    return -np.inf


def table(
    rows_by_source: dict[str, list[dict]], threshold: float, second_look: bool = False
) -> list[str]:
    lines = [
        "| source | right phrase: accepted | wrong phrase: rejected | clips | "
        "check time per clip (mean, s) | audio per clip (mean, s) |",
        "|---|---|---|---|---|---|",
    ]
    groups: dict[str, list[dict]] = {}
    for rows in rows_by_source.values():
        for row in rows:
            groups.setdefault(row["source"], []).append(row)
    for name, rows in groups.items():
        right = [r for r in rows if r["right"]]
        wrong = [r for r in rows if not r["right"]]
        acc = (
            f"{100 * np.mean([answered(r, threshold, second_look) for r in right]):.1f} % "
            f"of {len(right)}"
            if right
            else "–"
        )
        rej = (
            f"{100 * np.mean([not answered(r, threshold, second_look) for r in wrong]):.1f} % "
            f"of {len(wrong)}"
            if wrong
            else "–"
        )
        clips = len({(r["key"], r["said"]) for r in rows})
        lines.append(
            f"| {name} | {acc} | {rej} | {clips} | {np.mean([r['time'] for r in rows]):.3f} | "
            f"{np.mean([r['seconds'] for r in rows]):.2f} |"
        )
    return lines


#: Thresholds swept: PocketSphinx's loop margin per frame; Whisper's forced margin.
SWEPT = {
    False: (-10.0, -12.0, -15.0, -18.0, -20.0, -22.0, -25.0, -30.0, -1e9),
    True: (np.inf, -0.5, -1.0, -2.0, -3.0, -4.0, -5.0, -6.0),
}
#: PocketSphinx's word threshold swept (per frame; None: no word check), at its loop
#: threshold.
SWEPT_WORDS = (None, -100.0, -90.0, -80.0, -70.0, -60.0, -50.0)


def sweep(rows: list[dict], second_look: bool = False, loop_threshold: float = -20.0) -> None:
    right = [r for r in rows if r["right"]]
    wrong = [r for r in rows if not r["right"]]

    def line(label: str, a: list[bool], w: list[bool]) -> None:
        print(
            f"  {label}: right {100 * np.mean(a) if a else float('nan'):5.1f}  "
            f"wrong {100 * np.mean(w) if w else float('nan'):5.1f}"
        )

    for errors in (0, 1):
        for loop in SWEPT[second_look]:
            a = [accepted(r, loop, errors, second_look) for r in right]
            w = [not accepted(r, loop, errors, second_look) for r in wrong]
            line(f"word errors {errors} loop {loop:+.1f}", a, w)
    if second_look:
        return
    for words in SWEPT_WORDS:
        a = [accepted(r, loop_threshold, word_threshold=words) for r in right]
        w = [not accepted(r, loop_threshold, word_threshold=words) for r in wrong]
        line(
            f"loop {loop_threshold:+.1f} words {'off' if words is None else f'{words:+.0f}'}", a, w
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", nargs="*", default=list(SOURCES), choices=SOURCES)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--recognizer", default="pocketsphinx", choices=sorted(RECOGNIZERS))
    args = parser.parse_args()
    root = default_data_root()
    recognizer = load_recognizer(args.recognizer)
    second_look = isinstance(recognizer, WhisperRecognizer)
    vad = SileroVad()
    rows: dict[str, list[dict]] = {}
    for source in args.sources:
        if source.startswith("espeak") and not phrase_data.espeak_available():
            print("espeak-ng not installed: espeak skipped", file=sys.stderr)
            continue
        run_source(source, root, recognizer, vad, cache_dir(args.recognizer))
        rows[source] = with_competitors(load_rows(source, args.recognizer), source, root)
        if args.sweep:
            print(source)
            sweep(rows[source], second_look, loop_threshold(recognizer))
    print("\n".join(table(rows, loop_threshold(recognizer), second_look)))


if __name__ == "__main__":
    main()
