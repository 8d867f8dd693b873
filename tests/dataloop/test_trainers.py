"""Exports fed to their real consumers: TRL's SFTTrainer, DPOTrainer and KTOTrainer run one
training step each on the demo vision-language checkpoint (SmolVLM architecture, the real
processor: image tokens are counted against images), from the files as exported."""

from __future__ import annotations

import json

import datasets
import pytest

from ift_chat.dataloop.exports import run_export
from ift_chat.dataloop.select import Filters
from tests.dataloop.conftest import LITERAL

trl = pytest.importorskip("trl")


@pytest.fixture(scope="module")
def vlm(demo_checkpoints):
    from transformers import AutoProcessor

    path = demo_checkpoints[0]
    return path, AutoProcessor.from_pretrained(path)


def model(path):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(path)


def args(cls, tmp_path, **extra):
    return cls(output_dir=str(tmp_path / "run"), max_steps=1, per_device_train_batch_size=2, report_to=[],
               use_cpu=True, save_strategy="no", logging_steps=1, dataloader_num_workers=0, **extra)


def exported(w, tmp_path, fmt):
    result = run_export(w.store, fmt, tmp_path / fmt, Filters(split="all"))
    return result, datasets.load_from_disk(str(result.path / "hf"))


def one_step(trainer) -> float:
    out = trainer.train()
    assert out.global_step == 1
    return out.training_loss


def test_sft_trainer_trains_on_hf_export(trainer_world, vlm, tmp_path):
    path, processor = vlm
    result, ds = exported(trainer_world, tmp_path, "hf")
    assert any("&lt;image>" in json.dumps(r["messages"]) for r in ds)  # the literal, escaped
    assert any(len(r["images"]) == 2 for r in ds) and any(r["messages"][0]["role"] == "system" for r in ds)
    trainer = trl.SFTTrainer(model=model(path), args=args(trl.SFTConfig, tmp_path, max_length=None),
                             train_dataset=ds, processing_class=processor)
    assert one_step(trainer) > 0


def test_dpo_trainer_trains_on_dpo_export(trainer_world, vlm, tmp_path):
    path, processor = vlm
    result, ds = exported(trainer_world, tmp_path, "dpo")
    parquet = datasets.load_dataset("parquet", data_files=str(result.path / "data.parquet"), split="train")
    assert parquet["id"] == ds["id"]
    trainer = trl.DPOTrainer(model=model(path), args=args(trl.DPOConfig, tmp_path, max_length=512),
                             train_dataset=ds, processing_class=processor)
    assert one_step(trainer) > 0


def test_dpo_trainer_rejects_an_unescaped_literal(trainer_world, vlm, tmp_path):
    """The control: the same rows with the user's literal <image> left as is fail in TRL."""
    path, processor = vlm
    _, ds = exported(trainer_world, tmp_path, "dpo")

    def unescape(row):
        for m in row["prompt"]:
            for p in m["content"]:
                if p["type"] == "text" and p["text"]:
                    p["text"] = LITERAL
        return row
    broken = ds.map(unescape)
    trainer = trl.DPOTrainer(model=model(path), args=args(trl.DPOConfig, tmp_path, max_length=512),
                             train_dataset=broken, processing_class=processor)
    with pytest.raises(ValueError, match="image"):
        trainer.train()


def test_kto_trainer_trains_on_kto_export(trainer_world, vlm, tmp_path):
    path, processor = vlm
    result, ds = exported(trainer_world, tmp_path, "kto")
    assert set(ds["label"]) == {True, False}
    trainer = trl.KTOTrainer(model=model(path), args=args(trl.KTOConfig, tmp_path, max_length=512),
                             train_dataset=ds, processing_class=processor)
    assert one_step(trainer) > 0


def test_dpo_trainer_trains_on_check_based_pairs(checked_world, vlm, tmp_path):
    """Pairs decided by the automatic checks alone (unrated, unvoted A/B turns) load and train."""
    path, processor = vlm
    result = run_export(checked_world.store, "dpo", tmp_path / "checks",
                        Filters(split="all", checks="strict", checks_only=True))
    ds = datasets.load_from_disk(str(result.path / "hf"))
    assert set(ds["source"]) == {"checks"} and len(ds) >= 2
    trainer = trl.DPOTrainer(model=model(path), args=args(trl.DPOConfig, tmp_path, max_length=512),
                             train_dataset=ds, processing_class=processor)
    assert one_step(trainer) > 0
