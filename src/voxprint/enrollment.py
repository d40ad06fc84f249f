"""Enrolment rules: how clips add up to a voiceprint and when a profile is enrolled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from voxprint.adaptation import clips_band, statistics_band_of
from voxprint.errors import InvalidParameterError
from voxprint.quality import QualityGate
from voxprint.rounding import speech_still_needed
from voxprint.scoring.similarity import l2_normalise
from voxprint.store.records import Clip, EnrollmentState, EnrollmentStatus, Profile

#: Azure's text-independent profiles needed 20 s of net speech before they were enrolled.
DEFAULT_ENROLLMENT_SPEECH_SECONDS = 20.0
#: The most net speech a profile may be asked for (an hour): beyond it, nobody enrols.
MAX_ENROLLMENT_SPEECH_SECONDS = 3600.0


@dataclass(frozen=True)
class EnrollmentPolicy:
    """A profile becomes ``enrolled`` once its clips hold this much net speech.

    ``quality_gate`` decides which clips are refused for poor quality (noise,
    clipping, more than one speaker); see :mod:`voxprint.quality`.
    """

    min_net_speech_seconds: float = DEFAULT_ENROLLMENT_SPEECH_SECONDS
    quality_gate: QualityGate = field(default_factory=QualityGate)

    def __post_init__(self) -> None:
        if not 0 <= self.min_net_speech_seconds <= MAX_ENROLLMENT_SPEECH_SECONDS:
            raise InvalidParameterError(
                "the net speech to enrol must be between 0 and "
                f"{MAX_ENROLLMENT_SPEECH_SECONDS:g} s, got {self.min_net_speech_seconds}"
            )

    def remaining_seconds(self, net_speech_seconds: float) -> float:
        return max(0.0, self.min_net_speech_seconds - net_speech_seconds)

    def met_by(self, profile: Profile) -> bool:
        """Whether ``profile``'s clips hold what this policy requires to be enrolled (it
        may still read enrolling: the requirement was higher when they were added)."""
        return profile.clip_count > 0 and self.remaining_seconds(profile.net_speech_seconds) <= 0

    def remaining_for(self, profile: Profile) -> float:
        """Net speech ``profile`` still needs to be enrolled: 0 once it is (also when it
        was enrolled under a lower requirement than this policy's)."""
        if profile.status is EnrollmentStatus.ENROLLED:
            return 0.0
        return self.remaining_seconds(profile.net_speech_seconds)

    def still_needed(self, profile: Profile) -> str:
        """What ``profile`` still needs to be enrolled, in words for an error message:
        "18.1 s more net speech is needed (of the 20 s required)" (rounded up, never
        "0.0"); for one whose clips already hold that much, how it becomes enrolled."""
        remaining = self.remaining_seconds(profile.net_speech_seconds)
        required = f"{self.min_net_speech_seconds:g} s required"
        if remaining <= 0:
            return (
                f"its clips hold the {required} now, which was more when they were added; "
                "enrolling a clip (or one it holds, again) enrols it"
            )
        return f"{speech_still_needed(remaining)} s more net speech is needed (of the {required})"

    def summarize(
        self, clips: Sequence[Clip], before: EnrollmentStatus = EnrollmentStatus.ENROLLING
    ) -> EnrollmentState:
        """Voiceprint = L2-normalised mean of the clip embeddings ``(dim,) float32``.

        Enrolled once the clips hold this policy's net speech, and from then on while it
        has clips (``before``: the status before they changed): a clip added under a
        higher requirement than the one the profile was enrolled under never takes it
        out of identification. Only a reset (no clips) starts it over."""
        if not clips:
            return EnrollmentState(None, EnrollmentStatus.ENROLLING, 0.0, 0.0)
        net_speech = float(sum(clip.net_speech_seconds for clip in clips))
        audio = float(sum(clip.audio_seconds for clip in clips))
        mean = np.mean(np.stack([clip.embedding for clip in clips]), axis=0)
        status = (
            EnrollmentStatus.ENROLLED
            if before is EnrollmentStatus.ENROLLED or net_speech >= self.min_net_speech_seconds
            else EnrollmentStatus.ENROLLING
        )
        bandwidths = [clip.bandwidth_hz for clip in clips]
        return EnrollmentState(
            l2_normalise(mean),
            status,
            audio,
            net_speech,
            band=clips_band(bandwidths),
            statistics_band=statistics_band_of(bandwidths),
        )
