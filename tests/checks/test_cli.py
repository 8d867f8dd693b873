"""`checks explain` and `checks run` through the real typer app, on a real data dir."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ift_chat.checks import CHECKER_VERSION
from ift_chat.cli import app
from tests.checks.conftest import add_dialog

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_explain_prints_the_json_of_the_issue():
    result = invoke("checks", "explain", "--instruction", "Now answer in one word: what color is the sky?",
                    "--reply", "The sky is a color.")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["followed"] is False
    assert out["constraints"] == [{"kind": "one_word", "params": {}, "source_turn": 0, "persistent": False,
                                   "passed": False, "passed_loose": False, "detail": "5 words, need one"}]


def test_explain_with_history_file(tmp_path):
    history = tmp_path / "h.json"
    history.write_text(json.dumps([{"user": "From now on, never use commas.", "assistant": "Sure"},
                                   {"user": "Name two fruits.", "assistant": "apples and pears"}]))
    result = invoke("checks", "explain", "--instruction", "And two colors?", "--reply", "red, blue",
                    "--history", history)
    assert result.exit_code == 0, result.output
    (c,) = json.loads(result.output)["constraints"]
    assert (c["kind"], c["source_turn"], c["persistent"], c["passed"], c["detail"]) == (
        "no_commas", 0, True, False, "1 comma")


def test_explain_null_when_nothing_is_asked():
    result = invoke("checks", "explain", "--instruction", "What is in the picture?", "--reply", "A cat.")
    assert json.loads(result.output) == {"followed": None, "followed_loose": None, "constraints": []}


def test_explain_bad_history_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"user": "not a list"}')
    result = invoke("checks", "explain", "--instruction", "x", "--reply", "y", "--history", bad)
    assert result.exit_code == 1 and "must be a JSON list" in result.output
    bad.write_text("[{")
    result = invoke("checks", "explain", "--instruction", "x", "--reply", "y", "--history", bad)
    assert result.exit_code == 1 and "could not read the history file" in result.output


def test_run_checks_imported_conversations_once(dialog_store):
    home = dialog_store.config.home
    conv_id, ids = add_dialog(dialog_store, "ckpt-a", [("From now on, answer in lowercase.", "ok sure"),
                                                       ("Tell me a fact.", "The Sun is a star."),
                                                       ("What is 2+2?", "four")])
    add_dialog(dialog_store, "ckpt-a", [("Hello there", "Hi")])
    first = invoke("checks", "run", "--all", "--home", home)
    assert first.exit_code == 0, first.output
    assert "4 replies checked, 0 already checked, 3 verdicts written (2 conversations)" in first.output
    rows = dialog_store.checks.for_responses(ids)
    assert [[(r["kind"], r["passed"]) for r in rows[i]] for i in ids] == [
        [("lowercase", 1)], [("lowercase", 0)], [("lowercase", 1)]]
    created = [r["created"] for i in ids for r in rows[i]]
    again = invoke("checks", "run", "--conversation", conv_id, "--home", home)
    assert "0 replies checked, 3 already checked, 0 verdicts written" in again.output
    assert [r["created"] for i in ids for r in dialog_store.checks.for_responses(ids)[i]] == created
    forced = invoke("checks", "run", "--conversation", conv_id, "--force", "--home", home)
    assert "3 replies checked, 0 already checked, 3 verdicts written" in forced.output
    assert dialog_store.query("select count(*) n from response_checks")[0]["n"] == 3


def test_run_rechecks_rows_of_an_older_version(dialog_store):
    _, (rid,) = add_dialog(dialog_store, "ckpt-a", [("Answer in one word.", "Blue")])
    dialog_store.db.execute("insert into response_checks (response_id, kind, params, source_turn_idx, persistent,"
                            " passed, passed_loose, detail, version, created) values (?, 'one_word', '{}', 0, 0,"
                            " 0, 0, 'stale', 'v0', 'then')", [rid])
    dialog_store.db.conn.commit()
    result = invoke("checks", "run", "--all", "--home", dialog_store.config.home)
    assert "1 replies checked" in result.output
    assert [(r["version"], r["passed"]) for r in dialog_store.checks.for_response(rid)] == [(CHECKER_VERSION, 1)]


def test_run_eval_set_replays_only(dialog_store):
    es = dialog_store.eval_sets.create("mini")
    dialog_store.eval_sets.add_items(es.id, [("a", [{"text": "Answer in French."}])])
    item = dialog_store.eval_sets.items(es.id)[0]
    _, (replayed,) = add_dialog(dialog_store, "ckpt-a", [("Answer in French.", "Hello")], mode="replay",
                                eval_item_id=item.id)
    _, (other,) = add_dialog(dialog_store, "ckpt-a", [("Answer in French.", "Hello")])
    result = invoke("checks", "run", "--eval-set", "mini", "--home", dialog_store.config.home)
    assert result.exit_code == 0, result.output
    assert [r["kind"] for r in dialog_store.checks.for_response(replayed)] == ["language"]
    assert dialog_store.checks.for_response(other) == []


def test_run_needs_exactly_one_scope_and_known_names(dialog_store):
    home = dialog_store.config.home
    assert invoke("checks", "run", "--home", home).exit_code == 1
    assert invoke("checks", "run", "--all", "--eval-set", "x", "--home", home).exit_code == 1
    unknown = invoke("checks", "run", "--eval-set", "nope", "--home", home)
    assert unknown.exit_code == 1 and "no evaluation set named 'nope'" in unknown.output
    assert invoke("checks", "run", "--conversation", "nope", "--home", home).exit_code == 1
