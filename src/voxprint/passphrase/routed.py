"""Two phrase recognisers, each for what it checks best: passphrases on one, spoken
challenges on the other.

A check whose competitors include free ``words`` (any sequence of a challenge's digits or
words) is a spoken challenge; any other check, and :meth:`recognize` (which passphrase
was said at a first enrolment), is a passphrase check. Measured (docs/benchmarks.md,
"Passphrases and spoken challenges"): PocketSphinx's grammar passes read passphrases far
more often than Whisper tiny.en, whose free transcripts drop or bend a word of a long
phrase; Whisper passes digit strings and keywords more often, and refuses replays and
other digits as well.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voxprint.errors import InvalidParameterError
from voxprint.passphrase.recognizer import Competitors, PhraseMatch, PhraseRecognizer


class RoutedRecognizer:
    """:class:`~voxprint.passphrase.recognizer.PhraseRecognizer`: ``passphrases`` checks
    and recognises passphrases, ``challenges`` checks spoken challenges."""

    def __init__(self, passphrases: PhraseRecognizer, challenges: PhraseRecognizer) -> None:
        if passphrases.sample_rate != challenges.sample_rate:
            raise InvalidParameterError(
                "routed recognisers must take one sample rate, got "
                f"{passphrases.sample_rate} and {challenges.sample_rate} Hz"
            )
        self.passphrases = passphrases
        self.challenges = challenges

    @property
    def name(self) -> str:
        return f"{self.passphrases.name}+{self.challenges.name}"

    @property
    def sample_rate(self) -> int:
        return self.passphrases.sample_rate

    def unknown_words(self, phrase: str) -> tuple[str, ...]:
        """Words a passphrase cannot hold (challenge words are a fixed vocabulary)."""
        return self.passphrases.unknown_words(phrase)

    def check(
        self,
        waveform: np.ndarray,
        expected: str,
        competitors: Competitors,
        *,
        max_word_errors: int = 0,
    ) -> PhraseMatch:
        recognizer = self.challenges if competitors.words else self.passphrases
        return recognizer.check(waveform, expected, competitors, max_word_errors=max_word_errors)

    def recognize(self, waveform: np.ndarray, phrases: Sequence[str]) -> PhraseMatch:
        return self.passphrases.recognize(waveform, phrases)
