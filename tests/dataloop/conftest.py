"""A store with rated dialogs built through the Store API, plus a deterministic test backend."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest

from ift_chat.backends import BackendStatus, Completion, SamplingParams
from ift_chat.store.images import prepare_image
from tests.conftest import png_bytes

COLORS = {"img1": (200, 30, 30), "img2": (30, 200, 30), "img3": (30, 30, 200), "img4": (200, 200, 30),
          "img5": (30, 200, 200), "img6": (100, 100, 100), "img7": (10, 20, 30),
          "gray": 128, "pic1": (250, 120, 0), "pic2": (0, 120, 250), "pic3": (120, 0, 250), "pic4": (60, 60, 0),
          "pic5": (0, 60, 60)}
MODES = {"gray": "L"}


class EchoBackend:
    """Implements the Backend protocol with deterministic text: name, round count, last instruction."""

    def __init__(self, name: str, fail_on: str | None = None):
        self.name = name
        self.max_model_len = 1024
        self.fail_on = fail_on
        self.calls: list[list[dict]] = []

    def status(self) -> BackendStatus:
        return BackendStatus("ready")

    async def stream(self, messages, params: SamplingParams, cancel: asyncio.Event | None = None):
        self.calls.append(messages)
        user = [m for m in messages if m["role"] == "user"]
        last = " ".join(p["text"] for p in user[-1]["content"] if p["type"] == "text")
        images = sum(p["type"] == "image" for m in user for p in m["content"])
        if self.fail_on and self.fail_on in last:
            yield Completion("", "error", error="test backend refused")
            return
        text = f"[{self.name.split('-')[-1]}] round {len(user)}, {images} image(s): {last[:30]}"
        for word in text.split(" "):
            await asyncio.sleep(0)
            yield word + " "
        yield Completion(text + " ", "ok", finish_reason="stop", prompt_tokens=10,
                         completion_tokens=len(text.split()))

    async def aclose(self) -> None:
        pass


@dataclass
class World:
    """Ids of what the fixture built, by name."""

    store: object
    raters: dict = field(default_factory=dict)
    convs: dict = field(default_factory=dict)
    responses: dict = field(default_factory=dict)
    turns: dict = field(default_factory=dict)
    images: dict = field(default_factory=dict)


def add_turn(w: World, conv: str, key: str, text: str, images=(), replies=None, leak=False, status="ok"):
    store = w.store
    prepared = [prepare_image(png_bytes(color=COLORS[i], mode=MODES.get(i, "RGB")), store.config.limits)
                for i in images]
    for name, img in zip(images, prepared):
        w.images[name] = img.sha256
    turn = store.conversations.add_turn(w.convs[conv], text, prepared)
    w.turns[key] = turn.id
    for side, reply in (replies or {}).items():
        ckpt = store.conversations.sides(w.convs[conv])[side]
        rid = store.conversations.start_response(turn.id, side, ckpt, {"temperature": 0})
        store.conversations.finish_response(rid, text=reply, status=status, identity_leak=leak)
        w.responses[f"{key}.{side}"] = rid
    return turn


def rate(w: World, response: str, **by_rater):
    for rater, verdict in by_rater.items():
        followed, _, extra = verdict.partition(":")
        kwargs = {"corrected_text": extra} if followed == "corrected" else {}
        if followed == "corrected":
            followed = "no"
        score = {"yes": 5, "partial": 3, "no": 1}[followed]
        w.store.feedback.rate(w.responses[response], w.raters[rater], followed, score=score,
                              tags=["ignored_instruction"] if followed == "no" else [], **kwargs)


def build_world(store) -> World:
    w = World(store)
    for name in ("r1", "r2", "r3", "sloppy"):
        w.raters[name] = store.raters.create(name).id
    w.raters["admin"] = store.raters.create("admin", role="admin").id
    for ckpt in ("ckpt-a", "ckpt-b"):
        store.checkpoints.register(ckpt)
    conv = store.conversations.create
    # c1: two good rounds on img1
    w.convs["c1"] = conv("chat", sides={"single": "ckpt-a"}).id
    add_turn(w, "c1", "c1t1", "Describe the image.", ["img1"], {"single": "A red square."})
    add_turn(w, "c1", "c1t2", "Now in one word.", [], {"single": "Red."})
    rate(w, "c1t1.single", r1="yes", r2="yes", r3="yes")
    rate(w, "c1t2.single", r1="yes", r2="yes")
    # c2: followed=no by 2 of 3 raters
    w.convs["c2"] = conv("chat", sides={"single": "ckpt-a"}).id
    add_turn(w, "c2", "c2t1", "Count the objects.", ["img2"], {"single": "BADREPLY three."})
    rate(w, "c2t1.single", r1="no", r2="no", r3="yes")
    # c3: a corrected response (one rater) on ckpt-b, dated in January
    w.convs["c3"] = conv("chat", sides={"single": "ckpt-b"}).id
    add_turn(w, "c3", "c3t1", "What color is it?", ["img3"], {"single": "ORIGINAL blue."})
    rate(w, "c3t1.single", r1="corrected:It is blue-ish green.")
    # c4: arena, A wins by two votes; A rated yes, B rated no
    w.convs["c4"] = conv("arena-named", sides={"A": "ckpt-a", "B": "ckpt-b"}).id
    add_turn(w, "c4", "c4t1", "Write a haiku about it.", ["img4"],
             {"A": "WINNER haiku.", "B": "LOSER prose."})
    for r in ("r1", "r2"):
        store.feedback.vote(w.turns["c4t1"], w.raters[r], "A", anonymous=False)
    rate(w, "c4t1.A", r1="yes", r2="yes")
    rate(w, "c4t1.B", r1="no", r2="no")
    # c5: arena tie (r1's battle, revealed); r2 and sloppy rate its A reply as a task's gold item
    w.convs["c5"] = conv("arena-anonymous", sides={"A": "ckpt-b", "B": "ckpt-a"}, rater_id=w.raters["r1"]).id
    add_turn(w, "c5", "c5t1", "Tie question.", ["img5"], {"A": "TIE-A.", "B": "TIE-B."})
    store.feedback.vote(w.turns["c5t1"], w.raters["r1"], "tie", anonymous=True)
    rate(w, "c5t1.A", r1="no")
    store.conversations.reveal(w.convs["c5"], w.raters["r1"])
    with store.write() as db:
        # Rating task set over c1 (+ c5's A reply as a gold item whose right answer is "no").
        ts = db["task_sets"].insert({"name": "batch1", "k": 3, "status": "open", "created": "2026-11-23"}).last_pk
        items = {key: db["task_items"].insert({"task_set_id": ts, "response_id": w.responses[key],
                                               "gold_followed": gold}).last_pk
                 for key, gold in (("c1t1.single", None), ("c1t2.single", None), ("c5t1.A", "no"))}
        for rater in ("r2", "sloppy"):
            db["task_leases"].insert({"task_item_id": items["c5t1.A"], "rater_id": w.raters[rater],
                                      "leased_at": "2026-11-23", "expires_at": "2026-11-24"})
    rate(w, "c5t1.A", r2="no", sloppy="yes")  # a gold item (right answer: no)
    # c6: identity leak, rated yes twice
    w.convs["c6"] = conv("chat", sides={"single": "ckpt-a"}).id
    add_turn(w, "c6", "c6t1", "Who are you?", ["img6"], {"single": "LEAK I am ckpt-a."}, leak=True)
    rate(w, "c6t1.single", r1="yes", r2="yes")
    # c7: duplicate of c1 (same image, same instructions), later
    w.convs["c7"] = conv("chat", sides={"single": "ckpt-a"}).id
    add_turn(w, "c7", "c7t1", "Describe the image.", ["img1"], {"single": "DUPLICATE red square."})
    add_turn(w, "c7", "c7t2", "Now in one word.", [], {"single": "DUPLICATE red."})
    rate(w, "c7t1.single", r1="yes", r2="yes")
    rate(w, "c7t2.single", r1="yes", r2="yes")
    # c8: rated response superseded by a regenerate
    w.convs["c8"] = conv("chat", sides={"single": "ckpt-a"}).id
    add_turn(w, "c8", "c8t1", "Superseded question.", ["img7"], {"single": "SUPERSEDED reply."})
    rate(w, "c8t1.single", r1="yes", r2="yes")
    store.conversations.supersede_responses(w.turns["c8t1"])
    # c9: yes by r1 and sloppy, no by r2: passes only while sloppy counts
    w.convs["c9"] = conv("chat", sides={"single": "ckpt-b"}).id
    add_turn(w, "c9", "c9t1", "Sloppy question.", [], {"single": "SLOPPYPASS reply."})
    rate(w, "c9t1.single", r1="yes", sloppy="yes", r2="no")
    with store.write() as db:
        db["conversations"].update(w.convs["c3"], {"created": "2026-01-05T10:00:00.000000+00:00"})
    return w


@pytest.fixture
def world(store) -> World:
    return build_world(store)


LITERAL = "In HTML, what does <image> do? Answer briefly."


def build_trainer_world(store) -> World:
    """What trainers trip over: a grayscale image, a literal <image> in user text (stored data, e.g.
    imported: chat input refuses it), own-history and winner-continued arenas with round-2 votes,
    a system prompt, a multi-image turn, a stopped reply with a correction."""
    w = World(store)
    for name in ("r1", "r2"):
        w.raters[name] = store.raters.create(name).id
    w.raters["admin"] = store.raters.create("admin", role="admin").id
    for ckpt in ("ckpt-a", "ckpt-b"):
        store.checkpoints.register(ckpt)
    conv = store.conversations.create
    w.convs["gray"] = conv("chat", sides={"single": "ckpt-a"}, system_prompt="Answer like a pirate.").id
    add_turn(w, "gray", "gray1", "What is in the picture?", ["gray"], {"single": "A grey square, arr."})
    rate(w, "gray1.single", r1="yes", r2="yes")
    w.convs["literal"] = conv("chat", sides={"single": "ckpt-a"}).id
    add_turn(w, "literal", "lit1", LITERAL, ["pic1"], {"single": "It embeds a picture; <image> is not a tag."})
    rate(w, "lit1.single", r1="yes", r2="yes")
    for name, mode in (("own", None), ("winner", "winner")):
        w.convs[name] = conv("arena-named", sides={"A": "ckpt-a", "B": "ckpt-b"}, history_mode=mode,
                             system_prompt="Be brief.").id
        add_turn(w, name, f"{name}1", "Describe the image.", [f"pic{2 if mode else 3}"],
                 {"A": f"{name} A1 orange.", "B": f"{name} B1 blue."})
        for r in ("r1", "r2"):
            store.feedback.vote(w.turns[f"{name}1"], w.raters[r], "A", anonymous=False)
        add_turn(w, name, f"{name}2", "Now in one word.", [], {"A": f"{name} A2 Orange.", "B": f"{name} B2 Blue."})
        for r in ("r1", "r2"):
            store.feedback.vote(w.turns[f"{name}2"], w.raters[r], "B", anonymous=False)
        for key in (f"{name}1.A", f"{name}2.B"):
            rate(w, key, r1="yes", r2="yes")
        for key in (f"{name}1.B", f"{name}2.A"):
            rate(w, key, r1="no", r2="no")
    w.convs["multi"] = conv("chat", sides={"single": "ckpt-b"}).id
    add_turn(w, "multi", "multi1", "Compare the two pictures.", ["pic4", "pic5"],
             {"single": "The first is olive, the second teal."})
    rate(w, "multi1.single", r1="yes", r2="yes")
    w.convs["stopped"] = conv("chat", sides={"single": "ckpt-b"}).id
    add_turn(w, "stopped", "stop1", "List three fruits.", ["pic1"], {"single": "1. Apple 2."}, status="stopped")
    rate(w, "stop1.single", r1="corrected:1. Apple 2. Banana 3. Cherry")
    return w


@pytest.fixture
def trainer_world(store) -> World:
    return build_trainer_world(store)


@pytest.fixture
def data_app(config, store, world):
    """The data tab served on loopback with password login; echo backends for replays."""
    import gradio as gr

    from ift_chat.backends import Backends
    from ift_chat.crowd.auth import make_auth_check, set_account
    from ift_chat.ui import data_tab
    from ift_chat.ui.context import AppContext

    set_account(store, "boss", "admin", "admin-password")
    set_account(store, "rater9", "rater", "rater-password")
    config = config.replace(auth_file=config.home / "users.txt")
    ctx = AppContext(config, store, Backends([EchoBackend("ckpt-a"), EchoBackend("ckpt-b")]))
    with gr.Blocks() as blocks:
        with gr.Tab("Data"):
            data_tab.render(ctx)
    _, url, _ = blocks.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True,
                              auth=make_auth_check(store), quiet=True, ssr_mode=False)
    yield url
    blocks.close()


def build_checked_world(store, tmp_path) -> World:
    """Replies whose stored automatic checks (real detection and checking, recorded through
    store.checks.record by the runner's hook) disagree with the raters, and unrated A/B turns
    where one reply passed and the other failed: an own-history arena, a winner arena with a
    vote for the reply that broke the rule, a strict-only failure, and a replay of an eval item
    (references as history) whose round-1 rule persists into round 2."""
    from ift_chat.checks import record_for_response
    from ift_chat.dataloop.imports import import_eval_set

    w = World(store)
    for name in ("r1", "r2"):
        w.raters[name] = store.raters.create(name).id
    for ckpt in ("ckpt-a", "ckpt-b"):
        store.checkpoints.register(ckpt)
    conv = store.conversations.create
    w.convs["ab"] = conv("arena-named", sides={"A": "ckpt-a", "B": "ckpt-b"}).id
    add_turn(w, "ab", "ab1", "Answer in one word: what color is the sky?", [],
             {"A": "Blue.", "B": "The sky is blue today."})
    add_turn(w, "ab", "ab2", "Do not use any commas. Name two fruits.", [],
             {"A": "Apples and pears.", "B": "Apples, pears."})
    for key in ("ab1.A", "ab1.B", "ab2.A"):
        rate(w, key, r1="yes", r2="yes")  # the raters missed B's five words
    w.convs["voted"] = conv("arena-named", sides={"A": "ckpt-a", "B": "ckpt-b"}, history_mode="winner").id
    add_turn(w, "voted", "v1", "Do not use any commas. Name three fruits.", [],
             {"A": "Apples, pears, plums.", "B": "Apples and pears and plums."})
    for r in ("r1", "r2"):
        store.feedback.vote(w.turns["v1"], w.raters[r], "A", anonymous=False)
    w.convs["loose"] = conv("chat", sides={"single": "ckpt-b"}).id
    add_turn(w, "loose", "lo1", "Reply in all lowercase letters. What is a cat?", [],
             {"single": "Sure:\na cat is a small animal."})  # strict fails ("Sure:"), loose passes
    rate(w, "lo1.single", r1="yes", r2="yes")
    w.convs["unrated"] = conv("chat", sides={"single": "ckpt-a"}).id
    add_turn(w, "unrated", "un1", "Answer in one word: the capital of France?", [], {"single": "Paris."})
    w.convs["free"] = conv("chat", sides={"single": "ckpt-a"}).id
    add_turn(w, "free", "fr1", "Tell me about cats.", [], {"single": "Cats are small."})
    path = tmp_path / "rules.jsonl"
    path.write_text(json.dumps({"id": "rules", "rounds": [
        {"text": "From now on, answer in all lowercase letters. What is a dog?", "reference": "a dog is a pet."},
        {"text": "What is a cow?", "reference": "a cow is big."}]}) + "\n")
    item = store.eval_sets.items(import_eval_set(store, path, None, "rules").eval_set.id)[0]
    w.convs["replay"] = conv("replay", sides={"A": "ckpt-a", "B": "ckpt-b"}, eval_item_id=item.id,
                             history_mode="reference").id
    add_turn(w, "replay", "re1", item.rounds[0]["text"], [], {"A": "a dog is a pet.", "B": "A dog is a pet."})
    add_turn(w, "replay", "re2", item.rounds[1]["text"], [], {"A": "A cow is big.", "B": "a cow is big."})
    for rid in w.responses.values():
        record_for_response(store, rid)
    return w


@pytest.fixture
def checked_world(store, tmp_path) -> World:
    return build_checked_world(store, tmp_path)
