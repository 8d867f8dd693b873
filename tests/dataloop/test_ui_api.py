"""The data tab through the Gradio API with login: admin-only, exports, import, replay."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client, handle_file

from tests.conftest import png_bytes

FILTERS = [[], "", "", "", None, None, 2, None, 1, True, False, True, "all", 0.1, "off", False, "inline", "1.5", "", "escape"]


def login(url, name, password):
    return Client(url, auth=(name, password), verbose=False)


def count(store, table):
    return store.query(f"select count(*) n from {table}")[0]["n"]


def test_raters_cannot_use_the_data_tab(data_app, store, tmp_path):
    rater = login(data_app, "rater9", "rater-password")
    with pytest.raises(Exception, match="only an admin"):
        rater.predict("llava", "sneaky", False, "", *FILTERS, api_name="/data_export")
    (tmp_path / "s.jsonl").write_text(json.dumps({"rounds": [{"text": "hi"}]}))
    with pytest.raises(Exception, match="only an admin"):
        rater.predict(handle_file(str(tmp_path / "s.jsonl")), [], "x", "", api_name="/data_import")
    with pytest.raises(Exception, match="only an admin"):
        rater.predict("x", ["ckpt-a"], "reference", 0, 16, 0, api_name="/data_replay")
    assert count(store, "exports") == count(store, "eval_sets") == 0
    assert not (store.config.home / "exports").exists()


def test_admin_exports_imports_and_replays(data_app, store, tmp_path):
    boss = login(data_app, "boss", "admin-password")
    message, table = boss.predict("llava", "sft1", False, "", *FILTERS, api_name="/data_export")
    assert "Wrote **4**" in message and "duplicates dropped" in message
    out = store.config.home / "exports" / "sft1"
    assert len(json.loads((out / "llava.json").read_text())) == 4
    assert table["data"][0][2:4] == ["llava", 4]
    opts = FILTERS[:-4] + ["url-prefix=https://cdn.example.org/x", "1.5", "", "escape"]
    message, _ = boss.predict("openai", "oa1", False, "", *opts, api_name="/data_export")
    assert "URLs under https://cdn.example.org/x/" in message
    rows = [json.loads(x) for x in (store.config.home / "exports" / "oa1" / "data.jsonl").read_text().splitlines()]
    assert all(p["image_url"]["url"].startswith("https://cdn.example.org/x/images/") for r in rows
               for m in r["messages"] if m["role"] == "user" for p in m["content"] if p["type"] == "image_url")
    with pytest.raises(Exception, match="not allowed"):
        boss.predict("llava", "../escape", False, "", *FILTERS, api_name="/data_export")
    assert not (store.config.home / "escape").exists()

    (tmp_path / "set.jsonl").write_text("\n".join(json.dumps(x) for x in [
        {"id": "a", "rounds": [{"text": "Describe.", "images": ["pic.png"], "reference": "R"},
                               {"text": "Shorter."}]},
        {"id": "b", "rounds": [{"text": "Hello?"}]}]))
    (tmp_path / "pic.png").write_bytes(png_bytes(color=(9, 9, 9)))
    note, *_ = boss.predict(handle_file(str(tmp_path / "set.jsonl")), [handle_file(str(tmp_path / "pic.png"))],
                            "ui-set", "", api_name="/data_import")
    assert "Imported **2** items (1 images)" in note

    result = boss.predict("ui-set", ["ckpt-a", "ckpt-b"], "reference", 0, 16, 0, api_name="/data_replay")
    assert "2 replay conversations, 6 responses (0 errors)" in result
    rows = store.query("select mode, eval_item_id from conversations where mode = 'replay'")
    assert len(rows) == 2 and all(r["eval_item_id"] for r in rows)
    assert count(store, "responses") == 6 + 13  # the fixture world had 13

    with pytest.raises(Exception, match="not a directory"):  # bad images dir → nothing imported
        boss.predict(handle_file(str(tmp_path / "set.jsonl")), [], "ui-set-2", str(tmp_path / "nowhere"),
                     api_name="/data_import")
    assert count(store, "eval_sets") == 1


def test_admin_exports_filtered_on_the_automatic_checks(data_app, store, world):
    from ift_chat.checks import record_for_response

    for rid in world.responses.values():
        record_for_response(store, rid)
    assert store.checks.for_response(world.responses["c7t2.single"])[0]["passed"] == 0  # "DUPLICATE red."
    boss = login(data_app, "boss", "admin-password")
    strict = FILTERS[:14] + ["strict", False] + FILTERS[16:]
    message, _ = boss.predict("sharegpt", "checked", False, "", *strict, api_name="/data_export")
    rows = json.loads((store.config.home / "exports" / "checked" / "data.json").read_text())
    c7 = [r for r in rows if r["metadata"]["conversation"] == world.convs["c7"]]
    assert [len(r["messages"]) for r in c7] == [2]  # ends before its two-word "one word" reply
    assert "automatic checks" in message and "Skipped 1" in message
    with pytest.raises(Exception, match="checks-only needs"):
        boss.predict("sharegpt", "bad", False, "", *(FILTERS[:14] + ["off", True] + FILTERS[16:]),
                     api_name="/data_export")
