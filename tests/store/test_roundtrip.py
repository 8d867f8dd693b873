"""Every table: write through the store, read back the same values."""

import pytest

from ift_chat.errors import NotFound, ValidationError


@pytest.fixture
def chat(store, make_png):
    store.checkpoints.register("ckpt-a", source="/x/a", backend="transformers",
                               architecture="Idefics3ForConditionalGeneration", fingerprint="f1")
    store.checkpoints.register("ckpt-b", source="/x/b", backend="vllm")
    rater = store.raters.create("alice")
    conv = store.conversations.create("arena-anonymous", sides={"A": "ckpt-a", "B": "ckpt-b"},
                                      rater_id=rater.id, system_prompt="be brief",
                                      sampling_params={"temperature": 0.0}, history_mode="own")
    from ift_chat.store import prepare_image

    img = prepare_image(make_png(), store.config.limits)
    turn = store.conversations.add_turn(conv.id, "what is this?", [img])
    return store, rater, conv, turn, img


def test_checkpoint_roundtrip_keeps_first_seen(store):
    first = store.checkpoints.register("ckpt-a", source="/x/a", fingerprint="f1")
    again = store.checkpoints.register("ckpt-a", source="/x/a2", fingerprint="f2")
    assert again.first_seen == first.first_seen
    assert (again.source, again.fingerprint) == ("/x/a2", "f2")
    assert [c.name for c in store.checkpoints.all()] == ["ckpt-a"]


def test_conversation_turn_image_roundtrip(chat):
    store, rater, conv, turn, img = chat
    got = store.conversations.get(conv.id)
    assert got == conv
    assert got.sampling_params == {"temperature": 0.0}
    assert store.conversations.sides(conv.id) == {"A": "ckpt-a", "B": "ckpt-b"}
    assert turn.idx == 1 and turn.user_text == "what is this?" and turn.images == (img.sha256,)
    record = store.images.get(img.sha256)
    assert (record.width, record.height, record.mime) == (32, 24, "image/png")
    assert store.images.absolute_path(record).read_bytes() == img.data
    second = store.conversations.add_turn(conv.id, "and now?")
    assert second.idx == 2
    assert [t.id for t in store.conversations.turns(conv.id)] == [turn.id, second.id]


def test_response_roundtrip_and_supersede(chat):
    store, rater, conv, turn, _ = chat
    rid = store.conversations.start_response(turn.id, "A", "ckpt-a", {"temperature": 0.0})
    assert store.conversations.response(rid).status == "pending"
    done = store.conversations.finish_response(
        rid, text="a red square", status="ok", finish_reason="stop", ttft_ms=12.5,
        latency_ms=80.0, tokens_in=57, tokens_out=4)
    assert (done.text, done.status, done.ttft_ms, done.tokens_in, done.tokens_out) == (
        "a red square", "ok", 12.5, 57, 4)
    assert done.sampling_params == {"temperature": 0.0}
    store.conversations.supersede_responses(turn.id, ["A"])
    assert store.conversations.responses(turn.id) == []
    assert store.conversations.responses(turn.id, include_superseded=True)[0].superseded == 1


def test_vote_upserts_per_rater(chat):
    store, rater, conv, turn, _ = chat
    store.feedback.vote(turn.id, rater.id, "A", anonymous=True, reason="clearer")
    vote = store.feedback.vote(turn.id, rater.id, "tie", anonymous=True)
    assert (vote.winner, vote.anonymous, vote.reason) == ("tie", 1, None)
    assert store.db["votes"].count == 1


def test_rating_upserts_per_rater(chat):
    store, rater, conv, turn, _ = chat
    rid = store.conversations.start_response(turn.id, "A", "ckpt-a")
    store.feedback.rate(rid, rater.id, "no", tags=["answered_earlier_turn"], comment="repeats round 1")
    rating = store.feedback.rate(rid, rater.id, "partial", score=3, corrected_text="A red square.",
                                 tags=["broke_format_or_length", "repetition"])
    assert (rating.followed, rating.score, rating.corrected_text) == ("partial", 3, "A red square.")
    assert rating.tags == ["broke_format_or_length", "repetition"]
    assert store.db["ratings"].count == 1


def test_eval_set_roundtrip(store, make_png):
    from ift_chat.store import prepare_image

    img = prepare_image(make_png(), store.config.limits)
    store.images.save(img.data)
    es = store.eval_sets.create("multi-round-v1", source="handmade")
    store.eval_sets.add_items(es.id, [("x1", [{"text": "describe", "images": [img.sha256], "reference": "red"},
                                              {"text": "in 3 words"}])])
    (item,) = store.eval_sets.items(es.id)
    assert item.rounds[0] == {"text": "describe", "images": [img.sha256], "reference": "red"}
    assert item.rounds[1]["reference"] is None
    with pytest.raises(ValidationError):
        store.eval_sets.add_items(es.id, [("x2", [{"text": "", "images": ["0" * 64]}])])
    assert len(store.eval_sets.items(es.id)) == 1


def test_export_row_roundtrip(store):
    from ift_chat.store.models import Export

    rid = store.db["exports"].insert({"kind": "sft", "format": "llava", "path": "x.json",
                                      "filters": '{"min_raters": 2}', "row_count": 3,
                                      "sha256": "ab", "created": "t"}).last_pk
    export = Export.from_row(store.db["exports"].get(rid))
    assert export.filters == {"min_raters": 2} and export.row_count == 3


def test_unknown_rater_rejected_and_nothing_written(chat):
    store, rater, conv, turn, _ = chat
    rid = store.conversations.start_response(turn.id, "A", "ckpt-a")
    with pytest.raises(NotFound, match="rater"):
        store.feedback.rate(rid, 999, "yes")
    with pytest.raises(NotFound, match="rater"):
        store.feedback.vote(turn.id, 999, "A", anonymous=False)
    assert store.db["ratings"].count == 0 and store.db["votes"].count == 0


@pytest.mark.parametrize("kwargs,match", [
    ({"followed": "yes", "score": 7}, "1 to 5"),
    ({"followed": "yes", "score": 0}, "1 to 5"),
    ({"followed": "maybe"}, "instruction followed"),
    ({"followed": "yes", "tags": ["bogus"]}, "unknown error tag"),
])
def test_bad_rating_rejected(chat, kwargs, match):
    store, rater, conv, turn, _ = chat
    rid = store.conversations.start_response(turn.id, "A", "ckpt-a")
    followed = kwargs.pop("followed")
    with pytest.raises(ValidationError, match=match):
        store.feedback.rate(rid, rater.id, followed, **kwargs)
    assert store.db["ratings"].count == 0


def test_bad_vote_and_conversation_rejected(chat):
    store, rater, conv, turn, _ = chat
    with pytest.raises(ValidationError):
        store.feedback.vote(turn.id, rater.id, "C", anonymous=True)
    with pytest.raises(ValidationError, match="unknown checkpoint"):
        store.conversations.create("chat", sides={"single": "nope"})
    with pytest.raises(ValidationError, match="empty"):
        store.conversations.add_turn(conv.id, "   ")
    assert store.db["conversations"].count == 1 and store.db["turns"].count == 1


def test_rater_names_validated(store):
    with pytest.raises(ValidationError):
        store.raters.create("../etc/passwd")
    with pytest.raises(ValidationError):
        store.raters.create("")
    store.raters.create("bob")
    with pytest.raises(ValidationError, match="already exists"):
        store.raters.create("bob")
