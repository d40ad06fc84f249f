"""What a result looks like as JSON, for the command line's ``--json`` and the REST API alike.

One field name per concept (a profile referred to from another object is ``profile_id``
and ``profile_name``; the profile itself has ``id`` and ``name``) and one rounding rule:
durations to the millisecond (:func:`seconds`), levels to a hundredth of a decibel
(:func:`decibels`); scores, cosines and probabilities are never rounded, so a
0.99996 is not shown as a certain 1.0. The REST API builds its response models from
these dictionaries (``voxprint.api.render``), and ``voxprint ... --json`` prints them.

Values are plain JSON types except datetimes, which stay :class:`~datetime.datetime`:
the REST API's pydantic models write them, and the command line's ``--json`` writes them
the same way (``voxprint.cli.render.to_jsonable``: full precision, ``Z`` for UTC).
"""

from __future__ import annotations

from typing import Any

from voxprint.decision import ThresholdSource
from voxprint.enrollment import EnrollmentPolicy
from voxprint.passphrase.recognizer import PhraseMatch
from voxprint.passphrase.service import SpokenEnrollment, SpokenProfile, SpokenVerification
from voxprint.quality import ClipQuality
from voxprint.rounding import decibels, seconds
from voxprint.service import (
    ActivityPage,
    Candidate,
    ComparisonResult,
    EnrollmentReport,
    IdentificationResult,
    SimilarProfile,
    SimilarVoices,
    VerificationResult,
)
from voxprint.store.records import ActivityEntry, Band, GalleryStatistics, Profile, ProfileMerge
from voxprint.thresholds import CalibrationRow, ThresholdReport


def profile(p: Profile, policy: EnrollmentPolicy) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "external_id": p.external_id,
        "metadata": p.metadata,
        "status": p.status.value,
        "clip_count": p.clip_count,
        "audio_seconds": seconds(p.audio_seconds),
        "net_speech_seconds": seconds(p.net_speech_seconds),
        "remaining_speech_seconds": seconds(policy.remaining_for(p)),
        "encoder_name": p.encoder_name,
        "encoder_version": p.encoder_version,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def spoken_profile(sp: SpokenProfile, policy: EnrollmentPolicy) -> dict[str, Any]:
    """A profile with its kind, locale and passphrase and, text-dependent, the clips still
    needed (its speech still needed is then 0: it enrols by clips, not seconds)."""
    out = profile(sp.profile, policy)
    return {
        **out,
        "kind": sp.phrase.kind.value,
        "locale": sp.phrase.locale,
        "passphrase": sp.phrase.passphrase,
        "remaining_clips": sp.remaining_clips,
        "remaining_speech_seconds": 0.0
        if sp.remaining_clips is not None
        else out["remaining_speech_seconds"],
    }


def profile_merge(merge: ProfileMerge, policy: EnrollmentPolicy) -> dict[str, Any]:
    """The merged profile as it was stored, the profile removed, and the clips moved (and
    dropped: audio the merged profile already had)."""
    return {
        "profile": profile(merge.profile, policy),
        "removed_profile_id": merge.removed.id,
        "removed_profile_name": merge.removed.name,
        "clips_moved": merge.clips_moved,
        "duplicate_clips": merge.duplicate_clips,
    }


def quality(measures: ClipQuality) -> dict[str, Any]:
    return {
        "net_speech_seconds": seconds(measures.net_speech_seconds),
        "snr_db": None if measures.snr_db is None else decibels(measures.snr_db),
        "clipped_fraction": measures.clipped_fraction,
        "speaker_similarity": measures.speaker_similarity,
        "multiple_speakers": measures.multiple_speakers,
    }


def enrollment(report: EnrollmentReport, policy: EnrollmentPolicy) -> dict[str, Any]:
    return {
        "profile_id": report.profile.id,
        "profile_name": report.profile.name,
        "status": report.status.value,
        "duplicate": report.duplicate,
        "clip_audio_seconds": seconds(report.clip_audio_seconds),
        "clip_net_speech_seconds": seconds(report.clip_net_speech_seconds),
        "net_speech_seconds": seconds(report.net_speech_seconds),
        "remaining_speech_seconds": seconds(report.remaining_speech_seconds),
        "quality": None if report.quality is None else quality(report.quality),
        "similar_voices": [similar_voice(s) for s in report.similar_voices],
        "profile": profile(report.profile, policy),
    }


def activity_entry(entry: ActivityEntry, profile_name: str | None) -> dict[str, Any]:
    """One activity-log entry; ``profile_name`` is the profile's current name (``None``
    when it was deleted since, or the entry names no profile)."""
    return {
        "id": entry.id,
        "time": entry.time,
        "namespace": entry.namespace,
        "action": entry.action,
        "profile_id": entry.profile_id,
        "profile_name": profile_name,
        "result": entry.result,
        "score": entry.score,
        "detail": entry.detail,
    }


def activity_entries(page: ActivityPage) -> list[dict[str, Any]]:
    """A page's entries, newest first (``voxprint activity --json``)."""
    return [
        activity_entry(e, page.names.get(e.profile_id) if e.profile_id else None)
        for e in page.entries
    ]


def activity(page: ActivityPage) -> dict[str, Any]:
    """A page of the activity log (``GET /v1/activity``): its entries as ``items``."""
    return {
        "items": activity_entries(page),
        "limit": page.limit,
        "offset": page.offset,
        "next_offset": page.next_offset,
        "before_id": page.before_id,
        "next_before_id": page.next_before_id,
    }


def similar_voices(result: SimilarVoices) -> dict[str, Any]:
    return {
        "profile_id": result.profile.id,
        "profile_name": result.profile.name,
        "similar_voices": [similar_voice(s) for s in result.voices],
    }


def similar_voice(similar: SimilarProfile) -> dict[str, Any]:
    return {
        "profile_id": similar.profile_id,
        "profile_name": similar.name,
        "cosine": round(similar.cosine, 4),
        "z": round(similar.z, 2),
    }


def threshold_source(source: ThresholdSource) -> dict[str, Any]:
    return {
        "kind": source.kind.value,
        "description": source.description,
        "profiles": source.profiles,
        "clips": source.clips,
        "updated_at": source.updated_at,
    }


def thresholds(report: ThresholdReport) -> dict[str, Any]:
    """The operating point in force for a namespace, and how it was derived."""
    statistics = report.statistics
    return {
        "namespace": report.namespace,
        "encoder_name": report.encoder_name,
        "encoder_version": report.encoder_version,
        "source": threshold_source(report.source),
        "verification_threshold": report.verification_threshold,
        "identification_threshold": report.identification_threshold,
        "min_speech_seconds": report.min_speech_seconds,
        "rival_weight": report.rival_weight,
        "normalized": report.normalized,
        "bands": [
            {
                "band": band.band.value,
                "impostor_mean": band.impostor_mean,
                "impostor_std": band.impostor_std,
                "cosine_to_accept": {
                    f"{s:g}": round(c, 4) for s, c in band.cosine_to_accept.items()
                },
                "source": None if band.source is None else threshold_source(band.source),
                "verification_threshold": band.verification_threshold,
            }
            for band in report.bands
        ],
        "calibration_bands": None
        if report.calibration_bands is None
        else [band.value for band in report.calibration_bands],
        "calibrations": [calibration_row(row) for row in report.calibrations],
        "text_dependent": None
        if report.text_dependent is None
        else thresholds(report.text_dependent),
        "statistics": None
        if statistics is None
        else {
            "band": statistics.band.value,
            "profiles": statistics.profiles,
            "clips": statistics.clips,
            "pairs": statistics.pairs,
            "pair_mean": statistics.pair_mean,
            "trial_std": statistics.trial_std,
            "updated_at": statistics.updated_at,
            "other_band": _other_band(statistics),
        },
        "centre": None
        if report.centre_profiles is None
        else {
            "profiles": report.centre_profiles,
            "own_share": report.centre_own_share,
            "bands": None
            if report.band_centres is None
            else {
                band.value: {"profiles": count, "own_share": share}
                for band, (count, share) in report.band_centres.items()
            },
        },
    }


def calibration_row(row: CalibrationRow) -> dict[str, Any]:
    """One stored calibration: its scale, the bands whose claims it decides (``None``:
    stored before bands were recorded, every band) and its fitted threshold."""
    calibration = row.calibration
    return {
        "scale": calibration.scale.value,
        "bands": None
        if calibration.bands is None
        else [band.value for band in Band if band in calibration.bands],
        "threshold": calibration.threshold,
        "target_far": calibration.target_far,
        "achieved_far": calibration.achieved_far,
        "achieved_frr": calibration.achieved_frr,
        "target_trials": calibration.target_trials,
        "nontarget_trials": calibration.nontarget_trials,
        "source": calibration.source,
        "created_at": calibration.created_at,
        "in_use": row.in_use,
    }


def _other_band(statistics: GalleryStatistics) -> dict[str, Any] | None:
    """The pairs of the band the namespace has fewer of (``None``: none)."""
    other = statistics.of_other_band()
    if not other.pairs:
        return None
    return {
        "band": other.band.value,
        "pairs": other.pairs,
        "pair_mean": other.pair_mean,
        "trial_std": other.trial_std,
    }


def _decided(result: VerificationResult | ComparisonResult) -> dict[str, Any]:
    """What a 1:1 answer says, whether a claim on a profile or two recordings compared
    (the source of its thresholds apart: the API's models put it in different places)."""
    return {
        "cosine": result.cosine,
        "score": result.score,
        "normalized_score": result.normalized_score,
        "decision": result.decision.value,
        "reason": result.reason.value,
        "threshold": result.threshold,
    }


def verification(result: VerificationResult) -> dict[str, Any]:
    return {
        "profile_id": result.profile_id,
        "profile_name": result.profile_name,
        **_decided(result),
        "cosine_threshold": result.cosine_threshold,
        "net_speech_seconds": seconds(result.net_speech_seconds),
        "source": threshold_source(result.source),
        "activity_logged": result.activity_logged,
        "look_alike": None
        if result.look_alike is None
        else {
            "profile_id": result.look_alike.profile_id,
            "profile_name": result.look_alike.name,
            "cosine": result.look_alike.cosine,
        },
    }


def comparison(result: ComparisonResult) -> dict[str, Any]:
    return {**_decided(result), "source": threshold_source(result.source)}


def candidate(c: Candidate) -> dict[str, Any]:
    return {
        "profile_id": c.profile_id,
        "profile_name": c.name,
        "cosine": c.cosine,
        "score": c.score,
        "normalized_score": c.normalized_score,
    }


def identification(result: IdentificationResult) -> dict[str, Any]:
    return {
        "candidates": [candidate(c) for c in result.candidates],
        "identified": None if result.identified is None else candidate(result.identified),
        "unknown": result.is_unknown,
        "reason": result.reason.value,
        "threshold": result.threshold,
        "unknown_probability": result.unknown_probability,
        "gallery_size": result.gallery_size,
        "net_speech_seconds": seconds(result.net_speech_seconds),
        "speech_needed_seconds": None
        if result.speech_needed_seconds is None
        else seconds(result.speech_needed_seconds),
        "source": threshold_source(result.source),
        "activity_logged": result.activity_logged,
    }


def phrase(match: PhraseMatch) -> dict[str, Any]:
    return {
        "expected": match.expected,
        "heard": match.heard,
        "accepted": match.accepted,
        "reason": match.reason.value,
        "word_errors": match.word_errors,
        "loop_margin": round(match.loop_margin, 3),
        "weakest_word": match.weakest_word,
        "weakest_word_margin": None
        if match.weakest_word_margin is None
        else round(match.weakest_word_margin, 3),
    }


def spoken_enrollment(result: SpokenEnrollment, policy: EnrollmentPolicy) -> dict[str, Any]:
    """An enrolment, with the passphrase check of a text-dependent profile."""
    out = enrollment(result.report, policy)
    out["kind"] = result.kind.value
    if result.phrase is None:  # text-independent: no phrase, passphrase or clip count
        unset = {"passphrase": None, "remaining_clips": None}
        return {
            **out,
            "phrase": None,
            **unset,
            "profile": {**out["profile"], "kind": result.kind.value, "locale": None, **unset},
        }
    described = {
        "kind": result.kind.value,
        "passphrase": result.passphrase,
        "remaining_clips": result.remaining_clips,
        "remaining_speech_seconds": 0.0,
    }
    return {
        **out,
        **described,
        "phrase": phrase(result.phrase),
        "profile": {**out["profile"], **described, "locale": result.locale},
    }


def spoken_verification(result: SpokenVerification) -> dict[str, Any]:
    """A verification; with a passphrase or a challenge, the phrase check decides too."""
    out = verification(result.voice)
    out["kind"] = result.kind.value
    if result.phrase is None:
        return {**out, "voice_decision": None, "phrase": None, "challenge_id": None}
    return {
        **out,
        "decision": result.decision.value,
        "reason": result.reason.value,
        "voice_decision": result.voice.decision.value,
        "phrase": phrase(result.phrase),
        "challenge_id": result.challenge.id if result.challenge is not None else None,
    }
