"""store.checks: the response_checks table round trip (real SQLite file)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ift_chat.checks import CHECKER_VERSION, Constraint, Verdict, check_reply, detect
from ift_chat.store import Store
from tests.checks.conftest import add_dialog


def _verdicts():
    return [Verdict(Constraint("one_word", {}, False, 1), False, True, "5 words, need one"),
            Verdict(Constraint("language", {"lang": "fr"}, True, 0), True, True, "fr (99%)")]


def test_record_then_read_back(dialog_store):
    _, (r1, r2) = add_dialog(dialog_store, "ckpt-a", [("hi", "hello"), ("one word?", "no it is five")])
    dialog_store.checks.record(r2, _verdicts(), CHECKER_VERSION)
    rows = dialog_store.checks.for_response(r2)
    assert [(r["kind"], json.loads(r["params"]), r["source_turn_idx"], r["persistent"], r["passed"],
             r["passed_loose"], r["detail"], r["version"]) for r in rows] == [
        ("language", {"lang": "fr"}, 0, 1, 1, 1, "fr (99%)", CHECKER_VERSION),
        ("one_word", {}, 1, 0, 0, 1, "5 words, need one", CHECKER_VERSION)]
    assert all(r["created"] for r in rows)
    assert dialog_store.checks.for_responses([r1, r2, r2]) == {r1: [], r2: rows}


def test_record_replaces_in_one_transaction_and_drops_other_versions(dialog_store):
    _, (rid,) = add_dialog(dialog_store, "ckpt-a", [("in one word?", "blue")])
    dialog_store.checks.record(rid, _verdicts(), "old")
    dialog_store.checks.record(rid, _verdicts()[:1], CHECKER_VERSION)
    rows = dialog_store.checks.for_response(rid)
    assert [(r["kind"], r["version"]) for r in rows] == [("one_word", CHECKER_VERSION)]
    dialog_store.checks.record(rid, [], CHECKER_VERSION)  # nothing active any more: no rows
    assert dialog_store.checks.for_response(rid) == []


def test_a_failed_write_leaves_the_old_rows(dialog_store):
    _, (rid,) = add_dialog(dialog_store, "ckpt-a", [("in one word?", "blue")])
    dialog_store.checks.record(rid, _verdicts(), CHECKER_VERSION)
    with pytest.raises(sqlite3.IntegrityError):  # no such response: the foreign key refuses
        dialog_store.checks.record_many([(rid, []), (999_999, _verdicts())], CHECKER_VERSION)
    assert len(dialog_store.checks.for_response(rid)) == 2


def test_unique_index_and_schema(dialog_store):
    _, (rid,) = add_dialog(dialog_store, "ckpt-a", [("x", "y")])
    v = _verdicts()[0]
    dialog_store.checks.record(rid, [v, v], CHECKER_VERSION)  # the same constraint twice: one row
    assert len(dialog_store.checks.for_response(rid)) == 1
    with pytest.raises(sqlite3.IntegrityError):
        with dialog_store.write() as db:
            db.execute("insert into response_checks (response_id, kind, params, source_turn_idx, persistent,"
                       " passed, passed_loose, detail, version, created) select response_id, kind, params,"
                       " source_turn_idx, persistent, passed, passed_loose, detail, version, created"
                       " from response_checks")
    indexes = {tuple(i.columns): i.unique for i in dialog_store.db["response_checks"].indexes}
    assert indexes[("response_id", "kind", "params", "source_turn_idx", "version")] == 1


def test_rows_survive_reopening_the_file(config):
    store = Store(config)
    store.checkpoints.register("ckpt-a", backend="scripted")
    _, (rid,) = add_dialog(store, "ckpt-a", [("Answer in French.", "Bonjour, comment allez-vous ?")])
    store.checks.record(rid, check_reply("Bonjour, comment allez-vous ?", detect("Answer in French.")),
                        CHECKER_VERSION)
    store.close()
    again = Store(config)
    assert [(r["kind"], r["passed"]) for r in again.checks.for_response(rid)] == [("language", 1)]
    again.close()
