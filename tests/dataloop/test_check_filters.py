"""Exports that filter on the stored automatic checks (response_checks): SFT only where every
active constraint passed (strict or loose), preference pairs where one side passed and the other
failed, KTO labels from the checks; traced in provenance.jsonl, report.json and `export explain`."""

from __future__ import annotations

import json

import datasets
import pytest
from typer.testing import CliRunner

from ift_chat.cli import app
from ift_chat.dataloop.exports import run_export
from ift_chat.dataloop.provenance import explain, explanation_text
from ift_chat.dataloop.samples import SKIP_CHECKS_UNDECIDED, SKIP_OWN_HISTORY
from ift_chat.dataloop.select import SKIP_FAILED_CHECK, Filters
from ift_chat.errors import ValidationError


def sharegpt(w, tmp_path, name, **filters):
    result = run_export(w.store, "sharegpt", tmp_path / name, Filters(split="all", **filters))
    rows = json.loads((result.path / "data.json").read_text())
    return result, {tuple(r["metadata"]["responses"]): r for r in rows}


def stored_check_ids(store, *response_ids) -> list[int]:
    return [c["id"] for rid in response_ids for c in store.checks.for_response(rid)]


def test_every_constrained_reply_has_stored_checks(checked_world):
    w = checked_world
    checked = {key for key, rid in w.responses.items() if w.store.checks.for_response(rid)}
    assert checked == set(w.responses) - {"fr1.single"}  # "Tell me about cats." states no constraint


def test_sft_strict_drops_rated_replies_that_failed_a_check(checked_world, tmp_path):
    w = checked_world
    r = w.responses
    _, off = sharegpt(w, tmp_path, "off")
    assert set(off) == {(r["ab1.A"], r["ab2.A"]), (r["ab1.B"],), (r["lo1.single"],)}
    result, strict = sharegpt(w, tmp_path, "strict", checks="strict")
    assert set(strict) == {(r["ab1.A"], r["ab2.A"])}  # B's five words and the capital "Sure:" are out
    assert result.report["skipped"][SKIP_FAILED_CHECK] == 2
    assert "decide" not in result.report["choices"]["automatic_checks"]
    row = strict[(r["ab1.A"], r["ab2.A"])]
    assert sorted(row["metadata"]["checks"]) == sorted(stored_check_ids(w.store, r["ab1.A"], r["ab2.A"]))
    _, loose = sharegpt(w, tmp_path, "loose", checks="loose")
    assert set(loose) == {(r["ab1.A"], r["ab2.A"]), (r["lo1.single"],)}  # loose forgives the "Sure:" line


def test_checks_only_sft_takes_unrated_rounds_that_carry_and_pass_a_constraint(checked_world, tmp_path):
    w = checked_world
    r = w.responses
    result, rows = sharegpt(w, tmp_path, "only", checks="strict", checks_only=True)
    assert set(rows) == {(r["ab1.A"], r["ab2.A"]), (r["v1.B"],), (r["un1.single"],), (r["re1.A"],)}
    # replay side B: round 1 failed; side A: round 2 broke round 1's persistent lowercase rule
    assert "decide alone" in result.report["choices"]["automatic_checks"]
    assert rows[(r["un1.single"],)]["metadata"]["ratings"] == []  # nobody rated it


def test_dpo_pairs_where_one_side_passed_and_the_other_failed(checked_world, tmp_path):
    w = checked_world
    r = w.responses
    off = run_export(w.store, "dpo", tmp_path / "off", Filters(split="all"))
    assert off.report["per_source"] == {"vote": 1}
    result = run_export(w.store, "dpo", tmp_path / "dpo", Filters(split="all", checks="strict"))
    ds = datasets.load_from_disk(str(result.path / "hf"))
    pairs = {tuple(p["provenance"]["responses"]): p for p in ds}
    assert set(pairs) == {(r["ab1.A"], r["ab1.B"]), (r["re1.A"], r["re1.B"]), (r["re2.B"], r["re2.A"])}
    assert all(p["source"] == "checks" and p["id"].startswith(f"x{result.id}-check-") for p in ds)
    cow = pairs[(r["re2.B"], r["re2.A"])]  # round 2: the round-1 "from now on" rule decided it
    assert cow["chosen"][0]["content"][0]["text"] == "a cow is big."
    history = [m["content"][-1]["text"] for m in cow["prompt"] if m["role"] == "assistant"]
    assert history == ["a dog is a pet."]  # the eval item's reference, as both sides saw it
    assert sorted(cow["provenance"]["checks"]) == sorted(stored_check_ids(w.store, r["re2.B"], r["re2.A"]))
    skipped = result.report["skipped"]
    assert skipped[SKIP_FAILED_CHECK] == 1  # the vote for "Apples, pears, plums." is dropped
    assert skipped[SKIP_OWN_HISTORY] == 1  # own-history arena, round 2: different prompts
    assert SKIP_CHECKS_UNDECIDED not in skipped
    parquet = datasets.load_dataset("parquet", data_files=str(result.path / "data.parquet"), split="train")
    assert parquet["id"] == ds["id"]


def test_kto_labels_from_the_checks_alone(checked_world, tmp_path):
    w = checked_world
    r = w.responses
    only = Filters(split="all", checks="strict", checks_only=True)
    result = run_export(w.store, "kto", tmp_path / "kto", only)
    ds = datasets.load_from_disk(str(result.path / "hf"))
    labels = {p["provenance"]["responses"][0]: p["label"] for p in ds}
    assert labels[r["re1.A"]] is True and labels[r["re1.B"]] is False
    assert labels[r["re2.A"]] is False and labels[r["re2.B"]] is True
    assert labels[r["ab1.B"]] is False and r["fr1.single"] not in labels
    human = run_export(w.store, "kto", tmp_path / "human", Filters(split="all", checks="strict"))
    kept = {p["provenance"]["responses"][0] for p in datasets.load_from_disk(str(human.path / "hf"))}
    assert kept == {r["ab1.A"], r["ab2.A"]}  # rated yes and passed; ab1.B and lo1 rated yes but failed


def test_explain_names_the_checks_behind_a_check_pair(checked_world, tmp_path):
    w = checked_world
    result = run_export(w.store, "dpo", tmp_path / "dpo", Filters(split="all", checks="loose"))
    rid = f"x{result.id}-check-{w.turns['ab1']}"
    e = explain(w.store, rid)
    assert e["checks_filter"] == {"checks": "loose", "checks_only": False}
    assert {c["response_id"] for c in e["checks"]} == {w.responses["ab1.A"], w.responses["ab1.B"]}
    text = explanation_text(e)
    assert "selected with the automatic checks (loose" in text
    assert "one_word" in text and "5 words, need one" in text and "[chosen]" in text and "[rejected]" in text


def test_cli_export_with_checks(checked_world, tmp_path):
    home = str(checked_world.store.config.home)
    runner = CliRunner()
    out = tmp_path / "cli"
    res = runner.invoke(app, ["export", "dpo", "--out", str(out), "--home", home, "--split", "all",
                              "--checks", "strict", "--checks-only"])
    assert res.exit_code == 0, res.output
    assert "wrote 4 rows" in res.output  # votes are ignored: v1 is a check pair too
    assert "automatic checks" in res.output
    marker = json.loads((out / "report.json").read_text())
    assert marker["filters"]["checks"] == "strict" and marker["filters"]["checks_only"] is True
    bad = runner.invoke(app, ["export", "dpo", "--out", str(tmp_path / "bad"), "--home", home,
                              "--checks-only"])
    assert bad.exit_code == 1 and "checks-only needs checks strict or loose" in bad.output


def test_checks_filters_are_validated():
    with pytest.raises(ValidationError, match="checks must be one of"):
        Filters(checks="lenient").validate()
    Filters(checks="loose", checks_only=True).validate()
