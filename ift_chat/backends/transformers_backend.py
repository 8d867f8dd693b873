"""In-process transformers backend: any HF vision-language checkpoint on CPU (or a small GPU).

One model load per checkpoint; ``generate`` runs in a worker thread under one
lock per model, so concurrent requests queue instead of sharing KV state.
Tokens reach the event loop through ``AsyncTextIteratorStreamer``; Stop sets a
``threading.Event`` that a ``StoppingCriteria`` checks after every token, so the
partial text is kept and the worker thread frees the model at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import AsyncIterator

from ..config import Limits
from ..errors import BackendError, ContextOverflow, ImageError, IftChatError
from .base import BackendStatus, Completion, SamplingParams, StreamItem

log = logging.getLogger(__name__)

QUANTIZATIONS = (None, "4bit", "8bit")


def _stop_on_event(event: threading.Event):
    """A StoppingCriteria that stops as soon as ``event`` is set (Stop, stop string, stream closed)."""
    import torch
    from transformers import StoppingCriteria

    class StopOnEvent(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool,
                              device=input_ids.device)

    return StopOnEvent()


class TransformersBackend:
    """A checkpoint directory served in-process with ``generate``."""

    def __init__(self, name: str, path: Path | str, limits: Limits, *, quantization: str | None = None,
                 chat_template: str | None = None, adapter: Path | str | None = None):
        if quantization not in QUANTIZATIONS:
            raise BackendError(f"quantization must be 4bit, 8bit or empty, not {quantization!r}")
        self.name = name
        self.path = Path(path)
        self.limits = limits
        self.quantization = quantization
        self.chat_template = chat_template  # for checkpoints that ship none
        self.adapter = Path(adapter) if adapter else None  # a peft LoRA adapter on the model at ``path``
        self.max_model_len: int | None = None
        self._model = None
        self._processor = None
        self._lock = threading.Lock()  # one generate at a time per model
        self._loaded = threading.Event()
        self._state = BackendStatus("starting", "loading the model")

    # -- lifecycle ---------------------------------------------------------------

    def load(self) -> "TransformersBackend":
        """Load processor and weights (blocking, idempotent); a failure marks the backend down."""
        with self._lock:
            if self._model is not None:
                return self
            try:
                self._processor, self._model, note = _load(self.path, self.quantization, self.chat_template,
                                                           self.adapter)
                self.max_model_len = _context_length(self._model.config)
                self._state = BackendStatus("ready", note)
            except Exception as exc:  # any loader failure: show it, keep the app up
                log.exception("loading %s failed", self.path)
                self._state = BackendStatus("down", f"could not load {self.path.name}: {exc}")
            finally:
                self._loaded.set()
        return self

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Block until loading ended (ready or down); False on timeout."""
        return self._loaded.wait(timeout)

    def status(self) -> BackendStatus:
        return self._state

    async def aclose(self) -> None:
        await asyncio.to_thread(self._unload)  # waits for a running generate without blocking the loop

    def _unload(self) -> None:
        with self._lock:
            self._model = self._processor = None
        self._state = BackendStatus("down", "closed")

    # -- streaming ---------------------------------------------------------------

    async def stream(self, messages: list[dict], params: SamplingParams,
                     cancel: asyncio.Event | None = None) -> AsyncIterator[StreamItem]:
        start = time.perf_counter()
        stop_event = threading.Event()
        text, ttft, prompt_tokens = "", None, None
        watcher = asyncio.ensure_future(_set_when(cancel, stop_event)) if cancel is not None else None
        try:
            params = params.validate(self.limits)
            if not self._loaded.is_set():
                await asyncio.to_thread(self._loaded.wait)
            if self._model is None:
                raise BackendError(f"{self.name} is not available: {self._state.detail}")
            inputs = await asyncio.to_thread(self._prepare, messages)
            prompt_tokens = int(inputs["input_ids"].shape[1])
            max_new = self._max_new_tokens(prompt_tokens, params.max_tokens)
            streamer = self._streamer()
            worker = asyncio.ensure_future(asyncio.to_thread(
                self._generate, inputs, params, max_new, streamer, stop_event))
            stops = _StopScanner(params.stop)
            async for delta in streamer:
                piece = stops.feed(delta)
                if piece:
                    ttft = ttft if ttft is not None else _ms_since(start)
                    text += piece
                    yield piece
                if stops.hit:
                    stop_event.set()
                    break
            if not stops.hit:
                tail = stops.flush()
                if tail:
                    ttft = ttft if ttft is not None else _ms_since(start)
                    text += tail
                    yield tail
            new_tokens = await worker
            yield self._completion(text, stops.hit, cancel, new_tokens, max_new, prompt_tokens, ttft, start)
        except (asyncio.CancelledError, GeneratorExit):
            stop_event.set()
            raise
        except IftChatError as exc:
            yield Completion(text, "error", error=str(exc), prompt_tokens=prompt_tokens,
                             ttft_ms=ttft, latency_ms=_ms_since(start))
        except Exception as exc:  # a model/processor failure ends this reply, not the app
            log.exception("generation with %s failed", self.name)
            yield Completion(text, "error", error=f"{self.name} failed: {type(exc).__name__}: {exc}",
                             prompt_tokens=prompt_tokens, ttft_ms=ttft, latency_ms=_ms_since(start))
        finally:
            stop_event.set()  # a consumer that walks away must free the model
            if watcher is not None:
                watcher.cancel()

    def _completion(self, text, stop_hit, cancel, new_tokens, max_new, prompt_tokens, ttft,
                    start) -> Completion:
        if cancel is not None and cancel.is_set() and not stop_hit:
            status, reason = "stopped", "abort"
        elif stop_hit:
            status, reason = "ok", "stop"
        else:
            status, reason = "ok", "length" if new_tokens >= max_new else "stop"
        return Completion(text, status, finish_reason=reason, prompt_tokens=prompt_tokens,
                          completion_tokens=new_tokens, ttft_ms=ttft, latency_ms=_ms_since(start))

    def _max_new_tokens(self, prompt_tokens: int, wanted: int) -> int:
        if self.max_model_len is None:
            return wanted
        room = self.max_model_len - prompt_tokens
        if room < 1:
            raise ContextOverflow(
                f"the conversation is {prompt_tokens} tokens but {self.name} reads at most "
                f"{self.max_model_len}: start a new conversation or send fewer/smaller images")
        return min(wanted, room)

    def _streamer(self):
        tokenizer = getattr(self._processor, "tokenizer", self._processor)
        return _token_streamer(tokenizer)

    def _prepare(self, messages: list[dict]):
        """Chat template + images → model inputs on the model's device."""
        chat, images = _template_messages(messages, self.limits.send_image_max_side)
        if not hasattr(self._processor, "image_processor"):  # a text-only checkpoint: a tokenizer
            if images:
                raise ImageError(f"{self.name} is a text-only model and cannot read images: send the "
                                 "message without the image, or pick a vision checkpoint")
            chat = [{"role": m["role"], "content": "".join(p["text"] for p in m["content"])} for m in chat]
        prompt = self._processor.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        if images:
            inputs = self._processor(text=prompt, images=images, return_tensors="pt")
        else:
            inputs = self._processor(text=prompt, return_tensors="pt")
        return inputs.to(self._model.device)

    def _generate(self, inputs, params: SamplingParams, max_new: int, streamer, stop_event) -> int:
        """Worker thread: run generate under the model lock; returns the number of new tokens."""
        import torch
        from transformers import StoppingCriteriaList

        try:
            with self._lock:
                if stop_event.is_set() or self._model is None:  # stopped while queued, or closed
                    return 0
                sampling = {"do_sample": False} if params.greedy else {
                    "do_sample": True, "temperature": params.temperature, "top_p": params.top_p}
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                with torch.inference_mode():
                    out = self._model.generate(
                        **inputs, **sampling, max_new_tokens=max_new, streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_stop_on_event(stop_event)]))
                return int(out.shape[1] - inputs["input_ids"].shape[1])
        finally:
            streamer.end()  # idempotent for the reader; unblocks it if generate raised


def _token_streamer(tokenizer):
    """An AsyncTextIteratorStreamer that emits after every token, like vLLM (the stock one waits
    for a space, which delays the first token of a reply without spaces); it holds back only an
    incomplete UTF-8 character."""
    from transformers import AsyncTextIteratorStreamer

    class TokenStreamer(AsyncTextIteratorStreamer):
        def put(self, value):
            if self.skip_prompt and self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            self.token_cache.extend(value.reshape(-1).tolist())
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            if text.endswith("\ufffd"):
                return
            printable, self.print_len = text[self.print_len:], len(text)
            if printable:
                self.on_finalized_text(printable)

    return TokenStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


class _StopScanner:
    """Cut the text at the first stop string; holds back a possible stop-string prefix."""

    def __init__(self, stops: tuple[str, ...]):
        self.stops = stops
        self.keep = max((len(s) for s in stops), default=1) - 1
        self.pending = ""
        self.hit = False

    def feed(self, delta: str) -> str:
        self.pending += delta
        for stop in self.stops:
            at = self.pending.find(stop)
            if at >= 0:
                self.hit, out, self.pending = True, self.pending[:at], ""
                return out
        cut = len(self.pending) - self.keep
        out, self.pending = self.pending[:max(cut, 0)], self.pending[max(cut, 0):]
        return out

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


async def _set_when(cancel: asyncio.Event, stop_event: threading.Event) -> None:
    await cancel.wait()
    stop_event.set()


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _template_messages(messages: list[dict], max_side: int) -> tuple[list[dict], list]:
    """Our message format → chat-template messages (content as parts) + PIL images in order."""
    chat, images = [], []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts = [{"type": "text", "text": content}]
        else:
            parts = []
            for part in content or []:
                if part.get("type") == "image":
                    images.append(load_image(part["path"], max_side))
                    parts.append({"type": "image"})
                elif part.get("type") == "text":
                    parts.append({"type": "text", "text": part["text"]})
                else:
                    raise BackendError(f"unsupported message part type {part.get('type')!r}")
        chat.append({"role": message["role"], "content": parts})
    return chat, images


def load_image(path: str | Path, max_side: int):
    """Open an image as RGB, downscaled so its longer side is at most ``max_side``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise ImageError(f"cannot read image {Path(path).name}: {exc}") from exc
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side))
    return img


def _load(path: Path, quantization: str | None, chat_template: str | None, adapter: Path | None = None):
    """(processor, model, note) for a checkpoint dir (with a LoRA adapter merged in, if given)."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForImageTextToText

    cuda = torch.cuda.is_available()
    kwargs: dict = {"dtype": "auto" if cuda else torch.float32}
    note = ""
    if quantization and cuda:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = (BitsAndBytesConfig(load_in_4bit=True) if quantization == "4bit"
                                         else BitsAndBytesConfig(load_in_8bit=True))
        kwargs["device_map"] = "auto"
        note = f"{quantization} (bitsandbytes)"
    elif quantization:
        note = f"{quantization} quantization needs a CUDA GPU; loaded unquantized"
    processor = _load_processor(path)
    if chat_template is None and getattr(processor, "chat_template", None) is None:
        chat_template = _own_chat_template(path, processor)  # e.g. BLIP-2's processor drops it
    if chat_template is not None:
        processor.chat_template = chat_template
    if getattr(processor, "chat_template", None) is None:
        raise BackendError("the checkpoint has no chat template (add chat_template.jinja)")
    try:
        model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    except ValueError:  # architecture not in the auto mapping: use the class config.json names
        archs = AutoConfig.from_pretrained(path).architectures or []
        cls = next((getattr(transformers, a) for a in archs if hasattr(transformers, a)), None)
        if cls is None:
            raise BackendError(f"transformers {transformers.__version__} has no class for {archs}") from None
        model = cls.from_pretrained(path, **kwargs)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        note = "; ".join(filter(None, [note, f"LoRA {adapter.name} merged into {path.name} (peft)"]))
    if cuda and "device_map" not in kwargs:
        model = model.to("cuda")
    return processor, model.eval(), note


def _load_processor(path: Path):
    """AutoProcessor, or the same processor without its video part when that needs torchvision.

    transformers 5 builds Qwen2-VL-style processors with a video processor that only exists
    with torchvision (CUDA-only on PyPI here); chat with images needs the image part only."""
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(path)
    except (ImportError, AttributeError, OSError) as exc:
        cls = _processor_class(path)
        if cls is None or "video_processor" not in cls.get_attributes():
            raise
        log.info("%s: loading %s without its video processor (%s)", path.name, cls.__name__, exc)
        return image_only(cls).from_pretrained(path)


def _own_chat_template(path: Path, processor) -> str | None:
    """The checkpoint's chat_template.jinja, else its tokenizer's template."""
    if (path / "chat_template.jinja").is_file():
        return (path / "chat_template.jinja").read_text()
    return getattr(getattr(processor, "tokenizer", None), "chat_template", None)


def _processor_class(path: Path):
    import json

    import transformers

    for name in ("processor_config.json", "tokenizer_config.json", "preprocessor_config.json"):
        try:
            found = json.loads((path / name).read_text()).get("processor_class")
        except (OSError, ValueError):
            continue
        if found and hasattr(transformers, found):
            return getattr(transformers, found)
    return None


def image_only(cls):
    """A subclass of processor ``cls`` that has no video processor (images and text only)."""
    class ImageOnly(cls):
        @classmethod
        def get_attributes(klass):
            return [a for a in super().get_attributes() if a != "video_processor"]

    ImageOnly.__name__ = ImageOnly.__qualname__ = cls.__name__
    return ImageOnly


def _context_length(config) -> int | None:
    for cfg in (getattr(config, "text_config", None), config):
        value = getattr(cfg, "max_position_embeddings", None) if cfg is not None else None
        if value:
            return int(value)
    return None

