"""The decision benchmark: do accept/reject, names and "unknown", and the score hold per domain?

Given the embeddings of an :class:`~voxprint.evaluation.domains.OpenSetDomain`, every
gallery (2 profiles, about 10, all) is enrolled, its namespace statistics are computed
the way the service computes them (:mod:`voxprint.adaptation`), and every probe is
answered through the service's own :class:`~voxprint.scorer.Scorer`:

* identification among the gallery: the share of unknown probes answered "unknown", of
  known probes named correctly, named wrongly, or answered "too little speech";
* verification claims: each known probe against its own profile and against another one,
  each unknown probe against one profile; false-accept and false-reject rates;
* the calibrated score: expected calibration error over the claims (target and non-target
  claims weighted equally, as the score assumes even prior odds), and how often answers
  given with a score of 0.95 or more are right;
* what the scores allow: the most known probes any single threshold on the best
  posterior could name while still answering 95 % of unknown probes "unknown". Where
  the default names fewer, the decision rule is what misses; where this ceiling itself
  is low, the embeddings are.

:func:`fit_prior` fits a :class:`~voxprint.operating_points.ScoringPrior` on some domains,
so that a domain left out can be scored by a prior that never saw it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
from scipy.optimize import minimize

from voxprint.adaptation import (
    Band,
    ImpostorPrior,
    ProfileClips,
    band_of,
    clip_scores,
    pair_band,
)
from voxprint.decision import DEFAULT_RIVAL_WEIGHT, DecisionReason, OperatingPoint
from voxprint.errors import DatasetError
from voxprint.evaluation.domains import OpenSetDomain, galleries
from voxprint.operating_points import ScoringPrior
from voxprint.scorer import Probe, Rivals, Scorer
from voxprint.scoring.centring import centred_cosines, namespace_centre
from voxprint.scoring.llr import ConditionModel, ImpostorScores, TargetScores, shrink_factor
from voxprint.scoring.similarity import l2_normalise

#: Gallery sizes of the benchmark: 0 stands for "every enrollable speaker".
GALLERY_SIZES = (2, 10, 0)
#: Probe net-speech bins (seconds) of the duration breakdown.
DURATION_BINS = (0.0, 0.5, 1.0, 2.0, 5.0, math.inf)
#: Bins of the reliability diagram and of the expected calibration error.
RELIABILITY_BINS = 10
CONFIDENT = 0.95
#: The share of unknown probes answered "unknown" at which the best threshold is sought.
CEILING_REJECTION = 0.95


@dataclass(frozen=True)
class EmbeddedDomain:
    """Row ``i`` describes item ``keys[i]``: ``embeddings`` ``(n, dim) float32``, net speech
    ``seconds`` ``(n,)``, speech bandwidth ``bandwidth_hz`` ``(n,)`` and level SNR
    ``snr_db`` ``(n,)`` (NaN where not measured; ``None``: none measured)."""

    keys: tuple[str, ...]
    embeddings: np.ndarray
    seconds: np.ndarray
    bandwidth_hz: np.ndarray
    snr_db: np.ndarray | None = None

    def probe(self, row: int) -> Probe:
        """Row ``row`` as the scorer sees a probe."""
        snr = None if self.snr_db is None else float(self.snr_db[row])
        return Probe(
            self.embeddings[row],
            float(self.seconds[row]),
            float(self.bandwidth_hz[row]),
            None if snr is None or math.isnan(snr) else snr,
        )

    def rows(self, keys: Sequence[str]) -> np.ndarray:
        index = {k: i for i, k in enumerate(self.keys)}
        try:
            return np.array([index[k] for k in keys], dtype=np.int64)
        except KeyError as missing:
            raise DatasetError(f"no embedding for item {missing}") from None


@dataclass
class Tally:
    """Counts of one domain at one gallery size (summed over the gallery draws)."""

    unknown: int = 0
    unknown_rejected: int = 0
    known: int = 0
    named: int = 0
    wrong: int = 0
    insufficient: int = 0
    target_claims: int = 0
    target_accepted: int = 0
    impostor_claims: int = 0
    impostor_accepted: int = 0
    #: Of the impostor claims, those made with an enrolled speaker's voice.
    enrolled_impostor_claims: int = 0
    enrolled_impostor_accepted: int = 0
    confident: int = 0
    confident_right: int = 0
    scores: list[float] = field(default_factory=list)
    labels: list[bool] = field(default_factory=list)
    #: Per duration bin: [known, named, unknown, unknown rejected].
    by_duration: dict[int, list[int]] = field(default_factory=dict)
    #: Per identification probe: the best candidate's posterior, and whether that
    #: candidate is the probe's own profile (always false for unknown probes).
    known_best: list[tuple[float, bool]] = field(default_factory=list)
    unknown_best: list[float] = field(default_factory=list)

    def bin_counts(self, seconds: float) -> list[int]:
        index = int(np.searchsorted(DURATION_BINS, seconds, side="right")) - 1
        return self.by_duration.setdefault(index, [0, 0, 0, 0])


@dataclass(frozen=True)
class DomainResult:
    """The figures of one domain at one gallery size."""

    domain: str
    gallery_size: int
    draws: int
    unknown: int
    known: int
    unknown_rejected: float
    named: float
    wrong: float
    insufficient: float
    far: float
    frr: float
    ece: float
    confident_precision: float | None
    by_duration: Mapping[str, tuple[int, float, int, float]]
    #: The share of known probes the best single posterior threshold could name while
    #: answering at least :data:`CEILING_REJECTION` of unknown probes "unknown" (what no
    #: threshold can beat on these scores).
    best_threshold_named: float
    scores: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    #: FAR of the impostor claims made with an enrolled speaker's voice (a sibling
    #: claiming a sibling's profile), and of those made by speakers never enrolled.
    far_enrolled: float = math.nan
    far_strangers: float = math.nan


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def best_threshold_named(
    known_best: Sequence[tuple[float, bool]],
    unknown_best: Sequence[float],
    rejection: float = CEILING_REJECTION,
) -> float:
    """The most known probes a single threshold on the best candidate's posterior names
    correctly while answering at least ``rejection`` of the unknown probes "unknown".

    ``known_best``: per known probe, its best candidate's posterior and whether that
    candidate is its own profile; ``unknown_best``: the best posterior of each unknown
    probe. Speech duration is not looked at. NaN without known probes.
    """
    if not known_best:
        return math.nan
    strangers = np.sort(np.asarray(unknown_best, dtype=np.float64))[::-1]
    allowed = math.floor((1.0 - rejection) * strangers.size + 1e-9)
    bar = strangers[allowed] if allowed < strangers.size else -math.inf
    named = sum(1 for posterior, right in known_best if right and posterior > bar)
    return named / len(known_best)


def expected_calibration_error(scores: np.ndarray, labels: np.ndarray) -> float:
    """ECE over :data:`RELIABILITY_BINS` equal-width bins, target and non-target claims
    weighted equally (the calibrated score assumes even prior odds)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.size == 0 or y.all() or not y.any():
        return math.nan
    weights = np.where(y, 0.5 / y.sum(), 0.5 / (~y).sum())
    bins = np.clip((s * RELIABILITY_BINS).astype(int), 0, RELIABILITY_BINS - 1)
    error = 0.0
    for b in range(RELIABILITY_BINS):
        m = bins == b
        if m.any():
            error += abs(float(np.sum(weights[m] * (s[m] - y[m]))))
    return error


def reliability(scores: np.ndarray, labels: np.ndarray) -> list[tuple[float, float, float, int]]:
    """Per bin with claims: (mean score, share of true claims, weight, claims), with target
    and non-target claims weighted equally."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    weights = np.where(y, 0.5 / max(y.sum(), 1), 0.5 / max((~y).sum(), 1))
    bins = np.clip((s * RELIABILITY_BINS).astype(int), 0, RELIABILITY_BINS - 1)
    rows = []
    for b in range(RELIABILITY_BINS):
        m = bins == b
        if m.any():
            w = weights[m]
            total = float(w.sum())
            rows.append(
                (
                    float(np.sum(w * s[m]) / total),
                    float(np.sum(w * y[m]) / total),
                    total,
                    int(m.sum()),
                )
            )
    return rows


def gallery_profiles(
    domain: OpenSetDomain, embedded: EmbeddedDomain, speakers: Sequence[str]
) -> tuple[list[ProfileClips], np.ndarray]:
    """``speakers`` enrolled from their enrolment clips, and each one's net speech."""
    profiles = []
    for speaker in speakers:
        rows = embedded.rows(domain.enrolment[speaker])
        clips = embedded.embeddings[rows]
        bandwidths = tuple(float(b) for b in embedded.bandwidth_hz[rows])
        profiles.append(
            ProfileClips(
                l2_normalise(clips.mean(axis=0)), clips, embedded.seconds[rows], bandwidths
            )
        )
    seconds = np.array([float(p.seconds.sum()) for p in profiles])
    return profiles, seconds


def gallery_operating_point(
    prior: ScoringPrior,
    profiles: Sequence[ProfileClips],
    *,
    adapt: bool = True,
) -> OperatingPoint:
    """The operating point the service would use for a namespace holding ``profiles``."""
    if not adapt:
        return prior.operating_point()
    return prior.operating_point(prior.statistics(profiles, updated_at=datetime.now(UTC)))


def evaluate_domain(
    domain: OpenSetDomain,
    embedded: EmbeddedDomain,
    prior: ScoringPrior,
    *,
    sizes: Sequence[int] = GALLERY_SIZES,
    draws: int = 5,
    adapt: bool = True,
    rival_weight: float = DEFAULT_RIVAL_WEIGHT,
) -> list[DomainResult]:
    """Answer every probe of ``domain`` for each gallery size (see the module docstring);
    verify claims weigh the gallery's other profiles with ``rival_weight``, as the
    service does."""
    unknown_keys = [k for k in domain.probes if domain.speaker_of[k] not in domain.enrolment]
    results = []
    enrollable = len(domain.enrollable)
    # A size at or above the number of enrollable speakers is "all" of them: once.
    wanted_sizes = dict.fromkeys(min(enrollable, s) if s else enrollable for s in sizes)
    for wanted in wanted_sizes:
        tally = Tally()
        chosen = galleries(domain, wanted, draws=draws)
        for gallery in chosen:
            _answer_gallery(
                domain,
                embedded,
                prior,
                gallery,
                unknown_keys,
                tally,
                adapt=adapt,
                rival_weight=rival_weight,
            )
        results.append(_result(domain.name, wanted, len(chosen), tally))
    return results


def _answer_gallery(
    domain: OpenSetDomain,
    embedded: EmbeddedDomain,
    prior: ScoringPrior,
    gallery: Sequence[str],
    unknown_keys: Sequence[str],
    tally: Tally,
    *,
    adapt: bool,
    rival_weight: float,
) -> None:
    profiles, enrol_seconds = gallery_profiles(domain, embedded, gallery)
    point = gallery_operating_point(prior, profiles, adapt=adapt)
    scorer = Scorer(replace(point, rival_weight=rival_weight))
    voiceprints = np.stack([p.voiceprint for p in profiles])
    own_bands = [p.band() for p in profiles]  # as the service reads them from the store
    # each voiceprint's side, in a namespace that mixes bands (as the service passes them)
    sides = [p.statistics_band() for p in profiles]
    n = len(gallery)
    known_keys = [k for k in domain.probes if domain.speaker_of[k] in set(gallery)]
    for position, key in enumerate([*known_keys, *unknown_keys]):
        probe = embedded.probe(int(embedded.rows([key])[0]))
        speaker = domain.speaker_of[key]
        truth = gallery.index(speaker) if speaker in gallery else -1
        bands = own_bands if scorer.point.profile_bands_matter(probe.bandwidth_hz) else None
        ranking = scorer.identify(
            probe, voiceprints, enrol_seconds, top_n=1, bands=bands, sides=sides
        )
        best = ranking.candidates[0]
        counts = tally.bin_counts(probe.net_speech_seconds)
        if truth >= 0:
            tally.known_best.append((best.score, best.index == truth))
        else:
            tally.unknown_best.append(best.score)
        if truth >= 0:
            tally.known += 1
            counts[0] += 1
            if ranking.identified and best.index == truth:
                tally.named += 1
                counts[1] += 1
            elif ranking.identified:
                tally.wrong += 1
            elif ranking.reason is DecisionReason.INSUFFICIENT_SPEECH:
                tally.insufficient += 1
        else:
            tally.unknown += 1
            counts[2] += 1
            if not ranking.identified:
                tally.unknown_rejected += 1
                counts[3] += 1
        if ranking.identified and best.score >= CONFIDENT:
            tally.confident += 1
            tally.confident_right += int(best.index == truth)
        claims = (
            [(truth, True), ((truth + 1) % n, False)] if truth >= 0 else [(position % n, False)]
        )
        for claimed, same in claims:
            if not same and n < 2:
                continue
            band = pair_band(band_of(probe.bandwidth_hz), own_bands[claimed])
            # The service weighs the best 50 of them, and finds the claimed profile's
            # neighbours among those 50.
            others = np.arange(n) != claimed
            rivals = Rivals(
                voiceprints[others],
                enrol_seconds[others],
                None if bands is None else [b for b, o in zip(bands, others, strict=True) if o],
                sides=[s for s, o in zip(sides, others, strict=True) if o],
            )
            verdict = scorer.verify(
                probe,
                voiceprints[claimed],
                float(enrol_seconds[claimed]),
                band=band,
                rivals=rivals,
                side=sides[claimed],
                neighbours=rivals,
            )
            accepted = verdict.decision.value == "accept"
            if same:
                tally.target_claims += 1
                tally.target_accepted += int(accepted)
            else:
                tally.impostor_claims += 1
                tally.impostor_accepted += int(accepted)
                if truth >= 0:
                    tally.enrolled_impostor_claims += 1
                    tally.enrolled_impostor_accepted += int(accepted)
            tally.scores.append(verdict.score)
            tally.labels.append(same)
            if verdict.score >= CONFIDENT or verdict.score <= 1 - CONFIDENT:
                tally.confident += 1
                tally.confident_right += int((verdict.score >= 0.5) == same)


def _result(name: str, size: int, draws: int, tally: Tally) -> DomainResult:
    scores = np.array(tally.scores)
    labels = np.array(tally.labels, dtype=bool)
    by_duration = {}
    for index, (known, named, unknown, rejected) in sorted(tally.by_duration.items()):
        lo, hi = DURATION_BINS[index], DURATION_BINS[index + 1]
        label = f"{lo:g}-{hi:g} s" if math.isfinite(hi) else f"{lo:g} s+"
        by_duration[label] = (known, _share(named, known), unknown, _share(rejected, unknown))
    return DomainResult(
        domain=name,
        gallery_size=size,
        draws=draws,
        unknown=tally.unknown,
        known=tally.known,
        unknown_rejected=_share(tally.unknown_rejected, tally.unknown),
        named=_share(tally.named, tally.known),
        wrong=_share(tally.wrong, tally.known),
        insufficient=_share(tally.insufficient, tally.known),
        far=_share(tally.impostor_accepted, tally.impostor_claims),
        frr=1.0 - _share(tally.target_accepted, tally.target_claims),
        ece=expected_calibration_error(scores, labels),
        confident_precision=_share(tally.confident_right, tally.confident)
        if tally.confident
        else None,
        by_duration=by_duration,
        best_threshold_named=best_threshold_named(tally.known_best, tally.unknown_best),
        scores=scores,
        labels=labels,
        far_enrolled=_share(tally.enrolled_impostor_accepted, tally.enrolled_impostor_claims),
        far_strangers=_share(
            tally.impostor_accepted - tally.enrolled_impostor_accepted,
            tally.impostor_claims - tally.enrolled_impostor_claims,
        ),
    )


# --- fitting the prior ---------------------------------------------------------------------


@dataclass(frozen=True)
class DomainTrials:
    """What fitting needs from one domain with every enrollable speaker enrolled."""

    name: str
    band: Band
    target_scores: np.ndarray
    target_probe_seconds: np.ndarray
    target_enrol_seconds: np.ndarray
    #: Level SNR of each target probe (NaN: not measured).
    target_probe_snr: np.ndarray
    impostor_scores: np.ndarray
    impostor_probe_seconds: np.ndarray
    pair_means: np.ndarray


def mean_voiceprint(domain: OpenSetDomain, embedded: EmbeddedDomain) -> np.ndarray:
    """``(dim,)``: the mean voiceprint of ``domain`` with every enrollable speaker
    enrolled; averaged over the development data, a prior's shipped centre
    (:func:`shipped_centre`)."""
    profiles, _ = gallery_profiles(domain, embedded, domain.enrollable)
    return np.asarray(np.stack([p.voiceprint for p in profiles]).astype(np.float64).mean(axis=0))


def shipped_centre(means: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """``(dim,) float32``: the centre an encoder's prior ships, from each development
    domain's family and :func:`mean_voiceprint`: families weighted equally, and the
    domains of a family (e.g. LibriSpeech clean, 8 kHz and noisy) equally within it."""
    if not means:
        raise DatasetError("a shipped centre needs at least one domain")
    families = sorted({family for family, _ in means})
    per_family = [np.mean([m for f, m in means if f == family], axis=0) for family in families]
    return np.asarray(np.mean(per_family, axis=0), dtype=np.float32)


def domain_trials(
    domain: OpenSetDomain,
    embedded: EmbeddedDomain,
    centre: np.ndarray | None = None,
    *,
    namespace: bool = True,
) -> DomainTrials:
    """Every probe of ``domain`` against every enrollable speaker's voiceprint. With a
    shipped ``centre``, cosines are taken as the scorer takes them in a namespace holding
    those profiles: centred on their mean shrunk towards it
    (:mod:`voxprint.scoring.centring`), or (``namespace=False``) on the shipped centre
    alone, as in a namespace that holds nothing yet. Pair means are always those the
    namespace's statistics would measure."""
    profiles, enrol_seconds = gallery_profiles(domain, embedded, domain.enrollable)
    voiceprints = np.stack([p.voiceprint for p in profiles])
    rows = embedded.rows(domain.probes)
    probes = embedded.embeddings[rows]
    if centre is not None:
        mean = voiceprints.astype(np.float64).mean(axis=0) if namespace else None
        at = namespace_centre(centre, mean, len(profiles))
        scores = centred_cosines(probes, voiceprints, at, centre if namespace else None)
    else:
        scores = probes @ voiceprints.T
    seconds = embedded.seconds[rows]
    snr = np.full(len(rows), np.nan) if embedded.snr_db is None else embedded.snr_db[rows]
    truth = np.array(
        [
            domain.enrollable.index(domain.speaker_of[k])
            if domain.speaker_of[k] in domain.enrolment
            else -1
            for k in domain.probes
        ]
    )
    known = truth >= 0
    impostor = np.ones_like(scores, dtype=bool)
    impostor[known, truth[known]] = False
    n = len(profiles)
    means = np.stack([s.mean(axis=0) for s in clip_scores(profiles, centre)])
    upper = np.triu_indices(n, 1)
    probe_bands = [band_of(float(b)) for b in embedded.bandwidth_hz[rows]]
    band = Band.NARROW if probe_bands.count(Band.NARROW) * 2 > len(probe_bands) else Band.WIDE
    return DomainTrials(
        name=domain.name,
        band=band,
        target_scores=scores[known, truth[known]],
        target_probe_seconds=seconds[known],
        target_enrol_seconds=enrol_seconds[truth[known]],
        target_probe_snr=snr[known],
        impostor_scores=scores[impostor],
        impostor_probe_seconds=np.broadcast_to(seconds[:, None], scores.shape)[impostor],
        pair_means=0.5 * (means[upper] + means.T[upper]),
    )


@dataclass(frozen=True)
class _FittedTargets:
    shrink_seconds: float
    speech_offset: float
    targets: TargetScores


#: The speech offset is searched between 0 and this many seconds.
MAX_SPEECH_OFFSET = 2.0
#: Fitting the owners' side needs no impostor model; the condition model asks for one.
_NO_IMPOSTORS = ImpostorScores(0.0, 1.0)


def _fit_targets(trials: Sequence[DomainTrials]) -> _FittedTargets:
    """Shrinkage constant, speech offset and target model (with its noise shrinkage) by
    maximum likelihood, domains weighted equally."""
    y = np.concatenate([t.target_scores for t in trials])
    dp = np.concatenate([t.target_probe_seconds for t in trials])
    de = np.concatenate([t.target_enrol_seconds for t in trials])
    snr = np.concatenate([t.target_probe_snr for t in trials])
    w = np.concatenate([np.full(t.target_scores.size, 1.0 / t.target_scores.size) for t in trials])

    def loss(p: np.ndarray) -> float:
        ceiling, k, floor, short, noise, offset = p
        if k <= 0.01 or floor <= 0.005 or short < 0 or noise < 0 or not 0 < ceiling <= 1:
            return 1e9
        if not 0 <= offset <= MAX_SPEECH_OFFSET:
            return 1e9
        # The owners' side of the model the service scores with, so that the fit and the
        # scoring share one definition.
        model = ConditionModel(_NO_IMPOSTORS, TargetScores(ceiling, floor, short, noise), k, offset)
        mean = model.target_mean(dp, de, snr)
        std = model.target_std(dp)
        return float(np.sum(w * (0.5 * ((y - mean) / std) ** 2 + np.log(std))))

    best = minimize(
        loss,
        np.array([0.92, 0.8, 0.07, 0.03, 1.0, 0.1]),
        method="Nelder-Mead",
        options={"maxiter": 12000, "xatol": 1e-5, "fatol": 1e-9},
    )
    ceiling, k, floor, short, noise, offset = (float(v) for v in best.x)
    return _FittedTargets(k, offset, TargetScores(ceiling, floor, short, noise))


def fit_prior(
    trials: Sequence[DomainTrials],
    *,
    source: str,
    base: ScoringPrior | None = None,
    centre: np.ndarray | None = None,
    impostor_trials: Sequence[DomainTrials] | None = None,
) -> ScoringPrior:
    """A scoring prior fitted on ``trials`` (one per domain); thresholds and the standout
    margin from ``base``.
    ``centre``: the shipped centre the trials' cosines were centred with
    (:func:`domain_trials`), kept by the prior. ``impostor_trials``: the same domains
    centred on the shipped centre alone, where the impostor prior's mean and spread are
    fitted instead (what a namespace meets before its own profiles say anything); its
    floors, the most lenient values adaptation may reach, are the lowest of both."""
    if not trials:
        raise DatasetError("fitting a prior needs at least one domain")
    fitted = _fit_targets(trials)
    k, offset = fitted.shrink_seconds, fitted.speech_offset
    strangers = trials if impostor_trials is None else impostor_trials

    def band_means(of: Sequence[DomainTrials]) -> dict[Band, list[float]]:
        """Each band's domains' impostor means, scaled to unlimited speech."""
        by_band: dict[Band, list[float]] = {band: [] for band in Band}
        for t in of:
            scale = shrink_factor(t.impostor_probe_seconds, k, offset)
            by_band[t.band].append(float(np.mean(t.impostor_scores / scale)))
        every = [m for ms in by_band.values() for m in ms]
        return {band: by_band[band] or every for band in Band}

    stds = [float(t.impostor_scores.std()) for t in strangers]
    lowest_std = min(float(t.impostor_scores.std()) for t in (*strangers, *trials))
    pair_stds = [float(t.pair_means.std()) for t in trials if t.pair_means.size > 1]
    std = float(np.mean(stds))
    pair_std = float(np.mean(pair_stds)) if pair_stds else std
    impostors = {}
    prior_means, adapted_means = band_means(strangers), band_means(trials)
    for band in Band:
        means = prior_means[band]
        spread = float(np.std(means, ddof=1)) if len(means) > 1 else 0.05
        impostors[band] = ImpostorPrior(
            mean=float(np.mean(means)),
            domain_std=max(spread, 0.05),
            std=std,
            pair_std=pair_std,
            mean_floor=min(float(np.min(means)), float(np.min(adapted_means[band]))),
            std_floor=min(lowest_std, std),
        )
    prior = ScoringPrior(
        impostors=impostors,
        targets=fitted.targets,
        shrink_seconds=k,
        source=source,
        speech_offset=offset,
        centre=centre,
    )
    if base is not None:
        prior = replace(
            prior,
            verification_threshold=base.verification_threshold,
            identification_threshold=base.identification_threshold,
            min_speech_seconds=base.min_speech_seconds,
            standout_margin=base.standout_margin,
            neighbour_margin=base.neighbour_margin,
            verify_neighbour_margin=base.verify_neighbour_margin,
        )
    return prior
