"""From a similarity score to a log-likelihood ratio: how much more likely "same speaker" is.

A cosine means different things in different conditions. Between two strangers it sits
near 0.07 on clean wideband read speech and near 0.3 on telephone audio; between two clips
of one speaker it is about 0.9 with ten seconds of speech on each side and about 0.5 with
half a second. A fixed threshold on the cosine therefore cannot hold across domains.

:class:`ConditionModel` describes both score distributions as functions of what is known
at run time (how much speech each side had) and of the deployment (the impostor model,
which :mod:`voxprint.adaptation` fits to the enrolled profiles of a namespace):

* **shrinkage**: an embedding of ``d`` seconds of speech is a noisy estimate of the
  speaker's voice, and cosines with it shrink by ``s(d) = 1 / sqrt(1 + k / (d + o))``.
  ``d`` is the net speech the voice detector measured; the encoder hears that speech
  widened by half a second of context on each side, and on very short words (a digit,
  a keyword) the detector misses soft edges the encoder does hear. The offset ``o``,
  fitted with the rest, is that unmeasured speech: without it a clip the detector
  puts at 0.1 s is scored as if its cosines shrank to a third, when they shrink to
  about half;
* **impostors**: a Student-t (its tails are heavier than a Gaussian's, as measured)
  with mean ``impostor.mean * s(d_probe)`` and standard deviation ``impostor.std``;
* **targets**: a Gaussian with mean ``ceiling * s(d_probe) * s(d_enrol) * q(snr)`` and
  standard deviation ``std_floor + std_short / sqrt(d_probe)``;
* **noise**: noise in the probe pulls its cosine with the speaker's own voiceprint down,
  while cosines with strangers stay where they were (measured: docs/benchmarks.md), so
  the target mean also shrinks with the probe's level SNR (:func:`voxprint.quality.
  level_snr`) by ``q(snr) = 1 / sqrt(1 + noise_scale * 10^(-snr / 10))``. An unmeasured
  SNR counts as clean.

The log-likelihood ratio of the two is the calibrated score's logit (prior 0.5). Above
the target mean it continues as a straight line, so a higher cosine never lowers it.

:class:`LogisticModel` is the plain ``slope * score + offset`` of a calibration fitted on
the user's own labelled trials (``voxprint calibrate``) or at training time. Pure numpy;
no decisions here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from voxprint.errors import InvalidParameterError

#: Shortest speech a duration term uses; below it every duration reads as this.
_MIN_SECONDS = 0.05
#: The noise shrinkage never goes below this (a level SNR of about -1 dB): speech mixed
#: with noise at 0 dB reads 3-7 dB and needs 0.75-0.85; much lower, the target mean would
#: sink towards the impostors' and the ratio would no longer rise with the cosine.
NOISE_FACTOR_FLOOR = 0.6


class ScoreModel(Protocol):
    """Turns scores into log-likelihood ratios of "same speaker" vs "different speakers"."""

    def cosine_for_llr(
        self,
        llr: float,
        probe_seconds: float,
        enrol_seconds: float,
        probe_snr_db: float | None = None,
    ) -> float:
        """The score at which the LLR reaches ``llr`` for these speech durations."""
        ...

    def llr(
        self,
        scores: np.ndarray,
        probe_seconds: float,
        enrol_seconds: np.ndarray,
        probe_snr_db: float | None = None,
    ) -> np.ndarray:
        """``(n,)`` scores of one probe against ``n`` references -> ``(n,)`` float64 LLRs.

        ``probe_seconds`` is the probe's net speech; ``enrol_seconds`` ``(n,)`` the net
        speech behind each reference; ``probe_snr_db`` the probe's level SNR (``None``:
        not measured).
        """
        ...

    def owner_llr(
        self,
        probe_seconds: float,
        enrol_seconds: float,
        probe_snr_db: float | None,
        below_mean_sd: float,
    ) -> float | None:
        """The LLR of an owner whose cosine sits ``below_mean_sd`` standard deviations
        under the owners' mean at these durations; ``None`` for a model that does not
        know how owners' cosines depend on speech."""
        ...


def noise_factor(snr_db: np.ndarray | float | None, noise_scale: float) -> np.ndarray:
    """``1 / sqrt(1 + noise_scale * 10^(-snr / 10))``: how much a same-speaker cosine
    shrinks with the probe's level SNR, never below :data:`NOISE_FACTOR_FLOOR`; 1 where
    the SNR is not measured (NaN or None)."""
    if snr_db is None or noise_scale == 0.0:
        return np.asarray(1.0)
    snr = np.nan_to_num(np.asarray(snr_db, dtype=np.float64), nan=np.inf)
    factor = 1.0 / np.sqrt(1.0 + noise_scale * 10.0 ** (-snr / 10.0))
    return np.asarray(np.maximum(factor, NOISE_FACTOR_FLOOR))


def shrink_factor(seconds: np.ndarray | float, k: float, offset: float = 0.0) -> np.ndarray:
    """``1 / sqrt(1 + k / (d + offset))``: how much a cosine with ``d`` seconds of net
    speech shrinks, ``offset`` being the speech the encoder hears beyond the measured."""
    d = np.maximum(np.asarray(seconds, dtype=np.float64), _MIN_SECONDS) + offset
    return np.asarray(1.0 / np.sqrt(1.0 + k / d))


@dataclass(frozen=True)
class ImpostorScores:
    """Cosines between different speakers: ``mean`` at unlimited speech, ``std``, and the
    Student-t degrees of freedom of the tails (``dof``; large = Gaussian)."""

    mean: float
    std: float
    dof: float = 20.0

    def __post_init__(self) -> None:
        if not self.std > 0:
            raise InvalidParameterError("the impostor standard deviation must be positive")
        if not self.dof > 2:
            raise InvalidParameterError("the impostor tail needs more than 2 degrees of freedom")


@dataclass(frozen=True)
class TargetScores:
    """Cosines between clips of one speaker: ``ceiling`` with unlimited clean speech on
    both sides, spread ``std_floor + std_short / sqrt(probe seconds)``, and the noise
    shrinkage ``noise_scale`` (0: noise is not modelled)."""

    ceiling: float
    std_floor: float
    std_short: float
    noise_scale: float = 0.0

    def __post_init__(self) -> None:
        if not (self.std_floor > 0 and self.std_short >= 0):
            raise InvalidParameterError("target spreads must be positive")
        if not self.noise_scale >= 0:
            raise InvalidParameterError("the noise shrinkage cannot be negative")


def _student_logpdf(x: np.ndarray, mean: np.ndarray, std: float, dof: float) -> np.ndarray:
    """Log density of a Student-t scaled to standard deviation ``std``."""
    scale = std * math.sqrt((dof - 2.0) / dof)
    z = (x - mean) / scale
    const = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    return np.asarray(const - math.log(scale) - (dof + 1) / 2 * np.log1p(z * z / dof))


def _student_slope(x: np.ndarray, mean: np.ndarray, std: float, dof: float) -> np.ndarray:
    """Derivative of :func:`_student_logpdf` in ``x``."""
    scale2 = std * std * (dof - 2.0) / dof
    r = x - mean
    return np.asarray(-(dof + 1) * r / (dof * scale2 + r * r))


def _gauss_logpdf(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.asarray(-0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * math.log(2 * math.pi))


#: :meth:`ConditionModel.cosine_for_llr` narrows [-1, 1] ``_ROOT_PASSES`` times on
#: grids of ``_ROOT_GRID`` points: 2 / 4096**3, under 1e-10.
_ROOT_GRID = 4097
_ROOT_PASSES = 3


@dataclass(frozen=True)
class ConditionModel:
    """Score distributions that know the speech durations (see the module docstring)."""

    impostors: ImpostorScores
    targets: TargetScores
    shrink_seconds: float
    #: Speech (seconds) the encoder hears beyond the measured net speech (see above).
    speech_offset: float = 0.0

    def __post_init__(self) -> None:
        if not self.shrink_seconds > 0:
            raise InvalidParameterError("the shrinkage constant must be positive")
        if not self.speech_offset >= 0:
            raise InvalidParameterError("the speech offset cannot be negative")

    def shrink(self, seconds: float | np.ndarray) -> np.ndarray:
        """How much cosines with ``seconds`` of net speech shrink."""
        return shrink_factor(seconds, self.shrink_seconds, self.speech_offset)

    def impostor_mean(self, probe_seconds: float | np.ndarray) -> np.ndarray:
        return self.impostors.mean * self.shrink(probe_seconds)

    def target_mean(
        self,
        probe_seconds: float | np.ndarray,
        enrol_seconds: float | np.ndarray,
        probe_snr_db: float | np.ndarray | None = None,
    ) -> np.ndarray:
        return np.asarray(
            self.targets.ceiling
            * self.shrink(probe_seconds)
            * self.shrink(enrol_seconds)
            * noise_factor(probe_snr_db, self.targets.noise_scale)
        )

    def target_std(self, probe_seconds: float | np.ndarray) -> np.ndarray:
        d = np.maximum(np.asarray(probe_seconds, dtype=np.float64), _MIN_SECONDS)
        return np.asarray(self.targets.std_floor + self.targets.std_short / np.sqrt(d))

    def llr(
        self,
        scores: np.ndarray,
        probe_seconds: float,
        enrol_seconds: np.ndarray,
        probe_snr_db: float | None = None,
    ) -> np.ndarray:
        c = np.asarray(scores, dtype=np.float64)
        enrol = np.broadcast_to(np.asarray(enrol_seconds, dtype=np.float64), c.shape)
        imp_mean = np.broadcast_to(self.impostor_mean(probe_seconds), c.shape)
        tgt_mean = self.target_mean(probe_seconds, enrol, probe_snr_db)
        tgt_std = np.broadcast_to(self.target_std(probe_seconds), c.shape)
        dof, std = self.impostors.dof, self.impostors.std
        capped = np.minimum(c, tgt_mean)
        target = _gauss_logpdf(capped, tgt_mean, tgt_std)
        base = target - _student_logpdf(capped, imp_mean, std, dof)
        # Above the target mean the ratio keeps rising at its slope there, so that a
        # higher cosine never reads as weaker evidence.
        slope = -_student_slope(tgt_mean, imp_mean, std, dof)
        return np.asarray(base + np.maximum(c - tgt_mean, 0.0) * slope)

    def owner_llr(
        self,
        probe_seconds: float,
        enrol_seconds: float,
        probe_snr_db: float | None,
        below_mean_sd: float,
    ) -> float | None:
        mean = float(self.target_mean(probe_seconds, enrol_seconds, probe_snr_db))
        cosine = mean - below_mean_sd * float(self.target_std(probe_seconds))
        enrol = np.array([enrol_seconds])
        return float(self.llr(np.array([cosine]), probe_seconds, enrol, probe_snr_db)[0])

    def cosine_for_llr(
        self,
        llr: float,
        probe_seconds: float,
        enrol_seconds: float,
        probe_snr_db: float | None = None,
    ) -> float:
        """The cosine whose LLR equals ``llr`` at these durations and SNR: the smallest
        cosine (to within 1e-10) whose LLR reaches it, found on the monotone LLR by
        narrowing a grid three times (three vectorised evaluations instead of a Python
        bisection: it is reported with every verify); the bounds -1 or 1 when it lies
        outside."""
        lo, hi = -1.0, 1.0
        enrol = np.array([enrol_seconds])
        ends = self.llr(np.array([lo, hi]), probe_seconds, enrol, probe_snr_db)
        if ends[1] < llr:
            return hi
        if ends[0] >= llr:
            return lo
        for _ in range(_ROOT_PASSES):
            grid = np.linspace(lo, hi, _ROOT_GRID)
            reached = self.llr(grid, probe_seconds, enrol, probe_snr_db) >= llr
            # The grid's ends are the bracket's: the first point is below, the last reaches.
            first = max(int(np.argmax(reached)), 1)
            lo, hi = float(grid[first - 1]), float(grid[first])
        return hi


@dataclass(frozen=True)
class LogisticModel:
    """``llr = slope * score + offset``, whatever the durations (a fitted calibration)."""

    slope: float
    offset: float

    def llr(
        self,
        scores: np.ndarray,
        probe_seconds: float,
        enrol_seconds: np.ndarray,
        probe_snr_db: float | None = None,
    ) -> np.ndarray:
        return np.asarray(self.slope * np.asarray(scores, dtype=np.float64) + self.offset)

    def cosine_for_llr(
        self,
        llr: float,
        probe_seconds: float,
        enrol_seconds: float,
        probe_snr_db: float | None = None,
    ) -> float:
        """The score whose LLR equals ``llr`` (durations and noise play no part)."""
        return float((llr - self.offset) / self.slope)

    def owner_llr(
        self,
        probe_seconds: float,
        enrol_seconds: float,
        probe_snr_db: float | None,
        below_mean_sd: float,
    ) -> float | None:
        """A fitted calibration knows nothing of owners' cosines per duration."""
        return None


def probability(llr: np.ndarray | float) -> np.ndarray:
    """The probability of "same speaker" at even prior odds: ``sigmoid(llr)``, float64."""
    x = np.asarray(llr, dtype=np.float64)
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)))


def logit(p: float) -> float:
    if not 0.0 < p < 1.0:
        raise InvalidParameterError("a probability threshold must be strictly between 0 and 1")
    return math.log(p / (1.0 - p))
