"""The /manage Leaderboard tab of the real app (make_asgi_app, as `make run` serves it),
driven over Gradio's API with gradio_client, against a real store."""

from __future__ import annotations

import pytest
from gradio_client import Client

from ift_chat.backends import Backends
from ift_chat.errors import ValidationError
from ift_chat.ui import leaderboard_tab
from ift_chat.ui.leaderboard_tab import VIEW_OUTPUTS
from tests.ui.conftest import running_app


@pytest.fixture
def app_url(config, store):
    with running_app(config, store, Backends()) as url:
        yield url


def refresh(client, rounds=200, both_bad="tie", named=False, replays=True, aggregate="mean",
            eval_set="", since="", until="", anchor="", gold=0, only=(), from_round=3, style_rounds=0):
    return client.predict(rounds, both_bad, named, replays, aggregate, eval_set, since, until, anchor,
                          gold, list(only), from_round, style_rounds, api_name="/leaderboard_refresh")


def views(out) -> dict:
    return dict(zip(VIEW_OUTPUTS, out[11:], strict=True))


def test_refresh_shows_ranks_curves_and_open_pairs(arena, app_url):
    for name in ("ck-good", "ck-bad"):
        arena.checkpoint(name)
    arena.battle("ck-good", "ck-bad", ["A"] * 5 + ["B"] * 3 + ["both_bad"])
    arena.dialog("ck-bad", [["yes"], ["yes"], ["no"]])
    client = Client(app_url, verbose=False)
    summary, _, ratings, _, rounds, _, needed, _, _, _, _, *_ = refresh(client)
    assert "9 votes" in summary
    table = ratings["data"]
    assert [row[1] for row in table] == ["ck-good", "ck-bad"]
    assert table[0][2] > 1000 > table[1][2]
    assert table[0][6] < table[0][2] < table[0][7]  # sandwich interval beside the bootstrap one
    assert [row[3] for row in rounds["data"]] == [1.0, 1.0, 0.0]
    assert needed["data"][0][:2] == ["ck-good", "ck-bad"]  # 9 votes cannot separate them
    anchored = refresh(client, anchor="ck-bad")[2]["data"]
    assert anchored[1][2] == 1000.0
    arena.checkpoint("ck-other")
    arena.battle("ck-other", "ck-bad", ["A"] * 3)
    assert len(refresh(client)[2]["data"]) == 3
    only = refresh(client, only=["ck-good", "ck-bad"])
    assert [row[1] for row in only[2]["data"]] == ["ck-good", "ck-bad"] and "9 votes" in only[0]


def test_per_round_style_category_and_check_views(arena, app_url):
    """ck-late loses round 1 and wins from round 2 on: behind overall, ahead from round 2."""
    for name in ("ck-early", "ck-late"):
        arena.checkpoint(name)
    for n in range(4):
        turns = arena.battle("ck-early", "ck-late", ["A", "A", "A", "B", "B"], image_turns=[0],
                             reveal=n < 3)
    arena.checks(arena.reply_ids(turns[3])["A"], [("one_word", False, False)])
    arena.checks(arena.reply_ids(turns[3])["B"], [("one_word", True, True)])
    arena.store.feedback.rate(arena.reply_ids(turns[3])["B"], arena.rater("r1"), "yes")  # by its owner
    arena.store.conversations.reveal(arena.store.conversations.turn(turns[0]).conversation_id,
                                     arena.rater("r1"))
    client = Client(app_url, verbose=False)
    out = refresh(client, from_round=4)
    v = views(out)
    assert "Round 4+:** 8 votes" in out[0] and "Automatic checks on 2 replies" in out[0]
    side = {row[0]: row for row in v["rounds_side_by_side"]["data"]}
    headers = v["rounds_side_by_side"]["headers"]
    rank_all, rank_later = headers.index("rank_all"), headers.index("rank_from_4")
    assert side["ck-early"][rank_all] == 1 and side["ck-late"][rank_later] == 1
    assert side["ck-late"][headers.index("votes_from_4")] == 8
    rating_all, rating_later = headers.index("rating_all"), headers.index("rating_from_4")
    assert side["ck-early"][rating_all] > side["ck-late"][rating_all]
    assert side["ck-late"][rating_later] > side["ck-early"][rating_later]
    categories = v["categories"]
    values = {(row[0], row[1]) for row in categories["data"]}
    assert {("image", "with image"), ("image", "text only"), ("instruction", "verifiable constraint"),
            ("eval set", "(live battles)")} <= values
    assert [row[0] for row in v["style_coefficients"]["data"]][0].startswith("length")
    pif = {row[0]: row for row in v["pif"]["data"]}
    assert pif["ck-late"][v["pif"]["headers"].index("pif")] == 1.0
    assert pif["ck-early"][v["pif"]["headers"].index("pif")] == 0.0
    agreement = v["agreement"]
    assert agreement["data"][0][:2] == ["all", 1]  # the one reply with a check and a rating
    for plot in ("rounds_leaderboard_plot", "auto_vs_human_plot", "rating_by_round_plot", "style_plot",
                 "categories_plot", "pif_plot", "agreement_plot"):
        assert v[plot] is not None and "plot" in str(v[plot]).lower()
    with pytest.raises(Exception, match="counts from 1|less than minimum"):
        refresh(client, from_round=0)


def test_refresh_with_no_votes_and_bad_input(store, app_url):
    client = Client(app_url, verbose=False)
    out = refresh(client)
    assert "No votes" in out[0] and views(out)["rounds_side_by_side"]["data"] in ([], [[]])
    with pytest.raises(Exception, match="gold accuracy|greater than maximum"):
        refresh(client, gold=3)


def test_options_are_validated_before_any_work():
    with pytest.raises(ValidationError, match="between 0 and 10,000"):
        leaderboard_tab.report_options(-1, "tie", False, True, "mean", "", "", "", "", 0)
    with pytest.raises(ValidationError, match="counts from 1"):
        leaderboard_tab.report_options(5, "tie", False, True, "mean", "", "", "", "", 0, (), 0)
    options = leaderboard_tab.report_options(50, "drop", True, False, "majority", "suite", "2026-01-01",
                                             "", "ck", 0.8, ["ck", "ck-2"], 2, 20)
    assert options.votes.checkpoints == options.ratings.checkpoints == ("ck", "ck-2")
    assert options.votes.both_bad == "drop" and not options.votes.anonymous_only
    assert options.ratings.aggregate == "majority" and options.min_gold_accuracy == 0.8
    assert options.votes.eval_set == "suite" and options.votes.until is None
    assert options.from_round == 2 and options.style_rounds == 20
    assert leaderboard_tab.report_options(50, "tie", False, True, "mean", "", "", "", "", 0).min_gold_accuracy is None
