"""OpenAI chat fine-tuning JSONL with image parts, uploadable as written.

OpenAI's rules (vision fine-tuning guide): images as ``https:`` or ``data:`` URLs,
JPEG / PNG / WEBP, mode RGB or RGBA, at most 10 MB each and 10 per example, only in
user messages; a line holds ``messages`` (no other key is accepted), so row ids and
provenance go to ``provenance.jsonl`` (line N ↔ line N).

``--images inline`` (default): data: URLs. ``url-prefix=https://host/path``: URLs under
that prefix, files in ``images/`` to upload there. ``relative``: ``images/…`` paths
(for other tools; OpenAI refuses them, the report says so).
"""

from __future__ import annotations

import base64
import io

from PIL import Image

from ..errors import ValidationError
from .formats import ExportJob, write_jsonl
from .samples import Sample

MIMES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
MODES = ("RGB", "RGBA")
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGES_PER_EXAMPLE = 10
MIN_EXAMPLES = 10


def parse_images_option(value: str | None) -> tuple[str, str | None]:
    value = (value or "inline").strip()
    if value in ("inline", "relative"):
        return value, None
    if value.startswith("url-prefix="):
        prefix = value.split("=", 1)[1].rstrip("/")
        if not prefix.startswith(("https://", "http://")):
            raise ValidationError(f"--images url-prefix must be an http(s) URL, not {prefix!r}")
        return "url-prefix", prefix
    raise ValidationError(f"--images must be inline, relative or url-prefix=https://…, not {value!r}")


class OpenAIImages:
    """Image URLs that OpenAI accepts: other modes or formats converted to PNG (RGB, or RGBA
    when the image has transparency); conversions are counted in the report."""

    def __init__(self, job: ExportJob, mode: str, prefix: str | None):
        self.job, self.mode, self.prefix = job, mode, prefix
        self._files: dict[str, str] = {}  # sha → relative path written (non-inline modes)
        self._fits: dict[str, bool] = {}
        self._as_is: dict[str, str] = {}  # sha → mime of images OpenAI takes unchanged

    def _openai_bytes(self, sha: str) -> tuple[bytes, str, str | None]:
        """(bytes, mime, converted-from mode or None)."""
        data, _ = self.job.images.read(sha)
        if sha in self._as_is:  # known good: skip decoding it again
            return data, self._as_is[sha], None
        with Image.open(io.BytesIO(data)) as img:
            if img.format in MIMES and img.mode in MODES:
                self._as_is[sha] = MIMES[img.format]
                return data, MIMES[img.format], None
            target = "RGBA" if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info else "RGB"
            buf = io.BytesIO()
            img.convert(target).save(buf, format="PNG")
            return buf.getvalue(), "image/png", f"{img.format} {img.mode} → PNG {target}"

    def fits(self, sha: str) -> bool:
        """Within OpenAI's size limit once converted (checked once per image)."""
        if sha not in self._fits:
            self._fits[sha] = len(self._openai_bytes(sha)[0]) <= MAX_IMAGE_BYTES
        return self._fits[sha]

    def url(self, sha: str) -> str | None:
        """None when OpenAI would refuse the image (too large)."""
        if self.mode == "inline":
            data, mime, converted = self._openai_bytes(sha)
            if converted:
                self.job.note(f"images converted for OpenAI ({converted})")
            if len(data) > MAX_IMAGE_BYTES:
                return None
            return f"data:{mime};base64,{base64.b64encode(data).decode()}"
        if sha not in self._files:
            data, mime, converted = self._openai_bytes(sha)
            if converted:
                self.job.note(f"image files converted for OpenAI ({converted})")
            rel = f"images/{sha}{'.png' if converted else self.job.images.source(sha)[1]}"
            self.job.out.path(rel).write_bytes(data)
            self._files[sha] = rel if len(data) <= MAX_IMAGE_BYTES else ""
        rel = self._files[sha]
        if not rel:
            return None
        return f"{self.prefix}/{rel}" if self.mode == "url-prefix" else rel


def openai_record(s: Sample, urls: OpenAIImages) -> dict | None:
    messages = [{"role": "system", "content": s.system_prompt}] if s.system_prompt else []
    for r in s.rounds:
        parts = [{"type": "text", "text": r.text}] if r.text else []
        for sha in r.images:
            url = urls.url(sha)
            if url is None:
                return None
            parts.append({"type": "image_url", "image_url": {"url": url}})
        messages.append({"role": "user", "content": parts})
        messages.append({"role": "assistant", "content": r.reply})
    return {"messages": messages}


def write_openai(job: ExportJob) -> int:
    mode, prefix = parse_images_option(job.options.get("images"))
    urls = OpenAIImages(job, mode, prefix)
    job.choices["images"] = {"inline": "data: URLs (base64)", "url-prefix": f"URLs under {prefix}/ (upload images/ "
                             "there)", "relative": "relative paths images/…: NOT uploadable to OpenAI as is"}[mode]
    job.choices["row_ids"] = "provenance.jsonl, line N for line N (OpenAI accepts no extra key in a line)"

    def refuse(s: Sample) -> str | None:
        if sum(len(r.images) for r in s.rounds) > MAX_IMAGES_PER_EXAMPLE:
            return f"OpenAI: rows with more than {MAX_IMAGES_PER_EXAMPLE} images"
        if not all(urls.fits(sha) for r in s.rounds for sha in r.images):
            return f"OpenAI: rows with an image over {MAX_IMAGE_BYTES // 2**20} MB"
        return None

    def rows():
        for s in job.sft(refuse):
            job.trace(s.id, s.provenance)
            yield openai_record(s, urls)

    count = write_jsonl(job.out.path("data.jsonl"), rows())
    if 0 < count < MIN_EXAMPLES:
        job.choices["warning"] = f"OpenAI needs at least {MIN_EXAMPLES} examples; this file has {count}"
    return count
