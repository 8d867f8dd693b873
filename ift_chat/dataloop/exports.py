"""Running one export: select, write to a temp dir, report, rename into place, record it."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ValidationError
from ..store import Store
from ..store.db import now
from . import formats, hf
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
    Format("openai", "sft", formats.write_openai, "data.jsonl", "OpenAI chat messages JSONL with image parts"),
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
               rater_id: int | None = None, options: dict | None = None) -> ExportResult:
    """Write the export and its ``report.json``, then one ``exports`` row.

    Any failure (including zero rows) leaves neither files nor a row behind."""
    if fmt not in FORMATS:
        raise ValidationError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    spec = FORMATS[fmt]
    options = dict(options or {})
    selection = Selection(store, filters)
    with ExportDir(out, force=force) as target:
        job = formats.ExportJob(store, selection, target, ImageCopier(store, target), DataReport(), options)
        count = spec.write(job)
        if count == 0:
            raise ValidationError("no rows passed the filters; nothing was written")
        report = job.report.to_dict(selection.duplicates)
        record = {"format": fmt, "kind": spec.kind, "main_file": spec.main_file,
                  "filters": filters.to_dict(), "options": options, "created": now()}
        target.path(MARKER).write_text(json.dumps({**record, "report": report}, indent=2) + "\n")
        digest = tree_sha256(target.tmp)
        final = target.commit()
    try:
        with store.write() as db:
            export_id = db["exports"].insert({
                "kind": spec.kind, "format": fmt, "path": str(final),
                "filters": json.dumps({**filters.to_dict(), **({"options": options} if options else {})}),
                "row_count": count, "sha256": digest, "rater_id": rater_id, "created": now()}).last_pk
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)  # no row, no files
        raise
    log.info("exported %d %s rows to %s", count, fmt, final)
    return ExportResult(export_id, final, fmt, count, digest, report)


def recent_exports(store: Store, limit: int = 20) -> list[dict]:
    return store.query("select * from exports order by id desc limit ?", [limit])
