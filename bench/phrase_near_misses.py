"""Phrase check levers measured for near misses and misheard right phrases (not kept).

Usage:
    .venv/bin/python bench/phrase_near_misses.py --part near --vocabulary 500
    .venv/bin/python bench/phrase_near_misses.py --part near --vocabulary 500 --weight 1000
    .venv/bin/python bench/phrase_near_misses.py --part near --vocabulary 0      # drops only
    .venv/bin/python bench/phrase_near_misses.py --part margin --sources speechcommands fsdd-digits

``near``: the grammar of a passphrase check also holds the phrase with each word dropped
and (``--vocabulary N``) with each word replaced by any of the N most frequent words of
PocketSphinx's own US English language model; ``--weight W`` gives the listed phrases W
times the prior weight of those variants. A near miss ("my voice is stronger than
password") should then be heard as itself rather than as the closest listed phrase.

``margin``: where the grammar heard a competing phrase, how much better (per frame) its
path scored than the forced alignment of the expected phrase; a right phrase misheard by
a hair would accept below some margin.

Both run the trials of ``bench/phrases.py`` the service's way; results are cached under
``reports/phrase-levers/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import phrases as bench
from voxprint.passphrase import sphinx
from voxprint.passphrase.audio import phrase_audio
from voxprint.passphrase.recognizer import Competitors, PhraseMatch
from voxprint.settings import default_data_root
from voxprint.vad import SileroVad

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "reports" / "phrase-levers"


@functools.cache
def frequent_words(count: int) -> tuple[str, ...]:
    """The ``count`` dictionary words of highest unigram probability in the bundled LM."""
    import pocketsphinx

    model = Path(pocketsphinx.get_model_path()) / "en-us" / "en-us.lm.bin"
    lm = pocketsphinx.NGramModel.readfile(str(model))
    plain = (w for w in sphinx._vocabulary() if re.fullmatch(r"[a-z]+(?:'[a-z]+)?", w))
    ranked = sorted(((lm.prob([w]), w) for w in plain), reverse=True)
    return tuple(w for _, w in ranked[:count])


def near_grammar(expected: str, competitors: Competitors, vocabulary: int, weight: str) -> str:
    """The service's grammar, plus the expected phrase with one word dropped or replaced."""
    words = expected.split()
    variants = []
    for i in range(len(words)):
        left, right = words[:i], words[i + 1 :]
        if vocabulary:
            variants.append(" ".join([*left, "<any>", *right]))
        if len(words) > 1:
            variants.append(" ".join([*left, *right]))
    rules = ["#JSGF V1.0;", "grammar phrases;"]
    if vocabulary:
        rules.append(f"<any> = {' | '.join(frequent_words(vocabulary))};")
    rules.append(f"<near> = {' | '.join(variants)};")
    listed = list(dict.fromkeys([expected, *competitors.phrases]))
    if weight:
        alternatives = [f"/{weight}/ {p}" for p in listed] + ["/1/ <near>"]
    else:
        alternatives = [*listed, "<near>"]
    rules.append(f"public <phrase> = {' | '.join(alternatives)};")
    return "\n".join(rules) + "\n"


class NearMissRecognizer(sphinx.SphinxRecognizer):
    """The service's recogniser with the near-miss grammar for passphrase checks (challenges,
    which compete against any sequence of their words, are checked as before)."""

    def __init__(self, vocabulary: int, weight: str) -> None:
        super().__init__()
        self.vocabulary, self.weight = vocabulary, weight

    def check(
        self,
        waveform: np.ndarray,
        expected: str,
        competitors: Competitors,
        *,
        max_word_errors: int = 0,
    ) -> PhraseMatch:
        if competitors.words:
            return super().check(waveform, expected, competitors, max_word_errors=max_word_errors)
        expected = self._known(expected)
        session = self._session()
        pcm = self._pcm(waveform)
        text = near_grammar(expected, competitors, self.vocabulary, self.weight)
        heard = session.grammar(pcm, text)
        return self._judge(session, pcm, expected, heard, max_word_errors)


def run_near(sources: list[str], vocabulary: int, weight: str) -> None:
    bench.CACHE = CACHE / f"near-{vocabulary}-w{weight or 'none'}"
    recognizer, vad, root = NearMissRecognizer(vocabulary, weight), SileroVad(), default_data_root()
    rows = {}
    for source in sources:
        bench.run_source(source, root, recognizer, vad)
        rows[source] = bench.load_rows(source)
    print(f"near-miss grammar: vocabulary {vocabulary}, weight {weight or 'none'}\n")
    print("\n".join(bench.table(rows, recognizer.config.loop_threshold)))


def grammar_margins(source: str) -> list[dict]:
    """Per trial: right or not, the reason, the loop margin and the grammar margin."""
    out = CACHE / "margin" / f"{source}.jsonl"
    if out.exists():
        return [json.loads(line) for line in out.read_text().splitlines()]
    recognizer, vad = sphinx.SphinxRecognizer(), SileroVad()
    rows = []
    for trial in bench.build(source, default_data_root()):
        waveform = trial.load()
        audio = phrase_audio(waveform, vad.detect(waveform), 16000)
        competitors = bench.competitors(trial)
        match = recognizer.check(
            audio,
            trial.checked,
            competitors,
            max_word_errors=bench.allowed_errors(trial.words),
        )
        session, pcm = recognizer._session(), recognizer._pcm(audio)
        grammar = sphinx.grammar_text(trial.checked, competitors)
        heard, aligned = session.grammar(pcm, grammar), session.align(pcm, trial.checked)
        frames = session.frames
        margin = (heard.score - aligned.score) / frames if heard and aligned and frames else None
        rows.append(
            {
                "right": trial.right,
                "reason": match.reason.value,
                "loop_margin": match.loop_margin,
                "grammar_margin": margin,
            }
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return rows


def run_margin(sources: list[str]) -> None:
    config = sphinx.SphinxConfig()
    print("| source | accept a misheard phrase up to margin | right accepted | wrong rejected |")
    print("|---|---|---|---|")
    for source in sources:
        rows = grammar_margins(source)
        for limit in (None, -15.0, -10.0, -5.0, 0.0):

            def accepts(row: dict, limit: float | None = limit) -> bool:
                if row["reason"] == "match":
                    return True
                return (
                    limit is not None
                    and row["reason"] == "other_phrase"
                    and row["grammar_margin"] is not None
                    and row["grammar_margin"] <= limit
                    and row["loop_margin"] >= config.loop_threshold
                )

            right = [accepts(r) for r in rows if r["right"]]
            wrong = [not accepts(r) for r in rows if not r["right"]]
            shown = "never (the service)" if limit is None else f"{limit:+.0f}"
            print(
                f"| {source} | {shown} | {100 * np.mean(right):.1f} % | "
                f"{100 * np.mean(wrong):.1f} % |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["near", "margin"], required=True)
    parser.add_argument("--sources", nargs="*", default=["espeak"], choices=bench.SOURCES)
    parser.add_argument("--vocabulary", type=int, default=500)
    parser.add_argument("--weight", default="")
    args = parser.parse_args()
    if args.part == "near":
        run_near(args.sources, args.vocabulary, args.weight)
    else:
        run_margin(args.sources)


if __name__ == "__main__":
    main()
