"""Enrolled in one band, probed in the other: decisions when the voiceprints come from
wideband speech and the probe from a telephone (8 kHz), and the other way round.

Usage:
    .venv/bin/python bench/cross_band.py

The same LibriSpeech utterances exist as 16 kHz (``tc100-halves``) and as 8 kHz telephone
copies (``tel-8k``), with the same speakers enrolled and the same strangers (embeddings
from bench/decision_cache.py). Every enrollable speaker is enrolled from one domain and
the other domain's probes are answered, with the shipped prior adapted to the gallery as
the service has it. Two rules pick the score model: the probe's own band (what voxprint
did before 2026-12-06) and the pair's band (``OperatingPoint.band_for``: the narrowband
model only when both sides are narrowband).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from decision_cache import embedded_domain
from voxprint.adaptation import (
    Band,
    band_of,
    clips_band,
    pair_band,
    statistics_band_of,
    telephone_copy_helps,
)
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.evaluation.decisions import (
    EmbeddedDomain,
    expected_calibration_error,
    gallery_operating_point,
    gallery_profiles,
)
from voxprint.evaluation.domains import OpenSetDomain, build_domain
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.scorer import Probe, Rivals, Scorer
from voxprint.settings import default_data_root


def answer(
    enrolled: tuple[OpenSetDomain, EmbeddedDomain],
    probed: tuple[OpenSetDomain, EmbeddedDomain],
    *,
    pair_rule: bool,
    copies: EmbeddedDomain | None = None,
) -> str:
    """``copies``: each probe's telephone copy (the same key band-limited to 8 kHz),
    which judges it against the telephone-enrolled profiles, as the service does."""
    (enrol_domain, enrol_embedded), (probe_domain, probe_embedded) = enrolled, probed
    profiles, seconds = gallery_profiles(enrol_domain, enrol_embedded, enrol_domain.enrollable)
    bands = [p.band() for p in profiles]
    clean = [p.statistics_band() for p in profiles]
    point = gallery_operating_point(DEFAULT_PRIORS["campplus"], profiles)
    scorer = Scorer(point if pair_rule else replace(point, gallery_band=None))
    voiceprints = np.stack([p.voiceprint for p in profiles])
    known = named = too_little = strangers = refused = claims = accepted = rejected = 0
    scores: list[float] = []
    truths: list[bool] = []
    for key in probe_domain.probes:
        probe = probe_embedded.probe(int(probe_embedded.rows([key])[0]))
        twin = None if copies is None else copies.probe(int(copies.rows([key])[0]))
        copied = [telephone_copy_helps(band_of(probe.bandwidth_hz), c) for c in clean]
        ranking = scorer.identify(
            probe,
            voiceprints,
            seconds,
            top_n=1,
            bands=bands if twin else None,
            telephone=None if twin is None else (twin, copied),
        )
        speaker = probe_domain.speaker_of[key]
        if speaker in enrol_domain.enrolment:
            own = enrol_domain.enrollable.index(speaker)
            known += 1
            named += ranking.identified and ranking.candidates[0].index == own
            too_little += ranking.reason.value == "insufficient_speech"
            other = (own + 1) % len(voiceprints)
            claimant = probe
            if twin is not None and copied[own]:
                claimant = twin
            verdict = scorer.verify(claimant, voiceprints[other], float(seconds[other]))
            claims += 1
            accepted += verdict.decision.value == "accept"
            owner = scorer.verify(claimant, voiceprints[own], float(seconds[own]))
            rejected += owner.decision.value != "accept"
            scores += [verdict.score, owner.score]
            truths += [False, True]
        else:
            strangers += 1
            refused += not ranking.identified
    ece = expected_calibration_error(np.array(scores), np.array(truths))
    return (
        f"{100 * named / known:.1f} % | {100 * too_little / known:.1f} % | "
        f"{100 * refused / strangers:.1f} % | {100 * accepted / claims:.1f} % | "
        f"{100 * rejected / known:.1f} % | {ece:.3f}"
    )


@dataclass
class Claims:
    """Owners' and strangers' claims counted, and how many of each were accepted."""

    owners: int = 0
    owners_accepted: int = 0
    impostors: int = 0
    impostors_accepted: int = 0

    def add(self, owner: bool, accepted: bool) -> None:
        if owner:
            self.owners += 1
            self.owners_accepted += accepted
        else:
            self.impostors += 1
            self.impostors_accepted += accepted

    def text(self, counts: bool = False) -> str:
        """``FRR | FAR`` as table cells (with the number of claims behind each)."""
        frr = f"{100 * (1 - self.owners_accepted / self.owners):.1f} %"
        far = f"{100 * self.impostors_accepted / self.impostors:.1f} %"
        if counts:
            return f"{frr} of {self.owners} | {far} of {self.impostors}"
        return f"{frr} | {far}"


def verify_alone(
    enrolled: tuple[OpenSetDomain, EmbeddedDomain],
    probed: tuple[OpenSetDomain, EmbeddedDomain],
    *,
    pair_rule: bool,
) -> str:
    """Each speaker enrolled alone in a namespace (no gallery pairs to adapt from): its
    own probes claimed against it, and the next speaker's probes too."""
    (enrol_domain, enrol_embedded), (probe_domain, probe_embedded) = enrolled, probed
    speakers = list(enrol_domain.enrollable)
    probes_of: dict[str, list[str]] = {}
    for key in probe_domain.probes:
        probes_of.setdefault(probe_domain.speaker_of[key], []).append(key)
    claims = Claims()
    for i, speaker in enumerate(speakers):
        profiles, seconds = gallery_profiles(enrol_domain, enrol_embedded, [speaker])
        point = gallery_operating_point(DEFAULT_PRIORS["campplus"], profiles)
        scorer = Scorer(point if pair_rule else replace(point, gallery_band=None))
        stranger = speakers[(i + 1) % len(speakers)]
        for who, keys in (
            (speaker, probes_of.get(speaker, [])),
            (stranger, probes_of.get(stranger, [])),
        ):
            for key in keys:
                probe = probe_embedded.probe(int(probe_embedded.rows([key])[0]))
                verdict = scorer.verify(probe, profiles[0].voiceprint, float(seconds[0]))
                claims.add(who == speaker, verdict.decision.value == "accept")
    return claims.text()


@dataclass(frozen=True)
class MixedNamespace:
    """Every other speaker enrolled from 16 kHz speech (``app``), the rest from 8 kHz;
    ``order`` is the gallery's order, ``own_bands`` each profile's enrolment band."""

    order: list[str]
    app: set[str]
    voiceprints: np.ndarray
    seconds: np.ndarray
    scorer: Scorer
    own_bands: dict[str, Band | None]
    #: Each profile's clips' band when they were all recorded in one (statistics_band_of).
    clean_bands: dict[str, Band | None]

    def sides(self) -> list[Band | None]:
        """Each profile's clean band in gallery order: the band whose centre it is taken
        around (the service passes ``Profile.statistics_band``)."""
        return [self.clean_bands[s] for s in self.order]


def mixed_namespace(
    wideband: tuple[OpenSetDomain, EmbeddedDomain],
    telephone: tuple[OpenSetDomain, EmbeddedDomain],
) -> MixedNamespace:
    (wide_domain, wide_embedded), (phone_domain, phone_embedded) = wideband, telephone
    speakers = list(wide_domain.enrollable)
    assert speakers == list(phone_domain.enrollable), "the two domains hold one set of speakers"
    app, phone = speakers[::2], speakers[1::2]
    app_profiles, app_seconds = gallery_profiles(wide_domain, wide_embedded, app)
    phone_profiles, phone_seconds = gallery_profiles(phone_domain, phone_embedded, phone)
    profiles = app_profiles + phone_profiles
    point = gallery_operating_point(DEFAULT_PRIORS["campplus"], profiles)
    own_bands, clean_bands = {}, {}
    for speaker in app + phone:
        domain, embedded = (
            (wide_domain, wide_embedded) if speaker in app else (phone_domain, phone_embedded)
        )
        clips = embedded.bandwidth_hz[embedded.rows(domain.enrolment[speaker])]
        own_bands[speaker] = clips_band([float(b) for b in clips])
        clean_bands[speaker] = statistics_band_of([float(b) for b in clips])
    return MixedNamespace(
        app + phone,
        set(app),
        np.stack([p.voiceprint for p in profiles]),
        np.concatenate([app_seconds, phone_seconds]),
        Scorer(point),
        own_bands,
        clean_bands,
    )


def rivals_in(mixed: MixedNamespace, claimed: int, probe: Probe) -> Rivals:
    """Every other profile of the mixed namespace, as the service weighs a claim on
    ``claimed`` (it takes the best 50; each judged in its own band where bands matter)."""
    others = [i for i in range(len(mixed.order)) if i != claimed]
    bands = (
        [mixed.own_bands[mixed.order[i]] for i in others]
        if mixed.scorer.point.profile_bands_matter(probe.bandwidth_hz)
        else None
    )
    sides = [mixed.clean_bands[mixed.order[i]] for i in others]
    return Rivals(mixed.voiceprints[others], mixed.seconds[others], bands, sides=sides)


def verify_mixed(
    mixed: MixedNamespace,
    telephone: tuple[OpenSetDomain, EmbeddedDomain],
    *,
    profile_rule: bool,
    rivals: bool = False,
) -> str:
    """Each known speaker's telephone probes claimed against their own profile and
    against the next speaker's in the mixed namespace. Scored with the namespace's band
    (``profile_rule`` false; mixed, so the probe's band decides) or with the claimed
    profile's own band (what ``verify`` does since 2026-12-07); with ``rivals``, each
    claim weighed against the namespace's other profiles too (since 2026-12-07, later)."""
    phone_domain, phone_embedded = telephone
    by_kind = {"app": Claims(), "phone": Claims()}
    for key in phone_domain.probes:
        speaker = phone_domain.speaker_of[key]
        if speaker not in mixed.own_bands:
            continue
        probe = phone_embedded.probe(int(phone_embedded.rows([key])[0]))
        own = mixed.order.index(speaker)
        for index, is_owner in ((own, True), ((own + 1) % len(mixed.order), False)):
            claimed = mixed.order[index]
            band = (
                pair_band(band_of(probe.bandwidth_hz), mixed.own_bands[claimed])
                if profile_rule
                else mixed.scorer.point.band_for(probe.bandwidth_hz)
            )
            verdict = mixed.scorer.verify(
                probe,
                mixed.voiceprints[index],
                float(mixed.seconds[index]),
                band=band,
                rivals=rivals_in(mixed, index, probe) if rivals else None,
                side=mixed.clean_bands[claimed],
            )
            kind = "app" if claimed in mixed.app else "phone"
            by_kind[kind].add(is_owner, verdict.decision.value == "accept")
    return f"{by_kind['app'].text(counts=True)} | {by_kind['phone'].text(counts=True)}"


def identify_mixed(
    mixed: MixedNamespace,
    telephone: tuple[OpenSetDomain, EmbeddedDomain],
    *,
    profile_rule: bool,
) -> str:
    """Every telephone probe identified in the mixed namespace: owners enrolled from the
    app, owners enrolled by telephone, and strangers. Every voiceprint judged with the
    namespace's band (``profile_rule`` false) or with its own (what ``identify`` does
    since 2026-12-07)."""
    phone_domain, phone_embedded = telephone
    bands = [mixed.own_bands[s] for s in mixed.order] if profile_rule else None
    named = {"app": [0, 0], "phone": [0, 0]}
    strangers = refused = 0
    for key in phone_domain.probes:
        probe = phone_embedded.probe(int(phone_embedded.rows([key])[0]))
        ranking = mixed.scorer.identify(
            probe, mixed.voiceprints, mixed.seconds, top_n=1, bands=bands, sides=mixed.sides()
        )
        speaker = phone_domain.speaker_of[key]
        if speaker in mixed.own_bands:
            tally = named["app" if speaker in mixed.app else "phone"]
            tally[0] += 1
            tally[1] += ranking.identified and mixed.order[ranking.candidates[0].index] == speaker
        else:
            strangers += 1
            refused += not ranking.identified
    cells = [f"{100 * hits / total:.1f} % of {total}" for total, hits in named.values()]
    return f"{cells[0]} | {cells[1]} | {100 * refused / strangers:.1f} % of {strangers}"


def wideband_in_mixed(
    mixed: MixedNamespace,
    wideband: tuple[OpenSetDomain, EmbeddedDomain],
    telephone: tuple[OpenSetDomain, EmbeddedDomain],
    *,
    copy: bool,
    rivals: bool = False,
) -> tuple[str, str]:
    """Every 16 kHz probe identified in the mixed namespace, and claimed on its own
    profile and the next speaker's, as the wideband probe alone (``copy`` false) or with
    its telephone copy (the same utterance band-limited to 8 kHz: the ``tel-8k`` item of
    the same key) against telephone-enrolled profiles (what the service does since
    2026-12-07); with ``rivals``, each claim weighed against the namespace's other
    profiles too."""
    (wide_domain, wide_embedded), (_, phone_embedded) = wideband, telephone
    bands = [mixed.own_bands[s] for s in mixed.order]
    clean = [mixed.clean_bands[s] for s in mixed.order]
    named = {"app": [0, 0], "phone": [0, 0]}
    by_kind = {"app": Claims(), "phone": Claims()}
    strangers = refused = 0
    for key in wide_domain.probes:
        probe = wide_embedded.probe(int(wide_embedded.rows([key])[0]))
        twin = phone_embedded.probe(int(phone_embedded.rows([key])[0])) if copy else None
        copied = [telephone_copy_helps(band_of(probe.bandwidth_hz), c) for c in clean]
        ranking = mixed.scorer.identify(
            probe,
            mixed.voiceprints,
            mixed.seconds,
            top_n=1,
            bands=bands,
            telephone=None if twin is None else (twin, copied),
            sides=clean,
        )
        speaker = wide_domain.speaker_of[key]
        if speaker not in mixed.own_bands:
            strangers += 1
            refused += not ranking.identified
            continue
        kind = "app" if speaker in mixed.app else "phone"
        named[kind][0] += 1
        named[kind][1] += ranking.identified and mixed.order[ranking.candidates[0].index] == speaker
        own = mixed.order.index(speaker)
        for index, is_owner in ((own, True), ((own + 1) % len(mixed.order), False)):
            claimed = mixed.order[index]
            scored = probe
            if twin is not None and copied[index]:
                scored = twin
            band = pair_band(band_of(scored.bandwidth_hz), mixed.own_bands[claimed])
            verdict = mixed.scorer.verify(
                scored,
                mixed.voiceprints[index],
                float(mixed.seconds[index]),
                band=band,
                rivals=rivals_in(mixed, index, scored) if rivals else None,
                side=mixed.clean_bands[claimed],
            )
            claimed_kind = "app" if claimed in mixed.app else "phone"
            by_kind[claimed_kind].add(is_owner, verdict.decision.value == "accept")
    cells = [f"{100 * hits / total:.1f} % of {total}" for total, hits in named.values()]
    identified = f"{cells[0]} | {cells[1]} | {100 * refused / strangers:.1f} % of {strangers}"
    claims = f"{by_kind['app'].text(counts=True)} | {by_kind['phone'].text(counts=True)}"
    return identified, claims


def main() -> None:
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    root = default_data_root()
    wide = build_domain("tc100-halves", root)
    narrow = build_domain("tel-8k", root)
    wideband = (wide, embedded_domain(wide, pipeline))
    telephone = (narrow, embedded_domain(narrow, pipeline))
    print(
        "| enrolled from | probes | score model | named right | too little speech "
        "| strangers unknown | FAR | FRR | ECE |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for enrolled, probed, label in (
        (wideband, telephone, "16 kHz | 8 kHz"),
        (telephone, wideband, "8 kHz | 16 kHz"),
        (wideband, wideband, "16 kHz | 16 kHz"),
        (telephone, telephone, "8 kHz | 8 kHz"),
    ):
        for pair_rule, rule in ((False, "the probe's band"), (True, "the pair's band")):
            print(f"| {label} | {rule} | {answer(enrolled, probed, pair_rule=pair_rule)} |")
        if label == "8 kHz | 16 kHz":
            copied = answer(enrolled, probed, pair_rule=True, copies=telephone[1])
            print(f"| {label} | the pair's band, telephone copy of the probe | {copied} |")
    print()
    print("One profile per namespace, verification claims:")
    print()
    print("| enrolled from | probes | score model | FRR | FAR |")
    print("|---|---|---|---|---|")
    for enrolled, probed, label in (
        (wideband, telephone, "16 kHz | 8 kHz"),
        (telephone, telephone, "8 kHz | 8 kHz"),
    ):
        for pair_rule, rule in ((False, "the probe's band"), (True, "the pair's band")):
            result = verify_alone(enrolled, probed, pair_rule=pair_rule)
            print(f"| {label} | {rule} | {result} |")
    print()
    print("One namespace, half enrolled from 16 kHz and half from 8 kHz; 8 kHz claims:")
    print()
    print("| score model | app-enrolled: FRR | FAR | telephone-enrolled: FRR | FAR |")
    print("|---|---|---|---|---|")
    mixed = mixed_namespace(wideband, telephone)
    for profile_rule, rule in (
        (False, "the namespace's band (before)"),
        (True, "the claimed profile's band"),
    ):
        print(f"| {rule} | {verify_mixed(mixed, telephone, profile_rule=profile_rule)} |")
    weighed = verify_mixed(mixed, telephone, profile_rule=True, rivals=True)
    print(f"| the claimed profile's band, weighed against look-alikes (now) | {weighed} |")
    print()
    print("The same namespace, every 8 kHz probe identified:")
    print()
    print(
        "| score model | app-enrolled named right | telephone-enrolled named right "
        "| strangers unknown |"
    )
    print("|---|---|---|---|")
    for profile_rule, rule in (
        (False, "the namespace's band (before)"),
        (True, "each profile's own band (now)"),
    ):
        print(f"| {rule} | {identify_mixed(mixed, telephone, profile_rule=profile_rule)} |")
    print()
    print("The same namespace, every 16 kHz probe identified, and claimed on its own profile")
    print("and the next speaker's:")
    print()
    rows = {
        copy: wideband_in_mixed(mixed, wideband, telephone, copy=copy) for copy in (False, True)
    }
    weighed_copy = wideband_in_mixed(mixed, wideband, telephone, copy=True, rivals=True)[1]
    print(
        "| probe against telephone enrolments | app-enrolled named right "
        "| telephone-enrolled named right | strangers unknown |"
    )
    print("|---|---|---|---|")
    for copy, rule in ((False, "the wideband probe (before)"), (True, "its telephone copy (now)")):
        print(f"| {rule} | {rows[copy][0]} |")
    print()
    print(
        "| probe against telephone enrolments | app-enrolled: FRR | FAR "
        "| telephone-enrolled: FRR | FAR |"
    )
    print("|---|---|---|---|---|")
    for copy, rule in ((False, "the wideband probe (before)"), (True, "its telephone copy")):
        print(f"| {rule} | {rows[copy][1]} |")
    print(f"| its telephone copy, weighed against look-alikes (now) | {weighed_copy} |")


if __name__ == "__main__":
    main()
