"""Importing evaluation sets from our JSONL or LLaVA-format JSON, images from a directory.

Everything is parsed and checked first (structure, then every image decoded);
image files are written content-addressed and the set, image rows and items go
in one transaction. On any error nothing stays: no rows, and image files this
import created are removed again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..dialog import image_tokens_in
from ..errors import ImageError, NotFound, ValidationError
from ..store import Store, prepare_image
from ..store.db import check_name
from ..store.models import EvalSet
from .outdir import inside

IMAGE_TOKEN_RE = re.compile(r"<image>\s*")
SOURCES = ("jsonl", "llava", "mmmt_if")


@dataclass(frozen=True)
class ParsedRound:
    text: str
    images: tuple[str, ...]  # paths relative to the images dir
    reference: str | None


@dataclass(frozen=True)
class ImportResult:
    eval_set: EvalSet
    items: int
    images: int


def _fail(where: str, problem: str):
    raise ValidationError(f"{where}: {problem}")


def detect_format(path: Path, text: str) -> str:
    from .mmmt_if import looks_like_mmmt_if

    if path.suffix.lower() == ".csv" or looks_like_mmmt_if(text):
        return "mmmt_if"
    if path.suffix.lower() == ".jsonl":
        return "jsonl"
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        return "llava"
    return "jsonl"


def _as_paths(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        _fail(where, "images must be a path or a list of paths")
    return tuple(values)


def _system(value, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        _fail(where, "'system' must be text")
    return value or None


def parse_jsonl(text: str) -> list[tuple[str | None, list[ParsedRound], str | None]]:
    """Our format: one item per line, {"id", "system"?, "rounds": [{"text", "images", "reference"}]}."""
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            _fail(where, f"not valid JSON ({exc.msg})")
        if not isinstance(obj, dict) or not isinstance(obj.get("rounds"), list) or not obj["rounds"]:
            _fail(where, "expected an object with a non-empty 'rounds' list")
        rounds = []
        for i, r in enumerate(obj["rounds"], 1):
            if not isinstance(r, dict) or not isinstance(r.get("text", ""), str):
                _fail(f"{where}, round {i}", "expected an object with a 'text' string")
            reference = r.get("reference")
            if reference is not None and not isinstance(reference, str):
                _fail(f"{where}, round {i}", "'reference' must be text or null")
            rounds.append(ParsedRound(r.get("text", ""), _as_paths(r.get("images"), f"{where}, round {i}"),
                                      reference))
        items.append((None if obj.get("id") is None else str(obj["id"]), rounds, _system(obj.get("system"), where)))
    return items


def parse_llava(text: str) -> list[tuple[str | None, list[ParsedRound], str | None]]:
    """LLaVA conversations: each human turn a round, the gpt turn after it its reference; the
    system prompt from a top-level "system" key (as our LLaVA export writes) or a system turn.

    ``<image>`` placeholders place the images on rounds in order; without any, all
    images go with the first round."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, list):
        raise ValidationError("a LLaVA file is a JSON list of {id, image, conversations}")
    items = []
    for n, obj in enumerate(data, 1):
        where = f"item {n}" + (f" (id {obj.get('id')})" if isinstance(obj, dict) and obj.get("id") else "")
        if not isinstance(obj, dict) or not isinstance(obj.get("conversations"), list):
            _fail(where, "expected an object with a 'conversations' list")
        images = list(_as_paths(obj.get("image", obj.get("images")), where))
        rounds = _llava_rounds(obj["conversations"], images, where)
        system = obj.get("system") or next((m.get("value") for m in obj["conversations"]
                                            if isinstance(m, dict) and m.get("from") == "system"), None)
        items.append((None if obj.get("id") is None else str(obj["id"]), rounds, _system(system, where)))
    return items


def _llava_rounds(conversations: list, images: list[str], where: str) -> list[ParsedRound]:
    turns: list[dict] = []
    for i, msg in enumerate(conversations, 1):
        if not isinstance(msg, dict) or not isinstance(msg.get("value"), str):
            _fail(f"{where}, turn {i}", "expected {\"from\": ..., \"value\": text}")
        role = msg.get("from")
        if role in ("human", "user"):
            turns.append({"text": msg["value"], "reference": None})
        elif role in ("gpt", "assistant"):
            if not turns or turns[-1]["reference"] is not None:
                _fail(f"{where}, turn {i}", "a gpt turn must follow a human turn")
            turns[-1]["reference"] = msg["value"]
        elif role != "system":
            _fail(f"{where}, turn {i}", f"unknown speaker {role!r} (expected human or gpt)")
    if not turns:
        _fail(where, "no human turn")
    placeholders = [len(IMAGE_TOKEN_RE.findall(t["text"])) for t in turns]
    if sum(placeholders) == 0:
        placeholders[0] = len(images)
    elif sum(placeholders) != len(images):
        _fail(where, f"{sum(placeholders)} <image> placeholders but {len(images)} image(s)")
    rounds, start = [], 0
    for t, k in zip(turns, placeholders):
        rounds.append(ParsedRound(IMAGE_TOKEN_RE.sub("", t["text"]).strip(),
                                  tuple(images[start:start + k]), t["reference"]))
        start += k
    return rounds


def _check_limits(store: Store, items) -> None:
    limits = store.config.limits
    for n, (_, rounds, _) in enumerate(items, 1):
        for i, r in enumerate(rounds, 1):
            if len(r.text) > limits.max_text_chars or len(r.reference or "") > limits.max_text_chars:
                _fail(f"item {n}, round {i}", f"text longer than {limits.max_text_chars:,} characters")
            if len(r.images) > limits.max_images_per_turn:
                _fail(f"item {n}, round {i}", f"more than {limits.max_images_per_turn} images")
            if not r.text.strip() and not r.images:
                _fail(f"item {n}, round {i}", "neither text nor images")
            # (LLaVA's <image> placeholders were already taken out and became the round's images.)
            for text in (r.text, r.reference or ""):
                if image_tokens_in(text):
                    _fail(f"item {n}, round {i}", f"the text contains {image_tokens_in(text)[0]!r}, an image "
                          "placeholder token; models would read it as an image slot (remove or reword it)")


def _resolve_images(items, images_dir: Path | None) -> dict[str, Path]:
    """Every referenced path, resolved inside ``images_dir`` and present."""
    resolved: dict[str, Path] = {}
    for n, (_, rounds, _) in enumerate(items, 1):
        for r in rounds:
            for rel in r.images:
                if rel in resolved:
                    continue
                if images_dir is None:
                    _fail(f"item {n}", f"references image {rel!r} but no images directory was given")
                path = inside(images_dir, rel)
                if not path.is_file():
                    _fail(f"item {n}", f"image {rel!r} not found in {images_dir}")
                resolved[rel] = path
    return resolved


def import_eval_set(store: Store, file: Path, images_dir: Path | None, name: str,
                    description: str | None = None) -> ImportResult:
    file = Path(file)
    name = check_name(name, "evaluation set name")
    try:
        store.eval_sets.by_name(name)
        raise ValidationError(f"an evaluation set named {name!r} already exists")
    except NotFound:
        pass
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {file}: {exc}") from None
    fmt = detect_format(file, text)
    images_root = Path(images_dir).resolve() if images_dir is not None else None
    items = _parse(fmt, text, images_root)
    if not items:
        raise ValidationError(f"{file.name} has no items")
    _check_limits(store, items)
    paths = _resolve_images(items, images_root)
    created: list[Path] = []
    try:
        rows, shas = _store_image_files(store, paths, created)
        stored = [(ext, [{"text": r.text, "images": [shas[p] for p in r.images], "reference": r.reference}
                         for r in rounds], system) for ext, rounds, system in items]
        with store.write() as db:
            eval_set = store.eval_sets.create(name, source=f"{fmt}:{file.name}", description=description)
            db["images"].insert_all(rows.values(), ignore=True)
            count = store.eval_sets.add_items(eval_set.id, stored)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    return ImportResult(store.eval_sets.by_name(name), count, len(rows))


def _parse(fmt: str, text: str, images_root: Path | None):
    if fmt == "mmmt_if":
        from .mmmt_if import parse_mmmt_if

        return parse_mmmt_if(text, images_root)
    return parse_jsonl(text) if fmt == "jsonl" else parse_llava(text)


def _store_image_files(store: Store, paths: dict[str, Path], created: list[Path]):
    """Decode every image (bad ones raise), write new files; return rows and rel → sha."""
    rows, shas = {}, {}
    for rel, path in paths.items():
        try:
            image = prepare_image(path.read_bytes(), store.config.limits, f"image {rel!r}")
        except OSError as exc:
            raise ImageError(f"cannot read image {rel!r}: {exc.strerror or exc}") from None
        target = store.images.path_for(image.sha256, image.ext)
        existed = target.exists()
        store.images.write_file(image)
        if not existed:
            created.append(target)
        rows[image.sha256] = store.images.row_for(image, target)
        shas[rel] = image.sha256
    return rows, shas

