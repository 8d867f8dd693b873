"""The export / evalset import verbs through the real typer app, on a real data dir."""

from __future__ import annotations

import json

import datasets
from typer.testing import CliRunner

from ift_chat.cli import app

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
