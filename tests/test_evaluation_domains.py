"""Open-set protocols of every domain of the shared data: who is enrolled, what is probed."""

from __future__ import annotations

import pytest

from voxprint.errors import DatasetError
from voxprint.evaluation.domains import (
    DOMAINS,
    ami_turns,
    build_domain,
    domain_group,
    domain_tc100_closed,
    enrolment_count,
    galleries,
    split_speakers,
)
from voxprint.evaluation.transforms import Append, Segment

pytestmark = pytest.mark.data


def test_two_thirds_of_the_speakers_can_be_enrolled_and_the_rest_never_are():
    enrollable, unknown = split_speakers(["c", "a", "b", "f", "e", "d"])
    assert enrollable == ["a", "b", "c", "d"] and unknown == ["e", "f"]
    groups = {"a": "child", "b": "child", "c": "child", "d": "adult", "e": "adult", "f": "adult"}
    enrollable, _ = split_speakers(list(groups), groups)
    assert enrollable == ["a", "b", "d", "e"]  # two thirds of each group


def test_enrolment_takes_first_files_up_to_twenty_seconds_and_at_most_half():
    assert enrolment_count([8.0, 8.0, 8.0, 8.0, 8.0, 8.0]) == 3
    assert enrolment_count([1.0] * 10) == 5
    assert enrolment_count([30.0, 5.0]) == 1


@pytest.mark.parametrize("name", list(DOMAINS))
def test_every_domain_keeps_enrolment_and_probes_apart(name, data_root):
    domain = build_domain(name, data_root)
    enrolled = {key for keys in domain.enrolment.values() for key in keys}
    assert enrolled and domain.probes and not enrolled & set(domain.probes)
    unknown = set(domain.unknown_speakers)
    assert unknown and not unknown & set(domain.enrolment)
    assert all(domain.speaker_of[k] in set(domain.enrolment) | unknown for k in domain.probes)
    again = build_domain(name, data_root)
    assert again.enrolment == domain.enrolment and again.probes == domain.probes


def test_ami_turns_are_single_speaker_stretches_of_two_seconds_or_more(data_root):
    turns = ami_turns(data_root)
    assert len({t.speaker for t in turns}) >= 6
    for turn in turns:
        (segment,) = turn.transforms
        assert isinstance(segment, Segment) and segment.end - segment.start >= 2.0


def test_fsdd_pin_probes_say_five_digits_of_one_speaker(data_root):
    domain = build_domain("fsdd-pin", data_root)
    probe = next(i for i in domain.items if i.key in set(domain.probes))
    (append,) = probe.transforms
    assert isinstance(append, Append) and len(append.paths) == 4
    assert all(path.parent.name == probe.speaker for path in append.paths)


def test_speechocean_children_and_adults_can_be_scored_apart(data_root):
    domain = build_domain("speechocean762", data_root)
    children = domain_group(domain, "child")
    assert set(children.enrolment) < set(domain.enrolment)
    assert all(domain.groups[domain.speaker_of[k]] == "child" for k in children.probes)
    with pytest.raises(DatasetError):
        domain_group(domain, "robots")


def test_galleries_are_seeded_draws_or_everyone(data_root):
    domain = build_domain("speechcommands", data_root)
    assert galleries(domain, 2) == galleries(domain, 2)
    assert all(len(g) == 2 for g in galleries(domain, 2))
    assert galleries(domain, 10_000) == [domain.enrollable]


def test_the_earlier_librispeech_check_enrols_all_251_speakers(data_root):
    domain = domain_tc100_closed(data_root)
    assert len(domain.enrolment) == 251 and len(domain.unknown_speakers) == 10


def test_an_unknown_domain_is_refused(data_root):
    with pytest.raises(DatasetError, match="unknown domain"):
        build_domain("klingon", data_root)
