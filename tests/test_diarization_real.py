"""Diarization on real speech with the real models: an enrolled reader is named, a
stranger is "unknown 1", and the stranger can be enrolled from the recording."""

from __future__ import annotations

import numpy as np
import pytest

from voxprint.audio import load_audio
from voxprint.bootstrap import ServiceOptions, build_service
from voxprint.diarization import SpeakerDiarizer
from voxprint.encoders.weights import find_weights
from voxprint.errors import WeightsNotFoundError

pytestmark = pytest.mark.data


def test_a_real_conversation_names_the_enrolled_reader_and_enrols_the_stranger(data_root, tmp_path):
    from voxprint.diarization.segmentation import SEGMENTATION_WEIGHTS

    try:
        find_weights(SEGMENTATION_WEIGHTS)
    except WeightsNotFoundError as error:
        pytest.skip(str(error))
    speakers = sorted(p for p in (data_root / "librispeech" / "test-other").iterdir() if p.is_dir())
    alice_files = sorted(speakers[0].glob("*.flac"))
    stranger_files = sorted(speakers[2].glob("*.flac"))
    service = build_service(ServiceOptions(db=tmp_path / "real.db", enrollment_speech_seconds=15.0))
    alice = service.create_profile("alice")
    for path in alice_files[:4]:
        service.enroll(alice.id, path, force=True, check_quality=False)
    pause = np.zeros(8000, dtype=np.float32)
    parts = [
        load_audio(alice_files[5]),
        pause,
        load_audio(stranger_files[5]),
        pause,
        load_audio(alice_files[6]),
        pause,
        load_audio(stranger_files[6]),
    ]
    audio = np.concatenate(parts)
    diarizer = SpeakerDiarizer()
    result = diarizer.diarize(service, (audio, 16000))
    labels = [s.label for s in result.speakers]
    assert labels[0] == "alice" and "unknown 1" in labels
    named = result.speaker("alice")
    assert named.profile_id == alice.id and named.score >= 0.7
    # at least 90 % of the first utterance carries alice's name
    first_end = len(parts[0]) / 16000
    covered = sum(
        max(0.0, min(t.end, first_end) - t.start) for t in result.turns if t.label == "alice"
    )
    assert covered >= 0.9 * (first_end - 1.0)
    report = diarizer.enroll_speaker(service, result, "unknown 1", new_profile="bob")
    assert report.profile.name == "bob" and report.clip_net_speech_seconds > 5.0
