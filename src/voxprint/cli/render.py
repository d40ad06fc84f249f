"""Turning service results into text or JSON for the terminal."""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic_core import to_jsonable_python

from voxprint import rounding, views
from voxprint.decision import Decision, DecisionReason, ThresholdSource
from voxprint.enrollment import EnrollmentPolicy
from voxprint.passphrase.recognizer import PhraseMatch
from voxprint.passphrase.service import SpokenEnrollment, SpokenProfile, SpokenVerification
from voxprint.service import (
    ActivityPage,
    ComparisonResult,
    EnrollmentReport,
    IdentificationResult,
    SimilarProfile,
    SimilarVoices,
    VerificationResult,
)
from voxprint.store.records import (
    ActivityEntry,
    Challenge,
    EnrollmentStatus,
    Profile,
    ProfileKind,
    ProfileMerge,
)

if TYPE_CHECKING:  # the evaluation harness loads only for `voxprint eval`
    from voxprint.evaluation.runner import EvalReport


def probability_text(value: float) -> str:
    """A probability or threshold for people: two decimals, or as many as it takes to
    tell it from 0 or 1 (a calibrated threshold of 0.00067 is not "0.00")."""
    tail = min(value, 1.0 - value)
    if not 0.0 < tail < 0.01:
        return f"{value:.2f}"
    decimals = 1 - math.floor(math.log10(tail))  # two significant digits of the tail
    return f"{value:.{decimals}f}"


def stopped_at(files: Sequence[Path], done: int) -> str:
    """What a multi-file command says before the error of file ``done`` (0-based), when
    the files after it were not tried (nothing for a single file: the error is its)."""
    if len(files) < 2 or done >= len(files):
        return ""
    left = len(files) - done - 1
    after = f" ({plural(left, 'later file')} not enrolled)" if left else ""
    return f"{files[done].name}{after}: "


def speech_text(seconds: float) -> str:
    """Speech that was too little, to the hundredth, rounded down: 0.298 s under a 0.30 s
    minimum reads "0.29", never "0.30"."""
    return f"{math.floor(seconds * 100 + 1e-9) / 100:.2f}"


def plural(count: int, noun: str) -> str:
    """``1 clip``, ``2 clips``, ``0 clips`` (nouns that take an ``s``)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def to_jsonable(value: Any) -> Any:
    """Plain JSON types from dataclasses, enums, datetimes and arrays.

    Datetimes are written as the REST API's pydantic models write them (full precision,
    ``Z`` for UTC: ``2025-01-02T05:20:10.147486Z``), so every ``--json`` time is the
    API's."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in asdict(value).items() if k != "voiceprint"}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items() if k != "voiceprint"}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return to_jsonable_python(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2, sort_keys=False)


def profile_json(profile: SpokenProfile, policy: EnrollmentPolicy) -> dict[str, Any]:
    """A profile as ``--json`` shows it: the REST API's profile object (voxprint.views),
    with its kind and passphrase."""
    return views.spoken_profile(profile, policy)


def profile_line(profile: Profile) -> str:
    external = f"  external_id={profile.external_id}" if profile.external_id else ""
    clips = "clip " if profile.clip_count == 1 else "clips"
    return (
        f"{profile.id}  {profile.name:<20} {profile.status.value:<9} "
        f"{profile.clip_count:>3} {clips}  "
        f"{rounding.speech_so_far(profile.net_speech_seconds):>6} s speech{external}"
    )


def merge_line(merge: ProfileMerge) -> str:
    """One line: what moved where, and the merged profile as it is now stored."""
    profile, removed = merge.profile, merge.removed
    dropped = (
        f" ({plural(merge.duplicate_clips, 'clip')} of audio it already had dropped)"
        if merge.duplicate_clips
        else ""
    )
    return (
        f"merged {removed.name} ({removed.id}) into {profile.name} ({profile.id}): "
        f"{plural(merge.clips_moved, 'clip')} moved{dropped}; now "
        f"{rounding.speech_so_far(profile.net_speech_seconds)} s of speech in "
        f"{plural(profile.clip_count, 'clip')} [{profile.status.value}]; "
        f"{removed.name} deleted"
    )


def merge_json(merge: ProfileMerge, policy: EnrollmentPolicy) -> dict[str, Any]:
    """``--json``: the REST API's merge answer (voxprint.views)."""
    return views.profile_merge(merge, policy)


def profile_details(spoken: SpokenProfile) -> str:
    """Every field of a profile; a text-dependent one also its passphrase (or that the
    first clip will fix it) and the clips it still needs."""
    profile = spoken.profile
    clips = f"{profile.clip_count}"
    if spoken.remaining_clips:
        clips += f" ({spoken.remaining_clips} more needed)"
    lines = [
        f"id:            {profile.id}",
        f"name:          {profile.name}",
        f"external id:   {profile.external_id or '-'}",
        f"kind:          {spoken.phrase.kind.value}",
    ]
    if spoken.phrase.kind is ProfileKind.TEXT_DEPENDENT:
        passphrase = spoken.phrase.passphrase
        said = f'"{passphrase}"' if passphrase else "- (the first clip sets it)"
        lines += [f"passphrase:    {said}", f"locale:        {spoken.phrase.locale or '-'}"]
    lines += [
        f"status:        {profile.status.value}",
        f"clips:         {clips}",
        f"net speech:    {rounding.speech_so_far(profile.net_speech_seconds)} s of "
        f"{profile.audio_seconds:.1f} s audio",
        f"encoder:       {profile.encoder_name} ({profile.encoder_version})",
        f"created:       {profile.created_at.isoformat(timespec='seconds')}",
        f"updated:       {profile.updated_at.isoformat(timespec='seconds')}",
    ]
    if profile.metadata:
        lines.append(f"metadata:      {json.dumps(profile.metadata)}")
    return "\n".join(lines)


def enrollment_line(label: str, report: EnrollmentReport) -> str:
    remaining = (
        "enrolled"
        if report.remaining_speech_seconds <= 0
        else f"{rounding.speech_still_needed(report.remaining_speech_seconds)} s more speech needed"
    )
    if report.duplicate:
        return (
            f"{label}: already enrolled in this profile, not added again; "
            f"total {rounding.speech_so_far(report.net_speech_seconds)} s; {remaining} "
            f"[{report.status.value}]"
        )
    quality = f"\n  quality: {report.quality.summary()}" if report.quality is not None else ""
    return (
        f"{label}: {rounding.speech_so_far(report.clip_net_speech_seconds)} s speech; total "
        f"{rounding.speech_so_far(report.net_speech_seconds)} s; {remaining} "
        f"[{report.status.value}]{quality}"
    )


def still_enrolling_line(report: EnrollmentReport, required_seconds: float) -> str | None:
    """After a command's last clip, how to finish a text-independent profile that is
    still enrolling (found in a walkthrough: children's eight 2 s recordings could never
    reach the default 20 s, and nothing said the requirement can be lowered)."""
    if report.profile.status is EnrollmentStatus.ENROLLED or report.remaining_speech_seconds <= 0:
        return None
    return (
        f"  {report.profile.name!r} is still enrolling: add recordings of them, or ask for "
        f"less speech than {required_seconds:g} s with --enroll-seconds "
        "(less speech makes its answers less certain)"
    )


def similar_voice_lines(profile: Profile, similar: Sequence[SimilarProfile]) -> list[str]:
    """A warning line per enrolled profile whose voice is close to ``profile``'s (the one
    just enrolled; print them once per command, after its last clip), with the command
    that merges the two if they are one person."""
    own = (profile.id, profile.name)
    return [
        f"  warning: voice very close to {s.name!r} ({s.profile_id}): cosine {s.cosine:.2f}, "
        f"{s.z:.1f} sd above strangers here; identification may confuse them "
        f"(if it is one person, merge the two: {merge_command((s.profile_id, s.name), own)})"
        for s in similar
    ]


def merge_command(into: tuple[str, str], source: tuple[str, str]) -> str:
    """``voxprint profiles merge INTO FROM`` for two profiles given as ``(id, name)``: by
    name, or by id when the two share a name."""
    names = (into[0], source[0]) if into[1] == source[1] else (into[1], source[1])
    return "voxprint profiles merge " + " ".join(shlex.quote(n) for n in names)


def enrollment_json(report: EnrollmentReport, policy: EnrollmentPolicy) -> dict[str, Any]:
    return views.enrollment(report, policy)


def _source_text(source: ThresholdSource) -> str:
    return f"thresholds: {source.description}"


@dataclass(frozen=True)
class SkippedFile:
    """A file ``enroll-dir`` did not enrol: already there, or the error that stopped it."""

    path: Path
    code: str
    message: str


@dataclass
class SpeakerEnrollment:
    """One speaker folder of ``enroll-dir``: its profile, the files to enrol, and then the
    clips added (label and report) and the files skipped."""

    speaker: str
    #: ``None`` until the first clip of a new speaker makes its profile.
    profile: Profile | None
    files: list[tuple[Path, str]] = field(default_factory=list)
    added: list[tuple[str, EnrollmentReport]] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def current(self) -> Profile | None:
        """The profile after the last clip added (as found, when none was; ``None`` for a
        new speaker none of whose files could be enrolled)."""
        return self.added[-1][1].profile if self.added else self.profile


def _clip_line(label: str, report: EnrollmentReport) -> str:
    quality = f" ({report.quality.summary()})" if report.quality is not None else ""
    return f"  {label}: {rounding.speech_so_far(report.clip_net_speech_seconds)} s speech{quality}"


def similar_voices_text(result: SimilarVoices) -> str:
    """The profile, then a warning line per similar voice (or that there is none)."""
    if not result.voices:
        return f"{result.profile.name} ({result.profile.id}): no enrolled voice too close to it"
    return "\n".join(
        [
            f"{result.profile.name} ({result.profile.id}):",
            *similar_voice_lines(result.profile, result.voices),
        ]
    )


def similar_voices_json(result: SimilarVoices) -> dict[str, Any]:
    return views.similar_voices(result)


def speaker_enrollment_text(plan: SpeakerEnrollment, policy: EnrollmentPolicy) -> str:
    """The speaker's summary line, then one line per clip added and per file skipped."""
    profile = plan.current
    if profile is None:
        lines = [f"{plan.speaker}: no profile made: none of its files could be enrolled"]
        lines += [f"  skipped {s.path.name}: {s.message}" for s in plan.skipped]
        return "\n".join(lines)
    remaining = policy.remaining_for(profile)
    needed = (
        "enrolled"
        if remaining <= 0
        else f"{rounding.speech_still_needed(remaining)} s more speech needed"
    )
    added_speech = sum(report.clip_net_speech_seconds for _, report in plan.added)
    lines = [
        f"{plan.speaker}: {plural(len(plan.added), 'clip')} added "
        f"({rounding.speech_so_far(added_speech)} s speech); "
        f"total {rounding.speech_so_far(profile.net_speech_seconds)} s of speech in "
        f"{plural(profile.clip_count, 'clip')}; {needed} [{profile.status.value}]"
    ]
    lines += [_clip_line(label, report) for label, report in plan.added]
    lines += [f"  skipped {s.path.name}: {s.message}" for s in plan.skipped]
    if plan.added:
        lines += similar_voice_lines(profile, plan.added[-1][1].similar_voices)
    return "\n".join(lines)


def speaker_enrollment_json(plan: SpeakerEnrollment, policy: EnrollmentPolicy) -> dict[str, Any]:
    """One speaker folder; a new speaker none of whose files could be enrolled has no
    profile (``profile_id`` and ``status`` null, nothing stored)."""
    profile = plan.current
    speech = 0.0 if profile is None else profile.net_speech_seconds
    return {
        "profile_id": None if profile is None else profile.id,
        "profile_name": plan.speaker if profile is None else profile.name,
        "status": None if profile is None else profile.status.value,
        "clip_count": 0 if profile is None else profile.clip_count,
        "net_speech_seconds": rounding.seconds(speech),
        "remaining_speech_seconds": rounding.seconds(
            policy.remaining_seconds(0.0) if profile is None else policy.remaining_for(profile)
        ),
        "clips": [
            {
                "label": label,
                "clip_net_speech_seconds": rounding.seconds(report.clip_net_speech_seconds),
                "clip_audio_seconds": rounding.seconds(report.clip_audio_seconds),
                "quality": None if report.quality is None else views.quality(report.quality),
            }
            for label, report in plan.added
        ],
        "skipped": [
            {"file": str(s.path), "code": s.code, "message": s.message} for s in plan.skipped
        ],
        "similar_voices": [
            views.similar_voice(s) for s in (plan.added[-1][1].similar_voices if plan.added else ())
        ],
    }


def _who(entry: ActivityEntry, names: dict[str, str | None]) -> str:
    if entry.profile_id is None:
        return "-"
    name = names.get(entry.profile_id)
    return f"{name} ({entry.profile_id})" if name else f"(deleted) {entry.profile_id}"


def activity_line(entry: ActivityEntry, names: dict[str, str | None]) -> str:
    """One log entry: its id (what ``--before-id`` takes), time, action, result, the
    profile's name and id, score, detail."""
    named = entry.result in _NAMED_RESULTS
    score = f"  score {toward_answer(entry.score, named)}" if entry.score is not None else ""
    detail = f"  [{entry.detail}]" if entry.detail else ""
    return (
        f"#{entry.id:<6} {entry.time.isoformat(timespec='seconds')}  "
        f"{entry.action:<9} {entry.result:<10} "
        f"{_who(entry, names)}{score}{detail}"
    )


def activity_json(page: ActivityPage) -> list[dict[str, Any]]:
    """``activity --json``: the ``items`` of the REST API's ``GET /v1/activity``
    (voxprint.views)."""
    return views.activity_entries(page)


#: Logged results of a decision that accepted a claim or named a voice.
_NAMED_RESULTS = frozenset({Decision.ACCEPT.value, "identified"})


def toward_answer(score: float, accepted: bool, places: int = 3) -> str:
    """A score to ``places`` places, rounded towards the answer given with it: a claim
    rejected (or a voice left unknown) never reads "0.900 (needs 0.90)", and the log
    shows a decision's score as the decision showed it."""
    if accepted:
        return f"{score:.{places}f}"
    scale = 10**places
    return f"{math.floor(score * scale) / scale:.{places}f}"


def _up(value: float) -> str:
    return f"{math.ceil(value * 1000) / 1000:.3f}"


def verification_text(result: VerificationResult) -> str:
    """The decision with its reason code (as ``--json``'s ``reason``), then the scores."""
    verdict = f"{result.decision.value.upper()} ({result.reason.value})"
    if result.reason is DecisionReason.INSUFFICIENT_SPEECH:
        return (
            f"{verdict}: too little speech to decide ({speech_text(result.net_speech_seconds)} s); "
            f"score {result.score:.3f} for {result.profile_name}\n{_source_text(result.source)}"
        )
    # Rounded towards the answer, so that a rejection never reads "0.900 (needs 0.90)".
    accepted = result.decision is Decision.ACCEPT
    score = toward_answer(result.score, accepted)
    cosine = toward_answer(result.cosine, accepted)
    needed = ""
    if result.cosine_threshold is not None:
        bar = result.cosine_threshold
        needed = f", cosine needed {f'{bar:.3f}' if accepted else _up(bar)}"
    normalized = (
        f", as-norm {result.normalized_score:.3f}" if result.normalized_score is not None else ""
    )
    return (
        f"{verdict}: {result.profile_name}  score {score} "
        f"(needs {probability_text(result.threshold)})  cosine {cosine}"
        f"{needed}{normalized}{_look_alike_text(result)}\n"
        f"{_source_text(result.source)}"
    )


def _look_alike_text(result: VerificationResult) -> str:
    """Why a look-alike turned the claim down, and what to do about it."""
    alike = result.look_alike
    if alike is None:
        return ""
    closeness = (
        f"the voice is closer to another enrolled profile, {alike.name}"
        if alike.cosine >= result.cosine
        else f"another enrolled profile, {alike.name}, is nearly as close"
    )
    merge = merge_command((result.profile_id, result.profile_name), (alike.profile_id, alike.name))
    return (
        f"\n{closeness} (cosine {alike.cosine:.3f}): the two may be one voice enrolled "
        f"twice (then merge them: {merge}), or voices too alike to tell apart (see: "
        f"voxprint profiles similar {shlex.quote(result.profile_name)})"
    )


def comparison_text(result: ComparisonResult) -> str:
    """``SAME SPEAKER`` or ``DIFFERENT SPEAKERS`` (or too little speech), the score, and
    where the thresholds come from."""
    verdict = "SAME SPEAKER" if result.decision.value == "accept" else "DIFFERENT SPEAKERS"
    if result.reason is DecisionReason.INSUFFICIENT_SPEECH:
        verdict = "NOT DECIDED: too little speech in the first recording"
    normalized = (
        f", as-norm {result.normalized_score:.3f}" if result.normalized_score is not None else ""
    )
    return (
        f"{verdict}  score {result.score:.3f} (needs {probability_text(result.threshold)})  "
        f"cosine {result.cosine:.3f}{normalized}\n{_source_text(result.source)}"
    )


def comparison_json(result: ComparisonResult) -> dict[str, Any]:
    return views.comparison(result)


def identification_text(result: IdentificationResult) -> str:
    if result.identified is not None:
        who = result.identified
        head = (
            f"{who.name}  score {who.score:.3f} (needs {probability_text(result.threshold)})  "
            f"cosine {who.cosine:.3f}  id {who.profile_id}"
        )
    elif result.reason is DecisionReason.INSUFFICIENT_SPEECH:
        head = (
            f"unknown: only {speech_text(result.net_speech_seconds)} s of speech, too little "
            "to decide"
        )
        if result.speech_needed_seconds is not None:
            head += (
                f" (about {result.speech_needed_seconds:.1f} s needed among "
                f"{plural(result.gallery_size, 'profile')})"
            )
    elif result.reason is DecisionReason.LOOK_ALIKE and result.candidates:
        first = result.candidates[0]
        head = (
            f"unknown speaker: closest {first.name!r} ({toward_answer(first.score, False, 2)}), "
            "but the voice "
            "is about as close to other enrolled profiles and does not stand out from them; "
            "nobody is named"
        )
    elif len(result.candidates) > 1 and 1.0 - result.unknown_probability >= result.threshold:
        first, second = result.candidates[:2]
        head = (
            f"not decided: enrolled, but between {first.name!r} "
            f"({toward_answer(first.score, False, 2)}) and {second.name!r} "
            f"({toward_answer(second.score, False, 2)}), whose voices are alike (see `voxprint "
            f"profiles similar`); nobody reaches {probability_text(result.threshold)}"
        )
    else:
        head = (
            f"unknown speaker: nobody of {plural(result.gallery_size, 'profile')} reaches score "
            f"{probability_text(result.threshold)} (not enrolled: "
            f"{result.unknown_probability:.3f})"
        )
    ranking = [
        f"  {rank}. {c.name:<20} score {toward_answer(c.score, c is result.identified)}  "
        f"cosine {toward_answer(c.cosine, c is result.identified)}"
        for rank, c in enumerate(result.candidates, start=1)
    ]
    return "\n".join([head, *ranking, _source_text(result.source)])


def evaluation_text(report: EvalReport, det_path: str | None) -> str:
    lines = [
        f"protocol:        {report.name} ({report.n_items} files, {report.n_trials} trials, "
        f"{report.n_target_trials} target)",
        f"encoder:         {report.encoder}",
        f"EER:             {100 * report.eer:.2f} %  (threshold {report.eer_threshold:.4f})",
        f"minDCF(0.01):    {report.min_dcf:.4f}",
        f"top-1 accuracy:  {100 * report.top1_accuracy:.2f} %",
        f"real-time factor {report.real_time_factor:.4f}  "
        f"({report.embeddings_per_second:.1f} embeddings/s, {report.audio_seconds:.0f} s audio)",
    ]
    if report.n_items_without_speech:
        lines.append(f"no speech found: {report.n_items_without_speech} files (embedded whole)")
    if det_path:
        lines.append(f"DET curve:       {det_path}")
    return "\n".join(lines)


# --- passphrases and spoken challenges ---------------------------------------------------


def phrase_text(match: PhraseMatch) -> str:
    heard = f'"{match.heard}"' if match.heard else "nothing recognisable"
    if match.accepted and match.word_errors > 0:  # a word off, within what the check allows
        off = f"{match.word_errors} word{'' if match.word_errors == 1 else 's'}"
        return (
            f'phrase "{match.expected}" taken as said; heard {heard}, {off} off '
            "(the check allows that much)"
        )
    verdict = "said" if match.accepted else f"not said ({match.reason.value})"
    return f'phrase "{match.expected}" {verdict}; heard {heard}'


def spoken_enrollment_line(label: str, result: SpokenEnrollment) -> str:
    if result.phrase is None:
        return enrollment_line(label, result.report)
    report = result.report
    left = (
        "enrolled"
        if result.remaining_clips == 0
        else f"{plural(result.remaining_clips or 0, 'more passphrase clip')} needed"
    )
    added = (
        "already enrolled, not added again"
        if report.duplicate
        else f"{rounding.speech_so_far(report.clip_net_speech_seconds)} s speech"
    )
    clips = plural(report.profile.clip_count, "clip")
    return f'{label}: "{result.passphrase}" said; {added}; {clips}; {left} [{report.status.value}]'


def spoken_enrollment_json(result: SpokenEnrollment, policy: EnrollmentPolicy) -> dict[str, Any]:
    return views.spoken_enrollment(result, policy)


def spoken_verification_json(result: SpokenVerification) -> dict[str, Any]:
    return views.spoken_verification(result)


def identification_json(result: IdentificationResult) -> dict[str, Any]:
    return views.identification(result)


def spoken_verification_text(result: SpokenVerification) -> str:
    voice = verification_text(result.voice)
    if result.phrase is None:
        return voice
    verdict = result.decision.value.upper()
    return f"{verdict} ({result.reason.value}): {phrase_text(result.phrase)}\nvoice: {voice}"


def challenge_text(challenge: Challenge) -> str:
    return (
        f'say: "{challenge.phrase}"\n'
        f"challenge {challenge.id}, valid until "
        f"{challenge.expires_at.isoformat(timespec='seconds')}, once\n"
        f"then: voxprint verify NAME RECORDING --challenge {challenge.id}"
    )
