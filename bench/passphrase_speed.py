"""Speed of passphrase verification end to end, with the real models.

Usage:
    .venv/bin/python bench/passphrase_speed.py [--repeats 20]
    .venv/bin/python bench/passphrase_speed.py --challenge [--recognizer auto]

A text-dependent profile is enrolled from three espeak-ng clips of "my voice is my
passport verify me" (synthetic audio is fine for timing, never for accuracy), then the
same kind of clip is verified ``--repeats`` times: decode, VAD, phrase check and voice
(CAM++) together, as ``PassphraseService.verify`` runs them. The phrase check alone is
timed too. With ``--challenge``, a text-independent profile is enrolled from espeak-ng
sentences instead, and each repeat answers a fresh 4-6 digit challenge (synthesised
before the clock starts), with the recogniser ``--recognizer`` names (default: the
service's default). Needs espeak-ng.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from phrase_data import synthesize
from voxprint.bootstrap import ServiceOptions, build_service
from voxprint.passphrase import DEFAULT_RECOGNIZER, RECOGNIZERS, load_recognizer
from voxprint.passphrase.audio import phrase_audio
from voxprint.passphrase.challenges import competitors_of
from voxprint.passphrase.phrases import EN_US_PHRASES
from voxprint.passphrase.service import PassphraseService, passphrase_competitors
from voxprint.passphrase.sphinx import SphinxRecognizer
from voxprint.store.records import ProfileKind

PHRASE = "my voice is my passport verify me"


#: Read aloud by espeak-ng to enrol the text-independent profile of ``--challenge``.
ENROLMENT_TEXT = (
    "The quick brown fox jumps over the lazy dog near the river bank. "
    "She sells sea shells by the sea shore while the children play. "
    "A journey of a thousand miles begins with a single step forward. "
    "Every morning the baker opens his shop before the sun comes up. "
    "The library keeps old maps of the city in a room on the top floor."
)


def challenge_speed(repeats: int, recognizer_name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        core = build_service(ServiceOptions(db=Path(folder) / "speed.db"))
        recognizer = load_recognizer(recognizer_name)
        passphrases = PassphraseService(core, recognizer)
        profile = passphrases.create_profile("speed").profile
        for speed in (140, 170):
            passphrases.enroll(profile.id, (synthesize(ENROLMENT_TEXT, "en-us", speed), 16000))
        whole, check, seconds = [], [], []
        for i in range(repeats + 1):  # the first one warms up (loads the model)
            challenge = passphrases.create_challenge()
            alone = synthesize(challenge.phrase, "en-us", 150)
            answer = synthesize(challenge.phrase, "en-us", 160)  # not in the transcript cache
            audio = phrase_audio(alone, core.pipeline.vad.detect(alone), 16000)
            started = time.perf_counter()
            recognizer.check(audio, challenge.phrase, competitors_of(challenge), max_word_errors=1)
            took_check = time.perf_counter() - started
            started = time.perf_counter()
            passphrases.verify(profile.id, (answer, 16000), challenge_id=challenge.id)
            took = time.perf_counter() - started
            if i:
                whole.append(took)
                check.append(took_check)
                seconds.append(len(answer) / 16000)
        core.store.close()
    print(
        f"recogniser: {recognizer.name}; {repeats} challenges, answers of "
        f"{statistics.median(seconds):.2f} s (median)"
    )
    print(
        "verify with a challenge (decode, VAD, phrase check, CAM++, decision): "
        f"median {statistics.median(whole):.3f} s"
    )
    print(f"phrase check alone: median {statistics.median(check):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--challenge", action="store_true")
    parser.add_argument("--recognizer", default=DEFAULT_RECOGNIZER, choices=sorted(RECOGNIZERS))
    args = parser.parse_args()
    if args.challenge:
        challenge_speed(args.repeats, args.recognizer)
        return
    with tempfile.TemporaryDirectory() as folder:
        core = build_service(ServiceOptions(db=Path(folder) / "speed.db"))
        passphrases = PassphraseService(core, SphinxRecognizer())
        profile = passphrases.create_profile("speed", kind=ProfileKind.TEXT_DEPENDENT).profile
        for speed in (150, 160, 175):
            passphrases.enroll(profile.id, (synthesize(PHRASE, "en-us", speed), 16000))
        probe = synthesize(PHRASE, "en-us", 165)
        passphrases.verify(profile.id, (probe, 16000))  # warm up (decoder, model)
        whole, check = [], []
        audio = phrase_audio(probe, core.pipeline.vad.detect(probe), 16000)
        competitors = passphrase_competitors(EN_US_PHRASES, PHRASE)
        for _ in range(args.repeats):
            started = time.perf_counter()
            passphrases.verify(profile.id, (probe, 16000))
            whole.append(time.perf_counter() - started)
            started = time.perf_counter()
            passphrases.recognizer.check(audio, PHRASE, competitors)
            check.append(time.perf_counter() - started)
        core.store.close()
    seconds = len(probe) / 16000
    print(f"clip: {seconds:.2f} s of audio; {args.repeats} repeats")
    median = statistics.median(whole)
    print(
        f"verify (decode, VAD, phrase check, CAM++, decision): median {median:.3f} s, "
        f"real-time factor {median / seconds:.2f}"
    )
    print(f"phrase check alone: median {statistics.median(check):.3f} s")


if __name__ == "__main__":
    main()
