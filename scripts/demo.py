"""The voxprint demo: enrol LibriSpeech speakers, then identify and verify held-out files.

Run by ``bash setup.sh``; on its own: ``.venv/bin/python scripts/demo.py [--db PATH]``.

* Eight of the ten ``test-other`` speakers are enrolled from their first files,
  clip by clip, until each profile holds 20 s of net speech.
* Every file not used for enrolment is then identified (1:N, open set). Files
  of the two speakers never enrolled should come back "unknown".
* Each enrolled speaker's first held-out file is verified (1:1) against its own
  profile (should accept) and against the next speaker's profile (should reject).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from voxprint.bootstrap import ServiceOptions, build_service
from voxprint.decision import Decision
from voxprint.errors import VoxprintError
from voxprint.evaluation.datasets import speaker_folders
from voxprint.settings import default_data_root
from voxprint.store.records import EnrollmentStatus

ENROLLED_SPEAKERS = 8


def main() -> int:
    parser = argparse.ArgumentParser(description="voxprint demo on LibriSpeech test-other")
    parser.add_argument("--db", type=Path, help="database file (default: a temporary one)")
    parser.add_argument("--model", default="campplus", help="campplus or ge2e")
    args = parser.parse_args()

    root = default_data_root() / "librispeech" / "test-other"
    if not root.is_dir():
        print(f"demo data not found at {root}; set VOXPRINT_DATA to the shared data folder")
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        db = args.db or Path(scratch) / "demo.db"
        try:
            return run_demo(root, ServiceOptions(db=db, model=args.model))
        except VoxprintError as error:
            print(f"error: {error.message}", file=sys.stderr)
            return 1


def run_demo(root: Path, options: ServiceOptions) -> int:
    service = build_service(options)
    speakers = speaker_folders(root)
    names = sorted(speakers)
    enrolled_names, strangers = names[:ENROLLED_SPEAKERS], names[ENROLLED_SPEAKERS:]
    held_out: dict[str, list[Path]] = {name: list(speakers[name]) for name in strangers}
    profiles = {}

    print(f"== Enrolling {len(enrolled_names)} speakers ({options.model}) ==")
    for name in enrolled_names:
        profile = service.create_profile(name)
        files = list(speakers[name])
        while files:
            report = service.enroll(profile.id, files.pop(0), label=name)
            if report.status is EnrollmentStatus.ENROLLED:
                break
        print(
            f"  {name}: {report.profile.clip_count} clips, {report.net_speech_seconds:.1f} s "
            f"net speech -> {report.status.value}"
        )
        profiles[name] = profile
        held_out[name] = files

    print("\n== Identifying held-out files (open set) ==")
    correct = total = 0
    for truth, files in held_out.items():
        expected = truth if truth in profiles else "unknown"
        answers = []
        for path in files:
            result = service.identify(path)
            answers.append(result.identified.name if result.identified else "unknown")
        hits = sum(answer == expected for answer in answers)
        correct, total = correct + hits, total + len(files)
        wrong = sorted({a for a in answers if a != expected})
        note = f"  (also answered: {', '.join(wrong)})" if wrong else ""
        who = "never enrolled" if expected == "unknown" else "enrolled"
        print(f"  speaker {truth} ({who}): {hits}/{len(files)} files -> {expected}{note}")
    print(f"  {correct}/{total} answered correctly")

    print("\n== Verifying claims ==")
    verified = claims = 0
    for i, name in enumerate(enrolled_names):
        if not held_out[name]:
            continue
        probe = held_out[name][0]
        other = enrolled_names[(i + 1) % len(enrolled_names)]
        for claim, expected in ((name, Decision.ACCEPT), (other, Decision.REJECT)):
            result = service.verify(profiles[claim].id, probe)
            ok = result.decision is expected
            verified += ok
            claims += 1
            print(
                f"  {'ok ' if ok else 'MISS'} {probe.name} claims {claim:<6} -> "
                f"{result.decision.value} (score {result.score:.2f})"
            )
    print(f"  {verified}/{claims} decisions correct")
    return 0


if __name__ == "__main__":
    sys.exit(main())
