"""Running one export: reserve its id, select, write to a temp dir, report, rename into place, record it."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..errors import ValidationError
from ..store import Store
from ..store.db import now
from . import formats, hf, openai_jsonl
from .outdir import MARKER, ExportDir, ImageCopier, tree_sha256
from .report import DataReport
from .select import Filters, Selection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Format:
    name: str
    kind: str  # sft | preference | unpaired | evalset
    write: Callable[[formats.ExportJob], int]
    main_file: str
    help: str


FORMATS = {f.name: f for f in (
    Format("llava", "sft", formats.write_llava, "llava.json", "LLaVA JSON (id, image, conversations)"),
    Format("sharegpt", "sft", formats.write_sharegpt, "data.json",
           "ShareGPT / LLaMA-Factory (messages + images, dataset_info.json)"),
    Format("openai", "sft", openai_jsonl.write_openai, "data.jsonl", "OpenAI chat messages JSONL with image parts"),
    Format("hf", "sft", hf.write_hf_sft, "data.parquet", "Hugging Face dataset (save_to_disk + Parquet)"),
    Format("dpo", "preference", hf.write_dpo, "data.parquet",
           "TRL preference pairs (prompt/chosen/rejected + images)"),
    Format("kto", "unpaired", hf.write_kto, "data.parquet", "TRL KTO unpaired (prompt/completion/label)"),
    Format("evalset", "evalset", formats.write_evalset, "evalset.jsonl", "ift-chat evaluation set JSONL"),
)}


@dataclass(frozen=True)
class ExportResult:
    id: int
    path: Path
    format: str
    row_count: int
    sha256: str
    report: dict


def run_export(store: Store, fmt: str, out: Path, filters: Filters, *, force: bool = False,
               rater_id: int | None = None, options: dict | None = None,
               progress: Callable[[int], None] | None = None) -> ExportResult:
    """Write the export and its ``report.json``, then complete its ``exports`` row.

    The row is reserved first (every exported row carries the export id) and removed again
    on any failure (including zero rows): neither files nor a row stay behind.
    ``progress(rows_written)`` is called every ``formats.PROGRESS_EVERY`` rows."""
    if fmt not in FORMATS:
        raise ValidationError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    spec = FORMATS[fmt]
    options = dict(options or {})
    filters = filters.validate().for_kind(spec.kind)
    if options.get("eval_set"):
        filters = replace(filters, split="all")  # a stored eval set is dumped whole
    selection = Selection(store, filters)
    final: Path | None = None
    with ExportDir(out, force=force) as target:
        export_id = _reserve(store, spec, fmt, target.out, filters, options, rater_id)
        try:
            job = formats.ExportJob(store, selection, target, ImageCopier(store, target), DataReport(), options,
                                    export_id, progress)
            if filters.checks != "off":
                job.choices["automatic_checks"] = checks_choice(filters)
            if selection.judge is not None:  # opt-in; its agreement and trust go with the data
                job.choices["judge"] = selection.judge_choice()
                if selection.judge_warning:
                    log.warning("export %d: %s", export_id, selection.judge_warning)
            try:
                count = spec.write(job)
            finally:
                job.close()
            if count == 0:
                raise ValidationError("no rows passed the filters; nothing was written")
            report = {**job.report.to_dict(selection.duplicates), "split": filters.split,
                      "choices": job.choices, "skipped": dict(selection.skipped), "notes": dict(selection.notes)}
            record = {"export_id": export_id, "format": fmt, "kind": spec.kind, "main_file": spec.main_file,
                      "filters": filters.to_dict(), "options": options, "created": now()}
            target.path(MARKER).write_text(json.dumps({**record, "report": report}, indent=2) + "\n")
            digest = tree_sha256(target.tmp)
            final = target.commit()
            with store.write() as db:
                db["exports"].update(export_id, {"row_count": count, "sha256": digest})
        except BaseException:
            if final is not None:
                shutil.rmtree(final, ignore_errors=True)  # no row, no files
            with store.write() as db:
                db["exports"].delete(export_id)
            raise
    log.info("exported %d %s rows to %s", count, fmt, final)
    return ExportResult(export_id, final, fmt, count, digest, report)


def checks_choice(filters: Filters) -> str:
    """report.json's line on how the stored automatic checks (response_checks) were used."""
    verdict = f"{filters.checks} verdicts (IFEval {filters.checks}) of the stored automatic checks"
    if filters.checks_only:
        return (f"{verdict} decide alone: SFT rounds and KTO labels need every round to carry a verifiable "
                "constraint; preference pairs are same-prompt A/B turns where one reply passed every active "
                "constraint and the other failed one; ratings, votes and corrections are not used")
    return (f"{verdict} filter the rated data: a reply that failed one is no SFT round, no desirable KTO "
            "example and no chosen reply; A/B turns without votes where one reply passed and the other "
            "failed become preference pairs (source \"checks\")")


def _reserve(store: Store, spec: Format, fmt: str, out: Path, filters: Filters, options: dict,
             rater_id: int | None) -> int:
    """The export's row, written first so rows can carry its id (sha256 stays empty until done)."""
    with store.write() as db:
        return db["exports"].insert({
            "kind": spec.kind, "format": fmt, "path": str(out),
            "filters": json.dumps({**filters.to_dict(), **({"options": options} if options else {})}),
            "row_count": 0, "sha256": None, "rater_id": rater_id, "created": now()}).last_pk


def recent_exports(store: Store, limit: int = 20) -> list[dict]:
    """Finished exports (a reserved row of one still being written has no sha256 yet)."""
    return store.query("select * from exports where sha256 is not null order by id desc limit ?", [limit])
