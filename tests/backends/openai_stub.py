"""A small real HTTP server speaking the OpenAI streaming format, with scripted failures.

The ``model`` field picks the behaviour: ok, slow, http500, context, unavailable,
drop (connection cut mid-reply), drop-once (only the first reply is cut), hang (headers then silence), error-chunk,
runaway (ignores max_tokens and never stops, as fast as it can), trickle (a small piece every 50 ms, forever).
``GET /v1/models`` answers as servers do (health probes use it).
It runs under uvicorn in a thread; the vLLM integration tests use the real server.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

WORDS = ["The", " red", " square", " is", " on", " a", " white", " background", "."]


def chunk(content=None, finish=None, usage=None) -> str:
    body = {"object": "chat.completion.chunk", "choices": [] if usage else
            [{"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}]}
    if usage:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n"


class StubServer:
    def __init__(self, port: int | None = None):
        self.requests: list[dict] = []
        self.disconnects = 0
        self.sent_chars = 0  # of runaway/trickle replies
        self.dropped = False
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        app = Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"]),
                                Route("/v1/models", self.models, methods=["GET"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "StubServer":
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started and time.time() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)

    async def models(self, request: Request):
        return JSONResponse({"object": "list", "data": [{"id": "stub", "object": "model"}]})

    async def chat(self, request: Request):
        body = await request.json()
        self.requests.append(body)
        model = body["model"]
        if model == "http500":
            return JSONResponse({"error": {"message": "internal boom"}}, status_code=500)
        if model == "context":
            return JSONResponse({"object": "error", "message": "This model's maximum context length is 1024 "
                                 "tokens. However, you requested 5000 tokens.", "code": 400}, status_code=400)
        if model == "unavailable":
            return JSONResponse({"error": {"message": "loading"}}, status_code=503)
        return StreamingResponse(self.events(model, body, request), media_type="text/event-stream")

    async def endless(self, model: str):
        piece, delay = ("x" * 1000, 0.0) if model == "runaway" else ("tick ", 0.05)
        try:
            while True:
                yield chunk(piece)
                self.sent_chars += len(piece)
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.disconnects += 1
            raise

    async def events(self, model: str, body: dict, request: Request):
        if model in ("runaway", "trickle"):
            async for event in self.endless(model):
                yield event
            return
        delay = 0.05 if model == "slow" else 0.0
        if model == "hang":
            await asyncio.sleep(30)
        sent = 0
        try:
            for word in WORDS * (30 if model == "slow" else 1):
                if sent == 3 and (model == "drop" or (model == "drop-once" and not self.dropped)):
                    self.dropped = True
                    raise RuntimeError("server died")  # uvicorn cuts the connection
                if model == "error-chunk" and sent == 2:
                    yield 'data: {"error": {"message": "engine dead"}}\n\n'
                    return
                yield chunk(word)
                sent += 1
                await asyncio.sleep(delay)
            yield chunk(finish="stop")
            yield chunk(usage={"prompt_tokens": 12, "completion_tokens": sent, "total_tokens": 12 + sent})
            yield "data: [DONE]\n\n"
        except asyncio.CancelledError:
            self.disconnects += 1
            raise


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
