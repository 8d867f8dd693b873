"""The built-in multi-round IF eval set (ifmr) and the MMMT-IF CSV import."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from ift_chat.checks import REVOKE, active_constraints, check_reply, detect
from ift_chat.cli import app
from ift_chat.dataloop import ifmr
from ift_chat.dataloop.ifmr_scenes import CELL, COLOURS, Scene
from ift_chat.dataloop.imports import import_eval_set
from ift_chat.errors import ValidationError


def test_the_set_has_40_dialogs_of_3_to_6_rounds_each_round_with_a_detected_constraint():
    dialogs = ifmr.dialogs()
    assert len(dialogs) >= 40 and len({d for d, _ in dialogs}) == len(dialogs)
    for item_id, rounds in dialogs:
        assert 3 <= len(rounds) <= 6, item_id
        for n, (_, text, _) in enumerate(rounds):
            assert [c for c in detect(text) if c.kind != REVOKE], f"{item_id} round {n + 1}: {text}"


def test_persistent_constraints_stated_early_are_still_active_in_the_last_round():
    late = 0
    for item_id, rounds in ifmr.dialogs():
        texts = [text for _, text, _ in rounds]
        early = [c for c in detect(texts[0]) if c.persistent]
        last = active_constraints(texts)
        if early and any(c.source_turn == 0 and c.persistent for c in last):
            late += 1
    assert late >= 20  # stated in round 1, checked in round 4-5


def test_a_revoked_constraint_is_not_active_afterwards():
    _, rounds = next(d for d in ifmr.dialogs() if d[0].startswith("commas_revoked"))
    texts = [text for _, text, _ in rounds]
    assert "no_commas" in {c.kind for c in active_constraints(texts[:2])}
    assert "no_commas" not in {c.kind for c in active_constraints(texts[:3])}


def test_every_reference_follows_the_constraints_active_in_its_round():
    checked = 0
    for item_id, rounds in ifmr.dialogs():
        texts = []
        for _, text, reference in rounds:
            texts.append(text)
            if reference is None:
                continue
            failed = [(v.constraint.kind, v.detail) for v in check_reply(reference, active_constraints(texts))
                      if not v.passed]
            assert not failed, (item_id, reference, failed)
            checked += 1
    assert checked >= 100


@pytest.mark.parametrize("scene", [Scene("triangle", "green", 5), Scene("square", "blue", 2, "CAT")])
def test_drawn_images_show_the_stated_count_and_colour(scene):
    image = Image.open(io.BytesIO(scene.png())).convert("RGB")
    centres = [(c * CELL + CELL // 2, r * CELL + CELL // 2 + 8) for r in range(3) for c in range(3)]
    coloured = [xy for xy in centres if image.getpixel(xy) == COLOURS[scene.colour]]
    assert len(coloured) == scene.count
    dark = sum(1 for x in range(256) for y in range(2 * CELL, 256) if image.getpixel((x, y)) == (0, 0, 0))
    assert (dark > 50) == bool(scene.word)  # the drawn word is black text in the bottom row
    assert scene.png() == scene.png()  # deterministic: re-imports store each image once


def test_cli_imports_the_builtin_set_once(tmp_path):
    runner = CliRunner()
    home = str(tmp_path / "data")
    result = runner.invoke(app, ["evalset", "import", "--builtin", "ifmr", "--home", home])
    assert result.exit_code == 0, result.output
    assert "imported 56 items" in result.output
    again = runner.invoke(app, ["evalset", "import", "--builtin", "ifmr", "--home", home])
    assert again.exit_code == 1 and "already exists" in again.output
    listed = runner.invoke(app, ["evalset", "list", "--home", home])
    assert "ifmr\t56 items" in listed.output
    wrong = runner.invoke(app, ["evalset", "import", "--builtin", "nope", "--home", home])
    assert wrong.exit_code == 1 and "no built-in" in wrong.output


def test_imported_items_keep_images_on_their_rounds_and_references(store):
    result = ifmr.import_builtin(store)
    items = store.eval_sets.items(result.eval_set.id)
    assert len(items) == 56 and result.images == 16
    two = next(i for i in items if i.external_id == "two_pictures-1")
    assert [len(r["images"]) for r in two.rounds] == [1, 1, 0, 0, 0]
    assert json.loads(two.rounds[3]["reference"]) == {"first": 2, "second": 3}  # 2 blue squares, 3 green squares


MMMT_HEADER = ("conversation id,turn count (which turn in this conversation),prompt,all instructions,"
               "instruction count,question topic,LLM capability tested,image 1,image 2,image 3,image 4,image 5")


def _mmmt_csv(rows: list[str]) -> str:
    return "\n".join([MMMT_HEADER, *rows]) + "\n"


def test_mmmt_if_csv_with_user_supplied_images(store, tmp_path, make_png):
    csv = _mmmt_csv([
        '7,2,"Which of Image1 and Image2 is \nbrighter?",x,1,t,t,,,,,',
        '7,1,"Instruction: End every sentence with a \nquestion mark (?). What is in Image1?",x,1,t,t,,,,,',
        '8,1,"Instruction: Start every sentence with the letter (B). Describe Image1.",x,1,t,t,,,,,',
    ])
    (tmp_path / "set.csv").write_text(csv)
    images = tmp_path / "images"
    (images / "7").mkdir(parents=True)
    (images / "7" / "image1.png").write_bytes(make_png(color=(1, 2, 3)))
    (images / "7" / "image2.png").write_bytes(make_png(color=(4, 5, 6)))
    result = import_eval_set(store, tmp_path / "set.csv", images, "mmmt")
    assert result.items == 2 and result.images == 2
    first, second = store.eval_sets.items(result.eval_set.id)
    assert first.external_id == "mmmt-if-7"
    assert [len(r["images"]) for r in first.rounds] == [2, 0]  # all images at the chat's start
    assert first.rounds[0]["text"].startswith("Instruction: End every sentence with a question mark")
    assert "sentences_end_with" in {c.kind for c in detect(first.rounds[0]["text"])}
    assert second.rounds[0]["images"] == []


def test_mmmt_if_csv_errors_write_nothing(store, tmp_path):
    (tmp_path / "bad.csv").write_text(_mmmt_csv(['7,1,"a",x,1,t,t,,,,,', '7,1,"b",x,1,t,t,,,,,']))
    with pytest.raises(ValidationError, match="turn number appears twice"):
        import_eval_set(store, tmp_path / "bad.csv", None, "bad")
    (tmp_path / "missing.csv").write_text(_mmmt_csv(['7,1,"a",x,1,t,t,Image1.png,,,,']))
    with pytest.raises(ValidationError, match="no images directory"):
        import_eval_set(store, tmp_path / "missing.csv", None, "missing")
    assert store.eval_sets.all() == []
