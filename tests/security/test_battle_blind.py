"""A battle stays blind until its owner reveals it, for every route an attacker tried (issue 17):
served model ids, display names, org/model and host:port in errors; the public leaderboard as an
oracle (via a rating and via a vote); votes after the reveal; other raters with the link;
repeatable sampling; replies that name themselves. Each test reads the raw Gradio queue
payloads, everything a browser would receive."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field

import httpx
import pytest

from ift_chat.backends import Backends, BackendStatus, Completion, SamplingParams
from ift_chat.errors import ValidationError
from ift_chat.leaderboard.votes import vote_counts
from ift_chat.runner import DialogRunner
from ift_chat.server import make_asgi_app

from .conftest import SECRETS, serve
from .gradio_http import PageSession

# How each checkpoint is known besides its name (registry `model`, display_name, base, url).
IDENTITIES = {
    SECRETS[0]: dict(model="acme-labs/served-alpha-7b", display_name="Alpha Tuned v2",
                     base="acme-labs/base-vlm-alpha", source="http://gpu-alpha.internal:8000/v1",
                     host="gpu-alpha.internal:8000"),
    SECRETS[1]: dict(model="served-beta-13b", display_name="Beta Tuned v5",
                     base="acme-labs/base-vlm-beta", source="http://10.9.8.7:8443/v1",
                     host="10.9.8.7:8443"),
}
# Error texts real servers send, one identity each ({upstream}: an org/model id the registry
# does not know, e.g. what a router forwarded to).
ERRORS = {
    "served model id": "model {model!r} is overloaded",
    "org/model": "routed to {upstream} which failed",
    "host:port": "connection to {host} refused",
    "display name": "{display_name} is still loading",
}
UPSTREAM = {SECRETS[0]: "vendor-x/mystery-alpha-70b", SECRETS[1]: "vendor-y/mystery-beta-8b"}


def _pattern(text: str) -> str:
    return r"[-_ ./:]?".join(re.escape(p) for p in re.split(r"[-_ ./:]+", text) if p)


IDENTITY = re.compile("|".join(
    [_pattern(s) for s in SECRETS]
    + [_pattern(v) for ids in IDENTITIES.values() for k, v in ids.items()]
    + [_pattern(u) for u in UPSTREAM.values()]
    + ["gpu-alpha", r"10\.9\.8\.7", "vendor-[xy]", "mystery", "served-(alpha|beta)", "Tuned v"]), re.I)


def leaks(text: str) -> list[str]:
    return sorted(set(m.group(0) for m in IDENTITY.finditer(text)))


@dataclass
class ServedBackend:
    """A checkpoint behind a server: replies `reply`, or streams a little and fails with `error`
    (formatted with its identities), like an OpenAI-compatible server would."""

    name: str
    reply: str = "A plain reply."
    error: str | None = None
    max_model_len: int | None = 2048
    calls: list = field(default_factory=list)

    def status(self) -> BackendStatus:
        return BackendStatus("ready")

    async def stream(self, messages, params: SamplingParams, cancel: asyncio.Event | None = None):
        self.calls.append(params)
        ids = {**IDENTITIES[self.name], "upstream": UPSTREAM[self.name]}
        text = self.reply.format(**ids)
        for word in text.split(" "):
            await asyncio.sleep(0)
            yield word + " "
        if self.error:
            yield Completion(text, "error", error=f"HTTP 503: {self.error.format(**ids)}; "
                                                 "try a shorter conversation")
        else:
            yield Completion(text, "ok", finish_reason="stop")

    async def aclose(self) -> None:
        pass


def register(store, *backends) -> Backends:
    for b in backends:
        ids = IDENTITIES[b.name]
        store.checkpoints.register(b.name, backend="openai", source=ids["source"], model=ids["model"],
                                   display_name=ids["display_name"], base=ids["base"])
    return Backends(backends)


@pytest.fixture
def battle_app(config, store):
    """Serve the app on two ServedBackends made by `make(name)`; yields (url, backends)."""
    served = []

    def start(make=ServedBackend):
        backends = register(store, *(make(name) for name in SECRETS))
        context = serve(make_asgi_app(config, store, backends))
        served.append(context)
        return context.__enter__(), backends

    yield start
    for context in served:
        context.__exit__(None, None, None)


def send(page, text="hello", name="ann", temperature=0.7, top_p=1.0, seed=None):
    return page.call("battle_send", None, {"text": text, "files": []}, False, name, "", temperature,
                     top_p, 64, seed, "own")


def regenerate(page, name="ann", seed=None):
    return page.call("battle_regenerate", None, name, 0.7, 1.0, 64, seed)


def vote(page, winner="A", name="ann"):
    return page.call("battle_vote", None, name, winner, "")


def reveal(page, name="ann"):
    return page.call("battle_reveal", None, name)


def rate(page, response_id, name="ann", followed="no"):
    return page.call("battle_rate", response_id, name, followed, 1, [], "", "", None)


def side_response(store, side: str) -> int:
    return store.query("select id from responses where side = ? and superseded = 0 order by id desc",
                       [side])[0]["id"]


def leaderboard(http, url) -> str:
    """The public leaderboard exactly as its Refresh button returns it (bootstrap off: exact)."""
    page = PageSession(http, url)
    out, error, _ = page.call("leaderboard_refresh", 0, "tie", False, True, "mean", "", "", "", "", 0, [], 3, 0, "")
    assert not error, error
    return json.dumps(out, sort_keys=True)


@pytest.mark.parametrize("kind", list(ERRORS))
def test_error_texts_name_no_served_identity_before_the_reveal(battle_app, store, kind):
    url, _ = battle_app(lambda name: ServedBackend(name, reply="Partial words", error=ERRORS[kind]))
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, url + "/battle")
        out, error, _ = send(page)
        shown = json.dumps(out)
        assert not error and "try a shorter conversation" in shown and "hidden until the reveal" in shown
        for call in (lambda: regenerate(page), lambda: rate(page, side_response(store, "A")),
                     lambda: vote(page, "both_bad")):
            out, error, _ = call()
            assert not error and "try a shorter conversation" in json.dumps(out)
        assert leaks(page.everything()) == [], kind
        revealed, error, _ = reveal(page)
        assert not error and all(s in json.dumps(revealed) for s in SECRETS)  # the check can see names
    stored = [r["error"] for r in store.query("select error from responses")]
    assert len(stored) == 4 and all(leaks(e) for e in stored)  # the DB keeps the full errors


@pytest.mark.parametrize("route", ["rating", "vote"])
def test_the_public_leaderboard_does_not_move_before_the_reveal(battle_app, store, route):
    """The oracle: rate Model A "no" (or vote) in a battle, refresh the public leaderboard and
    see which row changed. Nothing changes until the owner reveals the battle."""
    url, _ = battle_app()
    with httpx.Client(timeout=30) as http:
        before = leaderboard(http, url)
        page = PageSession(http, url + "/battle")
        assert not send(page, "one")[1] and not send(page, "two")[1]
        if route == "rating":
            assert not rate(page, side_response(store, "A"))[1]
        else:
            assert not vote(page, "A")[1]
        assert leaderboard(http, url) == before
        assert leaks(page.everything()) == []
        assert not reveal(page)[1]
        after = leaderboard(http, url)
    assert after != before  # once revealed, the battle counts
    side_a = store.query("select checkpoint from conversation_sides where side = 'A'")[0]["checkpoint"]
    assert side_a in after


def _output(page: PageSession, out: list, fn: int, elem_id: str):
    """The value the event returned for the component with this elem_id."""
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in page.config["components"]}
    outputs = next(d["outputs"] for d in page.dependencies() if d["id"] == fn)
    return out[[ids.get(o) for o in outputs].index(elem_id)]


def test_a_revealed_battle_takes_no_more_votes_ratings_or_turns(battle_app, store, config):
    url, backends = battle_app()
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, url + "/battle")
        assert not send(page)[1] and not vote(page, "A")[1]
        assert not reveal(page)[1]
        conversation_id = store.query("select id from conversations")[0]["id"]
        # The reloaded page (?c=<id>, same rater) shows the reveal and no active vote.
        reloaded = PageSession(http, url + "/battle")
        fn = reloaded.load_event()
        out, error, _ = reloaded.call(fn, "ann", query=f"c={conversation_id}")
        assert not error
        assert all(s in json.dumps(_output(reloaded, out, fn, "battle-reveal")) for s in SECRETS)
        for elem_id in ("battle-vote", "battle-reveal-btn"):
            assert _output(reloaded, out, fn, elem_id)["interactive"] is False, elem_id
        # The server refuses what the page no longer offers (the revealing session moved on to a
        # blank new battle; the reloaded one holds the revealed battle).
        assert vote(page, "B")[0] is None
        for call in (lambda: vote(reloaded, "B"), lambda: rate(reloaded, side_response(store, "A")),
                     lambda: regenerate(reloaded)):
            out, error, _ = call()
            assert out is None and "battle is over" in error, error
        out, error, raw = send(reloaded, "more")  # a new message starts a new, blind battle instead
        assert not error and "more" in raw and leaks(raw) == []
    assert [(v["winner"], v["anonymous"]) for v in store.query("select * from votes")] == [("A", 1)]
    assert store.query("select count(*) n from ratings")[0]["n"] == 0
    old = store.query("select count(*) n from turns where conversation_id = ?", [conversation_id])
    assert old[0]["n"] == 1 and store.query("select count(*) n from conversations")[0]["n"] == 2
    with pytest.raises(ValidationError, match="battle is over"):  # the runner refuses it too
        runner = DialogRunner(store, backends, config.limits)

        async def more():
            async for _ in runner.send(conversation_id, "more", rater_id=store.raters.by_name("ann").id):
                pass
        asyncio.run(more())
    with pytest.raises(ValidationError, match="battle is over"):  # the store itself, not the page
        turn_id = store.query("select id from turns where conversation_id = ?", [conversation_id])[0]["id"]
        store.feedback.vote(turn_id, store.raters.by_name("ann").id, "B", anonymous=True)


def test_only_the_owner_votes_rates_continues_or_reveals(battle_app, store):
    url, _ = battle_app()
    with httpx.Client(timeout=30) as http:
        owner = PageSession(http, url + "/battle")
        assert not send(owner)[1]
        conversation_id = store.query("select id from conversations")[0]["id"]
        eve = PageSession(http, url + "/battle")  # opened the battle's link
        out, error, _ = eve.call(eve.load_event(), "eve", query=f"c={conversation_id}")
        assert not error and "A plain reply" in json.dumps(out)
        for call in (lambda: vote(eve, "A", "eve"), lambda: rate(eve, side_response(store, "A"), "eve"),
                     lambda: send(eve, "mine now", "eve"), lambda: regenerate(eve, "eve"),
                     lambda: reveal(eve, "eve")):
            out, error, _ = call()
            assert out is None and "belongs to another rater" in error, error
        label = {c["id"]: c.get("props", {}).get("label") for c in eve.config["components"]}
        history = next(d["id"] for d in eve.dependencies() for t in d["targets"]
                       if t[1] == "input" and label.get(t[0]) == "After a vote, the next turn…")
        out, error, _ = eve.call(history, None, "winner", "eve")  # unnamed event, by fn_index
        assert "belongs to another rater" in error
        assert leaks(eve.everything() + owner.everything()) == []
        assert not vote(owner, "B")[1]  # the owner still can
    assert [v["winner"] for v in store.query("select winner from votes")] == ["B"]
    assert store.query("select count(*) n from ratings")[0]["n"] == 0
    assert store.query("select count(*) n from turns")[0]["n"] == 1
    row = store.query("select revealed, history_mode from conversations")[0]
    assert row["revealed"] is None and row["history_mode"] == "own"


def test_repeatable_sampling_is_neither_offered_nor_accepted_in_a_battle(battle_app, store, config):
    url, backends = battle_app()
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, url + "/battle")
        props = {c.get("props", {}).get("label"): c.get("props", {}) for c in page.config["components"]}
        assert props["Seed (blank = random)"]["visible"] is False
        assert props["Temperature"]["minimum"] >= 0.5 and props["Top-p"]["minimum"] >= 0.5
        for kwargs in ({"temperature": 0.0}, {"seed": 7}, {"top_p": 0.05}, {"temperature": 0.1}):
            out, error, _ = send(page, **kwargs)  # refused by the runner or the slider's own range
            assert out is None and ("a battle" in error or "less than minimum" in error), (kwargs, error)
        assert store.query("select count(*) n from conversations")[0]["n"] == 0  # nothing written
        assert not send(page)[1]
        out, error, _ = regenerate(page, seed=7)
        assert out is None and "seed" in error
        assert leaks(page.everything()) == []
    assert [len(b.calls) for b in backends._backends.values()] == [1, 1]
    assert all(p.seed is None and p.temperature >= 0.5 for b in backends._backends.values() for p in b.calls)
    # The runner refuses it too, for any caller.
    runner = DialogRunner(store, backends, config.limits)
    rater = store.raters.get_or_create("ann")
    with pytest.raises(ValidationError, match="seed"):
        runner.start("arena-anonymous", {"A": SECRETS[0], "B": SECRETS[1]}, rater_id=rater.id,
                     params=SamplingParams(seed=3))
    with pytest.raises(ValidationError, match="temperature"):
        runner.start("arena-anonymous", {"A": SECRETS[0], "B": SECRETS[1]}, rater_id=rater.id,
                     params=SamplingParams(temperature=0))


@pytest.mark.parametrize("says", ["Hello, I am {display_name}, nice to meet you.",
                                  "As {model} I would say: hello.",
                                  "I was fine-tuned from {base}."])
def test_a_reply_that_names_itself_is_flagged_and_its_vote_never_counts(battle_app, store, says):
    def make(name):  # only the first checkpoint names itself
        return ServedBackend(name, reply=says if name == SECRETS[0] else "A plain reply.")

    url, _ = battle_app(make)
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, url + "/battle")
        assert not send(page)[1] and not vote(page, "A")[1]
        # Before the reveal only the reply itself said who it is: no checkpoint name anywhere.
        assert not any(s in page.everything() for s in SECRETS)
        assert not reveal(page)[1]
    flags = {r["checkpoint"]: r["identity_leak"] for r in store.query("select * from responses")}
    assert flags == {SECRETS[0]: 1, SECRETS[1]: 0}
    assert vote_counts(store) == []  # revealed, but the rater could have voted on the name
