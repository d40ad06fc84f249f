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
from voxprint.passphrase.whisper import WhisperRecognizer


def sphinx_passphrases_whisper_challenges() -> RoutedRecognizer:
    """Passphrases on PocketSphinx, spoken challenges on Whisper (docs/benchmarks.md)."""
    return RoutedRecognizer(SphinxRecognizer(), WhisperRecognizer())


#: Phrase recognisers by name; ``pocketsphinx`` is the default; ``whisper`` and
#: ``pocketsphinx+whisper`` need the ``whisper`` extra.
RECOGNIZERS: dict[str, Callable[[], PhraseRecognizer]] = {
    "pocketsphinx": SphinxRecognizer,
    "whisper": WhisperRecognizer,
    "pocketsphinx+whisper": sphinx_passphrases_whisper_challenges,
}
DEFAULT_RECOGNIZER = "pocketsphinx"


def load_recognizer(name: str = DEFAULT_RECOGNIZER) -> PhraseRecognizer:
    """The phrase recogniser registered as ``name``."""
    factory = RECOGNIZERS.get(name)
    if factory is None:
        known = ", ".join(sorted(RECOGNIZERS))
        raise InvalidParameterError(f"unknown phrase recogniser {name!r}; known: {known}")
    return factory()


__all__ = ["DEFAULT_RECOGNIZER", "RECOGNIZERS", "load_recognizer"]
