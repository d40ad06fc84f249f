"""Enrolment clip quality: net speech, SNR, clipping and more than one speaker.

These are measures, not decisions about speakers: :class:`QualityGate` turns them
into "accept this clip for enrolment" or a list of reasons to refuse it.

* **SNR** compares the mean power of 20 ms frames inside the VAD's speech segments
  with the median power of frames well outside them (at least ``_GUARD_SECONDS``
  from any speech). With less than ``min_noise_seconds`` of such non-speech there is
  no noise reference and the SNR is ``None`` (unknown), never guessed.
* **Level SNR** (:func:`level_snr`) needs no pauses: the loud half of the clip's 20 ms
  frames against its quietest tenth. It reads every clip, pauses or not, and is what
  scoring uses to expect lower same-speaker cosines from noisy audio. Continuous clean
  speech reads 15-40 dB on it (its quietest frames are still speech), speech mixed with
  noise at 5 dB about 9 dB and at 0 dB about 5 dB (measured: ``docs/benchmarks.md``).
* **Clipping** is the fraction of samples at (or within 1 % of) full scale, plus the
  samples in flat-topped runs (3 or more equal samples near the clip's own peak):
  audio clipped and then turned down still shows its flat tops.
* **More than one speaker**: the speech is cut into ``window_seconds`` windows, each
  embedded with the enrolment encoder; the windows are split into two groups (Ward
  linkage on the unit embeddings), and ``speaker_similarity`` is the cosine between
  the two groups' mean embeddings. One voice gives two groups that still look alike;
  two voices give two groups that do not. The clip is flagged when the similarity is
  below ``min_speaker_similarity`` (calibrated per encoder on LibriSpeech, see
  ``docs/benchmarks.md``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from voxprint.encoders.base import SpeakerEncoder
from voxprint.errors import InvalidParameterError
from voxprint.vad import SpeechSegments

_FRAME_SECONDS = 0.02
#: Non-speech frames this close to a speech segment are not used as noise reference.
_GUARD_SECONDS = 0.1
#: Reported SNR range; digital silence between words reads as the top value.
MAX_SNR_DB = 100.0
MIN_SNR_DB = -20.0
_NEAR_FULL_SCALE = 0.99
_FLAT_RUN = 3

#: Smallest cosine between the two halves of a clip's speech that still counts as
#: one speaker, per encoder name (measured on LibriSpeech with
#: bench/quality_calibration.py, docs/benchmarks.md). Encoders missing here are not
#: checked for several speakers unless ``QualityGate.min_speaker_similarity`` is set.
DEFAULT_SPEAKER_SIMILARITY: dict[str, float] = {
    "campplus": 0.55,
    "campplus+ge2e": 0.55,
}


@dataclass(frozen=True)
class ClipQuality:
    """Quality measures of one enrolment clip.

    ``snr_db`` is ``None`` when the clip has too little non-speech to measure the
    noise on. ``speaker_similarity`` is ``None`` when the speech is too short to
    compare parts of it (fewer than ``min_windows`` windows); then
    ``multiple_speakers`` is ``False``.
    """

    audio_seconds: float
    net_speech_seconds: float
    snr_db: float | None
    clipped_fraction: float
    speaker_similarity: float | None
    multiple_speakers: bool

    def summary(self) -> str:
        """One line of the measures, e.g. ``SNR 23.4 dB, clipped 0.00 %, one speaker (0.83)``."""
        snr = "SNR unknown" if self.snr_db is None else f"SNR {self.snr_db:.1f} dB"
        if self.speaker_similarity is None:
            voices = "speakers not checked (short)"
        else:
            count = "several speakers" if self.multiple_speakers else "one speaker"
            voices = f"{count} ({self.speaker_similarity:.2f})"
        return f"{snr}, clipped {100 * self.clipped_fraction:.2f} %, {voices}"


@dataclass(frozen=True)
class QualityGate:
    """Which enrolment clips are refused. ``None`` switches a single check off.

    ``min_speaker_similarity=None`` uses the encoder's measured value from
    :data:`DEFAULT_SPEAKER_SIMILARITY` (and skips the check for an encoder that has none).
    """

    enabled: bool = True
    min_snr_db: float | None = 5.0
    max_clipped_fraction: float | None = 0.01
    reject_multiple_speakers: bool = True
    min_speaker_similarity: float | None = None
    window_seconds: float = 1.5
    hop_seconds: float = 0.75
    min_windows: int = 4
    min_noise_seconds: float = 0.2
    #: Refuse a clip whose score against the voice its profile holds so far is below this:
    #: it sounds like someone else (``None``: not checked). Owners' own next clips scored
    #: under 0.05 at most 0.5 % of the time on every domain measured, strangers' clips 62-100 %
    #: (``bench/enrolment_voice_check.py``, docs/benchmarks.md).
    min_own_voice_score: float | None = 0.05

    def __post_init__(self) -> None:
        if self.window_seconds <= 0 or self.hop_seconds <= 0:
            raise InvalidParameterError("quality window and hop must be positive")
        if self.min_windows < 2:
            raise InvalidParameterError("min_windows must be at least 2")
        if self.max_clipped_fraction is not None and not 0 <= self.max_clipped_fraction <= 1:
            raise InvalidParameterError("max_clipped_fraction must be in [0, 1]")
        if self.min_noise_seconds < 0:
            raise InvalidParameterError("min_noise_seconds cannot be negative")
        if self.min_own_voice_score is not None and not 0 <= self.min_own_voice_score < 1:
            raise InvalidParameterError("min_own_voice_score must be in [0, 1)")

    def voice_problem(self, score: float, name: str) -> str | None:
        """Why a clip scoring ``score`` against profile ``name``'s voice so far should be
        refused; ``None`` when it passes (or the check, or the gate, is off)."""
        bar = self.min_own_voice_score
        if not self.enabled or bar is None or score >= bar:
            return None
        return (
            f"another voice: the clip scores {score:.3f} against the voice {name!r} holds so "
            f"far (at least {bar:g} expected of the same person)"
        )

    def speaker_threshold(self, encoder_name: str) -> float | None:
        if self.min_speaker_similarity is not None:
            return self.min_speaker_similarity
        return DEFAULT_SPEAKER_SIMILARITY.get(encoder_name)

    def problems(self, quality: ClipQuality) -> tuple[str, ...]:
        """Why the clip should be refused; empty when it passes (or the gate is off)."""
        if not self.enabled:
            return ()
        found: list[str] = []
        if (
            self.min_snr_db is not None
            and quality.snr_db is not None
            and quality.snr_db < self.min_snr_db
        ):
            found.append(
                f"too noisy: SNR {quality.snr_db:.1f} dB is below {self.min_snr_db:.1f} dB"
            )
        if (
            self.max_clipped_fraction is not None
            and quality.clipped_fraction > self.max_clipped_fraction
        ):
            found.append(
                f"clipped: {100 * quality.clipped_fraction:.2f} % of samples at full scale "
                f"(at most {100 * self.max_clipped_fraction:.2f} %)"
            )
        if self.reject_multiple_speakers and quality.multiple_speakers:
            found.append(
                "more than one speaker: parts of the speech match each other with cosine "
                f"{quality.speaker_similarity:.2f}"
            )
        return tuple(found)


# --- measures -----------------------------------------------------------------------------


def _frame_powers(waveform: np.ndarray, frame: int) -> np.ndarray:
    count = waveform.shape[0] // frame
    frames = waveform[: count * frame].astype(np.float64).reshape(count, frame)
    return np.mean(frames**2, axis=1)


def _frame_mask(segments: SpeechSegments, count: int, frame: int, guard: int) -> np.ndarray:
    """``(count,)`` per frame: 1 speech, 0 clear non-speech, -1 too close to speech to use."""
    mask = np.zeros(count, dtype=np.int8)
    for start, end in segments.segments:
        near_first = max(0, (start - guard) // frame)
        near_last = min(count, -(-(end + guard) // frame))
        mask[near_first:near_last] = np.where(mask[near_first:near_last] == 1, 1, -1)
        first, last = start // frame, min(count, -(-end // frame))
        mask[first:last] = 1
    return mask


def estimate_snr(
    waveform: np.ndarray, segments: SpeechSegments, *, min_noise_seconds: float = 0.2
) -> float | None:
    """Signal-to-noise ratio in dB of ``(n,) float32`` audio with known speech segments.

    Speech power is the mean power of speech frames minus the noise power; noise
    power is the median power of non-speech frames. ``None`` when there is less
    than ``min_noise_seconds`` of non-speech to measure the noise on.
    """
    rate = segments.sample_rate
    frame = max(1, round(_FRAME_SECONDS * rate))
    powers = _frame_powers(np.asarray(waveform), frame)
    mask = _frame_mask(segments, powers.shape[0], frame, round(_GUARD_SECONDS * rate))
    speech, noise = powers[mask == 1], powers[mask == 0]
    if speech.size == 0 or noise.size * frame < min_noise_seconds * rate:
        return None
    noise_power = float(np.median(noise))
    signal_power = float(np.mean(speech)) - noise_power
    if noise_power <= 0.0:
        return MAX_SNR_DB
    if signal_power <= 0.0:
        return MIN_SNR_DB
    return float(np.clip(10.0 * math.log10(signal_power / noise_power), MIN_SNR_DB, MAX_SNR_DB))


#: Level SNR: the noise floor is this percentile of the frame powers ...
_FLOOR_PERCENTILE = 10.0
#: ... and the signal the mean of the frames above this one.
_LOUD_PERCENTILE = 50.0


def level_snr(waveform: np.ndarray, sample_rate: int) -> float | None:
    """SNR-like level spread in dB of ``(n,) float32`` audio, pauses or not.

    The mean power of the louder half of the 20 ms frames, less the floor, over the
    floor: the 10th percentile of the frame powers. ``None`` for audio shorter than
    ten frames; digital silence under the speech reads as the top of the range.
    """
    frame = max(1, round(_FRAME_SECONDS * sample_rate))
    powers = _frame_powers(np.asarray(waveform), frame)
    if powers.shape[0] < 10:
        return None
    floor = float(np.percentile(powers, _FLOOR_PERCENTILE))
    loud = powers[powers >= np.percentile(powers, _LOUD_PERCENTILE)]
    signal = float(np.mean(loud)) - floor
    if signal <= 0.0:
        return MIN_SNR_DB
    if floor <= 0.0:
        return MAX_SNR_DB
    return float(np.clip(10.0 * math.log10(signal / floor), MIN_SNR_DB, MAX_SNR_DB))


#: Speech bandwidth is measured in bands of this width ...
_BAND_HZ = 250.0
#: ... and a band counts while its power density is within this many dB of the
#: telephone band's (300-3400 Hz): above it, only resampler leakage and noise remain.
_BAND_FLOOR_DB = -50.0


def speech_bandwidth(waveform: np.ndarray, segments: SpeechSegments) -> float:
    """Upper edge in Hz of the speech spectrum of ``(n,) float32`` audio.

    Takes the median, frame by frame, of the power spectrum of 32 ms frames of the
    speech (the whole clip when the VAD found none) and returns the top of the highest
    250 Hz band whose power density is within 50 dB of the 300-3400 Hz band. Audio
    recorded at 8 kHz and resampled reads about 4000 Hz; wideband speech 7000-8000 Hz
    at 16 kHz. Silence reads 0. The median, not the mean: a few frames of broadband
    transients (a click where two recordings were joined) or of resampler leakage under
    loud speech lifted the mean above 4.5 kHz on 1-5 % of 8 kHz clips, which then read
    as wideband (docs/benchmarks.md).
    """
    rate = segments.sample_rate
    samples = np.asarray(waveform, dtype=np.float32)
    speech = segments.extract(samples) if segments.segments else samples
    size = max(16, round(0.032 * rate))
    if speech.shape[0] < size:
        speech = np.pad(speech, (0, size - speech.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(speech, size)[:: size // 2]
    power = np.median(np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    reference = float(np.mean(power[(freqs >= 300) & (freqs < 3400)]))
    if reference <= 0.0:
        return 0.0
    edges = np.arange(0.0, rate / 2 + 1.0, _BAND_HZ)
    band = np.array(
        [np.mean(power[(freqs >= lo) & (freqs < hi)]) for lo, hi in itertools.pairwise(edges)]
    )
    loud = np.nonzero(band > reference * 10.0 ** (_BAND_FLOOR_DB / 10.0))[0]
    return float(edges[loud[-1] + 1]) if loud.size else 0.0


def clipped_fraction(waveform: np.ndarray, *, full_scale: float = 1.0) -> float:
    """Fraction of samples that are clipped: at full scale, or in a flat top near the peak.

    waveform: ``(n,)`` float in [-full_scale, full_scale].
    """
    samples = np.asarray(waveform, dtype=np.float32)
    if samples.size == 0:
        return 0.0
    magnitude = np.abs(samples)
    clipped = magnitude >= _NEAR_FULL_SCALE * full_scale
    peak = float(magnitude.max())
    if peak > 0.0 and samples.size >= _FLAT_RUN:
        # Runs of >= _FLAT_RUN identical samples within 5 % of the clip's own peak.
        near_peak = magnitude >= 0.95 * peak
        same = np.concatenate([[False], samples[1:] == samples[:-1]])
        run_id = np.cumsum(~same)
        lengths = np.bincount(run_id)
        in_long_run = lengths[run_id] >= _FLAT_RUN
        clipped |= near_peak & in_long_run
    return float(np.count_nonzero(clipped) / samples.size)


def speech_windows(
    speech: np.ndarray, sample_rate: int, window_seconds: float, hop_seconds: float
) -> list[np.ndarray]:
    """Cut ``(m,)`` speech into windows of ``window_seconds`` every ``hop_seconds``."""
    window = round(window_seconds * sample_rate)
    hop = round(hop_seconds * sample_rate)
    if speech.shape[0] < window:
        return []
    starts = range(0, speech.shape[0] - window + 1, hop)
    return [speech[start : start + window] for start in starts]


def speaker_similarity(window_embeddings: np.ndarray) -> float:
    """Cosine between the mean embeddings of the two groups the windows split into.

    window_embeddings: ``(w, dim)`` with ``w >= 2``. The split is Ward linkage on the
    unit vectors, cut at two clusters. Returns a value in [-1, 1]; high = one voice.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    vectors = np.asarray(window_embeddings, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] < 2:
        raise InvalidParameterError("need at least two window embeddings")
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels = fcluster(linkage(unit, method="ward"), t=2, criterion="maxclust")
    if np.unique(labels).size < 2:
        return 1.0
    first = unit[labels == labels[0]].mean(axis=0)
    second = unit[labels != labels[0]].mean(axis=0)
    denominator = float(np.linalg.norm(first) * np.linalg.norm(second))
    if denominator == 0.0:
        return 0.0
    return float(np.clip(np.dot(first, second) / denominator, -1.0, 1.0))


def embed_windows(encoder: SpeakerEncoder, windows: list[np.ndarray]) -> np.ndarray:
    """``(w, dim)`` embeddings of equal-length ``windows``: in one ``embed_batch`` call
    when the encoder has one (one padded batch, its rows equal to single embeddings up
    to float rounding, spread over the encoder's threads), else one by one."""
    embed_batch = getattr(encoder, "embed_batch", None)
    if embed_batch is not None:
        return np.asarray(embed_batch(windows))
    return np.stack([encoder.embed(w) for w in windows])


def assess_clip(
    waveform: np.ndarray,
    segments: SpeechSegments,
    encoder: SpeakerEncoder,
    gate: QualityGate | None = None,
) -> ClipQuality:
    """All quality measures of one clip: ``(n,) float32`` audio at the encoder's rate."""
    gate = gate or QualityGate()
    samples = np.asarray(waveform, dtype=np.float32)
    windows = speech_windows(
        segments.extract(samples), segments.sample_rate, gate.window_seconds, gate.hop_seconds
    )
    similarity: float | None = None
    threshold = gate.speaker_threshold(encoder.name)
    if len(windows) >= gate.min_windows:
        similarity = speaker_similarity(embed_windows(encoder, windows))
    return ClipQuality(
        audio_seconds=samples.shape[0] / segments.sample_rate,
        net_speech_seconds=segments.net_speech_seconds,
        snr_db=estimate_snr(samples, segments, min_noise_seconds=gate.min_noise_seconds),
        clipped_fraction=clipped_fraction(samples),
        speaker_similarity=similarity,
        multiple_speakers=similarity is not None
        and threshold is not None
        and similarity < threshold,
    )
