"""How numbers are rounded wherever voxprint shows them (JSON of the CLI, REST, WebSockets).

Durations to the millisecond, levels to a hundredth of a decibel, processing times to a
tenth of a millisecond. Scores, cosines and probabilities are not rounded anywhere. In
words for people, enrolled speech is shown to the tenth rounded down and speech still
needed rounded up, so that progress never reads as done before it is.
"""

from __future__ import annotations

import math


def seconds(value: float) -> float:
    """A duration in seconds, to the millisecond."""
    return round(float(value), 3)


def decibels(value: float) -> float:
    """A level in dB, to a hundredth."""
    return round(float(value), 2)


def milliseconds(value_seconds: float) -> float:
    """A processing time given in seconds, as milliseconds to a tenth."""
    return round(float(value_seconds) * 1000, 1)


def speech_so_far(value_seconds: float) -> str:
    """Speech gathered, to the tenth, rounded down: 9.98 s of a 10 s requirement reads
    "9.9", never "10.0" beside "enrolling"."""
    return f"{math.floor(float(value_seconds) * 10 + 1e-9) / 10:.1f}"


def speech_still_needed(value_seconds: float) -> str:
    """Speech still needed, to the tenth, rounded up: 0.02 s reads "0.1", never "0.0"."""
    return f"{math.ceil(float(value_seconds) * 10 - 1e-9) / 10:.1f}"
