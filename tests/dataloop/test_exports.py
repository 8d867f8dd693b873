"""Every export loaded back by its real consumer; images present and referenced; nothing half-written."""

from __future__ import annotations

import hashlib
import json

import datasets
import pytest
from PIL import Image

from ift_chat.dataloop.exports import FORMATS, run_export
from ift_chat.dataloop.outdir import tree_sha256
from ift_chat.dataloop.select import Filters
from ift_chat.errors import ValidationError

GOOD = {"A red square.", "Red.", "It is blue-ish green.", "WINNER haiku.", "SLOPPYPASS reply."}


def export(world, tmp_path, fmt, **filters):
    # split="all": these tests check formats; a text-only dialog's split depends on its random id
    filters = {"split": "all", **filters}
    return run_export(world.store, fmt, tmp_path / "exports" / fmt, Filters(**filters), rater_id=world.raters["admin"])


def check_image(root, rel, world):
    path = root / rel
    assert path.is_file() and path.resolve().is_relative_to(root.resolve())
    assert hashlib.sha256(path.read_bytes()).hexdigest() in world.images.values()


def check_row(world, result):
    row = world.store.query("select * from exports where id = ?", [result.id])[0]
    assert row["row_count"] == result.row_count and row["path"] == str(result.path)
    assert row["sha256"] == tree_sha256(result.path) and row["rater_id"] == world.raters["admin"]
    assert json.loads(row["filters"])["min_raters"] == 2
    report = json.loads((result.path / "report.json").read_text())["report"]
    assert report["rows"] == result.row_count


def test_llava_json(world, tmp_path):
    result = export(world, tmp_path, "llava")
    records = json.loads((result.path / "llava.json").read_text())
    assert len(records) == result.row_count == 4
    gpt = {c["value"] for r in records for c in r["conversations"] if c["from"] == "gpt"}
    assert gpt == GOOD
    for r in records:
        assert set(r) <= {"id", "image", "conversations", "system", "metadata"}
        assert r["id"] == r["metadata"]["row_id"] == f"x{result.id}-sft-{r['metadata']['conversation']}-{r['metadata']['side']}"
        assert [c["from"] for c in r["conversations"]] == ["human", "gpt"] * (len(r["conversations"]) // 2)
        n_tokens = sum(c["value"].count("<image>") for c in r["conversations"])
        images = [r["image"]] if isinstance(r.get("image"), str) else r.get("image", [])
        assert n_tokens == len(images)
        for rel in images:
            check_image(result.path, rel, world)
    check_row(world, result)


def test_sharegpt_with_dataset_info(world, tmp_path):
    result = export(world, tmp_path, "sharegpt")
    info = json.loads((result.path / "dataset_info.json").read_text())["ift_chat_sft"]
    assert info["formatting"] == "sharegpt" and info["columns"]["images"] == "images"
    records = json.loads((result.path / info["file_name"]).read_text())
    assert {m["content"] for r in records for m in r["messages"] if m["role"] == "assistant"} == GOOD
    for r in records:
        assert sum(m["content"].count("<image>") for m in r["messages"]) == len(r["images"])
        for rel in r["images"]:
            check_image(result.path, rel, world)
    check_row(world, result)


def test_openai_jsonl(world, tmp_path):
    result = run_export(world.store, "openai", tmp_path / "relative", Filters(split="all"),
                        options={"images": "relative"})
    lines = [json.loads(line) for line in (result.path / "data.jsonl").read_text().splitlines()]
    assert len(lines) == 4
    urls = [p["image_url"]["url"] for r in lines for m in r["messages"] if m["role"] == "user"
            for p in m["content"] if p["type"] == "image_url"]
    assert len(urls) == 3
    for url in urls:
        check_image(result.path, url, world)
    inline = export(world, tmp_path, "openai")  # the default: data: URLs
    text = (inline.path / "data.jsonl").read_text()
    assert text.count("data:image/png;base64,") == 3 and not (inline.path / "images").exists()


def test_hf_dataset_load_from_disk_and_parquet(world, tmp_path):
    result = export(world, tmp_path, "hf")
    for ds in (datasets.load_from_disk(str(result.path / "hf")),
               datasets.load_dataset("parquet", data_files=str(result.path / "data.parquet"), split="train")):
        assert isinstance(ds.features["images"].feature, datasets.Image)
        assert len(ds) == 4
        for row in ds:
            image_parts = sum(p["type"] == "image" for m in row["messages"] for p in m["content"])
            assert image_parts == len(row["images"])
            for img in row["images"]:
                assert isinstance(img, Image.Image) and img.size == (32, 24)
        assistant = {p["text"] for row in ds for m in row["messages"] if m["role"] == "assistant"
                     for p in m["content"]}
        assert assistant == GOOD
    check_row(world, result)


def test_dpo_pairs_in_trl_format(world, tmp_path):
    result = export(world, tmp_path, "dpo")
    ds = datasets.load_dataset("parquet", data_files=str(result.path / "data.parquet"), split="train")
    assert {"prompt", "chosen", "rejected", "images"} <= set(ds.column_names)
    assert len(ds) == 2
    for row in ds:
        assert row["prompt"][-1]["role"] == "user"
        assert [m["role"] for m in row["chosen"]] == ["assistant"] == [m["role"] for m in row["rejected"]]
        assert sum(p["type"] == "image" for m in row["prompt"] for p in m["content"]) == len(row["images"]) == 1
    pairs = {(r["chosen"][0]["content"][0]["text"], r["rejected"][0]["content"][0]["text"]) for r in ds}
    assert pairs == {("WINNER haiku.", "LOSER prose."), ("It is blue-ish green.", "ORIGINAL blue.")}
    assert not any("TIE" in c for pair in pairs for c in pair)
    assert len(datasets.load_from_disk(str(result.path / "hf"))) == 2


def test_kto_unpaired(world, tmp_path):
    result = export(world, tmp_path, "kto")
    ds = datasets.load_from_disk(str(result.path / "hf"))
    assert {"prompt", "completion", "label"} <= set(ds.column_names)
    labels = {row["completion"][0]["content"][0]["text"]: row["label"] for row in ds}
    assert labels["WINNER haiku."] is True and labels["BADREPLY three."] is False
    assert ds.features["label"].dtype == "bool"


def test_data_report(world, tmp_path):
    result = export(world, tmp_path, "llava")
    report = result.report
    assert report["per_checkpoint"] == {"ckpt-a": 2, "ckpt-b": 2}
    assert report["turns_per_dialog"] == {1: 3, 2: 1}
    assert report["duplicates_dropped"] == 1 and report["duplicate_rate"] == 0.2
    assert report["instruction_chars"]["max"] == len("Write a haiku about it.")
    assert 0 < report["distinct_2"] <= 1 and report["distinct_instructions"] == 1.0


def test_refuses_to_overwrite_unless_forced(world, tmp_path):
    first = export(world, tmp_path, "llava")
    with pytest.raises(ValidationError, match="already exists"):
        export(world, tmp_path, "llava")
    again = run_export(world.store, "llava", first.path, Filters(checkpoints=("ckpt-b",), split="all"), force=True)
    assert len(json.loads((again.path / "llava.json").read_text())) == 2
    assert [p.name for p in (tmp_path / "exports").iterdir()] == ["llava"]  # no temp or old dirs left
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me")
    with pytest.raises(ValidationError, match="not an ift-chat export"):
        run_export(world.store, "llava", precious, Filters(), force=True)
    assert (precious / "thesis.txt").read_text() == "keep me"


def test_empty_result_and_failures_leave_nothing(world, tmp_path):
    before = world.store.query("select count(*) n from exports")[0]["n"]
    with pytest.raises(ValidationError, match="no rows"):
        export(world, tmp_path, "hf", checkpoints=("no-such-ckpt",))
    # An image file vanishing mid-export: the error surfaces, no dir and no row remain.
    victim = world.store.images.absolute_path(world.store.images.get(world.images["img4"]))
    victim.unlink()
    with pytest.raises(FileNotFoundError):
        export(world, tmp_path, "llava")
    assert list((tmp_path / "exports").iterdir()) == []
    assert world.store.query("select count(*) n from exports")[0]["n"] == before


def test_unknown_format(world, tmp_path):
    with pytest.raises(ValidationError, match="unknown export format"):
        run_export(world.store, "csv", tmp_path / "x", Filters())
    assert set(FORMATS) == {"llava", "sharegpt", "openai", "hf", "dpo", "kto", "evalset"}
