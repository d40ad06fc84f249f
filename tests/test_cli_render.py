"""The CLI's text for phrase checks: what was heard, and how a pass within the allowed
word errors is worded."""

from dataclasses import replace
from datetime import UTC, datetime

from voxprint.cli.render import activity_line, identification_text, phrase_text
from voxprint.decision import DecisionReason, SourceKind, ThresholdSource
from voxprint.passphrase.recognizer import PhraseMatch, PhraseReason
from voxprint.service import Candidate, IdentificationResult
from voxprint.store.records import ActivityEntry


def match(heard, accepted, errors, reason=PhraseReason.MATCH):
    return PhraseMatch("six two eight one four", heard, accepted, reason, errors, 1.0, 200)


def test_a_phrase_heard_exactly_is_said():
    text = phrase_text(match("six two eight one four", True, 0))
    assert text == 'phrase "six two eight one four" said; heard "six two eight one four"'


def test_a_pass_with_a_word_heard_wrong_says_so_instead_of_said():
    """Found in a walkthrough: "said; heard 'six two seven one four'" read as a
    contradiction."""
    text = phrase_text(match("six two seven one four", True, 1))
    assert "taken as said" in text and "1 word off" in text
    assert '"six two seven one four"' in text


def test_a_refused_phrase_names_the_reason_and_what_was_heard():
    wrong = phrase_text(match("one two three four", False, 3, PhraseReason.OTHER_PHRASE))
    assert wrong.endswith('not said (other_phrase); heard "one two three four"')
    silent = phrase_text(match(None, False, -1, PhraseReason.UNRECOGNIZED))
    assert silent.endswith("heard nothing recognisable")


def test_an_unknown_answer_for_a_voice_that_does_not_stand_out_says_so_not_that_nobody_reached():
    closest = Candidate("p1", "ada", 0.62, 0.93)
    result = IdentificationResult(
        candidates=(closest, Candidate("p2", "bob", 0.55, 0.04)),
        identified=None,
        threshold=0.7,
        gallery_size=12,
        net_speech_seconds=4.0,
        reason=DecisionReason.LOOK_ALIKE,
        source=ThresholdSource(SourceKind.ADAPTED, "adapted"),
        unknown_probability=0.03,
    )
    text = identification_text(result)
    assert text.startswith("unknown speaker: closest 'ada' (0.93)")
    assert "does not stand out" in text and "reaches" not in text


def test_a_logged_decision_shows_its_score_as_the_decision_did():
    """Found in a walkthrough: `verify` said "score 0.268" for a rejected claim and
    `activity` showed the same entry as 0.269."""
    when = datetime(2026, 12, 8, tzinfo=UTC)
    rejected = ActivityEntry(1, when, "default", "verify", "p1", "reject", 0.26894)
    accepted = ActivityEntry(2, when, "default", "verify", "p1", "accept", 0.99961)
    unknown = ActivityEntry(3, when, "default", "identify", None, "unknown", 0.8999)
    names = {"p1": "ada"}
    assert "score 0.268" in activity_line(rejected, names)
    assert "score 1.000" in activity_line(accepted, names)
    assert "score 0.899" in activity_line(unknown, names)


def test_an_unknown_answer_never_shows_a_candidate_rounded_up_to_the_bar():
    result = IdentificationResult(
        candidates=(Candidate("p1", "ada", 0.70, 0.8999), Candidate("p2", "bob", 0.1, 0.01)),
        identified=None,
        threshold=0.9,
        gallery_size=2,
        net_speech_seconds=4.0,
        reason=DecisionReason.NO_MATCH,
        source=ThresholdSource(SourceKind.ADAPTED, "adapted"),
        unknown_probability=0.1,
    )
    text = identification_text(result)
    assert "score 0.899" in text and "score 0.900" not in text
    named = replace(result, identified=result.candidates[0], reason=DecisionReason.MATCH)
    assert identification_text(named).startswith("ada  score 0.900")
