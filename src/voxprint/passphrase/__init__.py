"""Text-dependent verification (passphrases) and spoken challenges (liveness against replay).

* :mod:`~voxprint.passphrase.recognizer`: what a phrase check answers; the protocol;
* :mod:`~voxprint.passphrase.sphinx`: the PocketSphinx phrase check (US English, offline);
* :mod:`~voxprint.passphrase.whisper`: the Whisper tiny.en phrase check (offline, opt-in);
* :mod:`~voxprint.passphrase.routed`: passphrases on one recogniser, challenges on another;
* :mod:`~voxprint.passphrase.phrases`: the passphrases per locale, the challenge words;
* :mod:`~voxprint.passphrase.challenges`: making spoken challenges;
* :mod:`~voxprint.passphrase.service`: :class:`PassphraseService`, over the core service.

Recognisers are picked by name from :data:`RECOGNIZERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from voxprint.errors import InvalidParameterError
from voxprint.passphrase.recognizer import PhraseRecognizer
from voxprint.passphrase.routed import RoutedRecognizer
from voxprint.passphrase.sphinx import SphinxRecognizer
from voxprint.passphrase.whisper import WhisperRecognizer, whisper_installed


def sphinx_passphrases_whisper_challenges() -> RoutedRecognizer:
    """Passphrases on PocketSphinx, spoken challenges on Whisper (docs/benchmarks.md)."""
    return RoutedRecognizer(SphinxRecognizer(), WhisperRecognizer())


def auto_recognizer_name() -> str:
    """What ``auto`` stands for here: ``pocketsphinx+whisper`` where the ``whisper`` extra
    is installed (right answers to digit challenges pass 93 % instead of 63 %, replays
    are refused as before; docs/benchmarks.md), else ``pocketsphinx``."""
    return "pocketsphinx+whisper" if whisper_installed() else "pocketsphinx"


def best_installed() -> PhraseRecognizer:
    """The recogniser :func:`auto_recognizer_name` names."""
    return RECOGNIZERS[auto_recognizer_name()]()


#: Phrase recognisers by name; ``auto`` (the default) picks by what is installed;
#: ``whisper`` and ``pocketsphinx+whisper`` need the ``whisper`` extra.
RECOGNIZERS: dict[str, Callable[[], PhraseRecognizer]] = {
    "auto": best_installed,
    "pocketsphinx": SphinxRecognizer,
    "whisper": WhisperRecognizer,
    "pocketsphinx+whisper": sphinx_passphrases_whisper_challenges,
}
DEFAULT_RECOGNIZER = "auto"


def load_recognizer(name: str = DEFAULT_RECOGNIZER) -> PhraseRecognizer:
    """The phrase recogniser registered as ``name``."""
    factory = RECOGNIZERS.get(name)
    if factory is None:
        known = ", ".join(sorted(RECOGNIZERS))
        raise InvalidParameterError(f"unknown phrase recogniser {name!r}; known: {known}")
    return factory()


__all__ = ["DEFAULT_RECOGNIZER", "RECOGNIZERS", "auto_recognizer_name", "load_recognizer"]
