"""LLaMA-Factory's files, checked against the rules of its ShareGPT converter and mm_plugin
(0.9.5). Its real ``get_dataset`` cannot run here: it imports torchaudio at import time
(no PyPI build for torch 2.13) and requires torchvision (never installed here)."""

from __future__ import annotations

import json

import pytest

from ift_chat.dataloop.exports import run_export
from ift_chat.dataloop.select import Filters

COLUMNS = {"messages", "system", "tools", "images", "videos", "audios", "chosen", "rejected", "kto_tag"}


def check_alternation(messages, ends_with):
    roles = [m["role"] for m in messages]
    assert roles == ["user", "assistant"] * (len(roles) // 2) + (["user"] if len(roles) % 2 else [])
    assert roles[-1] == ends_with


@pytest.mark.parametrize("fmt,kind,file", [("sharegpt", "sft", "data.json"), ("dpo", "dpo", "llamafactory.json"),
                                           ("kto", "kto", "llamafactory.json")])
def test_llamafactory_files(trainer_world, tmp_path, fmt, kind, file):
    result = run_export(trainer_world.store, fmt, tmp_path / fmt, Filters(split="all"))
    info = json.loads((result.path / "dataset_info.json").read_text())
    entry = info[f"ift_chat_{kind}"]
    assert entry["file_name"] == file and entry["formatting"] == "sharegpt"
    assert set(entry["columns"]) <= COLUMNS
    assert entry.get("ranking", False) is (kind == "dpo")
    assert ("kto_tag" in entry["columns"]) is (kind == "kto")
    rows = json.loads((result.path / file).read_text())
    assert len(rows) == result.row_count
    for r in rows:
        col = entry["columns"]
        messages = r[col["messages"]]
        if kind == "dpo":
            check_alternation(messages, "user")
            assert r[col["chosen"]]["role"] == r[col["rejected"]]["role"] == "assistant"
        else:
            check_alternation(messages, "assistant")
        if kind == "kto":
            assert isinstance(r[col["kto_tag"]], bool)
        texts = [m["content"] for m in messages] + ([r["chosen"]["content"], r["rejected"]["content"]]
                                                    if kind == "dpo" else [])
        # mm_plugin: "The number of images does not match the number of <image> tokens"
        assert sum(t.count("<image>") for t in texts) == len(r[col["images"]])
        for rel in r[col["images"]]:
            assert (result.path / rel).is_file()  # relative to dataset_dir (= media_dir by default)
        assert r["metadata"]["row_id"] == r["id"]
    if kind == "dpo":
        assert any(r["system"] == "Be brief." for r in rows)
