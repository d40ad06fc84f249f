"""Speaker diarization: who spoke when, by name where the speaker is enrolled.

* :mod:`~voxprint.diarization.segmentation_net` — the segmentation-3.0 network;
* :mod:`~voxprint.diarization.segmentation` — its weights and sliding 10 s chunks;
* :mod:`~voxprint.diarization.engine` — embeddings, clustering, speaker turns;
* :mod:`~voxprint.diarization.naming` — names from enrolled profiles, enrolment from
  a diarized recording;
* :mod:`~voxprint.diarization.formats` — RTTM, JSON, SRT and WebVTT.
"""

from voxprint.diarization.clustering import SpeakerCount
from voxprint.diarization.engine import DiarizationConfig
from voxprint.diarization.naming import (
    Diarization,
    DiarizedSpeaker,
    SpeakerDiarizer,
    Turn,
    UnknownReason,
)

__all__ = [
    "Diarization",
    "DiarizationConfig",
    "DiarizedSpeaker",
    "SpeakerCount",
    "SpeakerDiarizer",
    "Turn",
    "UnknownReason",
]
