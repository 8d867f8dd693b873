"""The hand-written cases: each detected constraint, its scope and its strict/loose verdict."""

from __future__ import annotations

import pytest

from ift_chat.checks import explain
from tests.checks.cases_multi import CASES as MULTI
from tests.checks.cases_single import CASES as SINGLE


def _got(result: dict, with_loose: bool, with_turn: bool) -> list[tuple]:
    out = []
    for c in result["constraints"]:
        row = (c["kind"], c["passed"])
        if with_turn:
            row += (c["source_turn"],)
        out.append(row + ((c["passed_loose"],) if with_loose else ()))
    return sorted(out, key=repr)


@pytest.mark.parametrize("case_id, instruction, reply, expected", SINGLE, ids=[c[0] for c in SINGLE])
def test_single_turn(case_id, instruction, reply, expected):
    result = explain(instruction, reply, [])
    # the loose verdict is asserted where the case gives it; loose is never stricter
    want_plain = sorted(((k, s) for k, s, *_ in expected), key=repr)
    assert _got(result, False, False) == want_plain, result
    for kind, strict, *loose in expected:
        if loose:
            matching = [c for c in result["constraints"] if c["kind"] == kind]
            assert [c["passed_loose"] for c in matching] == loose, result
    for c in result["constraints"]:
        assert c["passed_loose"] or not c["passed"]
        assert c["detail"]
    assert result["followed"] == (None if not expected else all(s for _, s, *_ in expected))


@pytest.mark.parametrize("case_id, earlier, instruction, reply, expected", MULTI, ids=[c[0] for c in MULTI])
def test_multi_turn(case_id, earlier, instruction, reply, expected):
    history = [{"user": text, "assistant": "..."} for text in earlier]
    result = explain(instruction, reply, history)
    assert _got(result, False, True) == sorted(expected, key=repr), result
    for c in result["constraints"]:  # only persistent constraints carry over from earlier turns
        assert c["persistent"] or c["source_turn"] == len(earlier)


def test_there_are_at_least_150_hand_written_cases():
    ids = [c[0] for c in SINGLE] + [c[0] for c in MULTI]
    assert len(ids) >= 150
    assert len(set(ids)) == len(ids)
