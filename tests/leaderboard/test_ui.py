"""The Leaderboard tab driven over Gradio's API with gradio_client, against a real store."""

from __future__ import annotations

import gradio as gr
import pytest
from gradio_client import Client

from ift_chat.backends import Backends
from ift_chat.errors import ValidationError
from ift_chat.ui import leaderboard_tab
from ift_chat.ui.context import AppContext
from tests.ui.conftest import free_port


@pytest.fixture
def tab_url(config, store):
    ctx = AppContext(config, store, Backends())
    with gr.Blocks() as blocks:
        with gr.Tab("Leaderboard"):
            leaderboard_tab.render(ctx)
    blocks.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                  quiet=True)
    try:
        yield blocks.local_url
    finally:
        blocks.close()


def refresh(client, rounds=200, both_bad="tie", named=False, replays=True, aggregate="mean",
            eval_set="", since="", until="", anchor="", gold=0, only=()):
    return client.predict(rounds, both_bad, named, replays, aggregate, eval_set, since, until, anchor,
                          gold, list(only), api_name="/leaderboard_refresh")


def test_refresh_shows_ranks_curves_and_open_pairs(arena, tab_url):
    for name in ("ck-good", "ck-bad"):
        arena.checkpoint(name)
    arena.battle("ck-good", "ck-bad", ["A"] * 5 + ["B"] * 3 + ["both_bad"])
    arena.dialog("ck-bad", [["yes"], ["yes"], ["no"]])
    client = Client(tab_url, verbose=False)
    summary, _, ratings, _, rounds, _, needed, _, _, _, _ = refresh(client)
    assert "9 votes" in summary
    table = ratings["data"]
    assert [row[1] for row in table] == ["ck-good", "ck-bad"]
    assert table[0][2] > 1000 > table[1][2]
    assert [row[3] for row in rounds["data"]] == [1.0, 1.0, 0.0]
    assert needed["data"][0][:2] == ["ck-good", "ck-bad"]  # 9 votes cannot separate them
    anchored = refresh(client, anchor="ck-bad")[2]["data"]
    assert anchored[1][2] == 1000.0
    arena.checkpoint("ck-other")
    arena.battle("ck-other", "ck-bad", ["A"] * 3)
    assert len(refresh(client)[2]["data"]) == 3
    only = refresh(client, only=["ck-good", "ck-bad"])
    assert [row[1] for row in only[2]["data"]] == ["ck-good", "ck-bad"] and "9 votes" in only[0]


def test_refresh_with_no_votes_and_bad_input(store, tab_url):
    client = Client(tab_url, verbose=False)
    assert "No votes" in refresh(client)[0]
    with pytest.raises(Exception, match="gold accuracy|greater than maximum"):
        refresh(client, gold=3)


def test_options_are_validated_before_any_work():
    with pytest.raises(ValidationError, match="between 0 and 10,000"):
        leaderboard_tab.report_options(-1, "tie", False, True, "mean", "", "", "", "", 0)
    options = leaderboard_tab.report_options(50, "drop", True, False, "majority", "suite", "2026-01-01",
                                             "", "ck", 0.8, ["ck", "ck-2"])
    assert options.votes.checkpoints == options.ratings.checkpoints == ("ck", "ck-2")
    assert options.votes.both_bad == "drop" and not options.votes.anonymous_only
    assert options.ratings.aggregate == "majority" and options.min_gold_accuracy == 0.8
    assert options.votes.eval_set == "suite" and options.votes.until is None
    assert leaderboard_tab.report_options(50, "tie", False, True, "mean", "", "", "", "", 0).min_gold_accuracy is None
