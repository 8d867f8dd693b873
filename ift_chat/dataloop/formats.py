"""JSON-family exports: LLaVA, ShareGPT / LLaMA-Factory, our eval-set JSONL (OpenAI: ``openai_jsonl``).

Each writer streams rows to one file in the export's temp dir (images are copied
to ``images/`` and referenced by relative path) and returns the row count. Rows
come from ``ExportJob``'s streams, which apply the image-token policy, fill the
report and record each row's provenance.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..dialog import IMAGE_TOKEN_RE
from ..errors import ValidationError
from ..store import Store
from .outdir import ExportDir, ImageCopier
from .provenance import SIDECAR, ProvenanceWriter, row_id
from .report import DataReport
from .samples import Pair, Sample, SampleRound, Unpaired, images_of, preference_pairs, sft_samples, \
    unpaired_examples
from .select import Selection

IMAGE_TOKEN = "<image>"
TEXT_TOKEN_POLICIES = ("escape", "skip")
LLAVA_FLAVORS = ("1.5", "next")
PLACEMENTS = ("first", "sent")
PROGRESS_EVERY = 1000


def escape_image_tokens(text: str) -> str:
    """``<image>`` → ``&lt;image>``: still readable, no longer the placeholder token."""
    return IMAGE_TOKEN_RE.sub(lambda m: ("&lt;" if m.group(0)[0] == "<" else "&#91;") + m.group(0)[1:], text)


@dataclass
class ExportJob:
    """What a format writer gets: the selection, where to write, the report to fill, options."""

    store: Store
    selection: Selection
    out: ExportDir
    images: ImageCopier
    report: DataReport = field(default_factory=DataReport)
    options: dict = field(default_factory=dict)
    export_id: int = 0
    progress: Callable[[int], None] | None = None
    choices: dict = field(default_factory=dict)  # report.json "choices": what this export decided
    _trace: ProvenanceWriter | None = None

    def __post_init__(self) -> None:
        policy = self.options.get("image_tokens_in_text", "escape")
        if policy not in TEXT_TOKEN_POLICIES:
            raise ValidationError(f"image tokens in text: choose {' or '.join(TEXT_TOKEN_POLICIES)}, not {policy!r}")
        self.choices["image_tokens_in_text"] = (
            "escaped (<image> → &lt;image>)" if policy == "escape" else "rows skipped")

    # -- provenance and progress ------------------------------------------------
    def trace(self, source_id: str, prov: dict) -> tuple[str, dict]:
        """(row id, in-row metadata) for the next written row; also its line in provenance.jsonl."""
        if self._trace is None:
            self._trace = ProvenanceWriter(self.out.path(SIDECAR), self.export_id)
        rid = row_id(self.export_id, source_id)
        meta = self._trace.add(rid, prov)
        if self.progress and self._trace.count % PROGRESS_EVERY == 0:
            self.progress(self._trace.count)
        return rid, meta

    def close(self) -> None:
        if self._trace is not None:
            self._trace.close()
            if self.progress:
                self.progress(self._trace.count)

    def skip(self, reason: str) -> None:
        self.selection.skipped[reason] += 1

    def note(self, what: str) -> None:
        self.selection.notes[what] += 1

    # -- sample streams (image-token policy applied, report filled) -------------
    def _guard(self, item, texts: list[str]):
        if not any(IMAGE_TOKEN_RE.search(t or "") for t in texts):
            return item
        if self.options.get("image_tokens_in_text", "escape") == "skip":
            self.skip("rows whose text contains an image token such as <image> (--image-tokens-in-text skip)")
            return None
        self.note("rows whose text had image tokens escaped (<image> → &lt;image>)")
        return _escaped(item)

    def sft(self, refuse: Callable[[Sample], str | None] | None = None) -> Iterator[Sample]:
        """SFT samples; ``refuse`` names why a format cannot take one (then it is skipped and counted)."""
        for s in sft_samples(self.selection):
            s = self._guard(s, [s.system_prompt, *(t for r in s.rounds for t in (r.text, r.reply))])
            if s is not None and refuse and (reason := refuse(s)):
                self.skip(reason)
            elif s is not None:
                report_sample(self.report, s)
                yield s

    def pairs(self) -> Iterator[Pair]:
        for p in preference_pairs(self.selection):
            p = self._guard(p, [p.system_prompt, p.chosen, p.rejected, *_round_texts(p.prompt)])
            if p is not None:
                self.report.add(checkpoint=p.chosen_checkpoint, source=p.source,
                                instructions=[r.text for r in p.prompt], responses=[p.chosen, p.rejected],
                                images=len(images_of(p.prompt)))
                yield p

    def unpaired(self) -> Iterator[Unpaired]:
        for u in unpaired_examples(self.selection):
            u = self._guard(u, [u.system_prompt, u.completion, *_round_texts(u.prompt)])
            if u is not None:
                self.report.add(checkpoint=u.checkpoint, source="kto", instructions=[r.text for r in u.prompt],
                                responses=[u.completion], images=len(images_of(u.prompt)),
                                label="desirable" if u.label else "undesirable")
                yield u


def _round_texts(rounds) -> list[str]:
    return [t for r in rounds for t in (r.text, r.reply)]


def _escaped(item):
    esc = lambda t: escape_image_tokens(t) if t else t  # noqa: E731
    rounds_field = "rounds" if isinstance(item, Sample) else "prompt"
    changes = {rounds_field: tuple(SampleRound(esc(r.text), r.images, esc(r.reply))
                                   for r in getattr(item, rounds_field)),
               "system_prompt": esc(item.system_prompt)}
    if isinstance(item, Pair):
        changes.update(chosen=esc(item.chosen), rejected=esc(item.rejected))
    if isinstance(item, Unpaired):
        changes.update(completion=esc(item.completion))
    return dataclasses.replace(item, **changes)


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


def with_image_tokens(text: str, n_images: int) -> str:
    """LLaVA-style text: one ``<image>`` line per image, then the instruction."""
    return "\n".join([IMAGE_TOKEN] * n_images + ([text] if text else []))


def placed_image_counts(rounds, placement: str) -> list[int]:
    """How many ``<image>`` lines each round's user text gets: where sent, or all in round 1."""
    counts = [len(r.images) for r in rounds]
    return [sum(counts)] + [0] * (len(counts) - 1) if placement == "first" and counts else counts


# -- LLaVA ---------------------------------------------------------------------
def llava_choices(job: ExportJob) -> tuple[str, str]:
    flavor = str(job.options.get("llava_flavor") or "1.5")
    if flavor not in LLAVA_FLAVORS:
        raise ValidationError(f"--llava-flavor must be {' or '.join(LLAVA_FLAVORS)}, not {flavor!r}")
    placement = job.options.get("image_placement") or ("first" if flavor == "1.5" else "sent")
    if placement not in PLACEMENTS:
        raise ValidationError(f"--image-placement must be {' or '.join(PLACEMENTS)}, not {placement!r}")
    job.choices.update({
        "llava_flavor": flavor,
        "image_field": "a string (one image path per row; LLaVA-1.5's LazySupervisedDataset)" if flavor == "1.5"
        else "a string for one image, a list for several (LLaVA-NeXT / OneVision)",
        "multi_image_rows": "skipped (LLaVA-1.5 loads one image per row; use --llava-flavor next)"
        if flavor == "1.5" else "written with a list of images, one <image> per image",
        "image_placement": "all <image> lines at the start of the first human turn (as LLaVA-Instruct)"
        if placement == "first" else "each <image> line in the human turn the image was sent with",
        "system_prompt": "top-level \"system\" key (LLaVA's loaders ignore it and use their conversation "
                         "template's system message)"})
    return flavor, placement


def llava_record(job: ExportJob, s: Sample, placement: str) -> dict:
    conversations = []
    for r, k in zip(s.rounds, placed_image_counts(s.rounds, placement)):
        conversations.append({"from": "human", "value": with_image_tokens(r.text, k)})
        conversations.append({"from": "gpt", "value": r.reply})
    paths = [job.images.relative(sha) for sha in images_of(s.rounds)]
    rid, meta = job.trace(s.id, s.provenance)
    record: dict = {"id": rid}
    if paths:
        record["image"] = paths[0] if len(paths) == 1 else paths
    record["conversations"] = conversations
    if s.system_prompt:
        record["system"] = s.system_prompt
    record["metadata"] = meta
    return record


def write_llava(job: ExportJob) -> int:
    flavor, placement = llava_choices(job)

    def refuse(s: Sample) -> str | None:
        if flavor == "1.5" and len(images_of(s.rounds)) > 1:
            return "LLaVA-1.5: rows with more than one image (use --llava-flavor next)"
        return None
    return write_array(job.out.path("llava.json"), (llava_record(job, s, placement) for s in job.sft(refuse)))


# -- ShareGPT / LLaMA-Factory -----------------------------------------------------
def sharegpt_messages(rounds, placement: str = "sent") -> list[dict]:
    messages = []
    for r, k in zip(rounds, placed_image_counts(rounds, placement)):
        messages.append({"role": "user", "content": with_image_tokens(r.text, k)})
        if r.reply is not None:
            messages.append({"role": "assistant", "content": r.reply})
    return messages


def sharegpt_record(job: ExportJob, s: Sample) -> dict:
    rid, meta = job.trace(s.id, s.provenance)
    return {"id": rid, "messages": sharegpt_messages(s.rounds), "system": s.system_prompt,
            "images": [job.images.relative(sha) for sha in images_of(s.rounds)], "metadata": meta}


def write_sharegpt(job: ExportJob) -> int:
    from .llamafactory import write_dataset_info

    job.choices["image_placement"] = "each <image> in the user turn the image was sent with"
    count = write_array(job.out.path("data.json"), (sharegpt_record(job, s) for s in job.sft()))
    write_dataset_info(job, "sft", "data.json")
    return count


# -- our evaluation-set JSONL -----------------------------------------------------
def evalset_rounds(rounds: list[dict], images: ImageCopier) -> list[dict]:
    return [{"text": r["text"], "images": [images.relative(sha) for sha in r.get("images") or []],
             "reference": r.get("reference")} for r in rounds]


def stored_eval_items(job: ExportJob, name: str) -> Iterator[dict]:
    eval_set = job.store.eval_sets.by_name(name)
    for item in job.store.eval_sets.items(eval_set.id):
        job.report.add(checkpoint="-", source=f"eval set {name}",
                       instructions=[r["text"] for r in item.rounds],
                       responses=[r["reference"] for r in item.rounds if r.get("reference")],
                       images=sum(len(r.get("images") or []) for r in item.rounds))
        _, meta = job.trace(f"item-{item.id}", {"eval_set": eval_set.id, "eval_item": item.id})
        system = getattr(item, "system_prompt", "") or ""
        yield {"id": item.external_id or f"{name}-{item.idx}", **({"system": system} if system else {}),
               "rounds": evalset_rounds(item.rounds, job.images), "metadata": meta}


def dialog_eval_items(job: ExportJob) -> Iterator[dict]:
    for s in job.sft():
        rid, meta = job.trace("eval-" + s.id.removeprefix("sft-"), s.provenance)
        rounds = [{"text": r.text, "images": r.images, "reference": r.reply} for r in s.rounds]
        yield {"id": rid, **({"system": s.system_prompt} if s.system_prompt else {}),
               "rounds": evalset_rounds(rounds, job.images), "metadata": meta}


def write_evalset(job: ExportJob) -> int:
    """From a stored eval set (option ``eval_set``) or from rated dialogs (replies as references)."""
    job.choices["system_prompt"] = "\"system\" key of each item (replays run with it)"
    records = stored_eval_items(job, job.options["eval_set"]) if job.options.get("eval_set") \
        else dialog_eval_items(job)
    return write_jsonl(job.out.path("evalset.jsonl"), records)
