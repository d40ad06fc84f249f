"""The PocketSphinx phrase check: text handling, and the real recogniser on real speech."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from voxprint.errors import InvalidParameterError
from voxprint.passphrase import RECOGNIZERS, load_recognizer
from voxprint.passphrase.phrases import DIGITS, EN_US_PHRASES
from voxprint.passphrase.recognizer import (
    Competitors,
    PhraseReason,
    normalize_phrase,
    word_errors,
)
from voxprint.passphrase.sphinx import (
    Segment,
    SphinxConfig,
    SphinxRecognizer,
    grammar_text,
    word_margins,
)
from voxprint.vad import SileroVad

from phrasefakes import keyword_checks, phrase_speech, synthetic_speech

PASSPORT = "my voice is my passport verify me"


@pytest.fixture(scope="module")
def recognizer() -> SphinxRecognizer:
    return SphinxRecognizer()


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


def test_phrases_are_normalised_to_lower_case_words_without_punctuation():
    assert normalize_phrase("  My voice, is my PASSPORT - verify me! ") == PASSPORT
    assert normalize_phrase("don't stop") == "don't stop"


@pytest.mark.parametrize("text", ["", "   ", "call 911", "héllo wörld", "a " * 21])
def test_phrases_with_no_words_digits_foreign_letters_or_too_many_words_are_refused(text):
    with pytest.raises(InvalidParameterError):
        normalize_phrase(text)


def test_word_errors_count_substitutions_insertions_and_deletions():
    assert word_errors("one two three", "one two three") == 0
    assert word_errors("one two four", "one two three") == 1
    assert word_errors("one three", "one two three") == 1
    assert word_errors("one two two three", "one two three") == 1
    assert word_errors("four five", "one two three") == 3


def test_every_offered_passphrase_and_challenge_word_is_in_the_dictionary(recognizer):
    for phrase in (*EN_US_PHRASES, " ".join(DIGITS)):
        assert recognizer.unknown_words(phrase) == ()
    assert recognizer.unknown_words("open zzyzxq door") == ("zzyzxq",)


def test_the_grammar_holds_the_expected_phrase_its_competitors_and_a_word_loop():
    text = grammar_text("one two", Competitors(("three four",), ("one", "two")))
    assert "public <phrase> = one two | three four | <free>;" in text
    assert "<free> = (one | two)+;" in text


def test_checking_a_phrase_with_unknown_words_is_refused(recognizer):
    with pytest.raises(InvalidParameterError, match="zzyzxq"):
        recognizer.check(np.zeros(16000, np.float32), "zzyzxq", Competitors())


def test_silence_is_never_accepted_as_a_phrase(recognizer):
    match = recognizer.check(np.zeros(32000, np.float32), PASSPORT, Competitors(EN_US_PHRASES))
    assert not match.accepted


def test_recognisers_are_picked_by_name_and_unknown_names_are_refused():
    assert isinstance(load_recognizer("pocketsphinx"), SphinxRecognizer)
    with pytest.raises(InvalidParameterError, match="pocketsphinx"):
        load_recognizer("no-such-recogniser")
    assert "pocketsphinx" in RECOGNIZERS


def test_a_config_with_impossible_settings_is_refused():
    with pytest.raises(InvalidParameterError):
        SphinxConfig(cached_grammars=0)
    with pytest.raises(InvalidParameterError):
        SphinxConfig(word_threshold=float("-inf"))


def test_each_word_is_weighed_against_the_loop_phones_over_its_own_frames():
    words = [
        Segment("<sil>", 0, 9, -50.0),
        Segment("my", 10, 19, -400.0),
        Segment("to(2)", 20, 29, -900.0),
        Segment("</s>", 30, 31, -5.0),
    ]
    # the middle phone straddles both words: half of it counts for each
    phones = [
        Segment("M", 0, 14, -300.0),
        Segment("AY", 15, 24, -200.0),
        Segment("T", 25, 31, -70.0),
    ]
    margins = word_margins(words, phones)
    assert [word for word, _ in margins] == ["my", "to"]
    my_loop = -300.0 * 5 / 15 - 200.0 * 5 / 10
    to_loop = -200.0 * 5 / 10 - 70.0 * 5 / 7
    assert margins[0][1] == pytest.approx((-400.0 - my_loop) / 10)
    assert margins[1][1] == pytest.approx((-900.0 - to_loop) / 10)
    assert word_margins([], phones) == []


@pytest.mark.data
def test_real_keywords_are_heard_and_other_keywords_refused(data_root, recognizer, vad):
    files = sorted((data_root / "speechcommands").glob("*/*.flac"))[:40]
    right, wrong = keyword_checks(recognizer, files, vad)
    # bench/phrases.py measures 88.6 % and 98.8 % on all 1121 clips
    assert right >= 0.75 * len(files)
    assert wrong >= 0.9 * len(files)


@pytest.mark.data
def test_read_sentences_are_not_taken_for_a_passphrase(data_root, recognizer, vad):
    files = sorted((data_root / "librispeech" / "test-other").glob("*/*.flac"))[::10]
    refused = 0
    for i, path in enumerate(files):
        audio = phrase_speech(path, vad)[: 8 * 16000]
        phrase = EN_US_PHRASES[i % len(EN_US_PHRASES)]
        refused += not recognizer.check(audio, phrase, Competitors(EN_US_PHRASES)).accepted
    assert refused >= len(files) - 1


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_a_synthetic_passphrase_is_recognised_and_another_one_is_not(recognizer, vad):
    audio = synthetic_speech(PASSPORT, vad, speed=160)
    assert recognizer.recognize(audio, EN_US_PHRASES).heard == PASSPORT
    others = tuple(p for p in EN_US_PHRASES if p != PASSPORT)
    assert recognizer.check(audio, PASSPORT, Competitors(others)).accepted
    wrong = recognizer.check(audio, EN_US_PHRASES[0], Competitors(EN_US_PHRASES[1:]))
    assert not wrong.accepted and wrong.reason is PhraseReason.OTHER_PHRASE


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_a_passphrase_said_with_one_word_left_out_is_refused_at_that_word(recognizer, vad):
    phrase = "my password is not your business"
    others = tuple(p for p in EN_US_PHRASES if p != phrase)
    right = recognizer.check(synthetic_speech(phrase, vad, speed=160), phrase, Competitors(others))
    assert right.accepted
    assert right.weakest_word_margin is not None
    assert right.weakest_word_margin >= recognizer.config.word_threshold
    near = synthetic_speech("my password is your business", vad, speed=160)
    refused = recognizer.check(near, phrase, Competitors(others))
    # the grammar of listed phrases hears the passphrase; the left-out word does not fit
    assert refused.heard == phrase and not refused.accepted
    assert refused.reason is PhraseReason.NOT_THE_PHRASE
    assert refused.weakest_word == "not"
    assert refused.weakest_word_margin is not None
    assert refused.weakest_word_margin < recognizer.config.word_threshold
