"""The speaker-segmentation network of pyannote "segmentation-3.0" (PyanNet), in torch.

pyannote's segmentation-3.0 (MIT licence, Bredin 2023, "pyannote.audio 3.1 speaker
diarization pipeline and its segmentation model") reads 10 s of 16 kHz audio and
gives, for each of 589 frames (one every 270 samples), log-probabilities over 7
*powerset* classes: nobody, speaker A, B, C alone, and the pairs A+B, A+C, B+C. Up to
three local speakers per chunk, at most two at once.

Layout, with the ``state_dict`` prefixes the published weights use:

* ``sincnet.wav_norm1d`` — instance norm of the waveform (affine, one channel);
* ``sincnet.conv1d.0.filterbank`` — 40 learnt band-pass sinc filters of 251 taps,
  each in a cosine (even) and a sine (odd) version: 80 channels, stride 10; the
  absolute value of its output is taken;
* ``sincnet.conv1d.{1,2}`` — two 1-D convolutions of 5 taps (80→60, 60→60);
* after each of the three: max-pool 3 (stride 3), ``sincnet.norm1d.{i}`` (instance
  norm, affine) and a leaky ReLU;
* ``lstm`` — 4 layers of bidirectional LSTM, 128 units each way;
* ``linear.{0,1}`` — 256→128→128, each followed by a leaky ReLU;
* ``classifier`` — 128→7, then log-softmax.

The class names and code are this project's own; only the module names are fixed by
the weights file.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# The powerset classes are defined without torch (``powerset``); kept importable from here.
from voxprint.diarization.powerset import LOCAL_SPEAKERS, MAX_SIMULTANEOUS, POWERSET  # noqa: F401


@dataclass(frozen=True)
class SegmentationConfig:
    """Hyper-parameters of :class:`SegmentationNet` (those of segmentation-3.0)."""

    sample_rate: int = 16000
    sinc_filters: int = 80
    sinc_kernel: int = 251
    sinc_stride: int = 10
    sinc_min_low_hz: float = 50.0
    sinc_min_band_hz: float = 50.0
    conv_channels: int = 60
    conv_kernel: int = 5
    pool: int = 3
    lstm_hidden: int = 128
    lstm_layers: int = 4
    linear_hidden: int = 128
    linear_layers: int = 2
    classes: int = 7


class SincFilterbank(nn.Module):
    """Parametrised band-pass sinc filters (SincNet, Ravanelli & Bengio 2018, with the
    odd "sine" filters of Pariente et al. 2020).

    ``low_hz_`` and ``band_hz_`` ``(n/2, 1)`` are the learnt cut-offs; ``window_`` is
    the left half of a Hamming window and ``n_`` the left half of the time axis times
    2π / sample rate, both ``(kernel // 2,)``-long buffers stored with the weights.
    """

    window_: torch.Tensor
    n_: torch.Tensor

    def __init__(self, config: SegmentationConfig) -> None:
        super().__init__()
        self.sample_rate = float(config.sample_rate)
        self.kernel = config.sinc_kernel
        self.min_low_hz = config.sinc_min_low_hz
        self.min_band_hz = config.sinc_min_band_hz
        half = config.sinc_kernel // 2
        bands = config.sinc_filters // 2
        self.low_hz_ = nn.Parameter(torch.zeros(bands, 1))
        self.band_hz_ = nn.Parameter(torch.zeros(bands, 1))
        self.register_buffer(
            "window_", torch.from_numpy(np.hamming(config.sinc_kernel)[:half]).float()
        )
        self.register_buffer(
            "n_", 2 * math.pi * torch.arange(-half, 0.0).view(1, -1) / self.sample_rate
        )

    def filters(self) -> torch.Tensor:
        """The ``(filters, 1, kernel)`` impulse responses: the cosine filters, then the sine
        filters, each normalised by twice its bandwidth."""
        low = self.min_low_hz + self.low_hz_.abs()
        high = torch.clamp(
            low + self.min_band_hz + self.band_hz_.abs(), self.min_low_hz, self.sample_rate / 2
        )
        band = high - low  # (bands, 1)
        arg_low = low @ self.n_  # (bands, half): 2π f t
        arg_high = high @ self.n_
        half_t = self.n_ / 2  # π t
        even_left = (torch.sin(arg_high) - torch.sin(arg_low)) / half_t * self.window_
        odd_left = (torch.cos(arg_low) - torch.cos(arg_high)) / half_t * self.window_
        even = torch.cat([even_left, 2 * band, even_left.flip(1)], dim=1)
        odd = torch.cat([odd_left, torch.zeros_like(band), -odd_left.flip(1)], dim=1)
        responses = torch.cat([even, odd], dim=0) / (2 * torch.cat([band, band], dim=0))
        return responses.unsqueeze(1)


class SincConv(nn.Module):
    """The first layer: waveform ``(batch, 1, samples)`` → ``(batch, filters, frames)``."""

    def __init__(self, config: SegmentationConfig) -> None:
        super().__init__()
        self.filterbank = SincFilterbank(config)
        self.stride = config.sinc_stride

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return F.conv1d(waveforms, self.filterbank.filters(), stride=self.stride)


class SincNet(nn.Module):
    """Waveform ``(batch, 1, samples)`` → features ``(batch, 60, frames)``."""

    def __init__(self, config: SegmentationConfig) -> None:
        super().__init__()
        channels = config.conv_channels
        self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
        self.conv1d = nn.ModuleList(
            [
                SincConv(config),
                nn.Conv1d(config.sinc_filters, channels, config.conv_kernel),
                nn.Conv1d(channels, channels, config.conv_kernel),
            ]
        )
        self.pool1d = nn.ModuleList([nn.MaxPool1d(config.pool, stride=config.pool)] * 3)
        self.norm1d = nn.ModuleList(
            [
                nn.InstanceNorm1d(config.sinc_filters, affine=True),
                nn.InstanceNorm1d(channels, affine=True),
                nn.InstanceNorm1d(channels, affine=True),
            ]
        )

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        x = self.wav_norm1d(waveforms)
        for index, (conv, pool, norm) in enumerate(
            zip(self.conv1d, self.pool1d, self.norm1d, strict=True)
        ):
            x = conv(x)
            if index == 0:
                x = x.abs()
            x = F.leaky_relu(norm(pool(x)))
        return x


class SegmentationNet(nn.Module):
    """PyanNet as configured for segmentation-3.0.

    ``forward``: waveforms ``(batch, 1, samples)`` float32 at 16 kHz →
    ``(batch, frames, 7)`` float32 log-probabilities of the powerset classes
    (see :data:`POWERSET`); 160,000 samples (10 s) give 589 frames.
    """

    def __init__(self, config: SegmentationConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SegmentationConfig()
        self.sincnet = SincNet(config)
        self.lstm = nn.LSTM(
            config.conv_channels,
            config.lstm_hidden,
            num_layers=config.lstm_layers,
            bidirectional=True,
            batch_first=True,
        )
        widths = [2 * config.lstm_hidden] + [config.linear_hidden] * config.linear_layers
        self.linear = nn.ModuleList([nn.Linear(a, b) for a, b in itertools.pairwise(widths)])
        self.classifier = nn.Linear(widths[-1], config.classes)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        x = self.sincnet(waveforms).transpose(1, 2)
        x, _ = self.lstm(x)
        for layer in self.linear:
            x = F.leaky_relu(layer(x))
        return F.log_softmax(self.classifier(x), dim=-1)

    def num_frames(self, samples: int) -> int:
        """Frames the network outputs for ``samples`` input samples."""
        c = self.config
        n = (samples - c.sinc_kernel) // c.sinc_stride + 1
        n //= c.pool
        for _ in range(2):
            n = (n - c.conv_kernel + 1) // c.pool
        return max(0, n)

    @property
    def frame_step_samples(self) -> int:
        """Samples between the starts of consecutive frames (270 at the defaults)."""
        c = self.config
        return c.sinc_stride * c.pool**3

    @property
    def receptive_field_samples(self) -> int:
        """Samples one output frame sees (991 at the defaults)."""
        c = self.config
        size = 1
        layers = [
            (c.sinc_kernel, c.sinc_stride),
            (c.pool, c.pool),
            (c.conv_kernel, 1),
            (c.pool, c.pool),
            (c.conv_kernel, 1),
            (c.pool, c.pool),
        ]
        for kernel, stride in reversed(layers):
            size = (size - 1) * stride + kernel
        return size
