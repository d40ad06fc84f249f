"""A diarization written out: RTTM, JSON-ready dicts, SRT and WebVTT subtitles."""

from __future__ import annotations

import math
import re
from typing import Any

from voxprint import rounding
from voxprint.diarization.naming import Diarization, DiarizedSpeaker, Turn, UnknownReason

FORMATS = ("rttm", "json", "srt", "vtt")


def _rttm_name(text: str) -> str:
    """RTTM fields are whitespace-separated: spaces in names become underscores."""
    return re.sub(r"\s+", "_", text.strip()) or "unnamed"


def to_rttm(diarization: Diarization, uri: str = "audio") -> str:
    """NIST RTTM: one ``SPEAKER`` line per turn (``uri`` names the recording)."""
    name = _rttm_name(uri)
    lines = [
        f"SPEAKER {name} 1 {turn.start:.3f} {turn.duration:.3f} <NA> <NA> "
        f"{_rttm_name(turn.label)} <NA> <NA>"
        for turn in diarization.turns
    ]
    return "\n".join(lines) + ("\n" if lines else "")


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def to_srt(diarization: Diarization) -> str:
    """SubRip subtitles: one cue per turn, the speaker's label as the text."""
    cues = [
        f"{i}\n{_timestamp(t.start, ',')} --> {_timestamp(t.end, ',')}\n{t.label}\n"
        for i, t in enumerate(diarization.turns, start=1)
    ]
    return "\n".join(cues)


def to_vtt(diarization: Diarization) -> str:
    """WebVTT subtitles: one cue per turn, with a ``<v>`` voice span for the speaker."""
    cues = [
        f"{_timestamp(t.start, '.')} --> {_timestamp(t.end, '.')}\n<v {t.label}>{t.label}</v>\n"
        for t in diarization.turns
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def turn_json(turn: Turn) -> dict[str, Any]:
    return {
        "start": rounding.seconds(turn.start),
        "end": rounding.seconds(turn.end),
        "speaker": turn.label,
        "profile_id": turn.profile_id,
        "profile_name": turn.name,
        "score": _number(turn.score),
    }


def _number(value: float | None) -> float | None:
    """A score, cosine or probability: a plain float, never rounded (voxprint.rounding)."""
    return None if value is None else float(value)


def speaker_json(speaker: DiarizedSpeaker) -> dict[str, Any]:
    return {
        "speaker": speaker.label,
        "unknown": speaker.is_unknown,
        "profile_id": speaker.profile_id,
        "profile_name": speaker.name,
        "score": _number(speaker.score),
        "cosine": _number(speaker.cosine),
        "unknown_probability": _number(speaker.unknown_probability),
        "unknown_reason": None if speaker.unknown_reason is None else speaker.unknown_reason.value,
        "best_candidate": None
        if speaker.best_candidate_id is None
        else {
            "profile_id": speaker.best_candidate_id,
            "profile_name": speaker.best_candidate_name,
        },
        "talk_seconds": rounding.seconds(speaker.talk_seconds),
        "turns": speaker.turns,
        "first_start": rounding.seconds(speaker.first_start),
        "speech_seconds": rounding.seconds(speaker.speech_seconds),
    }


def to_json(diarization: Diarization) -> dict[str, Any]:
    """The whole result as plain JSON types: speakers (with talk time) and segments."""
    source = diarization.source
    return {
        "duration_seconds": rounding.seconds(diarization.duration_seconds),
        "speech_seconds": rounding.seconds(diarization.speech_seconds),
        "speaker_count": len(diarization.speakers),
        "requested_speakers": {
            "num_speakers": diarization.requested.exactly,
            "min_speakers": diarization.requested.minimum,
            "max_speakers": diarization.requested.maximum,
        },
        "speakers_missing": diarization.speakers_missing,
        "speakers": [speaker_json(s) for s in diarization.speakers],
        "segments": [turn_json(t) for t in diarization.turns],
        "gallery_size": diarization.gallery_size,
        "source": {"kind": source.kind.value, "description": source.description},
        "processing_seconds": rounding.seconds(diarization.processing_seconds),
        "real_time_factor": round(
            diarization.processing_seconds / max(diarization.duration_seconds, 1e-9), 4
        ),
        "segmentation_version": diarization.segmentation_version,
        "encoder_version": diarization.encoder_version,
    }


def shortfall_text(diarization: Diarization) -> str | None:
    """One line when fewer speakers were found than ``--num-speakers`` (or
    ``--min-speakers``) asked for; ``None`` otherwise."""
    if not diarization.speakers_missing:
        return None
    found = len(diarization.speakers)
    requested = diarization.requested
    asked = (
        f"--num-speakers asked for {requested.exactly}"
        if requested.exactly is not None
        else f"--min-speakers asked for at least {requested.minimum}"
    )
    return (
        f"fewer speakers than asked: {found} found, {asked}; no more voices could be told "
        "apart in this recording"
    )


def _posterior_down(value: float) -> str:
    """Two decimals, rounded down: a posterior of 0.696 under a 0.70 threshold is not
    shown as "0.70"."""
    return f"{math.floor(value * 100 + 1e-9) / 100:.2f}"


def unknown_note(speaker: DiarizedSpeaker) -> str:
    """Why an unknown speaker is unknown, for people. A number only where it is what it
    says: the closest profile's posterior, under the naming threshold."""
    closest = speaker.best_candidate_name
    reason = speaker.unknown_reason
    if reason is UnknownReason.NOT_MATCHED:
        return ""
    if reason is UnknownReason.PROFILE_NAMED_ELSEWHERE:
        return (
            f"also sounds like {closest}, who is named for another speaker here (the "
            "speaker count asked for keeps them apart)"
        )
    if reason is UnknownReason.TOO_LITTLE_SPEECH:
        return f"too little speech to name ({speaker.speech_seconds:.1f} s)"
    if closest is None:
        return "not enrolled"
    if speaker.score is None:
        return f"nobody matches (closest: {closest})"
    return f"nobody matches (closest: {closest} at {_posterior_down(speaker.score)})"


def talk_time_text(diarization: Diarization) -> str:
    """One line per speaker: label, talk time, share of the speech, and the score (why
    not, for an unknown speaker)."""
    total = max(diarization.speech_seconds, 1e-9)
    lines = []
    for s in diarization.speakers:
        if s.is_unknown:
            note = unknown_note(s)
        else:
            note = f"score {s.score:.2f}" if s.score is not None else ""
        lines.append(
            f"{s.label:<24} {s.talk_seconds:8.1f} s  {100 * s.talk_seconds / total:5.1f} %  "
            f"{note}".rstrip()
        )
    shares = sum(s.talk_seconds for s in diarization.speakers) / total
    if shares > 1.005:  # found in a walkthrough: 110-115 % with nothing said
        lines.append(
            f"(shares of the {diarization.speech_seconds:.1f} s with speech; overlapping "
            f"speech counts for each speaker, so they add up to {100 * shares:.0f} %)"
        )
    return "\n".join(lines)
