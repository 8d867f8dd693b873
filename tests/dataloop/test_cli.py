"""The export / evalset import verbs through the real typer app, on a real data dir."""

from __future__ import annotations

import json

import datasets
import pytest
from typer.testing import CliRunner

from ift_chat.cli import app
from ift_chat.demo import DEMO_NAMES

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_export_then_import_then_list(world, tmp_path):
    home = world.store.config.home
    out = tmp_path / "exports" / "sft"
    result = invoke("export", "hf", "--out", out, "--home", home, "--checkpoint", "ckpt-a")
    assert result.exit_code == 0, result.output
    assert "wrote 2 rows" in result.output
    assert len(datasets.load_from_disk(str(out / "hf"))) == 2
    again = invoke("export", "hf", "--out", out, "--home", home)
    assert again.exit_code == 1 and "already exists" in again.output
    ev = tmp_path / "exports" / "ev"
    assert invoke("export", "evalset", "--out", ev, "--home", home, "--split", "eval",
                  "--eval-fraction", "1").exit_code == 0
    imported = invoke("evalset", "import", ev / "evalset.jsonl", "--images", ev, "--name", "from-cli",
                      "--home", home)
    assert imported.exit_code == 0, imported.output
    assert "imported 4 items" in imported.output
    listed = invoke("evalset", "list", "--home", home)
    assert "from-cli\t4 items" in listed.output
    rows = world.store.query("select format, row_count from exports order by id")
    assert rows == [{"format": "hf", "row_count": 2}, {"format": "evalset", "row_count": 4}]


def test_errors_exit_1_with_a_message(world, tmp_path):
    home = world.store.config.home
    bad = invoke("export", "csv", "--out", tmp_path / "x", "--home", home)
    assert bad.exit_code == 1 and "unknown export format" in bad.output
    bad = invoke("export", "llava", "--out", tmp_path / "x", "--home", home, "--split", "half")
    assert bad.exit_code == 1 and "split must be" in bad.output
    (tmp_path / "bad.jsonl").write_text(json.dumps({"rounds": [{"text": "x", "images": ["../../etc/passwd"]}]}))
    bad = invoke("evalset", "import", tmp_path / "bad.jsonl", "--images", tmp_path, "--name", "bad",
                 "--home", home)
    assert bad.exit_code == 1 and "escapes" in bad.output
    assert not (tmp_path / "x").exists()
    assert world.store.query("select count(*) n from eval_sets")[0]["n"] == 0


@pytest.mark.slow
def test_replay_verb_on_demo_checkpoints(store, tmp_path):
    """`evalset import` then `replay --checkpoints a,b` on the demo models (real text weights; one
    of them is text-only, so the item has no image) with the real transformers backend."""
    home = store.config.home
    (tmp_path / "set.json").write_text(json.dumps([
        {"id": "x1", "conversations": [
            {"from": "human", "value": "What is a square?"}, {"from": "gpt", "value": "A shape."},
            {"from": "human", "value": "Answer in one word: what color is the sky?"},
            {"from": "gpt", "value": "Blue."}]}]))
    assert invoke("evalset", "import", tmp_path / "set.json", "--images", tmp_path, "--name", "demo-set",
                  "--home", home).exit_code == 0
    result = invoke("replay", "--eval-set", "demo-set", "--checkpoints", ",".join(DEMO_NAMES),
                    "--max-tokens", "8", "--home", home, "--checkpoints-dir", tmp_path / "no-checkpoints",
                    "--backend", "transformers")
    assert result.exit_code == 0, result.output
    assert "1 replay conversations, 4 responses (0 errors)" in result.output
    rows = store.query("""select c.mode, r.side, r.checkpoint, r.status, r.tokens_out from responses r
                          join turns t on t.id = r.turn_id join conversations c on c.id = t.conversation_id""")
    assert len(rows) == 4 and {r["mode"] for r in rows} == {"replay"}
    a, b = DEMO_NAMES
    assert {(r["side"], r["checkpoint"]) for r in rows} in ({("A", a), ("B", b)}, {("A", b), ("B", a)})
    assert all(r["status"] == "ok" and r["tokens_out"] for r in rows)


def test_replay_verb_unknown_checkpoint(world, tmp_path):
    result = invoke("replay", "--eval-set", "nope", "--checkpoint", "ghost", "--home", world.store.config.home,
                    "--checkpoints-dir", tmp_path / "none", "--backend", "transformers")
    assert result.exit_code == 1 and "ghost" in result.output
