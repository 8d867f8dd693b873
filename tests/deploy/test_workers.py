"""Two UI workers behind nginx (``serve --workers 2``): browsers stick to a worker, both workers
serve conversations, battles and ratings, and every acknowledged write is a row in the one DB."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import defaultdict

import httpx
import pytest
from gradio_client import Client

from tests.deploy.conftest import MODELS

pytestmark = pytest.mark.slow
COOKIE = "ift_worker"


def upstreams_by_cookie(home) -> dict[str, set[str]]:
    """From nginx's access log (written by the generated config): cookie -> workers it reached."""
    seen: dict[str, set[str]] = defaultdict(set)
    for line in (home / "workers" / "nginx" / "access.log").read_text().splitlines():
        m = re.search(r"upstream=(\S+) sticky=(\S+)", line)
        if m and m[1] != "-":
            seen[m[2]].add(m[1])
    return seen


def browsers_on_each_worker(url: str, home, per_worker: int = 2) -> dict[str, list[str]]:
    """New browsers (a page load each, no cookie) until each worker has `per_worker` of them."""
    by_worker: dict[str, list[str]] = defaultdict(list)
    for _ in range(60):
        cookie = httpx.get(url + "/", timeout=30).cookies[COOKIE]
        time.sleep(0.05)  # the access log line is written when the response ends
        (worker,) = upstreams_by_cookie(home)[cookie]
        by_worker[worker].append(cookie)
        if len(by_worker) == 2 and all(len(c) >= per_worker for c in by_worker.values()):
            return by_worker
    raise AssertionError(f"nginx sent 60 new browsers to {dict(by_worker)}: not spread over 2 workers")


def test_conversations_battles_and_ratings_over_two_workers(workers_app):
    url, home, supervisor = workers_app
    by_worker = browsers_on_each_worker(url, home)
    acked = defaultdict(int)
    db = sqlite3.connect(f"file:{home / 'ift_chat.db'}?mode=ro", uri=True)
    for worker, cookies in by_worker.items():
        for n, cookie in enumerate(cookies[:2]):
            headers = {"Cookie": f"{COOKIE}={cookie}"}
            tag = f"{worker}-{n}"
            chat = Client(url + "/", headers=headers, verbose=False)
            for turn in range(2):
                chat.predict({"text": f"chat {tag} turn {turn}", "files": []}, f"rater{n}", "", 0.0, 1.0, 16,
                             7, MODELS[0], api_name="/chat_send")
                acked["turns"] += 1
                acked["responses"] += 1
            (response_id,) = db.execute("""select r.id from responses r join turns t on t.id = r.turn_id
                                           where t.user_text = ?""", [f"chat {tag} turn 0"]).fetchone()
            chat.predict(response_id, f"rater{n}", "yes", 4, [], "fine", "", api_name="/chat_rate")
            acked["ratings"] += 1
            battle = Client(url + "/battle/", headers=headers, verbose=False)
            for turn in range(2):
                out = battle.predict({"text": f"battle {tag} turn {turn}", "files": []}, f"rater{n}", "", 0.7,
                                     1.0, 16, None, "own", api_name="/battle_send")
                assert not any(m in json.dumps(out, default=str) for m in MODELS), "a blind battle leaked a name"
                acked["turns"] += 1
                acked["responses"] += 2
                battle.predict(f"rater{n}", ("A", "B")[turn], "", api_name="/battle_vote")
                acked["votes"] += 1
    # every browser stayed on its worker, and both workers served browsers
    seen = upstreams_by_cookie(home)
    used = [c for cookies in by_worker.values() for c in cookies[:2]]
    assert all(len(seen[c]) == 1 for c in used), {c: seen[c] for c in used}
    assert len({next(iter(seen[c])) for c in used}) == 2
    # each worker really answered queue calls (not only page loads)
    log = (home / "workers" / "nginx" / "access.log").read_text()
    for worker in by_worker:
        assert re.search(rf"POST /(battle/)?gradio_api/queue/join\S* HTTP/1.1\" 200 .*upstream={worker}", log)
    rows = {name: db.execute(sql).fetchone()[0] for name, sql in {
        "turns": "select count(*) from turns", "responses": "select count(*) from responses where status = 'ok'",
        "votes": "select count(*) from votes", "ratings": "select count(*) from ratings"}.items()}
    assert rows == dict(acked)
    assert db.execute("select count(*) from responses where status != 'ok'").fetchone()[0] == 0
    assert supervisor.poll() is None, "the supervisor must still be running"
