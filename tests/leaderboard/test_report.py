"""The ``leaderboard`` CLI verb and the report files, read back by their consumers."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from ift_chat.cli import app
from ift_chat.leaderboard import ReportOptions, build_report
from ift_chat.leaderboard.pairs import extra_votes_needed


def run(config, *args):
    return CliRunner().invoke(app, ["leaderboard", *args, "--home", str(config.home)])


@pytest.fixture
def season(arena):
    for name in ("ck-strong", "ck-mid", "ck-weak"):
        arena.checkpoint(name)
    arena.battle("ck-strong", "ck-weak", ["A"] * 9 + ["B"], raters=["r1", "r2"])
    arena.battle("ck-mid", "ck-weak", ["A"] * 6 + ["B"] * 3 + ["tie"])
    arena.battle("ck-strong", "ck-mid", ["A"] * 5 + ["B"] * 4)
    arena.dialog("ck-strong", [["yes"], ["yes"], ["partial"]])
    arena.dialog("ck-weak", [["yes"], ["no"], ["no"]], tags=[[], ["answered_earlier_turn"], ["repetition"]])
    return arena


def test_cli_writes_tables_and_plots(config, season, tmp_path):
    out = tmp_path / "report"
    result = run(config, "--out", str(out), "--rounds", "200", "--no-png")
    assert result.exit_code == 0, result.output
    assert "ck-strong" in result.output and "39 votes" in result.output
    ratings = json.loads((out / "ratings.json").read_text())
    assert [r["checkpoint"] for r in ratings] == ["ck-strong", "ck-mid", "ck-weak"]
    assert all(r["lower"] <= r["rating"] <= r["upper"] for r in ratings)
    with open(out / "rounds.csv", newline="") as f:
        rounds = [r for r in csv.DictReader(f) if r["checkpoint"] == "ck-weak"]
    assert [float(r["followed"]) for r in rounds] == [1.0, 0.0, 0.0]
    pairs = json.loads((out / "pairs.json").read_text())
    assert {(p["checkpoint"], p["opponent"]): p["votes"] for p in pairs}[("ck-strong", "ck-weak")] == 20
    for name in ("ratings", "rounds", "win_rate", "tags"):
        assert "plotly" in (out / f"{name}.html").read_text()[:5000].lower()
    index = (out / "index.html").read_text()
    assert index.count("plotly-graph-div") >= 4 and "ck-mid" in index and (out / "plotly.min.js").exists()
    summary = json.loads((out / "report.json").read_text())
    assert summary["votes"] == 39 and summary["png"].startswith("skipped")
    assert "all rounds vs round 3+" in result.output and "length (tokens)" in result.output
    side = json.loads((out / "rounds_side_by_side.json").read_text())
    assert {r["checkpoint"]: r["votes_from_3"] for r in side} == {"ck-strong": 16 + 7, "ck-mid": 8 + 7, "ck-weak": 16 + 8}  # turns 3+ x raters
    assert {r["checkpoint"] for r in json.loads((out / "style.json").read_text())} == {"ck-strong", "ck-mid", "ck-weak"}
    assert index.index("Per-round leaderboard") < index.index("Overall leaderboard") < index.index("Style control")
    for name in ("rounds_leaderboard", "style", "categories", "pif", "check_agreement"):
        assert (out / f"{name}.html").exists()
    assert run(config, "--out", str(tmp_path / "z"), "--from-round", "0", "--no-png").exit_code == 1
    assert not (tmp_path / "z").exists()
    # A second run does not overwrite without --force, and bad options fail cleanly.
    assert run(config, "--out", str(out), "--rounds", "0", "--no-png").exit_code == 1
    assert run(config, "--out", str(out), "--rounds", "0", "--no-png", "--force").exit_code == 0
    assert run(config, "--out", str(tmp_path / "x"), "--both-bad", "maybe").exit_code == 1
    assert run(config, "--out", str(tmp_path / "y"), "--exclude-rater", "nobody").exit_code == 1
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_report_pairs_and_win_rates(season):
    report = build_report(season.store, ReportOptions(rounds=200))
    assert report.win_rate.loc["ck-strong", "ck-weak"] == pytest.approx(0.9)
    assert report.win_rate.loc["ck-mid", "ck-weak"] == pytest.approx(0.65)
    assert report.vote_counts.loc["ck-strong", "ck-weak"] == 20
    close = report.pairs.set_index(["checkpoint", "opponent"]).loc[("ck-strong", "ck-mid")]
    assert close["intervals_overlap"] and close["extra_votes_to_separate"] > 0
    assert set(report.figures()) == {"ratings", "rounds", "win_rate", "tags", "rounds_leaderboard",
                                     "rating_by_round", "auto_vs_human", "style", "style_coefficients",
                                     "categories", "pif", "check_agreement"}


def test_extra_votes_shrink_as_the_gap_grows_and_vanish_once_met():
    gaps = extra_votes_needed([20.0, 100.0, 400.0], [0, 0, 0])
    assert gaps[0] > gaps[1] > gaps[2] > 0
    assert extra_votes_needed([100.0], [10_000])[0] == 0


def test_empty_database_gives_an_empty_report(config, store, tmp_path):
    result = run(config, "--out", str(tmp_path / "r"), "--no-png")
    assert result.exit_code == 0 and "no votes" in result.output
    assert json.loads((tmp_path / "r" / "ratings.json").read_text()) == []


@pytest.mark.slow
def test_png_plots_through_kaleido_and_chromium(config, season, tmp_path):
    result = run(config, "--out", str(tmp_path / "r"), "--rounds", "50")
    assert result.exit_code == 0, result.output
    for name in ("ratings", "rounds", "win_rate", "tags"):
        assert (tmp_path / "r" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unlinked_groups_are_reported(config, season, tmp_path):
    for name in ("ck-island-1", "ck-island-2"):
        season.checkpoint(name)
    season.battle("ck-island-1", "ck-island-2", ["A", "B", "A"])
    result = run(config, "--out", str(tmp_path / "r"), "--rounds", "50", "--no-png")
    assert result.exit_code == 0 and "2 groups never compared" in result.output
    summary = json.loads((tmp_path / "r" / "report.json").read_text())
    assert summary["comparison_groups"] == 2 and "ck-island-1, ck-island-2" in summary["warnings"][0]


def test_raters_failing_gold_items_are_left_out(arena):
    from ift_chat.crowd.tasks import TaskFilters, Tasks

    for name in ("ck-p", "ck-q"):
        arena.checkpoint(name)
    # Five gold replies everyone should call followed; "careless" says no to all of them.
    arena.dialog("ck-p", [["yes", "no"]] * 5, raters=["good", "careless"])
    admin = arena.store.raters.create("boss", role="admin")
    tasks = Tasks(arena.store)
    task_set = tasks.create_set(admin, "gold", k=2, filters=TaskFilters(checkpoints=("ck-p",)))
    tasks.mark_gold(admin, [item["id"] for item in tasks.items(admin, task_set.id)], "yes")
    arena.battle("ck-p", "ck-q", ["A", "A"], raters=["good"])
    arena.battle("ck-p", "ck-q", ["B"] * 6, raters=["careless"])
    everyone = build_report(arena.store, ReportOptions(rounds=0))
    screened = build_report(arena.store, ReportOptions(rounds=0, min_gold_accuracy=0.7))
    assert everyone.board.n_votes == 8 and screened.board.n_votes == 2
    assert screened.excluded_raters == (arena.rater("careless"),)
    assert set(everyone.rounds["followed"]) == {0.5} and set(screened.rounds["followed"]) == {1.0}
