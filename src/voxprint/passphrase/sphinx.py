"""The phrase check on PocketSphinx (US English, offline; the model ships in its wheel).

Three decoding passes over the same audio:

1. a **JSGF grammar** of the expected phrase and its competitors (the other phrases that
   could have been said, or any sequence of a challenge's words): what was heard;
2. **forced alignment** of the expected phrase;
3. a **free phone loop** (any sequence of phones): the best any speech can score.

``loop_margin`` = (alignment score - phone loop score) / frames, in PocketSphinx's log
units (base 1.0001). Speech that is not the phrase fits the phone loop far better than the
forced phrase. The check accepts when the grammar heard the expected phrase (within the
allowed word errors), the loop margin reaches :attr:`SphinxConfig.loop_threshold`, and
every word of the phrase fits its own frames within :attr:`SphinxConfig.word_threshold`
of the phone loop over the same frames (:func:`word_margins`; fitted by
``bench/phrases.py``; docs/benchmarks.md, "Passphrases and spoken challenges").

The loop margin compares path scores: PocketSphinx normalises every frame by its best
senone, so the path scores of different searches over one utterance compare. The word
check compares the two passes' segment scores over the same frames, which carry each
search's own normalisation; so a word's margin is a relative measure, and its threshold
was measured on the development data (right phrases and near misses), not derived.
A faint deterministic dither is added first: digital silence (exact zeros, as synthetic
or gated audio has) makes the alignment fail.

PocketSphinx decoders are not thread-safe: each thread gets its own (about 0.5 s to
load, once per thread).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voxprint.errors import InvalidParameterError, ModelError
from voxprint.passphrase.recognizer import (
    Competitors,
    PhraseMatch,
    PhraseReason,
    normalize_phrase,
    word_errors,
)

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: PocketSphinx's scores are logarithms in base 1.0001.
_LOG_BASE = math.log(1.0001)
#: Dither added before decoding (full scale 1.0): about 10 steps of 16-bit audio.
_DITHER = 3e-4


@dataclass(frozen=True)
class SphinxConfig:
    """The decision threshold and the decoder's search settings.

    ``loop_threshold`` was fitted by ``bench/phrases.py`` on the development data
    (docs/benchmarks.md): right phrases score above it, other speech below.
    """

    #: Accept only when the forced phrase scores at least this (per frame) against
    #: the free phone loop.
    loop_threshold: float = -20.0
    #: Accept only when every word of the phrase, over its own aligned frames, scores at
    #: least this (per frame) against the phone loop over the same frames. A phrase with
    #: one word changed or dropped fits as a whole but not there.
    word_threshold: float = -80.0
    #: Search beams: wide, so that a long phrase is never pruned away.
    beam: float = 1e-80
    word_beam: float = 1e-60
    #: Grammars kept compiled per decoder (one per distinct set of competitors).
    cached_grammars: int = 32

    def __post_init__(self) -> None:
        if self.cached_grammars < 1:
            raise InvalidParameterError("cached_grammars must be at least 1")
        if not (0 < self.beam < 1 and 0 < self.word_beam < 1):
            raise InvalidParameterError("beams must be between 0 and 1")
        if not (math.isfinite(self.loop_threshold) and math.isfinite(self.word_threshold)):
            raise InvalidParameterError("the loop and word thresholds must be finite numbers")


def _model_paths() -> tuple[Path, Path]:
    try:
        import pocketsphinx
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelError(
            "the phrase check needs the pocketsphinx package (pip install pocketsphinx)"
        ) from exc
    root = Path(pocketsphinx.get_model_path()) / "en-us"
    return root / "en-us", root / "cmudict-en-us.dict"


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Every word of the pronunciation dictionary (alternates like ``word(2)`` folded)."""
    _, dictionary = _model_paths()
    words: set[str] = set()
    with open(dictionary, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            head = line.split(" ", 1)[0]
            words.add(head.split("(", 1)[0])
    return frozenset(words)


def grammar_text(expected: str | None, competitors: Competitors) -> str:
    """The JSGF grammar: the expected phrase, the competing phrases, and any sequence of
    the competing words."""
    alternatives = list(dict.fromkeys([*([expected] if expected else []), *competitors.phrases]))
    rules = ["#JSGF V1.0;", "grammar phrases;"]
    if competitors.words:
        rules.append(f"<free> = ({' | '.join(dict.fromkeys(competitors.words))})+;")
        alternatives.append("<free>")
    if not alternatives:
        raise InvalidParameterError("a phrase grammar needs at least one phrase")
    rules.append(f"public <phrase> = {' | '.join(alternatives)};")
    return "\n".join(rules) + "\n"


@dataclass(frozen=True)
class Segment:
    """One word or phone of a decoding pass: its frames ``start``..``end`` (inclusive)
    and its acoustic score over them (log base 1.0001)."""

    label: str
    start: int
    end: int
    score: float

    @property
    def frames(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class _Pass:
    """One decoding pass: what it found, its path score (log base 1.0001), and its
    segments (words or phones)."""

    text: str
    score: float
    segments: tuple[Segment, ...] = ()


#: Segments of an alignment that are not words of the phrase.
_FILLERS = frozenset({"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]"})


def word_margins(words: Sequence[Segment], phones: Sequence[Segment]) -> list[tuple[str, float]]:
    """Per word of an alignment (fillers and silences left out, pronunciation variants
    such as ``to(2)`` named as the word): its acoustic score minus the phone loop's over
    the same frames, per frame. A loop phone that straddles a word's edge counts in
    proportion to the frames it shares with the word."""
    margins = []
    for word in words:
        if word.label in _FILLERS or word.frames <= 0:
            continue
        loop = 0.0
        for phone in phones:
            shared = min(phone.end, word.end) - max(phone.start, word.start) + 1
            if shared > 0 and phone.frames > 0:
                loop += phone.score * shared / phone.frames
        margins.append((word.label.split("(", 1)[0], (word.score - loop) / word.frames))
    return margins


class _Session:
    """One thread's decoder with its compiled grammars."""

    def __init__(self, config: SphinxConfig) -> None:
        from pocketsphinx import Decoder

        hmm, dictionary = _model_paths()
        try:
            self.decoder: Any = Decoder(
                hmm=str(hmm),
                dict=str(dictionary),
                samprate=SAMPLE_RATE,
                lm=None,
                loglevel="FATAL",
                bestpath=False,
                beam=config.beam,
                pbeam=config.beam,
                wbeam=config.word_beam,
                lpbeam=config.word_beam,
            )
            self.decoder.add_allphone_file("loop", None)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"PocketSphinx could not load its US English model: {exc}") from exc
        self.grammars: OrderedDict[str, None] = OrderedDict()
        self.config = config

    def _grammar(self, text: str) -> str:
        name = "g" + hashlib.sha1(text.encode()).hexdigest()[:16]
        if name in self.grammars:
            self.grammars.move_to_end(name)
            return name
        try:
            self.decoder.add_jsgf_string(name, text)
        except (RuntimeError, ValueError) as exc:
            raise InvalidParameterError(f"the phrase grammar could not be built: {exc}") from exc
        self.grammars[name] = None
        while len(self.grammars) > self.config.cached_grammars:
            old, _ = self.grammars.popitem(last=False)
            self.decoder.remove_search(old)
        return name

    def _run(self, pcm: bytes) -> _Pass | None:
        decoder = self.decoder
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        if hypothesis is None or hypothesis.score <= 0:
            return None
        segments = tuple(
            Segment(
                segment.word,
                int(segment.start_frame),
                int(segment.end_frame),
                math.log(max(segment.ascore, 1e-300)) / _LOG_BASE,
            )
            for segment in decoder.seg()
        )
        return _Pass(hypothesis.hypstr or "", math.log(hypothesis.score) / _LOG_BASE, segments)

    @property
    def frames(self) -> int:
        return int(self.decoder.n_frames())

    def grammar(self, pcm: bytes, text: str) -> _Pass | None:
        self.decoder.activate_search(self._grammar(text))
        return self._run(pcm)

    def align(self, pcm: bytes, phrase: str) -> _Pass | None:
        try:
            self.decoder.set_align_text(phrase)
        except RuntimeError as exc:
            raise InvalidParameterError(f"cannot align the phrase {phrase!r}: {exc}") from exc
        return self._run(pcm)

    def loop(self, pcm: bytes) -> _Pass | None:
        self.decoder.activate_search("loop")
        return self._run(pcm)


class SphinxRecognizer:
    """:class:`~voxprint.passphrase.recognizer.PhraseRecognizer` on PocketSphinx's US
    English model (``en-us``)."""

    name = "pocketsphinx-en-us"
    sample_rate = SAMPLE_RATE

    def __init__(self, config: SphinxConfig | None = None) -> None:
        self.config = config or SphinxConfig()
        self._local = threading.local()

    def _session(self) -> _Session:
        session: _Session | None = getattr(self._local, "session", None)
        if session is None:
            session = _Session(self.config)
            self._local.session = session
        return session

    def unknown_words(self, phrase: str) -> tuple[str, ...]:
        vocabulary = _vocabulary()
        return tuple(w for w in normalize_phrase(phrase).split() if w not in vocabulary)

    def _known(self, phrase: str) -> str:
        normalized = normalize_phrase(phrase)
        missing = self.unknown_words(normalized)
        if missing:
            raise InvalidParameterError(
                f"the pronunciation dictionary does not know {', '.join(map(repr, missing))}"
            )
        return normalized

    @staticmethod
    def _pcm(waveform: np.ndarray) -> bytes:
        samples = np.asarray(waveform, dtype=np.float32).ravel()
        noise = np.random.default_rng(0).normal(0.0, _DITHER, samples.size).astype(np.float32)
        return (np.clip(samples + noise, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()

    def check(
        self,
        waveform: np.ndarray,
        expected: str,
        competitors: Competitors,
        *,
        max_word_errors: int = 0,
    ) -> PhraseMatch:
        if max_word_errors < 0:
            raise InvalidParameterError("max_word_errors cannot be negative")
        expected = self._known(expected)
        competitors = Competitors(
            tuple(self._known(p) for p in competitors.phrases),
            tuple(self._known(w) for w in competitors.words),
        )
        session = self._session()
        pcm = self._pcm(waveform)
        heard = session.grammar(pcm, grammar_text(expected, competitors))
        return self._judge(session, pcm, expected, heard, max_word_errors)

    def recognize(self, waveform: np.ndarray, phrases: Sequence[str]) -> PhraseMatch:
        candidates = tuple(dict.fromkeys(self._known(p) for p in phrases))
        if not candidates:
            raise InvalidParameterError("recognize needs at least one phrase")
        session = self._session()
        pcm = self._pcm(waveform)
        heard = session.grammar(pcm, grammar_text(None, Competitors(candidates)))
        if heard is None or not heard.text:
            return PhraseMatch("", None, False, PhraseReason.UNRECOGNIZED, -1, 0.0, session.frames)
        return self._judge(session, pcm, heard.text, heard, 0)

    def _judge(
        self,
        session: _Session,
        pcm: bytes,
        expected: str,
        heard: _Pass | None,
        max_word_errors: int,
    ) -> PhraseMatch:
        said = heard.text if heard is not None and heard.text else None
        errors = -1 if said is None else word_errors(said, expected)
        aligned = session.align(pcm, expected)
        frames = session.frames
        loop = session.loop(pcm) if aligned is not None else None
        loop_margin = (
            (aligned.score - loop.score) / frames
            if aligned is not None and loop is not None and frames > 0
            else 0.0
        )
        margins = (
            word_margins(aligned.segments, loop.segments)
            if aligned is not None and loop is not None
            else []
        )
        weakest = min(margins, key=lambda item: item[1]) if margins else None
        if said is not None and errors > max_word_errors:
            reason = PhraseReason.OTHER_PHRASE
        elif said is None or aligned is None or loop is None or frames == 0:
            reason = PhraseReason.UNRECOGNIZED
        elif loop_margin < self.config.loop_threshold or (
            weakest is not None and weakest[1] < self.config.word_threshold
        ):
            reason = PhraseReason.NOT_THE_PHRASE
        else:
            reason = PhraseReason.MATCH
        return PhraseMatch(
            expected=expected,
            heard=said,
            accepted=reason is PhraseReason.MATCH,
            reason=reason,
            word_errors=errors,
            loop_margin=float(loop_margin),
            frames=frames,
            weakest_word=None if weakest is None else weakest[0],
            weakest_word_margin=None if weakest is None else float(weakest[1]),
        )
