"""Acoustic feature extraction in vectorised numpy.

Two front ends are provided, each matching the one a pretrained encoder was
trained with:

* :func:`kaldi_fbank` — Kaldi-compatible log-mel filterbank (CAM++ and most
  Kaldi-lineage speaker models), followed by :func:`mean_normalise`.
* :func:`ge2e_mel` — the 40-band mel *power* spectrogram of Resemblyzer's GE2E
  encoder (librosa defaults: centred Hann STFT, Slaney mel scale).

No function here loops over frames in Python; framing is done with strided views.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import ThreadpoolController

from voxprint.errors import InvalidParameterError

logger = logging.getLogger(__name__)


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def _project(power: np.ndarray, banks: np.ndarray) -> np.ndarray:
    """``power @ banks`` on one BLAS thread.

    The product is small (frames x 257 x 80), so BLAS threads only add their start-up
    and spin-wait: with OpenBLAS's default they doubled the CPU time of a whole CAM++
    embedding (docs/benchmarks.md, "Service load").
    """
    with _blas_controller().limit(limits=1, user_api="blas"):
        return power @ banks


_FLOAT_EPSILON = float(np.finfo(np.float32).eps)

# Kaldi framing at 16 kHz: 25 ms windows every 10 ms.
KALDI_FRAME_LENGTH_MS = 25.0
KALDI_FRAME_SHIFT_MS = 10.0
KALDI_PREEMPHASIS = 0.97
KALDI_LOW_FREQ_HZ = 20.0

# Resemblyzer / GE2E front end.
GE2E_SAMPLE_RATE = 16000
GE2E_N_FFT = 400
GE2E_HOP_LENGTH = 160
GE2E_MEL_BANDS = 40


def _as_mono_float64(waveform: np.ndarray) -> np.ndarray:
    samples = np.asarray(waveform)
    if samples.ndim != 1:
        raise InvalidParameterError(
            f"expected a mono waveform of shape (n,), got shape {samples.shape}"
        )
    return samples.astype(np.float64, copy=False)


def kaldi_frame_count(num_samples: int, sample_rate: int = 16000) -> int:
    """Number of frames :func:`kaldi_fbank` yields for ``num_samples`` (snip_edges framing)."""
    length = round(sample_rate * KALDI_FRAME_LENGTH_MS / 1000.0)
    shift = round(sample_rate * KALDI_FRAME_SHIFT_MS / 1000.0)
    if num_samples < length:
        return 0
    return 1 + (num_samples - length) // shift


def _kaldi_mel(freq_hz: np.ndarray | float) -> np.ndarray:
    return np.asarray(1127.0 * np.log1p(np.asarray(freq_hz, dtype=np.float64) / 700.0))


@functools.lru_cache(maxsize=16)
def _kaldi_mel_banks(num_mel_bins: int, fft_size: int, sample_rate: int) -> np.ndarray:
    """Triangular Kaldi mel filters, ``(fft_size // 2 + 1, num_mel_bins) float64``.

    Kaldi builds its filters over the first ``fft_size // 2`` bins only; the Nyquist
    bin gets zero weight, which the extra zero row here reproduces.
    """
    nyquist = 0.5 * sample_rate
    mel_low = float(_kaldi_mel(KALDI_LOW_FREQ_HZ))
    mel_high = float(_kaldi_mel(nyquist))
    delta = (mel_high - mel_low) / (num_mel_bins + 1)
    edges = mel_low + delta * np.arange(num_mel_bins + 2, dtype=np.float64)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]

    num_fft_bins = fft_size // 2
    bin_mel = _kaldi_mel(np.arange(num_fft_bins, dtype=np.float64) * (sample_rate / fft_size))
    bin_mel = bin_mel[None, :]
    rising = (bin_mel - left) / (centre - left)
    falling = (right - bin_mel) / (right - centre)
    weights = np.where(bin_mel <= centre, rising, falling)
    weights = np.where((bin_mel > left) & (bin_mel < right), weights, 0.0)

    banks = np.zeros((num_fft_bins + 1, num_mel_bins), dtype=np.float64)
    banks[:num_fft_bins] = weights.T
    return banks


@functools.lru_cache(maxsize=8)
def _povey_window(length: int) -> np.ndarray:
    n = np.arange(length, dtype=np.float64)
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / (length - 1))
    return np.asarray(hann**0.85)


#: Audio whose 99.9th-percentile amplitude is under this is raised before its log-mel
#: features (:func:`above_the_floor`); louder audio is left exactly as it is.
QUIET_LEVEL = 0.01
#: ... to this level (-20 dB), by at most :data:`MAX_QUIET_GAIN`.
RAISED_LEVEL = 0.1
MAX_QUIET_GAIN = 10_000.0


def above_the_floor(samples: np.ndarray) -> np.ndarray:
    """``(n,)`` float samples raised to :data:`RAISED_LEVEL` when quieter than
    :data:`QUIET_LEVEL` (never lowered), before :func:`kaldi_fbank`.

    The log-mel energies are floored at float32 epsilon. A gain only shifts every bin by
    the same amount, which :func:`mean_normalise` removes, except where energies fall
    under that floor: in a recording at -68 dB the floor swallows the upper bands, and
    CAM++'s embedding of a LibriSpeech sentence kept a cosine of 0.67 with its own
    embedding at full level (0.28 at -78 dB), so its owner was refused. No clip of the
    development domains is under :data:`QUIET_LEVEL` (found in a walkthrough)."""
    values = np.asarray(samples)
    if values.size == 0:
        return values
    level = float(np.percentile(np.abs(values), 99.9))
    if not 0.0 < level < QUIET_LEVEL:
        return values
    gain = min(RAISED_LEVEL / level, MAX_QUIET_GAIN)
    return values * np.asarray(gain, dtype=values.dtype)


def kaldi_fbank(
    waveform: np.ndarray, sample_rate: int = 16000, num_mel_bins: int = 80
) -> np.ndarray:
    """Kaldi-compatible log-mel filterbank features.

    Matches ``compute-fbank-feats`` / kaldi-native-fbank with ``dither=0``,
    ``snip_edges=true``, ``use_energy=false``: 25 ms Povey-windowed frames every
    10 ms, per-frame DC removal, pre-emphasis 0.97, FFT zero-padded to the next power
    of two, power spectrum, mel filters from 20 Hz to Nyquist, natural log floored
    at float32 epsilon.

    The features are computed on the samples exactly as given (no rescaling); a
    constant gain only shifts every bin by the same amount, which
    :func:`mean_normalise` removes.

    waveform: ``(n,)`` float mono samples at ``sample_rate``.
    Returns ``(frames, num_mel_bins) float32`` where
    ``frames = 1 + (n - 400) // 160`` at 16 kHz (zero rows when ``n < 400``).
    """
    if sample_rate <= 0:
        raise InvalidParameterError(f"sample_rate must be positive, got {sample_rate}")
    if num_mel_bins <= 0:
        raise InvalidParameterError(f"num_mel_bins must be positive, got {num_mel_bins}")
    samples = _as_mono_float64(waveform)
    frame_length = round(sample_rate * KALDI_FRAME_LENGTH_MS / 1000.0)
    frame_shift = round(sample_rate * KALDI_FRAME_SHIFT_MS / 1000.0)
    num_frames = kaldi_frame_count(samples.shape[0], sample_rate)
    if num_frames == 0:
        return np.zeros((0, num_mel_bins), dtype=np.float32)

    # (frames, frame_length) copy so the in-place steps below do not touch the input.
    frames = sliding_window_view(samples, frame_length)[::frame_shift][:num_frames].copy()
    frames -= frames.mean(axis=1, keepdims=True)
    # Kaldi pre-emphasis: x[i] -= k * x[i-1] for i > 0, and x[0] -= k * x[0].
    frames[:, 1:] -= KALDI_PREEMPHASIS * frames[:, :-1]
    frames[:, 0] *= 1.0 - KALDI_PREEMPHASIS
    frames *= _povey_window(frame_length)

    fft_size = 1 << (frame_length - 1).bit_length()
    spectrum = np.fft.rfft(frames, n=fft_size, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    mel_energies = _project(power, _kaldi_mel_banks(num_mel_bins, fft_size, sample_rate))
    return np.log(np.maximum(mel_energies, _FLOAT_EPSILON)).astype(np.float32)


def mean_normalise(features: np.ndarray) -> np.ndarray:
    """Subtract the per-utterance mean of every feature bin.

    features: ``(frames, bins)`` float. Returns the same shape, float32, each column
    with zero mean (an empty input is returned unchanged).
    """
    feats = np.asarray(features, dtype=np.float32)
    if feats.ndim != 2:
        raise InvalidParameterError(f"expected features of shape (frames, bins), got {feats.shape}")
    if feats.shape[0] == 0:
        return feats.copy()
    return feats - feats.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)


def _hz_to_slaney_mel(freq_hz: np.ndarray) -> np.ndarray:
    """Slaney's Auditory Toolbox mel scale: linear below 1 kHz, logarithmic above."""
    freq = np.asarray(freq_hz, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    log_step = np.log(6.4) / 27.0
    linear = freq / f_sp
    logarithmic = min_log_mel + np.log(np.maximum(freq, min_log_hz) / min_log_hz) / log_step
    return np.where(freq >= min_log_hz, logarithmic, linear)


def _slaney_mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mel = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    log_step = np.log(6.4) / 27.0
    linear = f_sp * mel
    logarithmic = min_log_hz * np.exp(log_step * (np.maximum(mel, min_log_mel) - min_log_mel))
    return np.where(mel >= min_log_mel, logarithmic, linear)


@functools.lru_cache(maxsize=8)
def slaney_mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Mel filters as ``librosa.filters.mel`` builds them by default.

    Slaney mel scale from 0 Hz to Nyquist, triangles normalised to unit area
    (``norm="slaney"``). Returns ``(n_mels, n_fft // 2 + 1) float64``; band ``i`` has
    its peak at ``slaney_mel_centres(...)[i]`` Hz.
    """
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, 1 + n_fft // 2)
    mel_edges = np.linspace(
        _hz_to_slaney_mel(np.array(0.0)), _hz_to_slaney_mel(np.array(sample_rate / 2.0)), n_mels + 2
    )
    hz_edges = _slaney_mel_to_hz(mel_edges)
    widths = np.diff(hz_edges)
    ramps = hz_edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_edges[2:] - hz_edges[:-2]))[:, None]
    return np.asarray(weights)


def slaney_mel_centres(sample_rate: int, n_mels: int) -> np.ndarray:
    """Centre frequencies in Hz of the :func:`slaney_mel_filters` bands, ``(n_mels,) float64``."""
    mel_edges = np.linspace(
        _hz_to_slaney_mel(np.array(0.0)), _hz_to_slaney_mel(np.array(sample_rate / 2.0)), n_mels + 2
    )
    return np.asarray(_slaney_mel_to_hz(mel_edges)[1:-1])


@functools.lru_cache(maxsize=4)
def _periodic_hann(length: int) -> np.ndarray:
    n = np.arange(length, dtype=np.float64)
    return np.asarray(0.5 - 0.5 * np.cos(2.0 * np.pi * n / length))


def ge2e_mel(waveform: np.ndarray) -> np.ndarray:
    """Resemblyzer-compatible mel power spectrogram (no log).

    Equivalent to ``librosa.feature.melspectrogram(y, sr=16000, n_fft=400,
    hop_length=160, n_mels=40).T`` with librosa ≥ 0.10 defaults: periodic Hann
    window, centred frames with zero padding of ``n_fft // 2`` on both sides,
    power 2, Slaney mel filters with area normalisation.

    waveform: ``(n,)`` float mono at 16 kHz, amplitude in [-1, 1].
    Returns ``(1 + n // 160, 40) float32``.
    """
    samples = _as_mono_float64(waveform)
    pad = GE2E_N_FFT // 2
    padded = np.pad(samples, (pad, pad), mode="constant")
    num_frames = 1 + samples.shape[0] // GE2E_HOP_LENGTH
    frames = sliding_window_view(padded, GE2E_N_FFT)[::GE2E_HOP_LENGTH][:num_frames]
    spectrum = np.fft.rfft(frames * _periodic_hann(GE2E_N_FFT), axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    filters = slaney_mel_filters(GE2E_SAMPLE_RATE, GE2E_N_FFT, GE2E_MEL_BANDS)
    return _project(power, filters.T).astype(np.float32)
