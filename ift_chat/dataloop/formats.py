"""JSON-family exports: LLaVA, ShareGPT / LLaMA-Factory, OpenAI chat JSONL, our eval-set JSONL.

Each writer streams rows to one file in the export's temp dir (images are copied
to ``images/`` and referenced by relative path) and returns the row count.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from ..store import Store
from .outdir import ExportDir, ImageCopier
from .report import DataReport
from .samples import Sample, SampleRound, images_of, sft_samples
from .select import Selection

IMAGE_TOKEN = "<image>"
LLAMA_FACTORY_DATASET = "ift_chat"


@dataclass
class ExportJob:
    """What a format writer gets: the selection, where to write, and the report to fill."""

    store: Store
    selection: Selection
    out: ExportDir
    images: ImageCopier
    report: DataReport = field(default_factory=DataReport)
    options: dict = field(default_factory=dict)


class JsonArrayWriter:
    """A JSON array written one element at a time (constant memory)."""

    def __init__(self, path: Path):
        self.f = open(path, "w", encoding="utf-8")
        self.count = 0

    def add(self, item: dict) -> None:
        self.f.write(("[\n" if self.count == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
        self.count += 1

    def close(self) -> None:
        self.f.write("[]\n" if self.count == 0 else "\n]\n")
        self.f.close()


def write_jsonl(path: Path, items: Iterable[dict]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_array(path: Path, items: Iterable[dict]) -> int:
    writer = JsonArrayWriter(path)
    try:
        for item in items:
            writer.add(item)
    finally:
        writer.close()
    return writer.count


def report_sample(report: DataReport, sample: Sample) -> None:
    report.add(checkpoint=sample.checkpoint, source="corrected" if sample.corrected_rounds else "rated",
               instructions=[r.text for r in sample.rounds], responses=[r.reply for r in sample.rounds],
               images=len(images_of(sample.rounds)), tags=sample.tags)


def reported(job: ExportJob) -> Iterator[Sample]:
    for sample in sft_samples(job.selection):
        report_sample(job.report, sample)
        yield sample


def with_image_tokens(r: SampleRound) -> str:
    """LLaVA-style text: one ``<image>`` line per image, then the instruction."""
    return "\n".join([IMAGE_TOKEN] * len(r.images) + ([r.text] if r.text else []))


# -- LLaVA ---------------------------------------------------------------------
def llava_record(sample: Sample, images: ImageCopier) -> dict:
    conversations = []
    for r in sample.rounds:
        conversations.append({"from": "human", "value": with_image_tokens(r)})
        conversations.append({"from": "gpt", "value": r.reply})
    paths = [images.relative(sha) for sha in images_of(sample.rounds)]
    record: dict = {"id": sample.id}
    if len(paths) == 1:
        record["image"] = paths[0]
    elif paths:
        record["image"] = paths
    record["conversations"] = conversations
    return record


def write_llava(job: ExportJob) -> int:
    return write_array(job.out.path("llava.json"), (llava_record(s, job.images) for s in reported(job)))


# -- ShareGPT / LLaMA-Factory -----------------------------------------------------
def sharegpt_record(sample: Sample, images: ImageCopier) -> dict:
    messages = []
    for r in sample.rounds:
        messages.append({"role": "user", "content": with_image_tokens(r)})
        messages.append({"role": "assistant", "content": r.reply})
    return {"id": sample.id, "messages": messages, "system": sample.system_prompt,
            "images": [images.relative(sha) for sha in images_of(sample.rounds)]}


def dataset_info(file_name: str) -> dict:
    """LLaMA-Factory's dataset_info.json entry (images resolve relative to this dir)."""
    return {LLAMA_FACTORY_DATASET: {
        "file_name": file_name, "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images", "system": "system"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant", "system_tag": "system"}}}


def write_sharegpt(job: ExportJob) -> int:
    count = write_array(job.out.path("data.json"), (sharegpt_record(s, job.images) for s in reported(job)))
    job.out.path("dataset_info.json").write_text(json.dumps(dataset_info("data.json"), indent=2) + "\n")
    return count


# -- OpenAI chat JSONL ------------------------------------------------------------
def image_url(sha: str, images: ImageCopier, inline: bool) -> str:
    if not inline:
        return images.relative(sha)
    data, name = images.read(sha)
    mime = mimetypes.guess_type(name)[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def openai_record(sample: Sample, images: ImageCopier, inline: bool) -> dict:
    messages = [{"role": "system", "content": sample.system_prompt}] if sample.system_prompt else []
    for r in sample.rounds:
        parts = [{"type": "text", "text": r.text}] if r.text else []
        parts += [{"type": "image_url", "image_url": {"url": image_url(sha, images, inline)}} for sha in r.images]
        messages.append({"role": "user", "content": parts})
        messages.append({"role": "assistant", "content": r.reply})
    return {"messages": messages}


def write_openai(job: ExportJob) -> int:
    inline = bool(job.options.get("inline_images"))
    return write_jsonl(job.out.path("data.jsonl"),
                       (openai_record(s, job.images, inline) for s in reported(job)))


# -- our evaluation-set JSONL -----------------------------------------------------
def evalset_record(external_id: str, rounds: list[dict], images: ImageCopier) -> dict:
    return {"id": external_id, "rounds": [
        {"text": r["text"], "images": [images.relative(sha) for sha in r.get("images") or []],
         "reference": r.get("reference")} for r in rounds]}


def stored_eval_items(job: ExportJob, name: str) -> Iterator[dict]:
    eval_set = job.store.eval_sets.by_name(name)
    for item in job.store.eval_sets.items(eval_set.id):
        job.report.add(checkpoint="-", source=f"eval set {name}",
                       instructions=[r["text"] for r in item.rounds],
                       responses=[r["reference"] for r in item.rounds if r.get("reference")],
                       images=sum(len(r.get("images") or []) for r in item.rounds))
        yield evalset_record(item.external_id or f"{name}-{item.idx}", item.rounds, job.images)


def write_evalset(job: ExportJob) -> int:
    """From a stored eval set (option ``eval_set``) or from rated dialogs (replies as references)."""
    if job.options.get("eval_set"):
        records = stored_eval_items(job, job.options["eval_set"])
    else:
        records = (evalset_record(s.id, [{"text": r.text, "images": r.images, "reference": r.reply}
                                         for r in s.rounds], job.images) for s in reported(job))
    return write_jsonl(job.out.path("evalset.jsonl"), records)
