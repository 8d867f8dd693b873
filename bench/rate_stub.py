"""An OpenAI-compatible streaming server with a fixed token rate, for load tests (loopback only).

    .venv/bin/python bench/rate_stub.py --port 8123 --rate 20 --prefill-ms 100

``POST /v1/chat/completions`` (stream: true) answers any model name: after
``--prefill-ms`` it sends one word per chunk at ``--rate`` chunks/s per stream
(on an absolute schedule, so a busy loop does not slow the rate down silently),
``max_tokens`` of them, then finish_reason, a usage chunk and ``[DONE]``.
``GET /v1/models`` and ``GET /health`` answer 200.

Plain asyncio HTTP/1.1 (keep-alive, chunked) instead of a web framework: at
thousands of chunks per second the stub must cost little CPU next to the app it
loads on the same two cores. It counts requests, and ``GET /stats`` returns them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

WORDS = ("The", " red", " square", " is", " on", " a", " white", " background", ".", " It", " looks",
         " calm", ",", " and", " the", " light", " is", " soft")
MAX_BODY = 64 * 1024 * 1024


class RateStub:
    def __init__(self, rate: float, prefill_s: float, default_max_tokens: int):
        self.rate, self.prefill_s, self.default_max_tokens = rate, prefill_s, default_max_tokens
        self.stats = {"requests": 0, "completed": 0, "disconnects": 0, "tokens": 0, "streaming": 0,
                      "max_streaming": 0}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _one(self, reader, writer) -> bool:
        """Serve one request; False when the connection should close."""
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY:
            return self._send(writer, 413, b'{"error": {"message": "too large"}}') and False
        body = await reader.readexactly(length) if length else b""
        if method == "GET" and path in ("/health", "/v1/models"):
            return self._send(writer, 200, json.dumps(
                {"object": "list", "data": [{"id": "stub", "object": "model"}]}).encode())
        if method == "GET" and path == "/stats":
            return self._send(writer, 200, json.dumps(self.stats).encode())
        if method != "POST" or path != "/v1/chat/completions":
            return self._send(writer, 404, b'{"error": {"message": "not found"}}')
        request = json.loads(body)
        await self._stream(writer, request)
        return True

    def _send(self, writer, status: int, body: bytes) -> bool:
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        return True

    async def _stream(self, writer, request: dict) -> None:
        stats = self.stats
        stats["requests"] += 1
        stats["streaming"] += 1
        stats["max_streaming"] = max(stats["max_streaming"], stats["streaming"])
        n = int(request.get("max_tokens") or self.default_max_tokens)
        start = time.monotonic()
        try:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            for i in range(n):
                delay = start + self.prefill_s + i / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                _chunk(writer, {"choices": [{"index": 0, "delta": {"content": WORDS[i % len(WORDS)]},
                                             "finish_reason": None}]})
                await writer.drain()  # raises when the client went away: stop like vLLM aborts
                stats["tokens"] += 1
            _chunk(writer, {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
            _chunk(writer, {"choices": [], "usage": {"prompt_tokens": 16, "completion_tokens": n,
                                                     "total_tokens": 16 + n}})
            writer.write(_frame(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            await writer.drain()
            stats["completed"] += 1
        except ConnectionError:
            stats["disconnects"] += 1
            raise
        finally:
            stats["streaming"] -= 1


def _frame(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _chunk(writer, body: dict) -> None:
    body["object"] = "chat.completion.chunk"
    writer.write(_frame(b"data: " + json.dumps(body).encode() + b"\n\n"))


async def serve(port: int, stub: RateStub) -> None:
    server = await asyncio.start_server(stub.handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=20.0, help="tokens per second per stream")
    parser.add_argument("--prefill-ms", type=float, default=100.0, help="delay before the first token")
    parser.add_argument("--max-tokens", type=int, default=64, help="when the request names none")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, RateStub(args.rate, args.prefill_ms / 1000, args.max_tokens)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
