"""Judge jobs against a scripted OpenAI-compatible judge server: stored rows, parsing,
timeouts, idempotency, images, history policies and the API key."""

from __future__ import annotations

import asyncio
import json

from ift_chat.judge import judge_backend, run_job
from tests.conftest import png_bytes
from tests.judge.conftest import add_dialog, spec_for

GOOD = '{"followed": "yes", "score": 5, "tags": [], "reason": "one word, as asked"}'
PARTLY = ('Sure! ```json\n{"followed": "partially", "score": 3, "tags": ["broke_format_or_length", "made_up"],'
          ' "reason": "two sentences,\\n not one"}\n```')
BAD = '{"followed": "no", "score": 1, "tags": ["ignored_instruction"], "reason": "ignored the list"}'


def run(store, spec, **kw):
    backend = judge_backend(spec, None, store.config.limits)
    return asyncio.run(run_job(store, backend, spec, **{"scope": "all", **kw}))


def rows_by_response(store, rater):
    info = store.judges.rater(rater)
    return {v["response_id"]: v for v in store.judges.verdicts(info["rater_id"])}


def test_exact_verdicts_are_stored_with_raw_output_and_rerun_is_idempotent(jstore, judge_server):
    judge_server.answers = {"Blue": GOOD, "two sentences": PARTLY, "ignore": BAD}
    _, ids = add_dialog(jstore, "ckpt-a", [("One word: sky colour?", "Blue"),
                                           ("Now one sentence.", "Here are two sentences. See."),
                                           ("List three.", "I ignore that")])
    spec = spec_for(judge_server)
    result = run(jstore, spec)
    assert (result.total, result.judged, result.skipped, result.unparsable, result.errors) == (3, 3, 0, 0, 0)
    rows = rows_by_response(jstore, spec.rater_name)
    got = {rid: (rows[rid]["followed"], rows[rid]["score"], json.loads(rows[rid]["tags"]), rows[rid]["parse"])
           for rid in ids}
    assert got == {ids[0]: ("yes", 5, [], "json"),
                   ids[1]: ("partial", 3, ["broke_format_or_length"], "json"),  # unknown tag dropped
                   ids[2]: ("no", 1, ["ignored_instruction"], "json")}
    assert rows[ids[1]]["reason"] == "two sentences, not one"  # one line
    assert rows[ids[1]]["raw_output"] == PARTLY
    assert spec.rater_name.startswith("judge:stub@") and len(spec.rater_name) == len("judge:stub@") + 12
    kind = jstore.query("select kind, disabled from raters where name = ?", [spec.rater_name])[0]
    assert kind == {"kind": "judge", "disabled": 1}
    asked = len(judge_server.requests)
    again = run(jstore, spec)
    assert (again.judged, again.skipped) == (0, 3) and len(judge_server.requests) == asked
    forced = run(jstore, spec, force=True)
    assert forced.judged == 3 and len(judge_server.requests) == asked + 3
    assert len(jstore.query("select * from judge_verdicts")) == 3  # same judge+rubric+reply: same row


def test_a_changed_rubric_is_another_rater(jstore, judge_server, tmp_path):
    judge_server.default = GOOD
    add_dialog(jstore, "ckpt-a", [("Hi", "Hello")])
    first = spec_for(judge_server)
    rubric = tmp_path / "mine.md"
    rubric.write_text("Grade strictly. Tags: {tags}. Answer JSON.")
    second = spec_for(judge_server, rubric=str(rubric))
    run(jstore, first), run(jstore, second)
    assert first.rater_name != second.rater_name
    assert {r["name"] for r in jstore.judges.raters()} == {first.rater_name, second.rater_name}
    system = judge_server.requests[-1]["messages"][0]["content"][0]["text"]
    assert system.startswith("Grade strictly.") and "hallucinated_visual" in system


def test_malformed_outputs_are_unparsable_never_guessed(jstore, judge_server):
    judge_server.answers = {"r1": "It seems fine I guess", "r2": '{"followed": "maybe"}',
                            "r3": "Verdict: partially. Score: 4. reason: half done",
                            "r4": "", "r5": '{"followed": "yes", "score": 9, "tags": "repetition"}'}
    _, ids = add_dialog(jstore, "ckpt-a", [(f"q{n}", f"r{n}") for n in range(1, 6)])
    spec = spec_for(judge_server)
    result = run(jstore, spec)
    assert (result.judged, result.unparsable) == (5, 3)
    rows = rows_by_response(jstore, spec.rater_name)
    for rid in ids[:2] + ids[3:4]:
        assert (rows[rid]["status"], rows[rid]["followed"], rows[rid]["score"]) == ("unparsable", None, None)
    assert rows[ids[0]]["raw_output"] == "It seems fine I guess"
    r3, r5 = rows[ids[2]], rows[ids[4]]
    assert (r3["status"], r3["parse"], r3["followed"], r3["score"], r3["reason"]) == \
        ("ok", "fallback", "partial", 4, "half done")
    assert (r5["followed"], r5["score"], json.loads(r5["tags"])) == ("yes", None, ["repetition"])
    assert run(jstore, spec).judged == 0  # unparsable is an answer: not re-asked without --force


def test_timeouts_and_server_errors_are_errors_retried_next_run(jstore, judge_server):
    judge_server.default = GOOD
    _, ids = add_dialog(jstore, "ckpt-a", [("q", "r"), ("q2", "r2")])
    hanging = spec_for(judge_server, timeout_s=0.5)
    judge_server.mode = "hang"
    result = run(jstore, hanging)
    assert (result.judged, result.errors) == (2, 2)
    rows = rows_by_response(jstore, hanging.rater_name)
    assert all(rows[i]["status"] == "error" and "0.5 s" in rows[i]["error"] for i in ids)
    assert all(rows[i]["followed"] is None for i in ids)
    judge_server.mode = "http500"
    boom = run(jstore, hanging)
    assert boom.errors == 2 and "internal boom" in rows_by_response(jstore, hanging.rater_name)[ids[0]]["error"]
    # the same judge, now answering: the errors are retried, nothing else
    judge_server.mode = None
    fixed = spec_for(judge_server)
    again = run(jstore, fixed)
    assert (again.judged, again.errors, again.skipped) == (2, 0, 0)
    assert {r["status"] for r in rows_by_response(jstore, fixed.rater_name).values()} == {"ok"}


def test_scopes_and_the_unrated_filter(jstore, judge_server):
    judge_server.default = GOOD
    _, a_ids = add_dialog(jstore, "ckpt-a", [("q", "a1"), ("q2", "a2")])
    _, b_ids = add_dialog(jstore, "ckpt-b", [("q", "b1")])
    human = jstore.raters.create("alice")
    jstore.feedback.rate(a_ids[0], human.id, "yes")
    spec = spec_for(judge_server)
    assert run(jstore, spec, scope="checkpoint", target="ckpt-b").judged == 1
    assert run(jstore, spec, scope="unrated").judged == 1  # a2 (a1 is human-rated, b1 done)
    assert run(jstore, spec, scope="all").judged == 1  # a1


def test_text_only_judge_is_told_about_images_multimodal_judge_sees_them(jstore, judge_server):
    from ift_chat.store import prepare_image

    judge_server.default = GOOD
    image = prepare_image(png_bytes(), jstore.config.limits)
    add_dialog(jstore, "ckpt-a", [("What is shown?", "A red square.")], images={0: [image]})
    text_only = spec_for(judge_server)
    run(jstore, text_only)
    body = judge_server.requests[-1]
    parts = body["messages"][1]["content"]
    assert not any(p["type"] == "image_url" for p in parts)
    assert "you cannot see it" in parts[0]["text"] and "1 image(s) you cannot see" in parts[0]["text"]
    row = next(iter(rows_by_response(jstore, text_only.rater_name).values()))
    assert (row["images_sent"], row["images_hidden"]) == (0, 1)
    seeing = spec_for(judge_server, multimodal=True)
    run(jstore, seeing)
    parts = judge_server.requests[-1]["messages"][1]["content"]
    assert [p["type"] for p in parts].count("image_url") == 1
    assert parts[1]["image_url"]["url"].startswith("data:image/")
    row = next(iter(rows_by_response(jstore, seeing.rater_name).values()))
    assert (row["images_sent"], row["images_hidden"]) == (1, 0)


def test_reference_history_replaces_earlier_replies(jstore, judge_server):
    judge_server.default = GOOD
    es = jstore.eval_sets.create("mtb")
    jstore.eval_sets.add_items(es.id, [("i1", [{"text": "q1", "reference": "REFERENCE ONE"},
                                               {"text": "q2", "reference": "ref two"}])])
    item = jstore.eval_sets.items(es.id)[0]
    add_dialog(jstore, "ckpt-a", [("q1", "own reply one"), ("q2", "own two")], mode="replay",
               eval_item_id=item.id)
    add_dialog(jstore, "ckpt-a", [("x1", "no item"), ("x2", "no item 2")])
    spec = spec_for(judge_server)
    result = run(jstore, spec, policy="reference")
    # round 1 of the replay needs no history; round 2 gets the reference; the plain chat's
    # round 2 has no reference and is left out (round 1 has no earlier reply: it is judged)
    assert (result.judged, result.no_reference) == (3, 1)
    texts = [b["messages"][1]["content"][0]["text"] for b in judge_server.requests]
    second = next(t for t in texts if "BEGIN REPLY TO GRADE (turn 2)\nown two" in t)
    assert "REFERENCE ONE" in second and "own reply one" not in second
    own = run(jstore, spec, policy="own")  # another policy: its own rows
    assert own.judged == 4
    texts = [b["messages"][1]["content"][0]["text"] for b in judge_server.requests[-4:]]
    second = next(t for t in texts if "BEGIN REPLY TO GRADE (turn 2)\nown two" in t)
    assert "own reply one" in second and "REFERENCE ONE" not in second


def test_api_key_goes_in_the_header_and_nowhere_in_the_database(jstore, judge_server, monkeypatch):
    secret = "sk-TOPSECRET-123"
    monkeypatch.setenv("STUB_JUDGE_KEY", secret)
    judge_server.default = GOOD
    add_dialog(jstore, "ckpt-a", [("q", "r")])
    spec = spec_for(judge_server, api_key_env="STUB_JUDGE_KEY")
    assert run(jstore, spec).judged == 1
    assert judge_server.headers[-1].get("authorization") == f"Bearer {secret}"
    dump = "\n".join(jstore.db.conn.iterdump())
    assert secret not in dump and "STUB_JUDGE_KEY" not in dump


def test_a_missing_key_variable_is_a_clear_error(jstore, judge_server, monkeypatch):
    import pytest

    from ift_chat.errors import ValidationError

    monkeypatch.delenv("NOPE_KEY", raising=False)
    spec = spec_for(judge_server, api_key_env="NOPE_KEY")
    with pytest.raises(ValidationError, match="NOPE_KEY"):
        judge_backend(spec, None, jstore.config.limits)


def test_concurrency_is_bounded_and_a_stopped_job_resumes(jstore, judge_server):
    import threading

    judge_server.default, judge_server.delay_s = GOOD, 0.05
    for n in range(4):
        add_dialog(jstore, "ckpt-a", [(f"q{n}", f"r{n}"), (f"q{n}b", f"r{n}b"), (f"q{n}c", f"r{n}c")])
    spec = spec_for(judge_server)  # concurrency 3
    stop = threading.Event()
    seen = []

    def progress(done, total):
        seen.append((done, total))
        if done >= 3:
            stop.set()
    backend = judge_backend(spec, None, jstore.config.limits)
    first = asyncio.run(run_job(jstore, backend, spec, scope="all", on_progress=progress, stop=stop))
    assert first.stopped and 3 <= first.judged < 12 and seen[0] == (0, 12)
    stored = jstore.query("select count(*) n from judge_verdicts")[0]["n"]
    assert stored == first.judged  # every verdict asked for was written
    rest = run(jstore, spec)
    assert (rest.judged, rest.skipped) == (12 - first.judged, first.judged)
    assert jstore.query("select count(*) n from judge_verdicts")[0]["n"] == 12
    assert 2 <= judge_server.max_in_flight <= 3
