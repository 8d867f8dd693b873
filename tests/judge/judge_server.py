"""A scripted OpenAI-compatible judge: a real HTTP server (uvicorn in a thread) whose answers
are decided by the text it is asked to grade.

``answers``: substring of the graded reply -> the judge's raw output (first match wins);
``default``: the output otherwise. The ``model`` field picks a behaviour: ``judge`` (scripted),
``hang`` (headers, then silence), ``prefers-a`` (pairwise: always "A"), ``http500``.
Pairwise (scripted): the reply containing one of ``good`` wins; neither: tie.
``requests`` keeps every body received (tests read what the judge was shown).
"""

from __future__ import annotations

import asyncio
import json
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from tests.backends.openai_stub import StubServer, chunk

GRADED = re.compile(r"BEGIN REPLY TO GRADE \(turn \d+\)\n(.*)\nEND REPLY TO GRADE", re.S)
PAIR = re.compile(r"BEGIN REPLY A\n(.*)\nEND REPLY A\nBEGIN REPLY B\n(.*)\nEND REPLY B", re.S)


def user_text(body: dict) -> str:
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


class JudgeServer(StubServer):
    """StubServer's HTTP plumbing (start, stop, /v1/models) with a judge's chat endpoint."""

    def __init__(self, answers: dict[str, str] | None = None, default: str = "I cannot tell.",
                 good: tuple[str, ...] = (), pieces: int = 3):
        super().__init__()
        self.answers, self.default, self.good, self.pieces = dict(answers or {}), default, good, pieces
        self.mode: str | None = None  # overrides the model field's behaviour
        self.headers: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.delay_s = 0.0  # before the first chunk of every reply

    def behaviour(self, body: dict) -> str:
        return self.mode or body["model"]

    def output(self, body: dict) -> str:
        text = user_text(body)
        pair = PAIR.search(text)
        if pair:
            if self.behaviour(body) == "prefers-a":
                return '{"winner": "A", "reason": "A is first"}'
            a, b = (any(g in side for g in self.good) for side in pair.groups())
            return json.dumps({"winner": "A" if a and not b else "B" if b and not a else "tie", "reason": "x"})
        graded = GRADED.search(text)
        reply = graded.group(1) if graded else ""
        return next((out for key, out in self.answers.items() if key in reply), self.default)

    async def chat(self, request: Request):
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.behaviour(body) == "http500":
            return JSONResponse({"error": {"message": "internal boom"}}, status_code=500)
        return StreamingResponse(self.events(body), media_type="text/event-stream")

    async def events(self, body: dict):
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(30 if self.behaviour(body) == "hang" else self.delay_s)
            out = self.output(body)
            step = max(1, len(out) // self.pieces)
            for start in range(0, len(out), step):
                yield chunk(out[start:start + step])
            yield chunk(finish="stop")
            yield chunk(usage={"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70})
            yield "data: [DONE]\n\n"
        finally:
            self.in_flight -= 1
