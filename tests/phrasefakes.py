"""A stand-in phrase recogniser for unit tests: it "hears" the phrase a test assigned to a
clip's length, so phrase and voice can be varied independently (the fake encoder hears
the voice's tone).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voxprint.passphrase.recognizer import (
    Competitors,
    PhraseMatch,
    PhraseReason,
    normalize_phrase,
    word_errors,
)

from fakes import RATE

#: Words the fake's "dictionary" does not know.
UNKNOWN_WORDS = frozenset({"zzyzx", "qwfp"})


class ScriptedRecognizer:
    """Hears ``script[seconds]`` in a clip of that many seconds (rounded to 0.5 s)."""

    name = "scripted"
    sample_rate = RATE

    def __init__(self, script: dict[float, str] | None = None) -> None:
        self.script: dict[float, str] = dict(script or {})
        self.checks = 0

    def say(self, seconds: float, phrase: str) -> None:
        self.script[round(seconds * 2) / 2] = normalize_phrase(phrase)

    def heard(self, waveform: np.ndarray) -> str | None:
        return self.script.get(round(len(waveform) / RATE * 2) / 2)

    def unknown_words(self, phrase: str) -> tuple[str, ...]:
        return tuple(w for w in normalize_phrase(phrase).split() if w in UNKNOWN_WORDS)

    def check(
        self,
        waveform: np.ndarray,
        expected: str,
        competitors: Competitors,
        *,
        max_word_errors: int = 0,
    ) -> PhraseMatch:
        self.checks += 1
        return self._match(self.heard(waveform), normalize_phrase(expected), max_word_errors)

    def recognize(self, waveform: np.ndarray, phrases: Sequence[str]) -> PhraseMatch:
        self.checks += 1
        heard = self.heard(waveform)
        if heard is None or heard not in phrases:
            return PhraseMatch("", heard, False, PhraseReason.UNRECOGNIZED, -1, -50.0, 100)
        return self._match(heard, heard, 0)

    @staticmethod
    def _match(heard: str | None, expected: str, allowed: int) -> PhraseMatch:
        if heard is None:
            return PhraseMatch(expected, None, False, PhraseReason.UNRECOGNIZED, -1, -50.0, 100)
        errors = word_errors(heard, expected)
        ok = errors <= allowed
        reason = PhraseReason.MATCH if ok else PhraseReason.OTHER_PHRASE
        return PhraseMatch(expected, heard, ok, reason, errors, -5.0 if ok else -40.0, 100)
