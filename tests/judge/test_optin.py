"""A judge used only on opt-in, always with its agreement: the leaderboard's per-round curve,
exports (labels / filter, refused when not trusted), reply badges, and pairwise vs people's votes."""

from __future__ import annotations

import json

import pytest

from ift_chat.dataloop.exports import run_export
from ift_chat.dataloop.select import JUDGE_LABELLED, SKIP_JUDGE_VETO, Filters
from ift_chat.errors import NotFound, ValidationError
from ift_chat.judge.agreement import pair_agreement, pair_vote_agreement, vote_majority
from ift_chat.judge.optin import badges, opt_in, resolve, rounds_beside
from ift_chat.judge.parse import parse_pair, parse_single
from ift_chat.leaderboard.following import RatingFilters, by_round, load_ratings
from ift_chat.ui.render import chat_messages, judge_badge
from tests.judge.conftest import add_battle, add_dialog, spec_for
from tests.judge.test_agreement import judge, rated, verdict  # noqa: F401 (fixture)
from tests.judge.test_pairwise import run_pairs


def test_parse_single_and_pair_share_one_path():
    assert parse_single('noise {"followed": "partially", "score": 3, "tags": ["ignored_instruction", "x"]}') \
        .__dict__ | {} == {"status": "ok", "parse": "json", "followed": "partial", "score": 3,
                           "tags": ("ignored_instruction",), "reason": None, "winner": None}
    fallback = parse_single("Verdict: no\nscore: 2\nreason: skipped round 2")
    assert (fallback.parse, fallback.followed, fallback.score, fallback.reason) == ("fallback", "no", 2,
                                                                                    "skipped round 2")
    assert parse_single("I think it is fine").status == "unparsable"
    assert parse_single('{"followed": "maybe"}').status == "unparsable"  # JSON without a label, no fallback
    assert (parse_pair('{"winner": "b", "reason": "r"}').winner, parse_pair("[[C]]").winner) == ("B", "tie")
    assert parse_pair("both are nice").status == "unparsable"


def test_leaderboard_curve_with_judge_beside_people(rated):  # noqa: F811
    store, spec, ids = rated
    judge(store, spec)
    human = by_round(load_ratings(store))
    table, choice = rounds_beside(store, "stub", human)  # the bare judge name resolves (one rubric)
    rows = {(r["checkpoint"], r["round"]): r for r in table.to_dict("records")}
    # people (mean of alice and bob): ckpt-a r1 yes, r2 no, r3 no; ckpt-b r1 (r4 no, r6 yes/no) r2 partial
    assert rows[("ckpt-a", 2)]["followed"] == 0.0 and rows[("ckpt-a", 2)]["judge_followed"] == 1.0
    assert rows[("ckpt-b", 1)]["followed"] == 0.25 and rows[("ckpt-b", 1)]["judge_followed"] == 0.5
    assert rows[("ckpt-b", 1)]["judge_responses"] == 2
    assert set(table["judge"]) == {"judge stub (trusted, kappa 0.69): trusted (kappa 0.69 >= 0.6 vs people, n=5)"}
    assert list(table.columns[:6]) == list(human.columns)  # people's columns unchanged, first
    strict = rounds_beside(store, spec.rater_name, human, threshold=0.7)[0]
    assert strict["judge"].iloc[0].startswith("judge stub (not trusted, kappa 0.69): not trusted")
    only_b = rounds_beside(store, "stub", human, RatingFilters(checkpoints=("ckpt-b",)))[0]
    assert only_b.dropna(subset=["judge_followed"])["checkpoint"].unique().tolist() == ["ckpt-b"]
    with pytest.raises(NotFound):
        resolve(store, "nobody")


def test_a_judge_without_people_to_compare_is_labelled_not_trusted(jstore, judge_server):
    judge_server.default = verdict("no")
    add_dialog(jstore, "ckpt-a", [("q", "r")])
    spec = spec_for(judge_server)
    judge(jstore, spec)
    table, choice = rounds_beside(jstore, "stub", by_round(load_ratings(jstore)))
    assert table["followed"].isna().all() and table["judge_followed"].tolist() == [0.0]
    assert "not trusted (no agreement measured yet: 0 replies" in table["judge"].iloc[0]
    assert not choice.gate.trusted


def _export(store, tmp_path, name, **filters):
    return run_export(store, "sharegpt", tmp_path / name, Filters(**{"split": "all", "min_raters": 1, **filters}))


def test_export_uses_a_judge_only_on_opt_in_with_its_agreement_recorded(rated, tmp_path, judge_server):  # noqa: F811
    store, spec, ids = rated
    judge_server.answers["unrated reply"] = verdict("yes", 4)
    _, extra = add_dialog(store, "ckpt-b", [("unrated q", "unrated reply")])  # no person rated it
    judge(store, spec)
    people = _export(store, tmp_path, "people")
    assert "judge" not in people.report["choices"]
    assert "unrated reply" not in (people.path / "data.json").read_text()  # human-only by default
    labelled = _export(store, tmp_path, "labelled", judge="stub")
    choice = labelled.report["choices"]["judge"]
    assert (choice["rater"], choice["rubric_hash"], choice["trusted"]) == (spec.rater_name, spec.rubric_hash, True)
    assert choice["kappa"] == pytest.approx(0.6875) and choice["overlap_with_people"] == 5
    assert choice["use"] == "label" and choice["warning"] is None and choice["kappa_ci"] is not None
    assert labelled.report["notes"][JUDGE_LABELLED] == 1
    assert "unrated reply" in (labelled.path / "data.json").read_text()
    sidecar = [json.loads(line) for line in (labelled.path / "provenance.jsonl").read_text().splitlines()]
    verdict_id = store.query("select id from judge_verdicts where response_id = ?", extra)[0]["id"]
    assert [p["judge_verdicts"] for p in sidecar if "judge_verdicts" in p] == [[verdict_id]]
    record = json.loads(store.query("select filters from exports where id = ?", [labelled.id])[0]["filters"])
    assert record["judge"] == "stub" and record["judge_use"] == "label"


def test_export_judge_filter_vetoes_what_people_passed(rated, tmp_path, judge_server):  # noqa: F811
    store, spec, ids = rated
    judge_server.answers["r7"] = verdict("no")
    _, (r7,) = add_dialog(store, "ckpt-b", [("q", "r7 reply")])
    for name in ("alice", "bob"):
        store.feedback.rate(r7, store.raters.by_name(name).id, "yes")  # people pass it, the judge does not
    judge(store, spec)
    people = _export(store, tmp_path, "people", min_raters=2)
    assert "r7 reply" in (people.path / "data.json").read_text()
    with pytest.raises(ValidationError, match="not trusted"):  # kappa 10/22 now
        _export(store, tmp_path, "vetoed", judge="stub", judge_use="filter", min_raters=2)
    vetoed = _export(store, tmp_path, "vetoed", judge="stub", judge_use="filter", min_raters=2,
                     allow_untrusted_judge=True)
    assert vetoed.report["choices"]["judge"]["kappa"] == pytest.approx(10 / 22)
    assert vetoed.report["skipped"][SKIP_JUDGE_VETO] == 1
    text = (vetoed.path / "data.json").read_text()
    assert "r7 reply" not in text and "r1" in text  # r1: people yes, judge yes


def test_export_refuses_an_untrusted_judge_unless_allowed(rated, tmp_path):  # noqa: F811
    store, spec, ids = rated
    judge(store, spec)
    store.judges.record_verdict(ids["r5"], store.judges.rater(spec.rater_name)["rater_id"], "own",
                                {"status": "ok", "followed": "yes", "tags": []})  # now kappa < 0.6
    assert not opt_in(store, "stub").gate.trusted
    with pytest.raises(ValidationError, match="not trusted .*--allow-untrusted-judge"):
        _export(store, tmp_path, "refused", judge="stub")
    assert not (tmp_path / "refused").exists()
    assert store.query("select count(*) n from exports")[0]["n"] == 0
    allowed = _export(store, tmp_path, "allowed", judge="stub", allow_untrusted_judge=True)
    choice = allowed.report["choices"]["judge"]
    assert choice["trusted"] is False and choice["warning"].startswith("WARNING: judge:stub@")
    assert "not trusted (kappa" in choice["label"]


def test_badge_beside_a_rating_with_the_trust_label(rated):  # noqa: F811
    store, spec, ids = rated
    judge(store, spec)
    shown = badges(store, [ids["r3"]])[ids["r3"]]
    assert shown[0]["followed"] == "no" and shown[0]["label"].startswith("trusted (kappa 0.69")
    text = judge_badge(shown)
    assert text == "judge stub: ❌ not followed · 1/5 (trusted (kappa 0.69 >= 0.6 vs people, n=5))"
    hostile = judge_badge([{**shown[0], "judge": "<img src=x onerror=alert(1)>"}])
    from ift_chat.ui.render import reply_html
    html = reply_html("hi", "ok", None, judge=hostile)
    assert "<img" not in html and "&lt;img" in html
    conversation = store.query("select t.conversation_id c from responses r join turns t on t.id = r.turn_id "
                               "where r.id = ?", [ids["r1"]])[0]["c"]
    alice = store.raters.by_name("alice").id
    rated_view = json.dumps(chat_messages(store, conversation, "single", alice), ensure_ascii=False)
    assert "⚖ judge stub: ✅ followed · 5/5 (trusted" in rated_view and "rated: ✅ followed" in rated_view
    carol = store.raters.create("carol").id  # has not rated: the judge cannot anchor her rating
    assert "⚖ judge" not in json.dumps(chat_messages(store, conversation, "single", carol), ensure_ascii=False)


def test_vote_majority_and_pairwise_agreement_by_hand():
    assert vote_majority(["A", "A", "B"]) == "A" and vote_majority(["both_bad", "tie", "A"]) == "tie"
    assert vote_majority(["A", "B"]) is None
    rows = [{"judge_winner": j, "human_winners": json.dumps(h)} for j, h in (
        ("A", ["A"]), ("A", ["A", "A", "B"]), ("B", ["B"]), ("B", ["A"]), ("tie", ["both_bad"]), ("A", ["A", "B"]))]
    out = pair_vote_agreement(rows)
    # kept 5 (the last split); observed 4/5; judge A2 B2 tie1, people A3 B1 tie1: chance (6+2+1)/25
    assert out["n"] == 5 and out["human_splits"] == 1
    assert out["confusion"]["B"] == {"A": 1, "B": 1, "tie": 0}
    assert out["matches_majority"] == pytest.approx(0.8)
    assert out["kappa"] == pytest.approx((0.8 - 9 / 25) / (1 - 9 / 25))


def test_pairwise_verdicts_vs_people_votes_from_the_store(jstore, judge_server):
    judge_server.good = ("GOOD",)
    _, turns = add_battle(jstore, "ckpt-a", "ckpt-b", [("q1", "GOOD a", "bad b"), ("q2", "bad a", "GOOD b"),
                                                       ("q3", "GOOD x", "bad y")])
    spec = spec_for(judge_server)
    run_pairs(jstore, spec)  # judge: A, B, A (position-consistent)
    ann, bob = jstore.raters.create("ann").id, jstore.raters.create("bob").id
    for turn, votes in zip(turns, (("A", "A"), ("A", "A"), ("A", "B"))):
        for rater, winner in zip((ann, bob), votes):
            jstore.feedback.vote(turn, rater, winner, anonymous=False)
    out = pair_agreement(jstore, spec.rater_name)
    assert (out["n"], out["human_splits"], out["matches_majority"]) == (2, 1, 0.5)
    assert out["confusion"]["A"]["A"] == 1 and out["confusion"]["B"]["A"] == 1


def test_judges_tab_table_of_pairwise_vs_votes():
    from ift_chat.ui.judge_tab import pair_vote_lines

    rows = [{"judge_winner": j, "human_winners": json.dumps(h)} for j, h in (("A", ["A"]), ("B", ["A"]))]
    text = "\n".join(pair_vote_lines(pair_vote_agreement(rows)))
    assert "2 arena turns" in text and "people's majority on 50% of turns" in text
    assert "| A | 1 | 0 | 0 |" in text and "| B | 1 | 0 | 0 |" in text
