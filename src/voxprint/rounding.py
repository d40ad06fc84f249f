"""How numbers are rounded wherever voxprint shows them (JSON of the CLI, REST, WebSockets).

Durations to the millisecond, levels to a hundredth of a decibel, processing times to a
tenth of a millisecond. Scores, cosines and probabilities are not rounded anywhere.
"""

from __future__ import annotations


def seconds(value: float) -> float:
    """A duration in seconds, to the millisecond."""
    return round(float(value), 3)


def decibels(value: float) -> float:
    """A level in dB, to a hundredth."""
    return round(float(value), 2)


def milliseconds(value_seconds: float) -> float:
    """A processing time given in seconds, as milliseconds to a tenth."""
    return round(float(value_seconds) * 1000, 1)
