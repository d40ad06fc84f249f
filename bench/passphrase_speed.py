"""Speed of passphrase verification end to end, with the real models.

Usage:
    .venv/bin/python bench/passphrase_speed.py [--repeats 20]

A text-dependent profile is enrolled from three espeak-ng clips of "my voice is my
passport verify me" (synthetic audio is fine for timing, never for accuracy), then the
same kind of clip is verified ``--repeats`` times: decode, VAD, phrase check and voice
(CAM++) together, as ``PassphraseService.verify`` runs them. The phrase check alone is
timed too. Needs espeak-ng.
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
from voxprint.passphrase.audio import phrase_audio
from voxprint.passphrase.phrases import EN_US_PHRASES
from voxprint.passphrase.service import PassphraseService, passphrase_competitors
from voxprint.passphrase.sphinx import SphinxRecognizer
from voxprint.store.records import ProfileKind

PHRASE = "my voice is my passport verify me"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
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
