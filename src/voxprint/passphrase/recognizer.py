"""What a phrase check answers, and the protocol a phrase recogniser implements.

A phrase check asks one question of a recording: *was this phrase said?* The answer
keeps two pieces of evidence apart, so that a caller can say which part failed:

* ``heard``: what a grammar of the phrases that could have been said (the expected one,
  the other passphrases of the locale, or any sequence of a challenge's words)
  recognises, and ``word_errors``, how many words it differs from the expected phrase;
* ``loop_margin``: how well the expected phrase, forced onto the audio, scores against a
  free phone loop (any speech at all), per frame: speech that is not the phrase fits the
  loop far better than the phrase.

The recogniser decides with its own threshold on the loop margin (it depends on its
acoustic scores) and says why in ``reason``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from voxprint.errors import InvalidParameterError

#: A word of a phrase after normalisation: letters and inner apostrophes.
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
#: Longest phrase accepted, in words.
MAX_PHRASE_WORDS = 20


def normalize_phrase(text: str) -> str:
    """Lower case, punctuation dropped, single spaces: ``"My voice, is!"`` -> ``"my voice is"``.

    Raises :class:`InvalidParameterError` for text with no words, characters other than
    letters, spaces, apostrophes and punctuation, or more than :data:`MAX_PHRASE_WORDS`.
    """
    if not isinstance(text, str):
        raise InvalidParameterError("a phrase must be text")
    lowered = text.lower().replace("\u2019", "'")
    cleaned = re.sub(r"[.,!?;:\"()\-]", " ", lowered)
    words = cleaned.split()
    for word in words:
        if not _WORD.fullmatch(word):
            raise InvalidParameterError(
                f"phrase word {word!r} is not plain letters (write numbers as words)"
            )
    if not words:
        raise InvalidParameterError("a phrase needs at least one word")
    if len(words) > MAX_PHRASE_WORDS:
        raise InvalidParameterError(f"a phrase has at most {MAX_PHRASE_WORDS} words")
    return " ".join(words)


class PhraseReason(StrEnum):
    """Why a phrase check answered as it did."""

    MATCH = "match"
    #: The grammar heard another phrase (more word errors than allowed).
    OTHER_PHRASE = "other_phrase"
    #: The audio is speech that fits neither the phrase nor any alternative well.
    NOT_THE_PHRASE = "not_the_phrase"
    #: Nothing could be aligned (silence, noise, or far too short).
    UNRECOGNIZED = "unrecognized"


@dataclass(frozen=True)
class Competitors:
    """What else the speaker could have said: whole ``phrases`` and/or any sequence of
    ``words`` (for spoken challenges). The expected phrase is always added."""

    phrases: tuple[str, ...] = ()
    words: tuple[str, ...] = ()


def word_errors(heard: str, expected: str) -> int:
    """Word-level edit distance (substitutions, insertions, deletions)."""
    a, b = heard.split(), expected.split()
    row = list(range(len(b) + 1))
    for i, word in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1]


@dataclass(frozen=True)
class PhraseMatch:
    """The answer of one phrase check.

    ``loop_margin`` is in the recogniser's own log-likelihood units per frame (higher:
    the audio fits the phrase better), compared with its threshold; 0 when the phrase
    could not be aligned at all.
    """

    expected: str
    #: What the grammar heard (its best phrase), ``None`` when nothing was recognised.
    heard: str | None
    accepted: bool
    reason: PhraseReason
    #: Words by which ``heard`` differs from ``expected`` (-1 when nothing was heard).
    word_errors: int
    loop_margin: float
    #: Frames (10 ms) of audio checked.
    frames: int
    #: The word of ``expected`` that fits the audio worst against the free phone loop
    #: over its own frames, and that fit per frame (same units as ``loop_margin``);
    #: ``None`` where the recogniser does not measure words, or nothing was aligned.
    weakest_word: str | None = None
    weakest_word_margin: float | None = None


class PhraseRecognizer(Protocol):
    """Checks whether a recording says a phrase. Implementations are thread-safe."""

    @property
    def name(self) -> str: ...

    @property
    def sample_rate(self) -> int:
        """The rate :meth:`check` expects."""
        ...

    def unknown_words(self, phrase: str) -> tuple[str, ...]:
        """The words of a normalised ``phrase`` the recogniser cannot say (empty: all known)."""
        ...

    def check(
        self,
        waveform: np.ndarray,
        expected: str,
        competitors: Competitors,
        *,
        max_word_errors: int = 0,
    ) -> PhraseMatch:
        """Was ``expected`` said in ``waveform`` (``(n,) float32`` at :attr:`sample_rate`),
        rather than one of ``competitors`` or something else? The grammar may hear up to
        ``max_word_errors`` words wrong (spoken challenges allow one)."""
        ...

    def recognize(self, waveform: np.ndarray, phrases: Sequence[str]) -> PhraseMatch:
        """Which of ``phrases`` (normalised) was said? The best one is checked as if it
        were expected; ``heard`` is ``None`` and ``accepted`` false when none was."""
        ...
