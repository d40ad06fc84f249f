"""A stand-in phrase recogniser for unit tests: it "hears" the phrase a test assigned to a
clip's length, so phrase and voice can be varied independently (the fake encoder hears
the voice's tone).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from voxprint.audio import load_audio
from voxprint.passphrase.audio import phrase_audio
from voxprint.passphrase.recognizer import (
    Competitors,
    PhraseMatch,
    PhraseReason,
    PhraseRecognizer,
    normalize_phrase,
    word_errors,
)
from voxprint.vad import SileroVad

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


def phrase_speech(source: Path | bytes, vad: SileroVad) -> np.ndarray:
    """A file's (or encoded audio's) speech as the service checks it: 16 kHz,
    voice-detected, with margins."""
    waveform = load_audio(source, sample_rate=16000)
    return phrase_audio(waveform, vad.detect(waveform), 16000)


def synthetic_speech(text: str, vad: SileroVad, speed: int = 150) -> np.ndarray:
    """``text`` said by espeak-ng (US English), as the service checks it."""
    raw = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", str(speed), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    return phrase_speech(raw, vad)


def keyword_checks(
    recognizer: PhraseRecognizer, files: Sequence[Path], vad: SileroVad
) -> tuple[int, int]:
    """Speech Commands files (named ``word_speaker_...``) checked as their own keyword and
    as the next keyword of the set: how many were accepted, and how many refused."""
    words = tuple(sorted({f.name.split("_")[0] for f in files}))
    right = wrong = 0
    for path in files:
        said = path.name.split("_")[0]
        audio = phrase_speech(path, vad)
        right += recognizer.check(audio, said, Competitors(words)).accepted
        other = words[(words.index(said) + 1) % len(words)]
        wrong += not recognizer.check(audio, other, Competitors(words)).accepted
    return right, wrong
