"""Phrase-check trials of the passphrase benchmark, built deterministically.

Each trial is a recording (as a loader) with the phrase it really says and the phrase
that is checked: right phrase (the same) or wrong phrase (another one). Sources:

* ``speechcommands``: one-second keywords; the other keywords compete;
* ``fsdd-digits``: single FSDD digits (8 kHz); the other digits compete;
* ``fsdd-sequences``: 4-6 FSDD digits of one speaker in a row (a spoken challenge);
  wrong = another digit sequence of the same length (an old answer replayed);
* ``librispeech``: sentences (no transcripts here, so wrong phrases only): each checked
  as one of the ten en-US passphrases;
* ``espeak``: the ten passphrases synthesised by espeak-ng in several voices and
  speeds; wrong = another passphrase, and ``espeak-near`` = the passphrase with one
  word changed (checked as the original).
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxprint.audio import load_audio
from voxprint.passphrase.phrases import DIGITS, EN_US_PHRASES

RATE = 16000
SEED = 14

Loader = Callable[[], np.ndarray]


@dataclass(frozen=True)
class PhraseTrial:
    source: str
    key: str
    speaker: str
    said: str
    checked: str
    #: Phrases that compete with the checked one (the source's closed set), or ().
    phrases: tuple[str, ...]
    #: Words any sequence of which competes (challenges), or ().
    words: tuple[str, ...]
    load: Loader

    @property
    def right(self) -> bool:
        return self.said == self.checked


def _file(path: Path) -> Loader:
    return lambda: load_audio(path, sample_rate=RATE)


def speechcommands(root: Path, limit: int | None = None) -> list[PhraseTrial]:
    files = sorted((root / "speechcommands").glob("*/*.flac"))
    words = tuple(sorted({f.name.split("_")[0] for f in files}))
    rng = random.Random(SEED)
    trials: list[PhraseTrial] = []
    for path in files[:limit]:
        word = path.name.split("_")[0]
        other = rng.choice([w for w in words if w != word])
        for checked in (word, other):
            trials.append(
                PhraseTrial(
                    "speechcommands",
                    path.name,
                    path.parent.name,
                    word,
                    checked,
                    words,
                    (),
                    _file(path),
                )
            )
    return trials


def _fsdd_files(root: Path) -> dict[str, dict[int, list[Path]]]:
    by_speaker: dict[str, dict[int, list[Path]]] = {}
    for path in sorted((root / "fsdd").glob("*/*.wav")):
        digit, speaker, _ = path.stem.split("_")
        by_speaker.setdefault(speaker, {}).setdefault(int(digit), []).append(path)
    return by_speaker


def fsdd_digits(root: Path, per_speaker: int = 60) -> list[PhraseTrial]:
    rng = random.Random(SEED)
    trials: list[PhraseTrial] = []
    for speaker, digits in sorted(_fsdd_files(root).items()):
        paths = sorted(p for ps in digits.values() for p in ps)
        for path in rng.sample(paths, min(per_speaker, len(paths))):
            said = DIGITS[int(path.stem.split("_")[0])]
            other = rng.choice([d for d in DIGITS if d != said])
            for checked in (said, other):
                trials.append(
                    PhraseTrial(
                        "fsdd-digits", path.name, speaker, said, checked, DIGITS, (), _file(path)
                    )
                )
    return trials


def _sequence_loader(paths: list[Path], gap_seconds: float) -> Loader:
    def load() -> np.ndarray:
        gap = np.zeros(int(gap_seconds * RATE), np.float32)
        parts: list[np.ndarray] = [gap]
        for path in paths:
            parts += [load_audio(path, sample_rate=RATE), gap]
        return np.concatenate(parts)

    return load


def fsdd_sequences(root: Path, per_speaker: int = 40) -> list[PhraseTrial]:
    """Digit challenges answered by concatenated FSDD digits of one speaker."""
    rng = random.Random(SEED + 1)
    trials: list[PhraseTrial] = []
    for speaker, digits in sorted(_fsdd_files(root).items()):
        for n in range(per_speaker):
            length = rng.randint(4, 6)
            said = [rng.randrange(10) for _ in range(length)]
            other = said
            while other == said:
                other = [rng.randrange(10) for _ in range(length)]
            paths = [rng.choice(digits[d]) for d in said]
            load = _sequence_loader(paths, rng.uniform(0.05, 0.25))
            text = " ".join(DIGITS[d] for d in said)
            for checked in (text, " ".join(DIGITS[d] for d in other)):
                trials.append(
                    PhraseTrial(
                        "fsdd-sequences", f"{speaker}-{n}", speaker, text, checked, (), DIGITS, load
                    )
                )
    return trials


def librispeech(root: Path, limit: int = 150, max_seconds: float = 8.0) -> list[PhraseTrial]:
    """Read sentences (cut to ``max_seconds``) checked as a passphrase: all wrong."""
    files = sorted((root / "librispeech" / "test-other").glob("*/*.flac"))
    files += sorted((root / "librispeech" / "train-clean-100").glob("*/*.flac"))
    rng = random.Random(SEED + 2)
    chosen = rng.sample(files, min(limit, len(files)))

    def loader(path: Path) -> Loader:
        return lambda: load_audio(path, sample_rate=RATE)[: int(max_seconds * RATE)]

    return [
        PhraseTrial(
            "librispeech",
            path.name,
            path.parent.name,
            "(a sentence)",
            rng.choice(EN_US_PHRASES),
            EN_US_PHRASES,
            (),
            loader(path),
        )
        for path in chosen
    ]


ESPEAK_VOICES = (
    "en-us",
    "en-us+f2",
    "en-us+m3",
    "en-gb",
    "en-gb+f3",
    "en-gb-scotland",
    "en-029",
    "en-gb-x-rp+f4",
)
ESPEAK_SPEEDS = (130, 165, 200)
#: One word of each passphrase swapped for a near miss.
NEAR_MISSES: dict[str, str] = {
    "i am going to make him an offer he cannot refuse": (
        "i am going to make him an offer he can refuse"
    ),
    "houston we have had a problem": "houston we have a problem",
    "my voice is my passport verify me": "my voice is my password verify me",
    "apple juice tastes funny after toothpaste": "apple juice tastes funny after breakfast",
    "you can get in without your password": "you can get in with your password",
    "you can activate security system now": "you can activate security system later",
    "my voice is stronger than passwords": "my voice is longer than passwords",
    "my password is not your business": "my password is your business",
    "my name is unknown to you": "my name is known to you",
    "be yourself everyone else is already taken": "be yourself everyone else is taken",
}


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def synthesize(text: str, voice: str, speed: int) -> np.ndarray:
    """espeak-ng speech of ``text`` at 16 kHz (never used for speaker figures)."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    return load_audio(wav, sample_rate=RATE)


def espeak(voices: tuple[str, ...] = ESPEAK_VOICES) -> list[PhraseTrial]:
    rng = random.Random(SEED + 3)
    trials: list[PhraseTrial] = []
    for phrase in EN_US_PHRASES:
        for voice in voices:
            for speed in ESPEAK_SPEEDS:
                other = rng.choice([p for p in EN_US_PHRASES if p != phrase])
                load = _synth_loader(phrase, voice, speed)
                key = f"{voice}-{speed}"
                for checked in (phrase, other):
                    trials.append(
                        PhraseTrial("espeak", key, voice, phrase, checked, EN_US_PHRASES, (), load)
                    )
                near = NEAR_MISSES[phrase]
                trials.append(
                    PhraseTrial(
                        "espeak-near",
                        key,
                        voice,
                        near,
                        phrase,
                        EN_US_PHRASES,
                        (),
                        _synth_loader(near, voice, speed),
                    )
                )
    return trials


def _synth_loader(text: str, voice: str, speed: int) -> Loader:
    return lambda: synthesize(text, voice, speed)


def _random_digits(rng: random.Random, length: int) -> str:
    return " ".join(DIGITS[rng.randrange(10)] for _ in range(length))


def challenge_replays(root: Path, limit: int = 100) -> list[PhraseTrial]:
    """Other recordings played back to a digit challenge: read sentences (LibriSpeech, cut
    to 8 s) and the passphrases (espeak-ng, when installed). All must be rejected."""
    rng = random.Random(SEED + 4)
    trials: list[PhraseTrial] = []
    for sentence in librispeech(root, limit=limit):
        challenge = _random_digits(rng, rng.randint(4, 6))
        trials.append(
            PhraseTrial(
                "challenge-replay",
                sentence.key,
                sentence.speaker,
                "(a sentence)",
                challenge,
                (),
                DIGITS,
                sentence.load,
            )
        )
    if espeak_available():
        for phrase in EN_US_PHRASES:
            for voice in ESPEAK_VOICES[:3]:
                challenge = _random_digits(rng, rng.randint(4, 6))
                trials.append(
                    PhraseTrial(
                        "challenge-replay",
                        f"{voice}-165",
                        voice,
                        phrase,
                        challenge,
                        (),
                        DIGITS,
                        _synth_loader(phrase, voice, 165),
                    )
                )
    return trials


def espeak_word_challenges(count: int = 60) -> list[PhraseTrial]:
    """Word challenges read by espeak-ng voices (right), and the same recordings offered
    to another word challenge (an old answer replayed: wrong)."""
    from voxprint.passphrase.phrases import CHALLENGE_WORDS

    rng = random.Random(SEED + 5)
    trials: list[PhraseTrial] = []
    for n in range(count):
        voice = ESPEAK_VOICES[n % len(ESPEAK_VOICES)]
        length = rng.randint(4, 6)
        said = " ".join(rng.choice(CHALLENGE_WORDS) for _ in range(length))
        other = " ".join(rng.choice(CHALLENGE_WORDS) for _ in range(length))
        load = _synth_loader(said, voice, rng.choice(ESPEAK_SPEEDS))
        for checked in (said, other):
            trials.append(
                PhraseTrial(
                    "espeak-word-challenges",
                    f"{voice}-{n}",
                    voice,
                    said,
                    checked,
                    (),
                    CHALLENGE_WORDS,
                    load,
                )
            )
    return trials
