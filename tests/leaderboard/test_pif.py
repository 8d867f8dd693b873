"""PIF, prompt-level accuracy, PIF-N-K and auto-vs-human agreement on a small stored fixture,
against values computed by hand (verdicts are stored as given, not by the checker)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import cohen_kappa_score

from ift_chat.leaderboard import ReportOptions, build_report
from ift_chat.leaderboard.following import RatingFilters, load_ratings
from ift_chat.leaderboard.pif import (agreement, auto_vs_human, cohen_kappa, human_labels, load_checks,
                                      per_reply, pif_n_k, pif_table, ratio_interval)


@pytest.fixture
def checked(arena):
    """ck-a, 3 rounds rated yes / no / -:  r1 word_count ✓✓, no_commas ✗ (loose ✓);  r2 one_word ✗✗;
    r3 no constraint (no rows).  ck-b, 2 rounds rated yes / partial:  r1 lowercase ✓✓;
    r2 lowercase ✓✓, json ✗✗."""
    for name in ("ck-a", "ck-b"):
        arena.checkpoint(name)
    a = arena.dialog("ck-a", [["yes"], ["no"], []])
    arena.checks(a[0], [("word_count", True, True), ("no_commas", False, True)])
    arena.checks(a[1], [("one_word", False, False)])
    b = arena.dialog("ck-b", [["yes"], ["partial"]])
    arena.checks(b[0], [("lowercase", True, True)])
    arena.checks(b[1], [("lowercase", True, True), ("json", False, False)])
    return arena


def wilson(p, n, ci=0.95):
    z = norm.ppf(0.5 + ci / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_pif_and_prompt_level_accuracy_by_hand(checked):
    replies = per_reply(load_checks(checked.store))
    assert len(replies) == 4  # the unconstrained round has no rows, so it is not a checked reply
    by_round = pif_table(replies).set_index(["checkpoint", "round"])
    assert by_round.loc[("ck-a", 1), ["pif", "pif_loose", "prompt_strict", "prompt_loose"]].tolist() == [0.5, 1, 0, 1]
    assert by_round.loc[("ck-a", 2), ["pif", "prompt_strict", "constraints"]].tolist() == [0, 0, 1]
    assert by_round.loc[("ck-b", 2), ["pif", "prompt_strict", "prompt_loose"]].tolist() == [0.5, 0, 0]
    overall = pif_table(replies, per_round=False).set_index("checkpoint")
    assert overall.loc["ck-a", "pif"] == pytest.approx(1 / 3)
    assert overall.loc["ck-a", "pif_loose"] == pytest.approx(2 / 3)
    assert overall.loc["ck-a", ["prompt_strict", "prompt_loose", "replies", "constraints"]].tolist() == [0, 0.5, 2, 3]
    assert overall.loc["ck-b", "pif"] == pytest.approx(2 / 3) and overall.loc["ck-b", "prompt_strict"] == 0.5
    # ck-b's PIF interval: replies (1 of 1), (1 of 2); ratio variance
    # ((1 - 2/3)^2 + (1 - 4/3)^2) / (1.5^2 * 2 * 1) = 4/81, so n_eff = (2/9) / (4/81) = 4.5.
    low, high = wilson(2 / 3, 4.5)
    assert overall.loc["ck-b", ["pif_lower", "pif_upper"]].tolist() == pytest.approx([low, high])
    low, high = wilson(0.5, 2)
    assert overall.loc["ck-b", ["prompt_strict_lower", "prompt_strict_upper"]].tolist() == pytest.approx([low, high])


def test_ratio_interval_edges():
    share, low, high = ratio_interval([2, 3], [2, 3])  # everything followed: no spread
    assert share == 1 and high == 1 and low == pytest.approx(wilson(1.0, 2)[0])
    assert ratio_interval([1], [4])[0] == 0.25


def test_pif_n_k_over_replay_samples(arena):
    """One eval item replayed 3 times on ck-a (2 rounds): round 1 followed by 2 of 3 samples,
    round 2 by 1 of 3; one chat reply (not a replay) never counts."""
    arena.checkpoint("ck-a")
    evals = arena.store.eval_sets
    suite = evals.create("suite")
    evals.add_items(suite.id, [("x", [{"text": "One word."}, {"text": "Now in French."}])])
    item = evals.items(suite.id)[0]
    verdicts = [(True, False), (True, False), (False, True)]
    for first, second in verdicts:
        r1, r2 = arena.dialog("ck-a", [[], []], mode="replay", eval_item_id=item.id)
        arena.checks(r1, [("one_word", first, first)])
        arena.checks(r2, [("language", second, second)])
    arena.checks(arena.dialog("ck-a", [[]])[0], [("one_word", False, False)])
    replies = per_reply(load_checks(arena.store))
    pooled = pif_n_k(replies)
    assert pooled[["N", "K", "items", "share"]].values.tolist() == [[3, 1, 2, 1.0], [3, 2, 2, 0.5], [3, 3, 2, 0.0]]
    per_round = pif_n_k(replies, per_round=True)
    first = per_round[per_round["round"] == 1]
    assert first["share"].tolist() == [1.0, 1.0, 0.0] and first["items"].tolist() == [1, 1, 1]
    report = build_report(arena.store, ReportOptions(rounds=0))
    assert report.views.pif_n_k[report.views.pif_n_k["round"] == "all"]["share"].tolist() == [1.0, 0.5, 0.0]


def test_agreement_with_human_ratings_by_hand(checked):
    checks = load_checks(checked.store)
    labels = human_labels(load_ratings(checked.store))
    table = agreement(checks, labels).set_index("kind")
    # auto (all followed) vs human yes: a1 ✗/yes, a2 ✗/no, b1 ✓/yes, b2 ✗/partial
    overall = table.loc["all"]
    assert overall[["replies", "auto_pass_human_yes", "auto_fail_human_yes", "auto_fail_human_no",
                    "auto_fail_human_partial"]].tolist() == [4, 1, 1, 1, 1]
    assert overall["agreement"] == 0.75 and overall["kappa"] == pytest.approx(0.5)
    assert overall["kappa"] == pytest.approx(cohen_kappa_score([0, 0, 1, 0], [1, 0, 1, 0]))
    lower = table.loc["lowercase"]  # passed on b1 (yes) and b2 (partial)
    assert lower[["replies", "auto_pass_human_yes", "auto_pass_human_partial"]].tolist() == [2, 1, 1]
    assert lower["kappa"] == pytest.approx(cohen_kappa_score([1, 1], [1, 0]))
    assert list(table.index) == ["all", "json", "lowercase", "no_commas", "one_word", "word_count"]


def test_kappa_matches_sklearn_and_is_undefined_for_one_label():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.random(30) < 0.6, rng.random(30) < 0.4
        assert cohen_kappa(x, y) == pytest.approx(cohen_kappa_score(x, y))
    assert np.isnan(cohen_kappa([True, True], [True, True]))


def test_programmatic_vs_human_curve(checked):
    ratings = load_ratings(checked.store)
    table = auto_vs_human(per_reply(load_checks(checked.store)), ratings)
    a = table[table["checkpoint"] == "ck-a"].set_index(["source", "round"])["followed"]
    assert a.to_dict() == {("automatic", 1): 0.0, ("automatic", 2): 0.0, ("human", 1): 1.0, ("human", 2): 0.0}
    assert ((table["lower"] <= table["followed"]) & (table["followed"] <= table["upper"])).all()
    only_b = load_checks(checked.store, RatingFilters(checkpoints=("ck-b",)))
    assert set(only_b["checkpoint"]) == {"ck-b"} and len(only_b) == 3


def test_report_carries_the_automatic_views(checked, tmp_path):
    from ift_chat.leaderboard import write_report

    report = build_report(checked.store, ReportOptions(rounds=0))
    assert report.summary()["checked_replies"] == 4
    summary = write_report(report, tmp_path / "r", png=False)
    out = tmp_path / "r"
    for name in ("pif", "pif_by_round", "pif_n_k", "auto_vs_human", "check_agreement"):
        assert (out / f"{name}.csv").exists()
    index = (out / "index.html").read_text()
    assert "Automatic instruction checks" in index and "Cohen" in index and summary["checked_replies"] == 4


def test_views_from_the_real_checker(arena):
    """Verdicts written by `checks run` itself: a persistent lowercase rule stated in round 1;
    ck-keeps follows it in every round, ck-drops from round 2 on."""
    from ift_chat.checks import run_checks

    for name in ("ck-keeps", "ck-drops"):
        arena.checkpoint(name)
    users = ["From now on, answer in all lowercase letters. What is 2+2?", "Name a fruit.", "Name a city."]
    replies = {"ck-keeps": ["four", "apple", "paris"], "ck-drops": ["four", "Apple", "Paris"]}
    conversations = arena.store.conversations
    conv = conversations.create("arena-anonymous", sides={"A": "ck-keeps", "B": "ck-drops"},
                                rater_id=arena.rater("r1"))
    for n, text in enumerate(users):
        turn = conversations.add_turn(conv.id, text)
        for side, name in (("A", "ck-keeps"), ("B", "ck-drops")):
            arena._reply(turn.id, side, name, text=replies[name][n])
        arena.store.feedback.vote(turn.id, arena.rater("r1"), "A" if n else "tie", anonymous=True)
    conversations.reveal(conv.id, arena.rater("r1"))
    run_checks(arena.store)
    report = build_report(arena.store, ReportOptions(rounds=0, from_round=2))
    pif = report.views.pif_by_round
    assert pif[pif["checkpoint"] == "ck-keeps"]["pif"].tolist() == [1, 1, 1]
    assert pif[pif["checkpoint"] == "ck-drops"]["pif"].tolist() == [1, 0, 0]
    counts = report.views.category_counts.set_index(["category", "value"])["votes"]
    assert counts[("instruction", "verifiable constraint")] == 3  # the rule holds in every round
    auto = report.views.auto_vs_human
    assert auto[auto["checkpoint"] == "ck-drops"]["followed"].tolist() == [1, 0, 0]


def test_a_blind_battle_shows_in_the_checks_only_once_its_votes_count(arena):
    """Else the PIF table would move while the battle is blind and name its checkpoint."""
    for name in ("ck-a", "ck-b"):
        arena.checkpoint(name)
    conversations = arena.store.conversations
    conv = conversations.create("arena-anonymous", sides={"A": "ck-a", "B": "ck-b"},
                                rater_id=arena.rater("r1"))
    turn = conversations.add_turn(conv.id, "Answer in one word: what colour is the sky?")
    for side, name in (("A", "ck-a"), ("B", "ck-b")):
        arena._reply(turn.id, side, name, text="Blue")
        arena.checks(arena.reply_ids(turn.id)[side], [("one_word", True, True)])
    chat = arena.dialog("ck-a", [[]])
    arena.checks(chat[0], [("one_word", False, False)])
    assert set(load_checks(arena.store)["response_id"]) == {chat[0]}  # the battle counts nowhere yet
    arena.store.feedback.vote(turn.id, arena.rater("r1"), "tie", anonymous=True)
    assert set(load_checks(arena.store)["response_id"]) == {chat[0]}  # voted, still blind
    conversations.reveal(conv.id, arena.rater("r1"))
    assert len(load_checks(arena.store)) == 3
