"""Filters actually filter: every case in the fixture world is checked against SFT output."""

from __future__ import annotations

import pytest

from ift_chat.dataloop.samples import preference_pairs, sft_samples, unpaired_examples
from ift_chat.dataloop.select import Filters, Selection
from ift_chat.errors import NotFound, ValidationError


def replies(store, **filters) -> set[str]:
    # Every split unless a test asks: image-less conversations are split by their (random) id,
    # so with the default (train) a 10 % share of the world's dialogs would vanish at random.
    filters.setdefault("split", "all")
    return {r.reply for s in sft_samples(Selection(store, Filters(**filters))) for r in s.rounds}


def test_default_filter_keeps_majority_yes_and_corrections(world):
    got = replies(world.store)
    assert {"A red square.", "Red.", "It is blue-ish green.", "WINNER haiku.", "SLOPPYPASS reply."} == got


def test_followed_no_by_two_of_three_raters_never_appears(world):
    samples = list(sft_samples(Selection(world.store, Filters(min_raters=1, split="all"))))
    assert samples and not any("BADREPLY" in r.reply for s in samples for r in s.rounds)


def test_corrected_response_replaces_original(world):
    texts = replies(world.store)
    assert "It is blue-ish green." in texts and "ORIGINAL blue." not in texts
    # Without corrections the turn falls back to its rating (followed=no): gone entirely.
    plain = replies(world.store, use_corrections=False, min_raters=1)
    assert "It is blue-ish green." not in plain and "ORIGINAL blue." not in plain


def test_identity_leak_superseded_and_duplicates_excluded(world):
    texts = replies(world.store)
    assert not any(t.startswith(("LEAK", "SUPERSEDED", "DUPLICATE")) for t in texts)
    assert any(t.startswith("LEAK") for t in replies(world.store, include_identity_leak=True))
    assert any(t.startswith("DUPLICATE") for t in replies(world.store, dedup=False))
    sel = Selection(world.store, Filters(split="all"))
    list(sft_samples(sel))
    assert sel.duplicates == 1


def test_checkpoint_date_and_task_set_filters(world):
    assert replies(world.store, checkpoints=("ckpt-b",)) == {"It is blue-ish green.", "SLOPPYPASS reply."}
    assert replies(world.store, until="2026-01-31") == {"It is blue-ish green."}
    assert "It is blue-ish green." not in replies(world.store, since="2026-02-01")
    assert replies(world.store, task_set="batch1") == {"A red square.", "Red."}
    with pytest.raises(NotFound):
        replies(world.store, task_set="nope")


def test_min_score_and_agreement(world):
    # c9 has 2 yes (score 5) and 1 no (score 1): mean 3.67, agreement 0.67
    assert "SLOPPYPASS reply." not in replies(world.store, min_score=4)
    assert "SLOPPYPASS reply." not in replies(world.store, min_agreement=0.7)
    assert "A red square." in replies(world.store, min_score=4, min_agreement=0.7)


def test_rater_quality_drops_raters_who_fail_gold(world):
    # sloppy rated the gold item (right answer "no") "yes": without it c9 has no majority.
    assert "SLOPPYPASS reply." in replies(world.store)
    assert "SLOPPYPASS reply." not in replies(world.store, min_gold_accuracy=0.5, min_gold_items=1)
    assert "A red square." in replies(world.store, min_gold_accuracy=0.5, min_gold_items=1)


def test_min_raters(world):
    # The correction needs only one rater; a single "yes" is not enough by default.
    assert "A red square." in replies(world.store, min_raters=3)
    assert "Red." not in replies(world.store, min_raters=3)


@pytest.mark.parametrize("seed", range(8))
def test_train_eval_split_shares_no_image(world, seed):
    def samples(split):
        return list(sft_samples(Selection(world.store, Filters(split=split, eval_fraction=0.5, dedup=False,
                                                               split_seed=seed))))
    train, evals, every = samples("train"), samples("eval"), samples("all")
    assert sorted(s.id for s in train + evals) == sorted(s.id for s in every)
    images = lambda samples: {sha for s in samples for r in s.rounds for sha in r.images}  # noqa: E731
    assert not images(train) & images(evals)


def test_split_puts_some_in_each_side(world):
    def count(split, seed):
        return len(list(sft_samples(Selection(world.store, Filters(split=split, split_seed=seed,
                                                                   eval_fraction=0.5)))))
    assert any(count("train", seed) and count("eval", seed) for seed in range(12))


def test_split_keeps_conversations_sharing_an_image_together(world):
    # c1 and c7 share img1: whichever split c1 lands in, c7 lands there too, for any seed.
    for seed in range(20):
        sel = Selection(world.store, Filters(split="train", eval_fraction=0.5, split_seed=seed))
        assert sel.in_split(world.convs["c1"]) == sel.in_split(world.convs["c7"])


def test_preference_pairs_from_votes_and_corrections(world):
    pairs = list(preference_pairs(Selection(world.store, Filters(split="all"))))
    by_source = {p.source: p for p in pairs}
    assert len(pairs) == 2  # the tie on c5 makes no pair
    vote = by_source["vote"]
    assert (vote.chosen, vote.rejected) == ("WINNER haiku.", "LOSER prose.")
    assert vote.prompt[-1].text == "Write a haiku about it." and vote.prompt[-1].reply is None
    corr = by_source["correction"]
    assert (corr.chosen, corr.rejected) == ("It is blue-ish green.", "ORIGINAL blue.")
    assert not list(preference_pairs(Selection(world.store, Filters(min_voters=3, use_corrections=False))))


def test_unpaired_labels_follow_the_majority(world):
    examples = {u.completion: u.label for u in unpaired_examples(Selection(world.store, Filters(split="all")))}
    assert examples["WINNER haiku."] is True and examples["LOSER prose."] is False
    assert examples["BADREPLY three."] is False and examples["TIE-A."] is False
    assert "ORIGINAL blue." not in examples  # only one rater


@pytest.mark.parametrize("bad", [{"split": "test"}, {"min_agreement": 1.5}, {"since": "yesterday"},
                                 {"min_score": 9}, {"min_raters": 0}])
def test_bad_filters_are_rejected(store, bad):
    with pytest.raises(ValidationError):
        Selection(store, Filters(**bad))


def test_prompt_history_is_what_the_model_saw(world, tmp_path):
    """Replay in reference mode saw the eval references; an arena in winner mode saw the winner."""
    import asyncio
    import json

    from ift_chat.backends import Backends, SamplingParams
    from ift_chat.dataloop.imports import import_eval_set
    from ift_chat.dataloop.replay import replay_eval_set

    from .conftest import EchoBackend, add_turn, rate

    store = world.store
    (tmp_path / "s.jsonl").write_text(json.dumps({"rounds": [{"text": "Q1 ref", "reference": "THE-REFERENCE"},
                                                             {"text": "Q2 ref"}]}))
    import_eval_set(store, tmp_path / "s.jsonl", None, "hist")
    result = asyncio.run(replay_eval_set(store, Backends([EchoBackend("ckpt-a")]), "hist", ["ckpt-a"],
                                         SamplingParams(temperature=0)))
    (last,) = store.query("select r.id from responses r join turns t on t.id = r.turn_id "
                          "where t.conversation_id = ? and t.idx = 2", [result.conversations[0]])
    world.responses["replay2"] = last["id"]
    rate(world, "replay2", r1="yes", r2="yes")
    # Arena with winner history: turn 2 of side B was answered after A won turn 1.
    world.convs["w"] = store.conversations.create("arena-named", sides={"A": "ckpt-a", "B": "ckpt-b"},
                                                  history_mode="winner").id
    add_turn(world, "w", "w1", "W first.", [], {"A": "A-FIRST", "B": "B-FIRST"})
    store.feedback.vote(world.turns["w1"], world.raters["r3"], "A", anonymous=False)
    add_turn(world, "w", "w2", "W second.", [], {"A": "A-SECOND", "B": "B-SECOND"})
    rate(world, "w2.B", r1="no", r2="no")
    examples = {u.completion: u for u in unpaired_examples(Selection(store, Filters(split="all")))}
    replayed = next(u for c, u in examples.items() if "Q2 ref" in c)
    assert [r.reply for r in replayed.prompt] == ["THE-REFERENCE", None]
    assert [r.reply for r in examples["B-SECOND"].prompt] == ["A-FIRST", None]


def test_a_best_pick_of_three_makes_a_pair_over_each_other_side(store):
    """An N-way arena vote (C is best) becomes two pairs, C over A and C over B, each traceable
    to its turn and the losing side; a 3-way tie makes none."""
    from tests.dataloop.conftest import World, add_turn

    w = World(store)
    for name in ("r1", "r2"):
        w.raters[name] = store.raters.create(name).id
    for ckpt in ("ckpt-a", "ckpt-b", "ckpt-c"):
        store.checkpoints.register(ckpt)
    w.convs["n3"] = store.conversations.create(
        "arena-named", sides={"A": "ckpt-a", "B": "ckpt-b", "C": "ckpt-c"}).id
    add_turn(w, "n3", "t1", "Say hello in one word.", [], {"A": "Hello there friend.", "B": "Hi to you.",
                                                           "C": "Hello."})
    add_turn(w, "n3", "t2", "And goodbye.", [], {"A": "Bye.", "B": "Bye!", "C": "Goodbye."})
    for r in ("r1", "r2"):
        store.feedback.vote(w.turns["t1"], w.raters[r], "C", anonymous=False)
        store.feedback.vote(w.turns["t2"], w.raters[r], "tie", anonymous=False)
    pairs = list(preference_pairs(Selection(store, Filters(split="all"))))
    got = {(p.id, p.chosen, p.rejected, p.chosen_checkpoint, p.rejected_checkpoint) for p in pairs}
    turn = w.turns["t1"]
    assert got == {(f"vote-{turn}-A", "Hello.", "Hello there friend.", "ckpt-c", "ckpt-a"),
                   (f"vote-{turn}-B", "Hello.", "Hi to you.", "ckpt-c", "ckpt-b")}
    assert all(p.prompt[-1].text == "Say hello in one word." for p in pairs)
