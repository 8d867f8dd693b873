"""`judge run / agreement / list / rubrics` through the real typer app on a real data dir."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ift_chat.cli import app
from ift_chat.config import Config
from ift_chat.store import Store
from tests.judge.conftest import add_dialog

runner = CliRunner()
GOOD = '{"followed": "yes", "score": 5, "tags": [], "reason": "ok"}'


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def make_home(tmp_path):
    home = tmp_path / "data"
    store = Store(Config(home=home, checkpoints_dir=tmp_path / "ckpts"))
    store.checkpoints.register("ckpt-a", backend="scripted")
    _, ids = add_dialog(store, "ckpt-a", [("q1", "r1"), ("q2", "r2")])
    alice = store.raters.create("alice")
    store.feedback.rate(ids[0], alice.id, "yes")
    store.close()
    return home


def registry_home(tmp_path, judge_server):
    """A data dir and a registry declaring [judges.stubby] (always answering GOOD): (home, env)."""
    judge_server.default = GOOD
    home, ckpts = make_home(tmp_path), tmp_path / "ckpts"
    ckpts.mkdir()
    (ckpts / "registry.toml").write_text(f'[judges.stubby]\nurl = "{judge_server.url}"\nmodel = "judge"\n')
    return home, {"IFT_CHAT_CHECKPOINTS": str(ckpts)}


def test_run_from_the_registry_is_resumable_and_reports_the_gate(tmp_path, judge_server):
    home, env = registry_home(tmp_path, judge_server)
    first = invoke("judge", "run", "stubby", "--unrated", "--home", home, env=env)
    assert first.exit_code == 0, first.output
    assert "1 judged, 0 already judged, 0 unparsable, 0 errors (1 in scope" in first.output
    assert "agreement with people: not trusted" in first.output
    second = invoke("judge", "run", "stubby", "--all", "--home", home, env=env)
    assert "1 judged, 1 already judged" in second.output
    listed = invoke("judge", "list", "--home", home, env=env)
    assert listed.exit_code == 0 and "declared stubby" in listed.output and "2 verdicts" in listed.output
    rater = listed.output.split("-> ")[1].split()[0]
    report = invoke("judge", "agreement", rater, "--json", "--home", home, env=env)
    data = json.loads(report.output)
    assert data["overall"]["n"] == 1 and data["trusted"] is False and data["label"].startswith("not trusted")
    text = invoke("judge", "agreement", rater, "--home", home, env=env)
    assert text.exit_code == 0 and "human majority" in text.output


def test_cli_defined_judge_and_clear_errors(tmp_path, judge_server):
    judge_server.default = GOOD
    home = make_home(tmp_path)
    ok = invoke("judge", "run", "adhoc", "--url", judge_server.url, "--model", "judge", "--all", "--home", home)
    assert ok.exit_code == 0 and "2 judged" in ok.output
    none = invoke("judge", "run", "adhoc", "--home", home)
    assert none.exit_code == 1 and "exactly one of --task-set" in none.output
    unknown = invoke("judge", "run", "ghost", "--all", "--home", home)
    assert unknown.exit_code == 1 and "no judge 'ghost'" in unknown.output
    secret = invoke("judge", "run", "bad", "--url", judge_server.url, "--api-key-env", "sk-abc", "--all",
                    "--home", home)
    assert secret.exit_code == 1 and "not hold the key itself" in secret.output


def test_rubrics_are_copied_for_editing(tmp_path):
    out = tmp_path / "rubrics"
    result = invoke("judge", "rubrics", "--out", out)
    assert result.exit_code == 0
    assert "{tags}" in (out / "single.md").read_text() and "winner" in (out / "pairwise.md").read_text()
    again = invoke("judge", "rubrics", "--out", out)
    assert again.exit_code == 1 and "not overwritten" in again.output


def test_agreement_shows_min_over_turns_and_pairwise_vs_votes_and_opt_ins_refuse_untrusted(tmp_path, judge_server):
    home, env = registry_home(tmp_path, judge_server)
    assert invoke("judge", "run", "stubby", "--all", "--home", home, env=env).exit_code == 0
    rater = invoke("judge", "list", "--home", home, env=env).output.split("-> ")[1].split()[0]
    text = invoke("judge", "agreement", rater, "--home", home, env=env)
    assert "minimum over turns (MT-Bench-101)" in text.output
    assert "pairwise vs people's votes: no arena turn" in text.output
    data = json.loads(invoke("judge", "agreement", rater, "--json", "--home", home, env=env).output)
    assert data["conversations"][0]["min"] == 5 and data["pairwise_vs_votes"]["n"] == 0
    out = tmp_path / "board"
    board = invoke("leaderboard", "--out", out, "--rounds", "0", "--no-png", "--include-judge", "stubby",
                   "--home", home, env=env)
    assert board.exit_code == 0, board.output
    assert "people vs " + rater + " (opt-in): not trusted" in board.output
    figures = json.loads((out / "judge.json").read_text())
    assert figures["rater"] == rater and figures["trusted"] is False and figures["overlap_with_people"] == 1
    assert "judge_followed" in (out / "rounds_with_judge.csv").read_text()
    assert "judge" not in (out / "rounds.csv").read_text().split("\n")[0]  # the human table stays human
    refused = invoke("export", "sharegpt", "--out", tmp_path / "x", "--judge", "stubby", "--min-raters", "1",
                     "--split", "all", "--home", home, env=env)
    assert refused.exit_code == 1 and "not trusted" in refused.output and "--allow-untrusted-judge" in refused.output
    assert not (tmp_path / "x").exists()
    allowed = invoke("export", "sharegpt", "--out", tmp_path / "y", "--judge", "stubby", "--min-raters", "1",
                     "--split", "all", "--allow-untrusted-judge", "--home", home, env=env)
    assert allowed.exit_code == 0, allowed.output
    assert "WARNING: " + rater + " is not trusted" in allowed.output
    report = json.loads((tmp_path / "y" / "report.json").read_text())
    assert report["report"]["choices"]["judge"]["rubric_hash"] == rater.split("@")[1]
    assert report["filters"]["judge"] == "stubby" and report["filters"]["allow_untrusted_judge"] is True
