"""Asyncio clients for the arena load test: Gradio's queue API and direct OpenAI streaming.

A browser tab talks to Gradio through ``POST gradio_api/queue/join`` and the
server-sent events of ``GET gradio_api/queue/data``: the first
``process_generating`` message carries every output in full, later ones only
diffs (append/replace/delete at a path). We keep the two chatbot outputs up to
date from those diffs and note when each side's reply to the current turn first
shows text, i.e. what a user would see as the first token. gradio_client is not
used: it runs a thread per job, too heavy for 64 users next to the app on two cores.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from dataclasses import dataclass, field

import httpx

from ift_chat.backends.openai_client import sse_lines  # the app's own splitter: CR/LF only

PLACEHOLDER = "…"  # what the app shows for a side that has not answered yet


class ApiError(Exception):
    """The app answered with an error (process_completed with success false, or a bad status)."""


@dataclass
class TurnResult:
    """One call through the app: per-side time to first visible text, final texts, total time."""

    ttft_ms: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    latency_ms: float = 0.0
    joined_ms: float = 0.0  # the join POST itself
    started_ms: float | None = None  # join → process_starts: time waiting in Gradio's queue
    messages: int = 0  # SSE messages received for this call


class GradioApp:
    """One simulated browser tab (session) of a Gradio app mounted at ``base``."""

    def __init__(self, http: httpx.AsyncClient, base: str, fn_index: dict[str, int], session: str):
        self.http, self.base, self.fn_index, self.session = http, base.rstrip("/"), fn_index, session

    async def upload(self, filename: str, data: bytes, mime: str = "image/png") -> dict:
        r = await self.http.post(f"{self.base}/gradio_api/upload", files={"files": (filename, data, mime)})
        if r.status_code != 200:
            raise ApiError(f"upload: HTTP {r.status_code} {r.text[:200]}")
        return {"path": r.json()[0], "orig_name": filename, "meta": {"_type": "gradio.FileData"}}

    async def run_unqueued(self, fn_index: int, data: list) -> list:
        """An event with queue=False, as the page calls it (one POST)."""
        r = await self.http.post(f"{self.base}/gradio_api/run/predict", json={
            "data": data, "fn_index": fn_index, "session_hash": self.session, "event_data": None,
            "trigger_id": None})
        if r.status_code != 200:
            raise ApiError(f"fn {fn_index}: HTTP {r.status_code} {r.text[:200]}")
        return r.json()["data"]

    async def call(self, api_name: str | int, data: list, chatbots: dict[str, int] | None = None,
                   live: int | None = None) -> TurnResult:
        """Run one event (by api name or fn index) to completion; ``chatbots`` maps side → output
        index to watch for text; ``live``: the output index of the turn's SSE stream token (the app's
        live_replies = sse), followed as the page does."""
        result, start, follow = TurnResult(), time.perf_counter(), None
        fn_index = api_name if isinstance(api_name, int) else self.fn_index[api_name]
        join = await self.http.post(f"{self.base}/gradio_api/queue/join", json={
            "data": data, "fn_index": fn_index, "session_hash": self.session,
            "event_data": None, "trigger_id": None})
        if join.status_code != 200:
            raise ApiError(f"{api_name}: join HTTP {join.status_code} {join.text[:200]}")
        event_id = join.json()["event_id"]
        result.joined_ms = (time.perf_counter() - start) * 1000
        outputs: list | None = None
        async with self.http.stream("GET", f"{self.base}/gradio_api/queue/data",
                                    params={"session_hash": self.session}) as sse:
            if sse.status_code != 200:
                raise ApiError(f"{api_name}: queue/data HTTP {sse.status_code}")
            async for line in sse.aiter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") not in (event_id, None):
                    continue
                kind = msg.get("msg")
                if kind == "process_starts":
                    result.started_ms = (time.perf_counter() - start) * 1000
                elif kind == "process_generating":
                    result.messages += 1
                    outputs = _apply(outputs, msg["output"]["data"])
                    if live is not None and follow is None and outputs[live]:
                        follow = asyncio.create_task(self.follow_live(outputs[live], result, start))
                    if chatbots:
                        _note_first_text(result, outputs, chatbots, start)
                elif kind == "process_completed":
                    result.messages += 1
                    result.latency_ms = (time.perf_counter() - start) * 1000
                    if not msg.get("success", False):
                        output = msg.get("output") or {}
                        raise ApiError(f"{api_name}: {output.get('title') or ''} {output.get('error')}")
                    final = msg["output"]["data"]
                    if follow is not None:
                        await asyncio.wait_for(follow, 30)
                    if chatbots:
                        _note_first_text(result, final, chatbots, start)
                        result.texts = {side: _last_reply(final[i]) for side, i in chatbots.items()}
                    return result
                elif kind in ("unexpected_error", "close_stream"):
                    raise ApiError(f"{api_name}: {kind} {msg.get('message', '')}")
        raise ApiError(f"{api_name}: the event stream ended before process_completed")


    async def follow_live(self, token: str, result: TurnResult, start: float) -> None:
        """GET <app>/ift_live/<token>: note when each side's first text arrives (ui/live.py)."""
        async with self.http.stream("GET", f"{self.base}/ift_live/{token}") as sse:
            if sse.status_code != 200:
                return  # the turn ended before the page asked: the final message has the text
            async for line in sse.aiter_lines():
                if line.startswith("event: done"):
                    return
                if line.startswith("data:"):
                    for side, delta in json.loads(line[5:]).items():
                        if delta and side not in result.ttft_ms:
                            result.ttft_ms[side] = (time.perf_counter() - start) * 1000


def _apply(outputs: list | None, data: list) -> list:
    """The first generating message is the full outputs; later ones are diffs per output."""
    if outputs is None:
        return list(data)
    for i, diff in enumerate(data):
        for action, path, value in diff:
            outputs[i] = _edit(outputs[i], path, action, value)
    return outputs


def _edit(target, path: list, action: str, value):
    """In place, like gradio_client.utils.apply_diff but without deep-copying each time."""
    if not path:
        if action == "replace":
            return value
        if action == "append":
            return target + value
        raise ValueError(f"unsupported diff action {action!r} at the root")
    node = target
    for key in path[:-1]:
        node = node[key]
    last = path[-1]
    if action == "replace":
        node[last] = value
    elif action == "append":
        node[last] += value
    elif action == "add":
        if isinstance(node, list):
            node.insert(int(last), value)
        else:
            node[last] = value
    elif action == "delete":
        del node[int(last) if isinstance(node, list) else last]
    else:
        raise ValueError(f"unknown diff action {action!r}")
    return target


def _last_reply(chatbot) -> str:
    """Text of the last message if it is the assistant's (the current turn's reply), else ''."""
    if isinstance(chatbot, dict):
        chatbot = chatbot.get("value")
    if not chatbot or not isinstance(chatbot, list):
        return ""
    last = chatbot[-1]
    if not isinstance(last, dict) or last.get("role") != "assistant":
        return ""
    content = last.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def _note_first_text(result: TurnResult, outputs: list, chatbots: dict[str, int], start: float) -> None:
    for side, index in chatbots.items():
        if side not in result.ttft_ms:
            text = _last_reply(outputs[index])
            if text and text != PLACEHOLDER:
                result.ttft_ms[side] = (time.perf_counter() - start) * 1000


# -- direct to the backend -----------------------------------------------------------------
@dataclass
class StreamResult:
    ttft_ms: float | None
    text: str
    tokens: int
    latency_ms: float


async def direct_stream(http: httpx.AsyncClient, base_url: str, body: dict) -> StreamResult:
    """One streamed chat completion with raw httpx: the floor the app is compared to."""
    start, ttft, text, tokens = time.perf_counter(), None, "", None
    async with http.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        if response.status_code != 200:
            raise ApiError(f"direct: HTTP {response.status_code} {(await response.aread())[:200]!r}")
        async for line in sse_lines(response.aiter_text()):
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            if "error" in chunk:
                raise ApiError(f"direct: error chunk {chunk['error']}")
            if chunk.get("usage"):
                tokens = chunk["usage"].get("completion_tokens")
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    ttft = ttft if ttft is not None else (time.perf_counter() - start) * 1000
                    text += piece
    return StreamResult(ttft, text, tokens or 0, (time.perf_counter() - start) * 1000)


def small_png(seed: int, side: int = 64) -> bytes:
    """A distinct small image per conversation (so the image store really writes each one)."""
    from PIL import Image

    color = ((seed * 67) % 256, (seed * 131) % 256, (seed * 29) % 256)
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), color).save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


async def sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
