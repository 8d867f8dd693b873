"""The agreement gate against hand-computed numbers, conversation minimum scores, and
judge verdicts never reaching human-only readers (leaderboard, exports, crowd agreement)."""

from __future__ import annotations

import asyncio
import json

import krippendorff
import numpy as np
import pytest

from ift_chat.judge import conversation_scores, gate, judge_backend, run_job
from ift_chat.judge.agreement import cohen_kappa
from tests.judge.conftest import add_dialog, spec_for


def verdict(followed, score=None, tags=()):
    return json.dumps({"followed": followed, "score": score, "tags": list(tags), "reason": "r"})


@pytest.fixture
def rated(jstore, judge_server):
    """Six replies rated by two people; the scripted judge grades them (hand-computed below)."""
    judge_server.answers = {"r1": verdict("yes", 5), "r2": verdict("yes", 4), "r3": verdict("no", 1, ["ignored_instruction"]),
                            "r4": verdict("no"), "r5": verdict("partially", 3), "r6": verdict("yes")}
    _, d1 = add_dialog(jstore, "ckpt-a", [("q1", "r1"), ("q2", "r2"), ("q3", "r3")])
    _, d2 = add_dialog(jstore, "ckpt-b", [("q1", "r4"), ("q2", "r5")])
    _, d3 = add_dialog(jstore, "ckpt-b", [("q1", "r6")])
    humans = {"r1": ("yes", ()), "r2": ("no", ("ignored_instruction",)), "r3": ("no", ("ignored_instruction",)),
              "r4": ("no", ()), "r5": ("partial", ())}
    ids = dict(zip(["r1", "r2", "r3", "r4", "r5", "r6"], d1 + d2 + d3))
    for name in ("alice", "bob"):
        rater = jstore.raters.create(name)
        for key, (followed, tags) in humans.items():
            jstore.feedback.rate(ids[key], rater.id, followed, tags=tags)
        jstore.feedback.rate(ids["r6"], rater.id, "yes" if name == "alice" else "no")  # a tie
    spec = spec_for(judge_server, self_checkpoint="ckpt-a")
    return jstore, spec, ids


def judge(store, spec):
    return asyncio.run(run_job(store, judge_backend(spec, None, store.config.limits), spec, scope="all"))


def test_cohen_kappa_by_hand():
    # observed 4/5; chance (2*1 + 2*3 + 1*1)/25 = 9/25 -> (0.8 - 0.36) / 0.64
    assert cohen_kappa(["yes", "yes", "no", "no", "partial"], ["yes", "no", "no", "no", "partial"],
                       ("yes", "partial", "no")) == pytest.approx(0.6875)
    assert cohen_kappa(["yes"], ["yes"], ("yes", "no")) is None
    assert cohen_kappa([], [], ("yes",)) is None


def test_gate_numbers_match_hand_computed_values(rated):
    store, spec, ids = rated
    judge(store, spec)
    g = gate(store, spec.rater_name)
    assert g.overall.n == 5 and g.human_ties == 1
    assert g.overall.kappa == pytest.approx(0.6875)
    assert g.confusion["yes"] == {"yes": 1, "partial": 0, "no": 1}
    assert g.confusion["no"] == {"yes": 0, "partial": 0, "no": 2}
    assert g.confusion["partial"] == {"yes": 0, "partial": 1, "no": 0}
    expected_alpha = krippendorff.alpha(reliability_data=np.array([[2, 2, 0, 0, 1], [2, 0, 0, 0, 1]], float),
                                        value_domain=[0, 1, 2], level_of_measurement="ordinal")
    assert g.overall.alpha == pytest.approx(expected_alpha) and 0 < g.overall.alpha < 1
    lo, hi = g.overall.kappa_ci
    assert -1 <= lo <= g.overall.kappa <= hi <= 1
    # round 1: r1, r4 agree -> 1; round 2: r2 (yes/no), r5 (partial) -> (1/2 - 1/4) / (3/4); round 3: undefined
    assert g.per_round[1].kappa == pytest.approx(1.0)
    assert g.per_round[2].kappa == pytest.approx(1 / 3)
    assert g.per_round[3].n == 1 and g.per_round[3].kappa is None
    # tag ignored_instruction: judge [F F T F F] vs people [F T T F F]: (0.8 - 0.56) / 0.44
    assert g.per_tag["ignored_instruction"].kappa == pytest.approx(6 / 11)
    assert set(g.per_tag) == {"ignored_instruction"}
    # self-preference: judge minus people on its own checkpoint (r1-r3: 0, +1, 0) vs others (0, 0)
    assert g.self_preference["own"] == {"n": 3, "judge_minus_human": pytest.approx(1 / 3)}
    assert g.self_preference["bias"] == pytest.approx(1 / 3)
    assert g.trusted and g.label.startswith("trusted (kappa 0.69")
    strict = gate(store, spec.rater_name, threshold=0.7)
    assert not strict.trusted and strict.label.startswith("not trusted (kappa 0.69 < 0.7")


def test_a_judge_without_human_overlap_is_not_trusted(jstore, judge_server):
    judge_server.default = verdict("yes")
    add_dialog(jstore, "ckpt-a", [("q", "r")])
    spec = spec_for(judge_server)
    judge(jstore, spec)
    g = gate(jstore, spec.rater_name)
    assert g.overall.n == 0 and not g.trusted and g.label.startswith("not trusted (no agreement")


def test_min_over_turns_per_conversation(rated):
    store, spec, ids = rated
    judge(store, spec)
    rows = conversation_scores(store.judges.verdicts(store.judges.rater(spec.rater_name)["rater_id"]))
    by_ckpt = {(r["checkpoint"], r["turns"]): r for r in rows}
    a = by_ckpt[("ckpt-a", 3)]
    assert (a["mean"], a["min"], a["first_break_round"]) == (pytest.approx(10 / 3), 1, 3)
    b = by_ckpt[("ckpt-b", 2)]  # r4: "no" without a score counts 1; r5 partial, score 3
    assert (b["mean"], b["min"], b["first_break_round"]) == (2.0, 1, 1)


def test_judge_verdicts_never_reach_human_only_readers(rated):
    from ift_chat.crowd.agreement import task_ratings
    from ift_chat.dataloop.select import Filters, Selection
    from ift_chat.leaderboard.following import load_ratings

    store, spec, ids = rated

    def human_views():
        selection = [repr(d) for d in Selection(store, Filters()).dialogs()]
        return (load_ratings(store).to_dict("records"), selection, task_ratings(store),
                store.query("select count(*) n from ratings")[0]["n"], store.feedback.ratings_for(ids["r1"]))
    before = human_views()
    judge(store, spec)
    assert store.query("select count(*) n from judge_verdicts")[0]["n"] == 6
    after = human_views()
    assert after == before
    rater_ids = {r["rater_id"] for r in before[0]}
    judge_id = store.judges.rater(spec.rater_name)["rater_id"]
    assert judge_id not in rater_ids and len(rater_ids) == 2


def test_opt_in_judge_curve_comes_with_its_gate(rated):
    from ift_chat.judge.agreement import judge_curve

    store, spec, ids = rated
    judge(store, spec)
    result = judge_curve(store, spec.rater_name)
    assert result.gate.label.startswith("trusted") and result.gate.overall.n == 5
    table = result.table.set_index(["checkpoint", "round"])["followed"].to_dict()
    # ckpt-a: r1 yes, r2 yes, r3 no; ckpt-b: round 1 r4 no and r6 yes, round 2 r5 partial
    assert table == {("ckpt-a", 1): 1.0, ("ckpt-a", 2): 1.0, ("ckpt-a", 3): 0.0,
                     ("ckpt-b", 1): 0.5, ("ckpt-b", 2): 0.5}
