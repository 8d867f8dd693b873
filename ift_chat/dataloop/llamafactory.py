"""LLaMA-Factory side of the exports: ``dataset_info.json`` entries and ShareGPT rows.

SFT (``sharegpt`` format), preference (``dpo``: ``ranking: true``, ``chosen`` /
``rejected`` assistant messages) and KTO (``kto``: ``kto_tag`` column). Images are
paths relative to the export dir, which is LLaMA-Factory's ``dataset_dir`` (and
default ``media_dir``): ``--dataset_dir <export> --dataset ift_chat_<kind>``.
"""

from __future__ import annotations

import json

from .formats import ExportJob, JsonArrayWriter, sharegpt_messages
from .samples import Pair, Unpaired, images_of

DATASET_NAMES = {"sft": "ift_chat_sft", "preference": "ift_chat_dpo", "unpaired": "ift_chat_kto"}
TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
        "system_tag": "system"}
LF_FILE = "llamafactory.json"


def dataset_info(kind: str, file_name: str) -> dict:
    columns = {"messages": "messages", "images": "images", "system": "system"}
    entry: dict = {"file_name": file_name, "formatting": "sharegpt"}
    if kind == "preference":
        entry["ranking"] = True
        columns.update(chosen="chosen", rejected="rejected")
    elif kind == "unpaired":
        columns["kto_tag"] = "label"
    return {DATASET_NAMES[kind]: {**entry, "columns": columns, "tags": TAGS}}


def write_dataset_info(job: ExportJob, kind: str, file_name: str) -> None:
    job.out.path("dataset_info.json").write_text(json.dumps(dataset_info(kind, file_name), indent=2) + "\n")
    job.choices["llamafactory"] = f"dataset_info.json entry {DATASET_NAMES[kind]!r} → {file_name}"


def pair_record(job: ExportJob, p: Pair, rid: str, meta: dict) -> dict:
    return {"id": rid, "messages": sharegpt_messages(p.prompt), "system": p.system_prompt,
            "chosen": {"role": "assistant", "content": p.chosen},
            "rejected": {"role": "assistant", "content": p.rejected},
            "images": [job.images.relative(sha) for sha in images_of(p.prompt)], "metadata": meta}


def kto_record(job: ExportJob, u: Unpaired, rid: str, meta: dict) -> dict:
    messages = sharegpt_messages(u.prompt) + [{"role": "assistant", "content": u.completion}]
    return {"id": rid, "messages": messages, "system": u.system_prompt, "label": u.label,
            "images": [job.images.relative(sha) for sha in images_of(u.prompt)], "metadata": meta}


class SideFile:
    """The LLaMA-Factory copy of a TRL export, written row by row alongside it."""

    def __init__(self, job: ExportJob, kind: str):
        self.job, self.kind = job, kind
        self.writer = JsonArrayWriter(job.out.path(LF_FILE))

    def add(self, item, rid: str, meta: dict) -> None:
        record = pair_record if self.kind == "preference" else kto_record
        self.writer.add(record(self.job, item, rid, meta))

    def close(self) -> None:
        self.writer.close()
        write_dataset_info(self.job, self.kind, LF_FILE)
