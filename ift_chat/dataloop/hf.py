"""Hugging Face ``datasets`` exports with an ``Image`` feature: SFT, TRL preference (DPO) and KTO.

Rows stream through ``datasets``' ArrowWriter into one Arrow file (bounded
memory), which is then saved with ``save_to_disk`` (``hf/``) and as Parquet
(``data.parquet``). Images are embedded as bytes, so both are self-contained.
Messages follow TRL's conversational format: content is a list of parts
``{"type": "image"|"text", "text": ...}`` with images in order in ``images``.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from datasets import Dataset, Features, Image, List, Value
from datasets.arrow_writer import ArrowWriter

from .formats import ExportJob, report_sample
from .outdir import ImageCopier
from .samples import SampleRound, images_of, preference_pairs, sft_samples, unpaired_examples

PART = {"type": Value("string"), "text": Value("string")}
MESSAGES = List({"role": Value("string"), "content": List(PART)})
IMAGES = List(Image())

SFT_FEATURES = Features({"id": Value("string"), "messages": MESSAGES, "images": IMAGES,
                         "checkpoint": Value("string")})
DPO_FEATURES = Features({"id": Value("string"), "prompt": MESSAGES, "chosen": MESSAGES,
                         "rejected": MESSAGES, "images": IMAGES, "source": Value("string"),
                         "chosen_checkpoint": Value("string"), "rejected_checkpoint": Value("string")})
KTO_FEATURES = Features({"id": Value("string"), "prompt": MESSAGES, "completion": MESSAGES,
                         "label": Value("bool"), "images": IMAGES, "checkpoint": Value("string")})


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


def sft_rows(job: ExportJob) -> Iterator[dict]:
    for s in sft_samples(job.selection):
        report_sample(job.report, s)
        yield {"id": s.id, "messages": conversation(s.rounds, s.system_prompt),
               "images": embedded(s.rounds, job.images), "checkpoint": s.checkpoint}


def dpo_rows(job: ExportJob) -> Iterator[dict]:
    for p in preference_pairs(job.selection):
        job.report.add(checkpoint=p.chosen_checkpoint, source=p.source,
                       instructions=[r.text for r in p.prompt], responses=[p.chosen, p.rejected],
                       images=len(images_of(p.prompt)))
        yield {"id": p.id, "prompt": conversation(p.prompt, p.system_prompt),
               "chosen": [text_message("assistant", p.chosen)],
               "rejected": [text_message("assistant", p.rejected)],
               "images": embedded(p.prompt, job.images), "source": p.source,
               "chosen_checkpoint": p.chosen_checkpoint, "rejected_checkpoint": p.rejected_checkpoint}


def kto_rows(job: ExportJob) -> Iterator[dict]:
    for u in unpaired_examples(job.selection):
        job.report.add(checkpoint=u.checkpoint, source="kto", instructions=[r.text for r in u.prompt],
                       responses=[u.completion], images=len(images_of(u.prompt)),
                       label="desirable" if u.label else "undesirable")
        yield {"id": u.id, "prompt": conversation(u.prompt, u.system_prompt),
               "completion": [text_message("assistant", u.completion)], "label": u.label,
               "images": embedded(u.prompt, job.images), "checkpoint": u.checkpoint}


def write_dataset(job: ExportJob, features: Features, rows: Callable[[ExportJob], Iterator[dict]]) -> int:
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
