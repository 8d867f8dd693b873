"""Eval-set import from our JSONL and LLaVA JSON; export → import round trip; bad input writes nothing."""

from __future__ import annotations

import json

import pytest

from ift_chat.dataloop.exports import run_export
from ift_chat.dataloop.imports import import_eval_set
from ift_chat.dataloop.outdir import inside, named_export_dir
from ift_chat.dataloop.select import Filters
from ift_chat.errors import ImageError, ValidationError
from tests.conftest import png_bytes


def counts(store) -> dict:
    return {t: store.query(f"select count(*) n from {t}")[0]["n"] for t in ("eval_sets", "eval_items", "images")}


def image_files(store) -> set:
    return {p for p in store.config.images_dir.rglob("*") if p.is_file()}


def test_export_import_round_trip(world, tmp_path):
    first = run_export(world.store, "evalset", tmp_path / "ev1", Filters(split="all"))
    result = import_eval_set(world.store, first.path / "evalset.jsonl", first.path, "round-trip")
    assert result.items == first.row_count == 4
    items = world.store.eval_sets.items(result.eval_set.id)
    c1 = next(i for i in items if len(i.rounds) == 2)
    assert [(r["text"], r["reference"]) for r in c1.rounds] == [
        ("Describe the image.", "A red square."), ("Now in one word.", "Red.")]
    assert c1.rounds[0]["images"] == [world.images["img1"]]  # same bytes → same stored image
    # …and the stored set exports back to the same records.
    again = run_export(world.store, "evalset", tmp_path / "ev2", Filters(),
                       options={"eval_set": "round-trip"})
    original = [json.loads(line) for line in (first.path / "evalset.jsonl").read_text().splitlines()]
    exported = [json.loads(line) for line in (again.path / "evalset.jsonl").read_text().splitlines()]
    assert [r["rounds"] for r in original] == [r["rounds"] for r in exported]
    assert [r["id"] for r in original] == [r["id"] for r in exported]


def write_images(folder, n=2):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"coco_{i}.png").write_bytes(png_bytes(color=(i * 60, 10, 200)))


def test_llava_json_import(store, tmp_path):
    write_images(tmp_path / "imgs")
    data = [
        {"id": "000001", "image": "coco_0.png", "conversations": [
            {"from": "human", "value": "<image>\nWhat is shown?"}, {"from": "gpt", "value": "A blue card."},
            {"from": "human", "value": "What color is the border?"}, {"from": "gpt", "value": "There is none."}]},
        {"id": "000002", "image": ["coco_0.png", "coco_1.png"], "conversations": [
            {"from": "human", "value": "<image>\nFirst."}, {"from": "gpt", "value": "One."},
            {"from": "human", "value": "<image>\nSecond."}]},
    ]
    (tmp_path / "llava.json").write_text(json.dumps(data))
    result = import_eval_set(store, tmp_path / "llava.json", tmp_path / "imgs", "llava-set")
    assert (result.items, result.images) == (2, 2)
    first, second = store.eval_sets.items(result.eval_set.id)
    assert first.external_id == "000001"
    assert [(r["text"], len(r["images"]), r["reference"]) for r in first.rounds] == [
        ("What is shown?", 1, "A blue card."), ("What color is the border?", 0, "There is none.")]
    assert [(r["text"], len(r["images"]), r["reference"]) for r in second.rounds] == [
        ("First.", 1, "One."), ("Second.", 1, None)]
    assert second.rounds[0]["images"] == first.rounds[0]["images"]
    assert result.eval_set.source == "llava:llava.json"


BAD_FILES = {
    "not json": ("bad.jsonl", "{not json}\n", "line 2: not valid JSON"),
    "no rounds": ("bad.jsonl", json.dumps({"id": 1}) + "\n", "non-empty 'rounds'"),
    "escaping path": ("bad.jsonl", json.dumps({"rounds": [{"text": "x", "images": ["../secret.png"]}]}),
                      "escapes"),
    "absolute path": ("bad.jsonl", json.dumps({"rounds": [{"text": "x", "images": ["/etc/passwd"]}]}),
                      "escapes"),
    "missing image": ("bad.jsonl", json.dumps({"rounds": [{"text": "x", "images": ["nope.png"]}]}),
                      "not found"),
    "empty round": ("bad.jsonl", json.dumps({"rounds": [{"text": "  "}]}), "neither text nor images"),
    "llava placeholders": ("bad.json", json.dumps([{"image": "coco_0.png", "conversations": [
        {"from": "human", "value": "<image><image> two?"}]}]), "placeholders"),
    "llava gpt first": ("bad.json", json.dumps([{"conversations": [{"from": "gpt", "value": "hi"}]}]),
                        "must follow a human"),
    "llava not a list": ("bad.json", json.dumps({"conversations": []}), "JSON list"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_write_nothing(store, tmp_path, case):
    write_images(tmp_path / "imgs")
    (tmp_path / "secret.png").write_bytes(png_bytes())
    name, text, message = BAD_FILES[case]
    # A good first item proves nothing is kept when a later one fails.
    good = json.dumps({"rounds": [{"text": "fine", "images": ["coco_1.png"]}]}) + "\n"
    (tmp_path / name).write_text(good + text if name.endswith(".jsonl") else text)
    before, files = counts(store), image_files(store)
    with pytest.raises(ValidationError, match=message):
        import_eval_set(store, tmp_path / name, tmp_path / "imgs", "bad-set")
    assert counts(store) == before and image_files(store) == files


def test_corrupt_image_rolls_back_files_already_written(store, tmp_path):
    write_images(tmp_path / "imgs")
    (tmp_path / "imgs" / "broken.png").write_bytes(png_bytes()[:40])
    lines = [{"rounds": [{"text": "ok", "images": ["coco_0.png"]}]},
             {"rounds": [{"text": "bad", "images": ["broken.png"]}]}]
    (tmp_path / "set.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    with pytest.raises(ImageError, match="broken.png"):
        import_eval_set(store, tmp_path / "set.jsonl", tmp_path / "imgs", "broken")
    assert counts(store) == {"eval_sets": 0, "eval_items": 0, "images": 0}
    assert image_files(store) == set()


def test_duplicate_name_rejected(store, tmp_path):
    write_images(tmp_path / "imgs")
    (tmp_path / "s.jsonl").write_text(json.dumps({"rounds": [{"text": "hi"}]}))
    import_eval_set(store, tmp_path / "s.jsonl", None, "dup")
    with pytest.raises(ValidationError, match="already exists"):
        import_eval_set(store, tmp_path / "s.jsonl", None, "dup")


def test_paths_stay_inside_their_root(tmp_path):
    assert inside(tmp_path, "a/b.png") == (tmp_path / "a/b.png").resolve()
    for bad in ("../x", "/etc/passwd", "a/../../x", "."):
        with pytest.raises(ValidationError):
            inside(tmp_path, bad)
    assert named_export_dir(tmp_path, "sft-v1") == (tmp_path / "sft-v1").resolve()
    for bad in ("../up", "a/b", "", ".."):
        with pytest.raises(ValidationError):
            named_export_dir(tmp_path, bad)
