"""Fitting an encoder's scoring to the user's own data: calibration and the AS-Norm cohort.

:class:`Calibrator` is what ``voxprint calibrate`` and ``voxprint cohort`` call. It
needs a pipeline and a store but no operating point, so it also works for an encoder
that has none yet. What it stores is picked up by
:func:`voxprint.bootstrap.build_service` for the same encoder name and version.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voxprint.adaptation import band_of, pair_band
from voxprint.errors import DatasetError, InvalidParameterError, NoSpeechError, VoxprintError
from voxprint.evaluation.metrics import equal_error_rate, false_accept_threshold
from voxprint.evaluation.operating_point import fit_impostor_model
from voxprint.pipeline import EmbeddingPipeline
from voxprint.scoring.asnorm import AsNorm
from voxprint.scoring.calibration import fit_calibration
from voxprint.scoring.similarity import cosine_matrix
from voxprint.store.base import ScoringStore
from voxprint.store.records import Band, Cohort, ScoreScale, StoredCalibration

if TYPE_CHECKING:  # the evaluation harness loads when a calibration is fitted
    from voxprint.evaluation.datasets import EvalSet
    from voxprint.evaluation.runner import EmbeddedSet

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FittedScale:
    """One fitted operating point with the equal error rate of the same trials."""

    calibration: StoredCalibration
    eer: float

    @property
    def nontarget_trials_needed(self) -> int:
        """Different-speaker trials it takes to measure its target false-accept rate
        (:func:`nontarget_trials_to_measure`)."""
        return nontarget_trials_to_measure(self.calibration.target_far)

    @property
    def measures_target_far(self) -> bool:
        """Whether its trials were enough to measure the target false-accept rate; when
        not, its threshold rests on the few highest impostor scores and may let through
        far more strangers than the target says (the caller warns)."""
        return self.calibration.nontarget_trials >= self.nontarget_trials_needed


@dataclass(frozen=True)
class CalibrationReport:
    """What ``calibrate`` fitted and stored: raw cosines, and AS-Norm scores if a cohort exists."""

    trial_list: str
    items: int
    cosine: FittedScale
    asnorm: FittedScale | None
    cohort_size: int
    #: The cosine calibrations of this encoder version kept beside the new one: those of
    #: the bands it does not decide, fitted earlier (a calibration replaces only the
    #: stored ones that share a band with it).
    kept: tuple[StoredCalibration, ...] = ()


#: Fewest same-speaker and different-speaker trials a calibration is fitted on, and that
#: a band needs of its own to be one the calibration decides (:func:`covered_bands`).
MIN_TARGET_TRIALS = 1
MIN_NONTARGET_TRIALS = 10


def nontarget_trials_to_measure(false_accept_rate: float) -> int:
    """Fewest different-speaker trials that measure ``false_accept_rate``: three expected
    over the threshold (``3 / false_accept_rate``), and :data:`MIN_NONTARGET_TRIALS`. The
    one rule, for a calibration's whole list (:attr:`FittedScale.measures_target_far`)
    and for each band of it (:func:`covered_bands`)."""
    return max(MIN_NONTARGET_TRIALS, math.ceil(3.0 / false_accept_rate))


def check_false_accept_rate(value: float) -> float:
    """``value`` if it can be a target false-accept rate: strictly between 0 and 1 (a
    threshold for 0 or 1 would accept nobody or everybody); else
    :class:`InvalidParameterError`. The one rule, also for ``voxprint calibrate --far``."""
    if not 0.0 < value < 1.0:
        raise InvalidParameterError(
            f"the false-accept rate must be strictly between 0 and 1 (0 < x < 1), got {value:g}"
        )
    return value


def fit_scale(
    target: np.ndarray,
    nontarget: np.ndarray,
    *,
    false_accept_rate: float,
    encoder_name: str,
    encoder_version: str,
    scale: ScoreScale,
    source: str,
    bands: frozenset[Band] | None = None,
) -> FittedScale:
    """Logistic calibration, threshold for ``false_accept_rate`` and impostor model.

    target, nontarget: ``(t,)`` and ``(u,)`` scores of labelled trials; ``bands``: the
    bands of claims the calibration decides (:func:`trial_bands`; ``None``: every band).
    """
    if target.size < MIN_TARGET_TRIALS or nontarget.size < MIN_NONTARGET_TRIALS:
        raise DatasetError(
            "calibration needs same-speaker trials and at least "
            f"{MIN_NONTARGET_TRIALS} different-speaker trials; "
            f"got {target.size} and {nontarget.size}"
        )
    check_false_accept_rate(false_accept_rate)
    calibration = fit_calibration(target, nontarget)
    threshold = false_accept_threshold(nontarget, false_accept_rate)
    impostor_mean, impostor_std = fit_impostor_model(nontarget)
    eer, _ = equal_error_rate(target, nontarget)
    return FittedScale(
        StoredCalibration(
            encoder_name=encoder_name,
            encoder_version=encoder_version,
            scale=scale,
            slope=calibration.slope,
            offset=calibration.offset,
            threshold=threshold,
            target_far=false_accept_rate,
            achieved_far=float(np.mean(nontarget >= threshold)),
            achieved_frr=float(np.mean(target < threshold)),
            impostor_mean=impostor_mean,
            impostor_std=impostor_std,
            target_trials=int(target.size),
            nontarget_trials=int(nontarget.size),
            created_at=datetime.now(UTC),
            source=source,
            bands=bands,
        ),
        eer,
    )


def trial_arrays(
    eval_set: EvalSet, embedded: EmbeddedSet, asnorm: AsNorm | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(target, nontarget)`` scores of every trial: cosines, or AS-Norm scores with a cohort."""
    index = embedded.index()
    enrol_keys = list(dict.fromkeys(t.enrol for t in eval_set.trials))
    test_keys = list(dict.fromkeys(t.test for t in eval_set.trials))
    enrol = embedded.embeddings[[index[k] for k in enrol_keys]]
    test = embedded.embeddings[[index[k] for k in test_keys]]
    matrix = cosine_matrix(enrol, test).astype(np.float64)
    if asnorm is not None:
        matrix = asnorm.normalize_with(asnorm.statistics(enrol), asnorm.statistics(test), matrix)
    row = {k: i for i, k in enumerate(enrol_keys)}
    column = {k: i for i, k in enumerate(test_keys)}
    scores = np.array([matrix[row[t.enrol], column[t.test]] for t in eval_set.trials])
    labels = np.array([t.target for t in eval_set.trials])
    return scores[labels], scores[~labels]


def trial_pair_bands(
    eval_set: EvalSet, embedded: EmbeddedSet
) -> tuple[np.ndarray, np.ndarray] | None:
    """Each trial's band, ``(target, nontarget)`` in the order of :func:`trial_arrays`'s
    scores: the band of its two recordings' pair (:func:`voxprint.adaptation.pair_band`:
    narrowband only when both are; a recording whose bandwidth was not measured, e.g. one
    without speech, counts as wideband). ``None`` when the embeddings carry no bandwidths."""
    if not embedded.bandwidths:
        return None
    index = embedded.index()
    bands = np.array(
        [
            pair_band(
                band_of(embedded.bandwidths[index[trial.test]]),
                band_of(embedded.bandwidths[index[trial.enrol]]),
            )
            for trial in eval_set.trials
        ],
        dtype=object,
    )
    labels = np.array([trial.target for trial in eval_set.trials], dtype=bool)
    return bands[labels], bands[~labels]


def covered_bands(
    target_bands: np.ndarray,
    nontarget_bands: np.ndarray,
    nontarget: np.ndarray,
    *,
    threshold: float,
    false_accept_rate: float,
) -> frozenset[Band]:
    """The bands whose claims a calibration decides, from its trials' bands
    (:func:`trial_pair_bands`), its different-speaker scores ``nontarget`` ``(u,)`` and the
    threshold fitted on all of them for ``false_accept_rate``.

    The band with the most different-speaker trials is covered: the fit is mostly its own.
    Another band only when its own trials show the fit holds there: at least
    :data:`MIN_TARGET_TRIALS` same-speaker trials, enough different-speaker ones to
    measure the rate (:func:`nontarget_trials_to_measure`), and
    at most twice the target rate of them over the threshold. A few telephone trials in
    a list of wideband ones must not make a wideband threshold decide telephone claims,
    where strangers' cosines run far higher (found in review: 28 such trials among 4,950
    let 26 % of telephone impostors through).
    """
    counts = {band: int(np.sum(nontarget_bands == band)) for band in Band}
    dominant = max(Band, key=lambda band: counts[band])
    needed = nontarget_trials_to_measure(false_accept_rate)
    covered = {dominant}
    for band in Band:
        own = nontarget[nontarget_bands == band]
        if (
            band is not dominant
            and int(np.sum(target_bands == band)) >= MIN_TARGET_TRIALS
            and own.size >= needed
            and float(np.mean(own >= threshold)) <= 2.0 * false_accept_rate
        ):
            covered.add(band)
    return frozenset(covered)


@dataclass(frozen=True)
class Calibrator:
    """Calibrations and the impostor cohort of one pipeline's encoder, kept in ``store``."""

    pipeline: EmbeddingPipeline
    store: ScoringStore

    @property
    def _scoring(self) -> ScoringStore:
        return self.store

    @property
    def encoder_name(self) -> str:
        return self.pipeline.encoder.name

    @property
    def encoder_version(self) -> str:
        return self.pipeline.encoder.version

    # --- calibration ----------------------------------------------------------------

    def calibrate(
        self,
        eval_set: EvalSet,
        *,
        false_accept_rate: float = 0.01,
        progress: Progress | None = None,
    ) -> CalibrationReport:
        """Fit and store the operating point(s) of this encoder on labelled trials.

        Always fits raw cosines; with a stored cohort also AS-Norm scores (both are
        kept: the service decides on AS-Norm scores when a cohort exists). Each replaces
        the stored calibration of its scale for the bands it decides
        (:func:`covered_bands`); another band's calibration is kept.
        """
        from voxprint.evaluation.runner import embed_items

        check_false_accept_rate(false_accept_rate)
        store = self._scoring
        embedded = embed_items(self.pipeline, eval_set.items, progress=progress)
        source = f"voxprint calibrate {eval_set.name} ({len(eval_set.trials)} trials)"
        pair_bands = trial_pair_bands(eval_set, embedded)

        def fit(target: np.ndarray, nontarget: np.ndarray, scale: ScoreScale) -> FittedScale:
            fitted = fit_scale(
                target,
                nontarget,
                false_accept_rate=false_accept_rate,
                encoder_name=self.encoder_name,
                encoder_version=self.encoder_version,
                scale=scale,
                source=source,
            )
            if pair_bands is None:
                return fitted
            bands = covered_bands(
                *pair_bands,
                nontarget,
                threshold=fitted.calibration.threshold,
                false_accept_rate=false_accept_rate,
            )
            return replace(fitted, calibration=replace(fitted.calibration, bands=bands))

        cosine = fit(*trial_arrays(eval_set, embedded), ScoreScale.COSINE)
        cohort = store.get_cohort(self.encoder_name, self.encoder_version)
        asnorm: FittedScale | None = None
        if cohort is not None:
            normalized = trial_arrays(eval_set, embedded, AsNorm(cohort.embeddings))
            asnorm = fit(*normalized, ScoreScale.ASNORM)
        store.save_calibration(cosine.calibration)
        if asnorm is not None:
            store.save_calibration(asnorm.calibration)
        logger.info("stored calibration for %s (%s)", self.encoder_name, self.encoder_version)
        kept = store.get_calibrations(self.encoder_name, self.encoder_version, ScoreScale.COSINE)
        return CalibrationReport(
            trial_list=eval_set.name,
            items=len(eval_set.items),
            cosine=cosine,
            asnorm=asnorm,
            cohort_size=0 if cohort is None else cohort.size,
            kept=tuple(c for c in kept if not c.shares_a_band(cosine.calibration)),
        )

    def calibrations(self) -> tuple[StoredCalibration, ...]:
        """The stored calibrations of this encoder version (cosine first; per scale, one
        per band at most)."""
        return self._scoring.get_calibrations(self.encoder_name, self.encoder_version)

    # --- cohort ----------------------------------------------------------------------

    def build_cohort(
        self,
        speakers: Mapping[str, Sequence[Path]],
        *,
        source: str = "",
        progress: Progress | None = None,
    ) -> Cohort:
        """Embed every file of every speaker (one cohort row per file) and store the cohort.

        Replaces this encoder's previous cohort, and drops the AS-Norm calibrations
        fitted with it, of every band (run ``calibrate`` again). Files without speech are skipped.
        """
        total = sum(len(paths) for paths in speakers.values())
        vectors: list[np.ndarray] = []
        names: list[str] = []
        done = 0
        for speaker, paths in speakers.items():
            for path in paths:
                try:
                    vectors.append(self.pipeline.process(path, force=True).embedding)
                    names.append(speaker)
                except NoSpeechError:
                    logger.warning("no speech in %s; left out of the cohort", path)
                except VoxprintError as error:  # which of many files it is
                    raise error.naming(path) from None
                done += 1
                if progress is not None:
                    progress(done, total)
        if not vectors:
            raise DatasetError("no cohort file held any speech")
        cohort = Cohort(
            encoder_name=self.encoder_name,
            encoder_version=self.encoder_version,
            embeddings=np.stack(vectors).astype(np.float32),
            speakers=tuple(names),
            created_at=datetime.now(UTC),
            source=source,
        )
        store = self._scoring
        store.save_cohort(cohort)
        store.delete_calibrations(self.encoder_name, self.encoder_version, ScoreScale.ASNORM)
        return cohort

    def cohort(self) -> Cohort | None:
        return self._scoring.get_cohort(self.encoder_name, self.encoder_version)

    def delete_cohort(self) -> bool:
        """Delete this encoder's cohort for good, with the AS-Norm calibrations fitted on it."""
        store = self._scoring
        deleted = store.delete_cohort(self.encoder_name, self.encoder_version)
        store.delete_calibrations(self.encoder_name, self.encoder_version, ScoreScale.ASNORM)
        return deleted
