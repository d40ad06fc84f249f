"""Both recognisers on one trial: would PocketSphinx and Whisper together pass more right
phrases than either alone, and still refuse the wrong ones?

Usage:
    .venv/bin/python bench/phrase_combinations.py

Reads the cached answers of ``bench/phrases.py`` (run it first with the default
recogniser and with ``--recognizer whisper``; every source) and pairs them trial by
trial. Each rule is a way to combine the two answers:

* ``pocketsphinx``, ``whisper``: either alone (Whisper with its second look);
* ``either``: accept when one of them does;
* ``both``: accept when both do;
* ``whisper, else pocketsphinx if plausible``: Whisper's answer, or PocketSphinx's
  acceptance when Whisper's transcript could be a garbled form of the phrase (the
  second look's rule, ``second_look_allowed``);
* the same, also asking that Whisper's forced margin is at least ``-m`` nats.

"Near misses" (a passphrase with one word changed or dropped) are wrong phrases reported
on their own: the rules differ most there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import phrases
from voxprint.passphrase.recognizer import Competitors
from voxprint.passphrase.whisper import WhisperConfig, second_look_allowed
from voxprint.settings import default_data_root

Pair = tuple[dict, dict]  # (PocketSphinx's row, Whisper's row) of one trial
Rule = Callable[[dict, dict], bool]

SPHINX_LOOP = -20.0  # SphinxConfig's loop threshold
WHISPER_MARGIN = -WhisperConfig().rescue_margin


def sphinx(p: dict, w: dict) -> bool:
    return phrases.accepted(p, SPHINX_LOOP)


def whisper(p: dict, w: dict) -> bool:
    return phrases.answered(w, WHISPER_MARGIN, second_look=True)


def plausible(w: dict, margin: float = -np.inf) -> bool:
    """Whisper's transcript could be the phrase misheard, and its forced margin (when it
    took a second look) is at least ``margin``."""
    others = Competitors(tuple(w.get("phrases", ())), tuple(w.get("words", ())))
    heard = w["heard"] is not None and second_look_allowed(w["heard"], w["checked"], others)
    return heard and w["loop_margin"] >= margin


RULES: dict[str, Rule] = {
    "pocketsphinx": sphinx,
    "whisper": whisper,
    "either": lambda p, w: sphinx(p, w) or whisper(p, w),
    "both": lambda p, w: sphinx(p, w) and whisper(p, w),
    "whisper, else pocketsphinx if plausible": lambda p, w: (
        whisper(p, w) or (sphinx(p, w) and plausible(w))
    ),
    "... and margin ≥ -6": lambda p, w: whisper(p, w) or (sphinx(p, w) and plausible(w, -6.0)),
    "... and margin ≥ -10": lambda p, w: whisper(p, w) or (sphinx(p, w) and plausible(w, -10.0)),
}


def trial_key(row: dict) -> tuple[str, str, str, str]:
    return (row["source"], row["key"], row["said"], row["checked"])


def paired(source: str, root: Path) -> list[Pair]:
    by_trial = {trial_key(r): r for r in phrases.load_rows(source)}
    rows = phrases.with_competitors(phrases.load_rows(source, "whisper"), source, root)
    return [(by_trial[trial_key(w)], w) for w in rows if trial_key(w) in by_trial]


def cell(pairs: list[Pair], rule: Rule, right: bool) -> str:
    if not pairs:
        return "–"
    passed = np.mean([rule(p, w) for p, w in pairs])
    return f"{100 * (passed if right else 1 - passed):.1f} %"


def main() -> None:
    root = default_data_root()
    print("| source | rule | right accepted | wrong rejected | near misses rejected |")
    print("|---|---|---|---|---|")
    for source in phrases.SOURCES:
        try:
            pairs = paired(source, root)
        except FileNotFoundError:
            print(f"{source}: no cached rows of both recognisers; skipped", file=sys.stderr)
            continue
        right = [(p, w) for p, w in pairs if w["right"]]
        near = [(p, w) for p, w in pairs if w["source"] == "espeak-near"]
        wrong = [(p, w) for p, w in pairs if not w["right"] and w["source"] != "espeak-near"]
        for name, rule in RULES.items():
            print(
                f"| {source} | {name} | {cell(right, rule, True)} | "
                f"{cell(wrong, rule, False)} | {cell(near, rule, False)} |"
            )


if __name__ == "__main__":
    main()
