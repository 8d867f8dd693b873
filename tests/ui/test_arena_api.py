"""Arena through gradio_client and raw HTTP: per-turn blind votes, reveal at the end, anonymity."""

from __future__ import annotations

import json

import httpx
from gradio_client import Client, handle_file

SECRET = ("secret-ckpt-alpha", "secret-ckpt-beta")


def battle_turn(client: Client, text: str, image=None, name="ann"):
    message = {"text": text, "files": [handle_file(str(image))] if image else []}
    return client.predict(message, name, "", 0.7, 1.0, 64, None, "own", api_name="/battle_send")


def test_anonymous_battle_three_turns_with_votes(scripted_app, store, tmp_path, make_png):
    url, _ = scripted_app
    image = tmp_path / "cat.png"
    image.write_bytes(make_png())
    client = Client(url + "/battle/", verbose=False)
    for n, winner in enumerate(["A", "B", "tie"], start=1):
        out = battle_turn(client, f"question {n}", image if n == 1 else None)
        assert not any(s in json.dumps(out, default=str) for s in SECRET), f"turn {n} leaked a name"
        voted = json.dumps(client.predict("ann", winner, f"because {n}", api_name="/battle_vote"), default=str)
        assert f"Turn {n}: you voted" in voted
        assert not any(s in voted for s in SECRET), f"the vote on turn {n} revealed a name"
    revealed = json.dumps(client.predict("ann", api_name="/battle_reveal"), default=str)
    assert all(s in revealed for s in SECRET), "names must be revealed when the battle ends"
    conv = store.query("select * from conversations")
    assert len(conv) == 1 and conv[0]["mode"] == "arena-anonymous" and conv[0]["revealed"]
    votes = store.query("select v.winner, v.anonymous, v.reason, t.idx from votes v "
                        "join turns t on t.id = v.turn_id order by t.idx")
    assert [(v["idx"], v["winner"], v["anonymous"]) for v in votes] == [(1, "A", 1), (2, "B", 1), (3, "tie", 1)]
    responses = store.query("select side, checkpoint, status from responses order by turn_id, side")
    assert len(responses) == 6 and {r["status"] for r in responses} == {"ok"}
    assert {r["checkpoint"] for r in responses} == set(SECRET)
    assert store.query("select count(*) n from turn_images")[0]["n"] == 1


def test_vote_before_reply_is_refused(scripted_app):
    url, _ = scripted_app
    client = Client(url + "/battle/", verbose=False)
    try:
        client.predict("ann", "A", "", api_name="/battle_vote")
    except Exception as exc:  # gradio_client raises AppError with our message
        assert "both replies" in str(exc)
    else:
        raise AssertionError("a vote without replies must be refused")


def _dependency_id(config: dict, api_name: str) -> int:
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)


def test_nothing_before_the_vote_names_a_checkpoint(scripted_app, tmp_path, make_png, store):
    """Everything the browser gets before voting: page, config, upload, SSE events, files."""
    url, _ = scripted_app
    base = url + "/battle"
    bodies = []
    with httpx.Client(timeout=30) as http:
        for path in ("/", "/config", "/gradio_api/info"):
            r = http.get(base + path)
            assert r.status_code == 200, path
            bodies.append(r.text)
        config = http.get(base + "/config").json()
        png = tmp_path / "x.png"
        png.write_bytes(make_png())
        up = http.post(base + "/gradio_api/upload", files={"files": ("x.png", png.read_bytes(), "image/png")})
        bodies.append(up.text)
        file = {"path": up.json()[0], "orig_name": "x.png", "meta": {"_type": "gradio.FileData"}}
        session = "anontest123"
        fn = _dependency_id(config, "battle_send")
        data = [None, {"text": "what is this?", "files": [file]}, False, "ann", "", 0.7, 1.0, 64, None, "own"]
        join = http.post(base + "/gradio_api/queue/join",
                         json={"data": data, "fn_index": fn, "session_hash": session,
                               "event_data": None, "trigger_id": None})
        assert join.status_code == 200, join.text
        bodies.append(join.text)
        with http.stream("GET", base + "/gradio_api/queue/data", params={"session_hash": session}) as sse:
            stream_text = ""
            for line in sse.iter_lines():
                stream_text += line + "\n"
                if '"process_completed"' in line:
                    break
        bodies.append(stream_text)
        assert "Reply one" in stream_text and "Reply two" in stream_text  # the replies did arrive
        for file_url in set(_urls(stream_text)):
            bodies.append(file_url)
            assert http.get(file_url).status_code == 200
    everything = "\n".join(bodies)
    for secret in SECRET:
        assert secret not in everything


def _urls(text: str):
    import re
    return re.findall(r'"url":\s*"(http[^"]+)"', text)
