"""A backend that streams from an OpenAI-compatible server (our vLLM children or a remote URL).

``POST {base_url}/chat/completions`` with ``stream: true`` and
``stream_options.include_usage``; images go as ``data:`` URLs, downscaled first
so a phone photo does not blow the context. Every failure (refused connection,
HTTP error, timeout, a server dying mid-reply) ends the stream with
``Completion(status="error")`` keeping the partial text; Stop closes the HTTP
stream, which makes vLLM abort the request.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import threading
import time
from collections import OrderedDict
from typing import AsyncIterator, Awaitable, Callable

import httpx

from ..config import Limits
from ..errors import BackendError, BackendUnavailable, ContextOverflow, IftChatError
from .base import BackendStatus, Completion, SamplingParams, StreamItem
from .health import HealthProbe, probe_http
from .transformers_backend import load_image

_END, _CANCELLED = object(), object()  # queue markers
IMAGE_CACHE_SIZE = 32  # encoded images kept per backend: later turns re-send the same images

_LINE_END = re.compile(r"\r\n|\r|\n")  # what ends a line of server-sent events, and nothing else
CONTEXT_WORDS = ("maximum context length", "max_model_len", "context length", "too long")


class OpenAIBackend:
    """One model on one OpenAI-compatible server."""

    def __init__(self, name: str, base_url: str, limits: Limits, *, model: str | None = None,
                 timeout_s: float = 120.0, max_model_len: int | None = None, api_key: str | None = None,
                 status_fn: Callable[[], BackendStatus] | None = None,
                 on_close: Callable[[], Awaitable[None]] | None = None):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.model = model or name
        self.limits = limits
        self.max_model_len = max_model_len
        self.timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._status_fn = status_fn  # the supervisor's view of a server it runs
        self._on_close = on_close  # stops the supervisor's servers (idempotent)
        self._last = BackendStatus("ready", self.base_url)  # remote servers: what the last request saw
        self._probe: HealthProbe | None = None  # remote servers: re-probed, so a server that is back heals
        self._client: httpx.AsyncClient | None = None
        self._image_urls: OrderedDict[tuple, str] = OrderedDict()  # LRU of encoded data URLs
        self._image_lock = threading.Lock()
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def status(self) -> BackendStatus:
        if self._status_fn is not None:
            return self._status_fn()
        return self._probe.status if self._probe is not None else self._last

    def start_health_probe(self, interval_s: float) -> "OpenAIBackend":
        """A remote (``url =``) server: probe ``GET {base}/models`` in the background, with
        backoff while it is down (see health.py). The supervisor watches the servers it runs."""
        if self._status_fn is None and self._probe is None:
            url, headers = f"{self.base_url}/models", self.headers
            self._probe = HealthProbe(lambda client: probe_http(url, headers, min(5.0, interval_s), client),
                                      interval_s, self.name).start()
        return self

    def _http(self) -> httpx.AsyncClient:
        """One pooled client per event loop (a client cannot outlive the loop it was used on)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(timeout=self.timeout, headers=self.headers)
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._client_loop is asyncio.get_running_loop():
            await client.aclose()
        if self._probe is not None:
            self._probe.stop()
        if self._on_close is not None:
            await self._on_close()

    async def stream(self, messages: list[dict], params: SamplingParams,
                     cancel: asyncio.Event | None = None) -> AsyncIterator[StreamItem]:
        start = time.perf_counter()
        reply = _Reply()
        queue: asyncio.Queue = asyncio.Queue()  # deltas, then _END or an exception; _CANCELLED on Stop
        tasks: list[asyncio.Future] = []
        try:
            params = params.validate(self.limits)
            payload = (await asyncio.to_thread(self.payload, messages, params) if _has_images(messages)
                       else self.payload(messages, params))
            tasks.append(asyncio.ensure_future(self._receive(payload, reply, queue)))
            if cancel is not None:
                tasks.append(asyncio.ensure_future(_put_when_set(cancel, queue)))
            while (item := await queue.get()) is not _END and item is not _CANCELLED:
                if isinstance(item, BaseException):
                    raise item
                reply.ttft_ms = reply.ttft_ms if reply.ttft_ms is not None else _ms_since(start)
                reply.text += item
                yield item
            if item is _CANCELLED:
                yield reply.completion("stopped", "abort", None, start)
            elif not reply.done:
                yield reply.completion("error", None, f"the server of {self.name} ended the reply early",
                                       start)
            else:
                yield reply.completion("ok", reply.finish_reason, None, start)
        except IftChatError as exc:
            yield reply.completion("error", None, str(exc), start)
        except httpx.ConnectError as exc:
            self._last = BackendStatus("down", f"cannot connect to {self.base_url}: {exc}")
            if self._probe is not None:
                self._probe.report_down(self._last.detail)
            yield reply.completion("error", None, f"cannot reach {self.name} at {self.base_url} ({exc})",
                                   start)
        except httpx.TimeoutException as exc:
            yield reply.completion("error", None, self._timeout_message(exc), start)
        except (httpx.HTTPError, ValueError) as exc:  # disconnect mid-stream, malformed chunk
            yield reply.completion("error", None, f"the connection to {self.name} broke mid-reply "
                                   f"({type(exc).__name__}: {exc or 'closed'})", start)
        finally:
            for task in tasks:  # cancelling the receiver closes the HTTP stream: vLLM aborts the request
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _timeout_message(self, exc: httpx.TimeoutException) -> str:
        """Which wait ran out: under load a connect or pool timeout is not a silent server."""
        if isinstance(exc, httpx.ConnectTimeout):
            return (f"could not connect to {self.name} at {self.base_url} within "
                    f"{self.timeout.connect:.0f} s (timeout)")
        if isinstance(exc, httpx.PoolTimeout):
            return (f"no free connection to {self.name} within {self.timeout.pool:.0f} s "
                    "(timeout: too many replies at once)")
        if isinstance(exc, httpx.WriteTimeout):
            return f"sending the request to {self.name} took over {self.timeout.write:.0f} s (timeout)"
        return f"{self.name} sent nothing for {self.timeout.read:.0f} s (timeout)"

    async def _receive(self, payload: dict, reply: "_Reply", queue: asyncio.Queue) -> None:
        """Read the server-sent events into ``queue`` (its own task, so Stop never waits on the network)."""
        try:
            url = f"{self.base_url}/chat/completions"
            async with self._http().stream("POST", url, json=payload) as response:
                if response.status_code != 200:
                    raise _http_error(self.name, response.status_code, await response.aread())
                chunks = response.aiter_text()
                async for piece in _content(sse_lines(chunks), reply):
                    queue.put_nowait(piece)
                async for _ in chunks:  # read past [DONE] to the end: the connection goes back to the pool
                    pass
            self._last = BackendStatus("ready", self.base_url)
            queue.put_nowait(_END)
        except Exception as exc:  # handed to the consumer, which turns it into an error Completion
            queue.put_nowait(exc)

    def payload(self, messages: list[dict], params: SamplingParams) -> dict:
        """The request body; images read, downscaled and inlined (runs in a thread)."""
        body = {"model": self.model, "messages": [self._message(m) for m in messages], "stream": True,
                "stream_options": {"include_usage": True}, "temperature": params.temperature,
                "top_p": params.top_p, "max_tokens": params.max_tokens}
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        return body

    def _message(self, message: dict) -> dict:
        content = message.get("content")
        if isinstance(content, str):
            return {"role": message["role"], "content": content}
        parts = []
        for part in content or []:
            if part.get("type") == "image":
                url = self._image_url(part["path"])
                parts.append({"type": "image_url", "image_url": {"url": url}})
            elif part.get("type") in ("text", "image_url"):
                parts.append(part)
            else:
                raise BackendError(f"unsupported message part type {part.get('type')!r}")
        return {"role": message["role"], "content": parts}


    def _image_url(self, path: str) -> str:
        """Encoded once per (file, size): every turn of a conversation re-sends its images."""
        try:
            stat = os.stat(path)
            key = (str(path), stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = None
        with self._image_lock:
            if key in self._image_urls:
                self._image_urls.move_to_end(key)
                return self._image_urls[key]
        url = image_data_url(path, self.limits.send_image_max_side)
        if key is not None:
            with self._image_lock:
                self._image_urls[key] = url
                while len(self._image_urls) > IMAGE_CACHE_SIZE:
                    self._image_urls.popitem(last=False)
        return url


class _Reply:
    """What has arrived so far."""

    def __init__(self):
        self.text = ""
        self.ttft_ms: float | None = None
        self.finish_reason: str | None = None
        self.done = False
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None

    def completion(self, status: str, reason: str | None, error: str | None, start: float) -> Completion:
        return Completion(self.text, status, finish_reason=reason, error=error,
                          prompt_tokens=self.prompt_tokens,
                          completion_tokens=self.completion_tokens, ttft_ms=self.ttft_ms,
                          latency_ms=_ms_since(start))


async def sse_lines(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """Lines of an event stream, split at CR/LF only. httpx's aiter_lines also splits at U+0085,
    U+2028 and U+2029, which JSON strings may carry unescaped (vLLM sends them raw): a reply
    containing one broke mid-reply with a JSONDecodeError (bench_arena_load, demo model)."""
    rest = ""
    async for text in chunks:
        *lines, rest = _LINE_END.split(rest + text)
        for line in lines:
            yield line
    if rest:
        yield rest


async def _content(lines: AsyncIterator[str], reply: _Reply) -> AsyncIterator[str]:
    """Server-sent events → content deltas; records finish reason and usage on ``reply``."""
    async for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            reply.done = True
            return
        chunk = json.loads(data)
        if "error" in chunk or chunk.get("object") == "error":
            error = chunk.get("error", chunk)
            raise BackendError(f"the server reported an error mid-reply: "
                               f"{error.get('message', error) if isinstance(error, dict) else error}")
        if chunk.get("usage"):
            reply.prompt_tokens = chunk["usage"].get("prompt_tokens")
            reply.completion_tokens = chunk["usage"].get("completion_tokens")
        for choice in chunk.get("choices") or []:
            if choice.get("finish_reason"):
                reply.finish_reason = choice["finish_reason"]
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                yield piece


async def _put_when_set(cancel: asyncio.Event, queue: asyncio.Queue) -> None:
    await cancel.wait()
    queue.put_nowait(_CANCELLED)


def _has_images(messages: list[dict]) -> bool:
    return any(isinstance(m.get("content"), list) and any(p.get("type") == "image" for p in m["content"])
               for m in messages)


def _http_error(name: str, status: int, body: bytes) -> BackendError:
    message = body.decode("utf-8", "replace")[:500]
    try:
        data = json.loads(body)
        error = data.get("error", data) if isinstance(data, dict) else data
        message = error.get("message", message) if isinstance(error, dict) else str(error)
    except ValueError:
        pass
    if status == 400 and any(w in message.lower() for w in CONTEXT_WORDS):
        return ContextOverflow(f"the conversation does not fit in {name}'s context window: start a new "
                               f"conversation or send fewer/smaller images ({message})")
    if status in (502, 503, 504):
        return BackendUnavailable(f"{name} is not available (HTTP {status}): {message}")
    return BackendError(f"{name} answered HTTP {status}: {message}")


def image_data_url(path, max_side: int) -> str:
    """A ``data:`` URL of the image, longer side at most ``max_side`` (aspect kept)."""
    image = load_image(path, max_side)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG" if max(image.size) <= 256 else "JPEG", quality=90)
    mime = "image/png" if max(image.size) <= 256 else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000
