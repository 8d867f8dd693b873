"""What each consumer needs, checked on the trainer world: uploadable OpenAI rows, placeholder safety,
same-prompt pairs, disjoint splits, provenance on every row, system prompts, LLaVA flavours, corrections
on stopped replies."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from ift_chat.dataloop.exports import run_export
from ift_chat.dataloop.provenance import SIDECAR, explain
from ift_chat.dataloop.samples import SKIP_OWN_HISTORY, SKIP_STOPPED_CORRECTION
from ift_chat.dataloop.select import Filters, split_by_image
from ift_chat.errors import ValidationError
from tests.dataloop.conftest import LITERAL

ALL = Filters(split="all")


def export(w, tmp_path, fmt, filters=ALL, **options):
    return run_export(w.store, fmt, tmp_path / f"{fmt}-{len(list(tmp_path.iterdir()))}", filters, options=options)


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def sidecar(result):
    rows = lines(result.path / SIDECAR)
    assert [r["row"] for r in rows] == list(range(result.row_count))
    assert all(r["export"] == result.id and r["row_id"].startswith(f"x{result.id}-") for r in rows)
    return rows


def test_openai_default_is_uploadable(trainer_world, tmp_path):
    w = trainer_world
    result = export(w, tmp_path, "openai")
    rows = lines(result.path / "data.jsonl")
    assert all(set(r) == {"messages"} for r in rows)  # OpenAI accepts no other key in a line
    modes = []
    for r in rows:
        assert r["messages"][-1]["role"] == "assistant"
        for m in r["messages"]:
            if m["role"] != "user":
                assert isinstance(m["content"], str)
                continue
            for part in m["content"]:
                if part["type"] == "image_url":
                    url = part["image_url"]["url"]
                    head, data = url.split(",", 1)
                    assert head in ("data:image/png;base64", "data:image/jpeg;base64", "data:image/webp;base64")
                    img = Image.open(io.BytesIO(base64.b64decode(data)))
                    assert img.format in ("PNG", "JPEG", "WEBP")
                    modes.append(img.mode)
    assert modes and set(modes) <= {"RGB", "RGBA"} and len(modes) == 7
    # gray, literal, multi (2), stopped+correction, round 1 of side A in each arena
    assert any("PNG L → PNG RGB" in k for k in result.report["notes"])
    assert result.report["choices"]["images"].startswith("data:")
    systems = [m["content"] for r in rows for m in r["messages"] if m["role"] == "system"]
    assert "Answer like a pirate." in systems
    trace = sidecar(result)
    assert len(trace) == len(rows)
    assert {t["conversation"] for t in trace} >= {w.convs["gray"], w.convs["multi"], w.convs["stopped"]}


def test_openai_url_prefix_and_relative(trainer_world, tmp_path):
    result = export(trainer_world, tmp_path, "openai", images="url-prefix=https://cdn.example.org/set1/")
    urls = [p["image_url"]["url"] for r in lines(result.path / "data.jsonl") for m in r["messages"]
            if m["role"] == "user" for p in m["content"] if p["type"] == "image_url"]
    assert urls and all(u.startswith("https://cdn.example.org/set1/images/") for u in urls)
    for u in urls:
        with Image.open(result.path / u.removeprefix("https://cdn.example.org/set1/")) as img:
            assert img.mode in ("RGB", "RGBA")
    relative = export(trainer_world, tmp_path, "openai", images="relative")
    assert "NOT uploadable" in relative.report["choices"]["images"]
    with pytest.raises(ValidationError, match="url-prefix must be an http"):
        export(trainer_world, tmp_path, "openai", images="url-prefix=/srv/images")


def test_literal_image_token_escaped_or_skipped(trainer_world, tmp_path):
    for fmt in ("llava", "sharegpt"):
        result = export(trainer_world, tmp_path, fmt, llava_flavor="next")
        data = json.loads((result.path / ("llava.json" if fmt == "llava" else "data.json")).read_text())
        for r in data:
            turns = r["conversations"] if fmt == "llava" else r["messages"]
            images = r.get("image", r.get("images", []))
            images = [images] if isinstance(images, str) else images
            assert sum(t.get("value", t.get("content", "")).count("<image>") for t in turns) == len(images)
        assert any("&lt;image> do?" in json.dumps(r) for r in data)
        assert result.report["notes"]["rows whose text had image tokens escaped (<image> → &lt;image>)"] == 1
    skipped = export(trainer_world, tmp_path, "hf", image_tokens_in_text="skip")
    assert sum(v for k, v in skipped.report["skipped"].items() if "image token" in k) == 1
    assert LITERAL not in (skipped.path / SIDECAR).read_text()


def test_runner_refuses_image_tokens_at_input(store):
    from ift_chat.backends import Backends
    from ift_chat.runner import DialogRunner
    from tests.dataloop.conftest import EchoBackend

    store.checkpoints.register("ckpt-a")
    runner = DialogRunner(store, Backends([EchoBackend("ckpt-a")]), store.config.limits)
    for text in ("what is <image> here?", "<|image_pad|>", "a <fake_token_around_image> b"):
        with pytest.raises(ValidationError, match="image placeholder"):
            runner.check_message(text)
    conv = runner.start("chat", {"single": "ckpt-a"}, rater_id=None)

    async def send():
        async for _ in runner.send(conv.id, "tell me about <image> tags"):
            pass
    import asyncio
    with pytest.raises(ValidationError, match="image placeholder"):
        asyncio.run(send())
    assert store.query("select count(*) n from turns")[0]["n"] == 0
    runner.check_message("what is < image > here?")  # spaced out: fine
    with pytest.raises(ValidationError, match="image placeholder"):
        runner.start("chat", {"single": "ckpt-a"}, rater_id=None, system_prompt="Describe each <image>.")


def test_preference_pairs_are_same_prompt(trainer_world, tmp_path):
    w = trainer_world
    result = export(w, tmp_path, "dpo")
    import datasets
    ds = datasets.load_from_disk(str(result.path / "hf"))
    by_id = {r["id"].split("-", 1)[1]: r for r in ds}
    own2, win2 = f"vote-{w.turns['own2']}", f"vote-{w.turns['winner2']}"
    assert own2 not in by_id  # loser B2 was written after B1, the prompt would hold A1
    assert result.report["skipped"][SKIP_OWN_HISTORY] == 1
    assert f"vote-{w.turns['own1']}" in by_id and win2 in by_id
    prompt = by_id[win2]["prompt"]
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user"]
    assert prompt[2]["content"][0]["text"] == "winner A1 orange."  # the reply both sides continued from
    assert by_id[win2]["chosen"][0]["content"][0]["text"] == "winner B2 Blue."
    assert by_id[win2]["provenance"]["votes"] and by_id[win2]["provenance"]["responses"] == [
        w.responses["winner2.B"], w.responses["winner2.A"]]
    # the stopped reply's correction is no pair (its original is truncated), but is the SFT reply
    assert result.report["skipped"][SKIP_STOPPED_CORRECTION] == 1
    sft = export(w, tmp_path, "sharegpt")
    replies = [m["content"] for r in json.loads((sft.path / "data.json").read_text()) for m in r["messages"]
               if m["role"] == "assistant"]
    assert "1. Apple 2. Banana 3. Cherry" in replies and "1. Apple 2." not in replies
    assert sft.report["notes"]["corrections of stopped replies used as the reply"] == 1


def test_train_and_eval_disjoint_by_default(trainer_world, tmp_path):
    w = trainer_world
    filters = Filters(eval_fraction=0.5, split_seed=3)
    sft, ev = export(w, tmp_path, "sharegpt", filters), export(w, tmp_path, "evalset", filters)
    assert (sft.report["split"], ev.report["split"]) == ("train", "eval")
    train_convs = {t["conversation"] for t in sidecar(sft)}
    eval_convs = {t["conversation"] for t in sidecar(ev)}
    assert train_convs and eval_convs and not train_convs & eval_convs
    split = split_by_image(w.store, 0.5, 3)
    assert {split[c] for c in train_convs} == {"train"} and {split[c] for c in eval_convs} == {"eval"}


def test_llava_flavours(trainer_world, tmp_path):
    w = trainer_world
    v15 = export(w, tmp_path, "llava")
    rows = json.loads((v15.path / "llava.json").read_text())
    assert all(isinstance(r["image"], str) for r in rows if "image" in r)
    assert v15.report["skipped"]["LLaVA-1.5: rows with more than one image (use --llava-flavor next)"] == 1
    assert "first human turn" in v15.report["choices"]["image_placement"]
    for r in rows:
        assert all("<image>" not in c["value"] for c in r["conversations"][1:])
        assert r["metadata"]["row_id"] == r["id"] and r["metadata"]["export"] == v15.id
    pirate = [r for r in rows if r["metadata"]["conversation"] == w.convs["gray"]]
    assert pirate[0]["system"] == "Answer like a pirate."
    nxt = export(w, tmp_path, "llava", llava_flavor="next", image_placement="sent")
    multi = [r for r in json.loads((nxt.path / "llava.json").read_text())
             if r["metadata"]["conversation"] == w.convs["multi"]]
    assert len(multi[0]["image"]) == 2 and multi[0]["conversations"][0]["value"].count("<image>") == 2
    with pytest.raises(ValidationError, match="llava-flavor"):
        export(w, tmp_path, "llava", llava_flavor="2")


def test_every_row_traceable_and_explained(trainer_world, tmp_path):
    from typer.testing import CliRunner

    from ift_chat.cli import app

    w = trainer_world
    for fmt in ("llava", "sharegpt", "openai", "hf", "dpo", "kto", "evalset"):
        result = export(w, tmp_path, fmt)
        trace = sidecar(result)
        assert len(trace) == result.row_count
        assert all(t["conversation"] and t["turns"] and t["responses"] for t in trace), fmt
    kto = export(w, tmp_path, "kto")
    entry = next(t for t in sidecar(kto) if t["responses"] == [w.responses["winner2.A"]])
    e = explain(w.store, entry["row_id"])
    assert e["conversation"]["id"] == w.convs["winner"]
    assert [t["id"] for t in e["turns"]] == [w.turns["winner1"], w.turns["winner2"]]
    assert {r["rater"] for r in e["ratings"]} == {"r1", "r2"}
    out = CliRunner().invoke(app, ["export", "explain", entry["row_id"], "--home", str(w.store.config.home)])
    assert out.exit_code == 0, out.output
    assert w.convs["winner"] in out.output and f"response {w.responses['winner2.A']}" in out.output
    assert "followed=no" in out.output
    bad = CliRunner().invoke(app, ["export", "explain", "x999-vote-1", "--home", str(w.store.config.home)])
    assert bad.exit_code == 1 and "no export 999" in bad.output


def test_eval_set_keeps_system_prompt_and_replays_with_it(trainer_world, tmp_path):
    import asyncio

    from ift_chat.backends import Backends, SamplingParams
    from ift_chat.dataloop.imports import import_eval_set
    from ift_chat.dataloop.replay import replay_eval_set
    from tests.dataloop.conftest import EchoBackend

    w = trainer_world
    ev = export(w, tmp_path, "evalset")
    items = lines(ev.path / "evalset.jsonl")
    assert {i.get("system") for i in items} >= {"Answer like a pirate.", "Be brief."}
    import_eval_set(w.store, ev.path / "evalset.jsonl", ev.path, "sys-set")
    stored = w.store.eval_sets.items(w.store.eval_sets.by_name("sys-set").id)
    assert {i.system_prompt for i in stored} >= {"Answer like a pirate.", "Be brief."}
    again = export(w, tmp_path, "evalset", eval_set="sys-set")
    assert [i.get("system") for i in lines(again.path / "evalset.jsonl")] == [i.get("system") for i in items]
    backend = EchoBackend("ckpt-a")
    asyncio.run(replay_eval_set(w.store, Backends([backend]), "sys-set", ["ckpt-a"],
                                SamplingParams(temperature=0, max_tokens=8)))
    firsts = [call[0] for call in backend.calls]
    assert {"role": "system", "content": [{"type": "text", "text": "Answer like a pirate."}]} in firsts
    modes = w.store.query("select system_prompt from conversations where mode = 'replay'")
    assert "Answer like a pirate." in {r["system_prompt"] for r in modes}
    # LLaVA JSON's top-level system key comes back in too
    llava = export(w, tmp_path, "llava")
    import_eval_set(w.store, llava.path / "llava.json", llava.path, "sys-llava")
    assert "Answer like a pirate." in {i.system_prompt for i in w.store.eval_sets.items(
        w.store.eval_sets.by_name("sys-llava").id)}


def test_import_refuses_image_tokens_in_text(store, tmp_path):
    from ift_chat.dataloop.imports import import_eval_set

    (tmp_path / "bad.jsonl").write_text(json.dumps({"rounds": [{"text": "what is <|image_pad|>?"}]}))
    with pytest.raises(ValidationError, match="image placeholder token"):
        import_eval_set(store, tmp_path / "bad.jsonl", None, "bad")
    assert store.eval_sets.all() == []


def test_progress_and_report_lines(trainer_world, tmp_path):
    from ift_chat.dataloop.report import report_markdown

    seen = []
    result = run_export(trainer_world.store, "dpo", tmp_path / "p", ALL, progress=seen.append)
    assert seen and seen[-1] == result.row_count
    text = report_markdown(result.report)
    assert "Skipped 1: preference pairs" in text and "llamafactory" in text
    assert json.loads((result.path / "report.json").read_text())["export_id"] == result.id


def test_winner_history_is_the_vote_cast_before_the_next_round(trainer_world, tmp_path):
    """A vote changed after round 2 was generated does not rewrite the history both sides saw."""
    w = trainer_world
    for r in ("r1", "r2"):
        w.store.feedback.vote(w.turns["winner1"], w.raters[r], "B", anonymous=False)  # changed later
    result = export(w, tmp_path, "dpo")
    import datasets
    ds = datasets.load_from_disk(str(result.path / "hf"))
    ids = [r["id"].split("-", 1)[1] for r in ds]
    # both raters' earlier "A" votes were overwritten: what round 2 continued from is unknown → no pair
    assert f"vote-{w.turns['winner2']}" not in ids
    assert result.report["skipped"][SKIP_OWN_HISTORY] == 2
