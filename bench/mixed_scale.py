"""A namespace mixing app and telephone enrolments at scale: is an app-enrolled owner who
calls in still among the candidates identify scores?

Usage:
    .venv/bin/python bench/mixed_scale.py

Identification scores the :data:`voxprint.gallery_index.CANDIDATES` (50) profiles nearest
by cosine. A telephone probe scores lower against its owner's voiceprint enrolled from the
app than against the voiceprints of telephone-enrolled strangers, so behind enough of them
the owner is never scored. Since 2026-12-07 identify takes the best of each enrolment band
(``GalleryIndex.candidates(by_band=True)``) for a narrowband probe.

Embeddings from bench/decision_cache.py: the same LibriSpeech speakers as 16 kHz
(``tc100-halves``) and as 8 kHz telephone copies (``tel-8k``). Half the enrollable speakers
are enrolled from the app (16 kHz); their 8 kHz probes are the owners calling in.

1. **Rank model**: for each owner's call, the share of telephone-enrolled strangers'
   voiceprints (every 8 kHz clip of a speaker not enrolled from the app, one profile each)
   and of app-enrolled strangers' voiceprints that score above the owner; the chance that
   at least 50 of ``n`` profiles of each band do (a binomial over the strangers drawn as
   the data has them) is the chance the owner is not a candidate.
2. **Through the store**: the real path (a SQLite store, :class:`GalleryIndex`, the
   scorer with each candidate's band) on the largest namespace the data gives (83 app
   profiles, 166 telephone profiles); the owners named right, with the best overall or the
   best of each band as candidates, at 50 candidates and at 10 (10 of 249 is the share 50
   of about 1,250 profiles would be).
3. **A band rare in the namespace**: every enrollable speaker of :data:`APP_DOMAINS`
   enrolled from the app, and 20 or 5 of ``tel-8k`` by telephone, into one store (ids random,
   seeded). The operating point is adapted as the service does (:class:`Thresholds`), from
   the namespace's first 200 profiles by id alone (before 2026-12-07) or from those and
   each band's own first 200; then telephone claims on the telephone profiles: the
   owners' 8 kHz probes, and every 8 kHz probe of a speaker not enrolled by telephone
   against each of them.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.stats import binom

from cross_band import Claims
from decision_cache import embedded_domain
from voxprint.adaptation import Band, ProfileClips
from voxprint.bootstrap import ServiceOptions, build_pipeline
from voxprint.decision import OperatingPoint
from voxprint.evaluation.decisions import (
    EmbeddedDomain,
    gallery_operating_point,
    gallery_profiles,
)
from voxprint.evaluation.domains import OpenSetDomain, build_domain
from voxprint.gallery_index import CANDIDATES, GalleryIndex
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.scorer import Scorer
from voxprint.scoring.similarity import l2_normalise
from voxprint.settings import default_data_root
from voxprint.store import SQLiteStore
from voxprint.store.records import Clip, EnrollmentState, EnrollmentStatus, Profile
from voxprint.thresholds import Thresholds, threshold_report

ENCODER = ("campplus", "bench")
NAMESPACE = "mixed"
#: The app-enrolled profiles of the rare-band namespace: every enrollable speaker of these.
APP_DOMAINS = ("tc100-halves", "test-other", "speechocean762", "speechcommands")
#: Telephone profiles among them.
PHONE_PROFILES = (20, 5)
SIZES = (250, 500, 1000, 2000, 5000, 10000)


def miss_chance(above: np.ndarray, size: int, k: int = CANDIDATES) -> float:
    """Mean over probes of the chance that at least ``k`` of ``size`` strangers score
    above the owner, each with the probe's share ``above``."""
    return float(binom.sf(k - 1, size, above).mean())


def rank_model(owners: list[np.ndarray], owner_voiceprints: np.ndarray, phone: np.ndarray) -> None:
    phone_above, app_above = [], []
    for probe, own in owners:
        cosine = float(owner_voiceprints[own] @ probe)
        phone_above.append(float((phone @ probe > cosine).mean()))
        others = np.delete(owner_voiceprints @ probe, own)
        app_above.append(float((others > cosine).mean()))
    miss_table(app_above, phone_above)


def miss_table(own_band_above: list[float], other_band_above: list[float]) -> None:
    """The chance an owner is not a candidate among ``n`` profiles of each band, from each
    probe's share of strangers above the owner in the owner's enrolment band and in the
    other: the best 50 overall, or the best 50 of each band."""
    own, other = np.array(own_band_above), np.array(other_band_above)
    print("| profiles of each band | owners not a candidate: best 50 overall | best 50 per band |")
    print("|---|---|---|")
    for size in SIZES:
        overall = miss_chance(np.minimum((own + other) / 2, 1.0), 2 * size)
        per_band = miss_chance(own, size)
        print(f"| {size:,} | {100 * overall:.1f} % | {100 * per_band:.1f} % |")


def mirror_rank_model(
    wide: OpenSetDomain,
    wide_embedded: EmbeddedDomain,
    narrow: OpenSetDomain,
    narrow_embedded: EmbeddedDomain,
    phone_owners: list[str],
) -> None:
    """The mirror case: owners enrolled by telephone, probed from the app (16 kHz). Their
    wideband probes score lower against their own telephone voiceprints than against
    many app-enrolled strangers' (every 16 kHz clip of a speaker not enrolled by
    telephone, one profile each)."""
    owner_profiles, _ = gallery_profiles(narrow, narrow_embedded, phone_owners)
    voiceprints = np.stack([p.voiceprint for p in owner_profiles])
    app_strangers = np.stack(
        [
            l2_normalise(wide_embedded.embeddings[i])
            for i, key in enumerate(wide_embedded.keys)
            if wide.speaker_of[key] not in set(phone_owners)
        ]
    )
    app_above, phone_above = [], []
    for key in wide.probes:
        speaker = wide.speaker_of[key]
        if speaker not in phone_owners:
            continue
        probe = l2_normalise(wide_embedded.embeddings[int(wide_embedded.rows([key])[0])])
        own = phone_owners.index(speaker)
        cosine = float(voiceprints[own] @ probe)
        app_above.append(float((app_strangers @ probe > cosine).mean()))
        phone_above.append(float((np.delete(voiceprints @ probe, own) > cosine).mean()))
    print(
        f"{len(app_above)} 16 kHz probes of {len(phone_owners)} telephone-enrolled owners; "
        f"{len(app_strangers)} app-enrolled strangers' voiceprints"
    )
    print()
    miss_table(phone_above, app_above)


def enrol(store: SQLiteStore, name: str, clips: ProfileClips, pid: str | None = None) -> None:
    now = datetime.now(UTC)
    pid = pid or str(uuid.uuid4())
    store.create_profile(
        Profile(
            id=pid,
            namespace=NAMESPACE,
            name=name,
            encoder_name=ENCODER[0],
            encoder_version=ENCODER[1],
            created_at=now,
            updated_at=now,
        )
    )
    for embedding, seconds, bandwidth in zip(
        clips.embeddings, clips.seconds, clips.bandwidths, strict=True
    ):
        clip = Clip(
            str(uuid.uuid4()), pid, embedding, float(seconds), float(seconds), now, None, bandwidth
        )
        total = float(clips.seconds.sum())
        state = EnrollmentState(
            clips.voiceprint,
            EnrollmentStatus.ENROLLED,
            total,
            total,
            band=clips.band(),
            statistics_band=clips.statistics_band(),
        )
        store.add_clip(NAMESPACE, clip, lambda _clips, _before, state=state: state)


def through_store(
    app: list[str],
    app_profiles: list[ProfileClips],
    phone_profiles: list[ProfileClips],
    owners: list[tuple[np.ndarray, int]],
    probes: EmbeddedDomain,
    owner_rows: list[int],
) -> None:
    point = gallery_operating_point(DEFAULT_PRIORS["campplus"], app_profiles + phone_profiles)
    scorer = Scorer(point)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "mixed.db")
        for speaker, clips in zip(app, app_profiles, strict=True):
            enrol(store, speaker, clips)
        for i, clips in enumerate(phone_profiles):
            enrol(store, f"telephone {i}", clips)
        index = GalleryIndex(store, *ENCODER)
        print("| candidates | searched | owners a candidate | owners named right |")
        print("|---|---|---|---|")
        for k in (CANDIDATES, 10):
            for by_band in (False, True):
                scored = named = 0
                for (probe_vector, own), row in zip(owners, owner_rows, strict=True):
                    found = index.candidates(NAMESPACE, probe_vector, k=k, by_band=by_band)
                    scored += app[own] in found.names
                    ranking = scorer.identify(
                        probes.probe(row),
                        found.voiceprints,
                        found.seconds,
                        top_n=1,
                        gallery_size=found.gallery_size,
                        bands=found.bands,
                        sides=found.statistics_bands,
                    )
                    named += (
                        ranking.identified and found.names[ranking.candidates[0].index] == app[own]
                    )
                rule = "best of each band" if by_band else "best overall"
                total = len(owners)
                print(
                    f"| {k} | {rule} | {100 * scored / total:.1f} % | "
                    f"{100 * named / total:.1f} % of {total} |"
                )
        store.close()


class _WholeNamespaceSample:
    """The store as seen before 2026-12-07: the sample ignores the band asked for."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    def enrolled_sample(self, namespace: str, **kwargs: object):  # type: ignore[no-untyped-def]
        kwargs.pop("band", None)
        return self._store.enrolled_sample(namespace, **kwargs)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._store, name)


def rare_band(pipeline: object, root: Path, narrow: OpenSetDomain, probes: EmbeddedDomain) -> None:
    app_profiles = []
    for name in APP_DOMAINS:
        wide = build_domain(name, root)
        wide_embedded = embedded_domain(wide, pipeline)
        app_profiles += gallery_profiles(wide, wide_embedded, list(wide.enrollable))[0]
    print(f"{len(app_profiles)} app profiles; 8 kHz claims on the telephone profiles:")
    print()
    print(
        "| telephone profiles | sample | narrowband pairs | cosine to accept a 3 s call "
        "| FRR | FAR |"
    )
    print("|---|---|---|---|---|---|")
    for phones in PHONE_PROFILES:
        phone_speakers = list(narrow.enrollable)[:phones]
        phone_profiles, phone_seconds = gallery_profiles(narrow, probes, phone_speakers)
        rng = np.random.default_rng(7)
        with tempfile.TemporaryDirectory() as folder:
            store = SQLiteStore(Path(folder) / "rare.db")
            for i, clips in enumerate(app_profiles + phone_profiles):
                enrol(store, f"profile {i}", clips, str(uuid.UUID(int=int(rng.integers(2**62)))))
            for label, seen in (
                ("first 200 by id (before)", _WholeNamespaceSample(store)),
                ("and each band's first 200 (now)", store),
            ):
                point, pairs, bar = adapted(seen)
                scorer = Scorer(point)
                claims = Claims()
                for key in narrow.probes:
                    speaker = narrow.speaker_of[key]
                    probe = probes.probe(int(probes.rows([key])[0]))
                    for index, owner in enumerate(phone_speakers):
                        if speaker in phone_speakers and speaker != owner:
                            continue  # an owner's probe is claimed on its own profile only
                        verdict = scorer.verify(
                            probe,
                            phone_profiles[index].voiceprint,
                            float(phone_seconds[index]),
                            band=Band.NARROW,
                            side=Band.NARROW,
                        )
                        claims.add(speaker == owner, verdict.decision.value == "accept")
                print(f"| {phones} | {label} | {pairs} | {bar:.3f} | {claims.text(counts=True)} |")
            store.close()


def adapted(store: object) -> tuple[OperatingPoint, int, float]:
    """The operating point the service adapts to the namespace in ``store``, its
    narrowband pairs, and the narrowband cosine needed to accept a 3 s call."""
    prior = DEFAULT_PRIORS["campplus"]
    thresholds = Thresholds(
        store=store,  # type: ignore[arg-type]
        encoder_name=ENCODER[0],
        encoder_version=ENCODER[1],
        prior=prior,
        fallback=prior.operating_point(),
    )
    stats = thresholds.refresh(NAMESPACE)
    assert stats is not None
    by_band = {stats.band: stats, stats.of_other_band().band: stats.of_other_band()}
    report = threshold_report(thresholds, NAMESPACE)
    bar = next(b for b in report.bands if b.band is Band.NARROW).cosine_to_accept[3.0]
    return thresholds.operating_point(NAMESPACE), by_band[Band.NARROW].pairs, bar


def main() -> None:
    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    root = default_data_root()
    wide: OpenSetDomain = build_domain("tc100-halves", root)
    narrow: OpenSetDomain = build_domain("tel-8k", root)
    wide_embedded, narrow_embedded = (
        embedded_domain(wide, pipeline),
        embedded_domain(narrow, pipeline),
    )
    speakers = list(wide.enrollable)
    app = speakers[::2]
    phone_speakers = set(speakers[1::2])
    app_profiles, _ = gallery_profiles(wide, wide_embedded, app)
    phone_profiles = []
    for key in narrow_embedded.keys:
        if narrow.speaker_of[key] in phone_speakers:
            row = int(narrow_embedded.rows([key])[0])
            phone_profiles.append(
                ProfileClips(
                    l2_normalise(narrow_embedded.embeddings[row]),
                    narrow_embedded.embeddings[row : row + 1],
                    narrow_embedded.seconds[row : row + 1],
                    (float(narrow_embedded.bandwidth_hz[row]),),
                )
            )
    owner_rows = [
        int(narrow_embedded.rows([key])[0])
        for key in narrow.probes
        if narrow.speaker_of[key] in set(app)
    ]
    owners = [
        (
            l2_normalise(narrow_embedded.embeddings[row]),
            app.index(narrow.speaker_of[narrow_embedded.keys[row]]),
        )
        for row in owner_rows
    ]
    owner_voiceprints = np.stack([p.voiceprint for p in app_profiles])
    phone = np.stack([p.voiceprint for p in phone_profiles])
    print(f"{len(owners)} calls of {len(app)} app-enrolled owners")
    print()
    rank_model(owners, owner_voiceprints, phone)
    print()
    through_store(app, app_profiles, phone_profiles, owners, narrow_embedded, owner_rows)
    print()
    mirror_rank_model(wide, wide_embedded, narrow, narrow_embedded, sorted(phone_speakers))
    print()
    rare_band(pipeline, root, narrow, narrow_embedded)


if __name__ == "__main__":
    main()
