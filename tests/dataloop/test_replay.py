"""Replay stores conversations exactly like chat: mode replay, eval item, turns, responses."""

from __future__ import annotations

import asyncio
import importlib.util
import json

import pytest

from ift_chat.backends import Backends, SamplingParams
from ift_chat.dataloop.replay import replay_eval_set
from ift_chat.errors import NotFound, ValidationError
from tests.conftest import png_bytes

from .conftest import EchoBackend


@pytest.fixture
def eval_set(store, tmp_path):
    """Three items: two 2-round dialogs with images and references, one text-only."""
    from ift_chat.dataloop.imports import import_eval_set
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(png_bytes(color=(1, 2, 3)))
    (tmp_path / "imgs" / "b.png").write_bytes(png_bytes(color=(4, 5, 6)))
    items = [
        {"id": "one", "rounds": [{"text": "Describe it.", "images": ["a.png"], "reference": "REF-1"},
                                 {"text": "Shorter please.", "reference": "REF-2"}]},
        {"id": "two", "rounds": [{"text": "Compare.", "images": ["a.png", "b.png"]},
                                 {"text": "Which is darker?"}]},
        {"id": "three", "rounds": [{"text": "Say hi."}]},
    ]
    (tmp_path / "set.jsonl").write_text("\n".join(json.dumps(i) for i in items))
    import_eval_set(store, tmp_path / "set.jsonl", tmp_path / "imgs", "mini")
    return "mini"


def run(store, backends, checkpoints, **kw):
    return asyncio.run(replay_eval_set(store, backends, "mini", checkpoints,
                                       SamplingParams(temperature=0, max_tokens=16), **kw))


def test_two_checkpoints_make_ab_conversations(store, eval_set):
    backends = Backends([EchoBackend("ckpt-a"), EchoBackend("ckpt-b")])
    progress = []
    result = run(store, backends, ["ckpt-a", "ckpt-b"], on_progress=lambda d, t: progress.append((d, t)))
    assert len(result.conversations) == 3 and result.responses == 10 and result.errors == 0
    assert progress[0] == (0, 5) and progress[-1] == (5, 5)
    placements = set()
    for conv_id in result.conversations:
        conv = store.conversations.get(conv_id)
        assert conv.mode == "replay" and conv.eval_item_id is not None
        assert conv.sampling_params["temperature"] == 0 and conv.history_mode == "reference"
        sides = store.conversations.sides(conv_id)
        assert set(sides.values()) == {"ckpt-a", "ckpt-b"}
        placements.add(sides["A"])
        item = store.eval_sets.item(conv.eval_item_id)
        turns = store.conversations.turns(conv_id)
        assert [t.user_text for t in turns] == [r["text"] for r in item.rounds]
        assert [list(t.images) for t in turns] == [r["images"] for r in item.rounds]
        for turn in turns:
            responses = store.conversations.responses(turn.id)
            assert {(r.side, r.checkpoint) for r in responses} == set(sides.items())
            for r in responses:
                assert r.status == "ok" and r.text.startswith(f"[{r.checkpoint[-1]}] round {turn.idx}")
                assert r.sampling_params["max_tokens"] == 16 and r.completed
    assert placements == {"ckpt-a", "ckpt-b"}  # sides alternate across items


def test_reference_history_feeds_references_self_history_own_replies(store, eval_set):
    ref, own = EchoBackend("ckpt-a"), EchoBackend("ckpt-b")
    run(store, Backends([ref]), ["ckpt-a"])
    run(store, Backends([own]), ["ckpt-b"], history_mode="self")
    second_round = lambda calls: [m for m in calls if "Shorter please." in str(m)][0]  # noqa: E731
    ref_msgs, own_msgs = second_round(ref.calls), second_round(own.calls)
    assert [m["role"] for m in ref_msgs] == ["user", "assistant", "user"]
    assert ref_msgs[1]["content"][0]["text"] == "REF-1"
    assert own_msgs[1]["content"][0]["text"].startswith("[b] round 1")
    # no reference (item two): the model's own answer is carried
    ref_two = [m for m in ref.calls if len(m) == 3 and "Which is darker?" in str(m)][0]
    assert ref_two[1]["content"][0]["text"].startswith("[a] round 1, 2 image(s)")


def test_single_checkpoint_and_backend_errors_are_recorded(store, eval_set):
    result = run(store, Backends([EchoBackend("ckpt-a", fail_on="Say hi")]), ["ckpt-a"])
    assert result.responses == 5 and result.errors == 1
    rows = store.query("select r.status, r.error, r.side from responses r")
    assert {r["side"] for r in rows} == {"single"}
    assert [r["error"] for r in rows if r["status"] == "error"] == ["test backend refused"]


def test_bad_requests_store_nothing(store, eval_set):
    backends = Backends([EchoBackend("ckpt-a")])
    for checkpoints, exc in ((["nope"], NotFound), ([], ValidationError), (["ckpt-a", "ckpt-a"], ValidationError)):
        with pytest.raises(exc):
            run(store, backends, checkpoints)
    with pytest.raises(ValidationError):
        asyncio.run(replay_eval_set(store, backends, "mini", ["ckpt-a"], SamplingParams(temperature=5)))
    with pytest.raises(NotFound):
        asyncio.run(replay_eval_set(store, backends, "other", ["ckpt-a"], SamplingParams()))
    assert store.query("select count(*) n from conversations")[0]["n"] == 0


HAS_TRANSFORMERS_BACKEND = importlib.util.find_spec("ift_chat.backends.transformers_backend") is not None


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TRANSFORMERS_BACKEND,
                    reason="ift_chat/backends/transformers_backend.py has not landed on main yet")
def test_replay_on_demo_checkpoints_with_transformers(store, eval_set, demo_checkpoints):
    from ift_chat.backends.transformers_backend import TransformersBackend
    backends = Backends([TransformersBackend(path.name, path, store.config.limits).load()
                         for path in demo_checkpoints])
    names = backends.names()
    result = run(store, backends, names)
    assert result.responses == 10
    rows = store.query("select status, checkpoint, text, tokens_out from responses")
    assert len(rows) == 10 and {r["checkpoint"] for r in rows} == set(names)
    assert all(r["status"] in ("ok", "stopped") for r in rows), rows
    asyncio.run(backends.aclose())


def test_samples_make_n_conversations_per_item_with_distinct_seeds_and_checks(store, tmp_path):
    """replay --samples N (PIF-N-K): N conversations per item and checkpoint, sample k seeded
    seed + k, every final reply checked against the eval set's constraints."""
    from ift_chat.dataloop import ifmr

    path = ifmr.write_jsonl(tmp_path / "ifmr")
    path.write_text(path.read_text().splitlines()[0] + "\n")  # one item, 4 rounds
    from ift_chat.dataloop.imports import import_eval_set
    import_eval_set(store, path, path.parent, "one")
    backends = Backends([EchoBackend("ckpt-a")])
    params = SamplingParams(temperature=0.8, max_tokens=16, seed=10)
    result = asyncio.run(replay_eval_set(store, backends, "one", ["ckpt-a"], params, samples=3))
    assert len(result.conversations) == 3 and result.responses == 12
    convs = [store.conversations.get(c) for c in result.conversations]
    assert sorted(c.sampling_params["seed"] for c in convs) == [10, 11, 12]
    assert sorted(c.title for c in convs) == [f"one #{convs[0].title.split('#')[1].split()[0]} sample {k}/3"
                                              for k in (1, 2, 3)]
    assert len({c.eval_item_id for c in convs}) == 1
    checked = store.query("select count(distinct response_id) n from response_checks")[0]["n"]
    assert checked == 12  # the echo replies are checked (and fail "lowercase": they are bracketed)


def test_samples_need_sampling_and_a_sane_count(store, eval_set):
    backends = Backends([EchoBackend("ckpt-a")])
    with pytest.raises(ValidationError, match="temperature above 0"):
        run(store, backends, ["ckpt-a"], samples=2)
    with pytest.raises(ValidationError, match="samples must be"):
        run(store, backends, ["ckpt-a"], samples=0)
    assert store.query("select count(*) n from conversations")[0]["n"] == 0


def test_replay_replies_are_recorded_on_the_runners_path(config, eval_set, store):
    """A replay's replies keep the app's caps like live turns (DialogRunner.answer): a reply
    past the character limit is cut and says why; an identity leak is flagged by any of the
    checkpoint's names."""
    import dataclasses

    from ift_chat.store import Store

    small = config.replace(limits=dataclasses.replace(config.limits, max_reply_chars=12))
    capped = Store(small)
    try:
        store.checkpoints.register("ckpt-b", display_name="Round 1")
        result = asyncio.run(replay_eval_set(capped, Backends([EchoBackend("ckpt-b")]), "mini", ["ckpt-b"],
                                             SamplingParams(temperature=0, max_tokens=16)))
        rows = capped.query("select text, status, error, identity_leak from responses order by id")
    finally:
        capped.db.close()
    assert result.responses == len(rows) == 5
    assert all(r["status"] == "stopped" and len(r["text"]) == 12 for r in rows)
    assert "limit of 12 characters per reply" in rows[0]["error"]
    assert rows[0]["identity_leak"] == 1  # "[b] round 1, …" says its display name
