"""Hugging Face ``datasets`` exports with an ``Image`` feature: SFT, TRL preference (DPO) and KTO.

Rows stream through ``datasets``' ArrowWriter into one Arrow file (bounded
memory), which is then saved with ``save_to_disk`` (``hf/``) and as Parquet
(``data.parquet``). Images are embedded as bytes, so both are self-contained.
Messages follow TRL's conversational format: content is a list of parts
``{"type": "image"|"text", "text": ...}`` with images in order in ``images``.
Every row has an ``id`` and a ``provenance`` struct (export, conversation, side,
turn / response / rating / vote / automatic-check ids). DPO and KTO exports also write LLaMA-Factory's
copy (``llamafactory.json`` + ``dataset_info.json``, images in ``images/``).
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from datasets import Dataset, Features, Image, List, Value
from datasets.arrow_writer import ArrowWriter

from .formats import ExportJob
from .llamafactory import SideFile
from .outdir import ImageCopier
from .samples import SampleRound, images_of

PART = {"type": Value("string"), "text": Value("string")}
MESSAGES = List({"role": Value("string"), "content": List(PART)})
IMAGES = List(Image())
PROVENANCE = {"export": Value("int64"), "row_id": Value("string"), "conversation": Value("string"),
              "side": Value("string"), "turns": List(Value("int64")), "responses": List(Value("int64")),
              "ratings": List(Value("int64")), "votes": List(Value("int64")), "checks": List(Value("int64"))}

SFT_FEATURES = Features({"id": Value("string"), "messages": MESSAGES, "images": IMAGES,
                         "checkpoint": Value("string"), "provenance": PROVENANCE})
DPO_FEATURES = Features({"id": Value("string"), "prompt": MESSAGES, "chosen": MESSAGES,
                         "rejected": MESSAGES, "images": IMAGES, "source": Value("string"),
                         "chosen_checkpoint": Value("string"), "rejected_checkpoint": Value("string"),
                         "provenance": PROVENANCE})
KTO_FEATURES = Features({"id": Value("string"), "prompt": MESSAGES, "completion": MESSAGES,
                         "label": Value("bool"), "images": IMAGES, "checkpoint": Value("string"),
                         "provenance": PROVENANCE})


def text_message(role: str, text: str) -> dict:
    return {"role": role, "content": [{"type": "text", "text": text}]}


def conversation(rounds: Iterable[SampleRound], system_prompt: str = "") -> list[dict]:
    """User rounds (image parts then text) and, where present, the assistant replies."""
    messages = [text_message("system", system_prompt)] if system_prompt else []
    for r in rounds:
        parts = [{"type": "image", "text": None} for _ in r.images]
        if r.text:
            parts.append({"type": "text", "text": r.text})
        messages.append({"role": "user", "content": parts})
        if r.reply is not None:
            messages.append(text_message("assistant", r.reply))
    return messages


def embedded(rounds, images: ImageCopier) -> list[dict]:
    out = []
    for sha in images_of(rounds):
        data, name = images.read(sha)
        out.append({"bytes": data, "path": name})
    return out


def in_row(meta: dict) -> dict:
    return {k: meta.get(k) for k in PROVENANCE}


def sft_rows(job: ExportJob) -> Iterator[dict]:
    for s in job.sft():
        rid, meta = job.trace(s.id, s.provenance)
        yield {"id": rid, "messages": conversation(s.rounds, s.system_prompt),
               "images": embedded(s.rounds, job.images), "checkpoint": s.checkpoint, "provenance": in_row(meta)}


def _rows_and_side_file(job: ExportJob, kind: str, items,
                        columns: Callable[[object], dict]) -> Iterator[dict]:
    """Rows of prompted items (pairs, KTO examples), each also in LLaMA-Factory's side file."""
    side = SideFile(job, kind)
    try:
        for item in items:
            rid, meta = job.trace(item.id, item.provenance)
            side.add(item, rid, meta)
            yield {"id": rid, "prompt": conversation(item.prompt, item.system_prompt), **columns(item),
                   "images": embedded(item.prompt, job.images), "provenance": in_row(meta)}
    finally:
        side.close()


def dpo_rows(job: ExportJob) -> Iterator[dict]:
    return _rows_and_side_file(job, "preference", job.pairs(), lambda p: {
        "chosen": [text_message("assistant", p.chosen)],
        "rejected": [text_message("assistant", p.rejected)], "source": p.source,
        "chosen_checkpoint": p.chosen_checkpoint, "rejected_checkpoint": p.rejected_checkpoint})


def kto_rows(job: ExportJob) -> Iterator[dict]:
    return _rows_and_side_file(job, "unpaired", job.unpaired(), lambda u: {
        "completion": [text_message("assistant", u.completion)], "label": u.label,
        "checkpoint": u.checkpoint})


def write_dataset(job: ExportJob, features: Features, rows: Callable[[ExportJob], Iterator[dict]]) -> int:
    job.choices.update(format="TRL conversational messages (content parts: image, text), images embedded "
                       "(datasets Image feature) in order in `images`", system_prompt="a system message first")
    arrow_path = job.out.path("_rows.arrow")
    writer = ArrowWriter(features=features, path=str(arrow_path), writer_batch_size=256)
    count = 0
    try:
        for row in rows(job):
            writer.write(features.encode_example(row))
            count += 1
        writer.finalize()
    finally:
        writer.close()
    dataset = Dataset.from_file(str(arrow_path))
    dataset.save_to_disk(str(job.out.path("hf")))
    dataset.to_parquet(str(job.out.path("data.parquet")))
    del dataset
    arrow_path.unlink()
    return count


def write_hf_sft(job: ExportJob) -> int:
    return write_dataset(job, SFT_FEATURES, sft_rows)


def write_dpo(job: ExportJob) -> int:
    return write_dataset(job, DPO_FEATURES, dpo_rows)


def write_kto(job: ExportJob) -> int:
    return write_dataset(job, KTO_FEATURES, kto_rows)
