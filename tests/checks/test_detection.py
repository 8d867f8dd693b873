"""detect() and active_constraints(): the params, scope and revocations they report."""

from __future__ import annotations

import pytest

from ift_chat.checks import REVOKE, Constraint, active_constraints, check_reply, detect


def kinds(text):
    return [(c.kind, c.params, c.persistent) for c in detect(text)]


@pytest.mark.parametrize("text, n, relation", [
    ("Answer in under twenty words.", 20, "less_than"),
    ("Use no more than twenty-five words.", 25, "at_most"),
    ("Reply in 12 words or fewer.", 12, "at_most"),
    ("Write at least a hundred words.", 100, "at_least"),
    ("Keep it to 30 words max.", 30, "at_most"),
    ("Describe it in exactly seven words.", 7, "exactly"),
    ("Explain in more than 40 words.", 40, "more_than"),
])
def test_word_counts_read_numbers_in_words_and_digits(text, n, relation):
    assert kinds(text) == [("word_count", {"relation": relation, "n": n}, False)]


@pytest.mark.parametrize("text, lang", [
    ("Answer in French.", "fr"), ("Reply only in German, please.", "de"), ("Translate it into Spanish.", "es"),
    ("Your whole answer must be in Italian.", "it"), ("Respond in Japanese from now on.", "ja"),
    ("Please write in Portuguese.", "pt"), ("Explain it in Russian!", "ru"),
])
def test_language_codes(text, lang):
    assert [(c.kind, c.params) for c in detect(text)] == [("language", {"lang": lang})]


@pytest.mark.parametrize("text", [
    "Tell me about the French Revolution.", "How do you say hello in French?",
    "Is this written in German or Dutch?", "What's the capital of France?", "I study English literature.",
    "Summarize the article about Spanish cuisine.",
])
def test_language_mentions_that_are_not_constraints(text):
    assert [c.kind for c in detect(text)] == []


@pytest.mark.parametrize("text", [
    "From now on, answer in French.", "In all future responses, answer in French.",
    "For the rest of this conversation, answer in French.", "Always answer in French.",
    "Answer in French from now on.", "Going forward, answer in French.",
    "Until I say otherwise, answer in French.", "In every answer, please write in French.",
])
def test_persistence_phrases(text):
    (c,) = [c for c in detect(text) if c.kind == "language"]
    assert c.persistent


def test_persistence_is_per_sentence():
    found = {c.kind: c.persistent for c in detect("From now on, answer in French. This time, also use no commas.")}
    assert found == {"language": True, "no_commas": False}


def test_source_turn_and_constraint_type():
    (c,) = detect("Answer in one word.", source_turn=3)
    assert c == Constraint("one_word", {}, False, 3)
    assert c.params_json == "{}"


def test_revocations_carry_the_kinds_they_cancel():
    (r,) = detect("You no longer need to answer in French.")
    assert (r.kind, r.revokes) == (REVOKE, ("language",))
    (r,) = detect("Forget all the previous instructions.")
    assert r.revokes == ("*",)
    assert check_reply("anything", [r]) == []  # a revocation is never checked


def test_active_constraints_order_and_indices():
    texts = ["From now on, answer in lowercase.", "What is this?", "Answer in one word."]
    active = active_constraints(texts)
    assert [(c.kind, c.source_turn, c.persistent) for c in active] == [("lowercase", 0, True),
                                                                        ("one_word", 2, False)]
    assert active_constraints([]) == []
    assert active_constraints(["What is this?"]) == []


def test_persistent_constraint_restated_later_is_one_active_constraint():
    texts = ["From now on, avoid commas.", "From now on, avoid commas."]
    assert [(c.kind, c.source_turn) for c in active_constraints(texts)] == [("no_commas", 1)]


def test_detail_strings():
    (v,) = check_reply("one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                       "fifteen sixteen seventeen", detect("Answer in at most 10 words."))
    assert v.detail == "17 words, limit 10" and not v.passed
    (v,) = check_reply("Hi there.", detect("Write at least 5 words."))
    assert v.detail == "2 words, need at least 5"
    (v,) = check_reply("Red, green, blue", detect("Don't use commas."))
    assert v.detail == "2 commas"
    (v,) = check_reply("Bonjour", detect("Answer in German."))
    assert v.detail.startswith("detected ") and v.detail.endswith("need de")
    (v,) = check_reply("Cats nap. Dogs run all day long in the park.", detect("Each sentence at most 4 words."))
    assert v.detail == "sentence 2 has 8 words, limit 4"


def test_loose_variants_follow_ifeval():
    (v,) = check_reply("Here you go:\nparis", detect("Answer in lowercase letters."))
    assert (v.passed, v.passed_loose) == (False, True)  # first line removed
    (v,) = check_reply("*hello* world", detect("Answer in exactly 2 words. "))
    assert (v.passed, v.passed_loose) == (True, True)
    (v,) = check_reply('Sure:\n{"a": 1}', detect("Reply only with JSON."))
    assert (v.passed, v.passed_loose) == (False, True)
    (v,) = check_reply("Not JSON at all", detect("Reply only with JSON."))
    assert (v.passed, v.passed_loose) == (False, False)


def test_empty_and_hostile_text():
    assert detect("") == []
    assert detect("<script>alert(1)</script> " * 50) == []
    long_text = "word " * 20000 + "in one word"
    assert [c.kind for c in detect(long_text)] == ["one_word"]
    (v,) = check_reply("", detect("Answer in one word."))
    assert not v.passed and v.detail == "0 words, need one"


def test_summary_is_the_badge_text():
    from ift_chat.checks import summary

    texts = ["From now on, never use commas.", "Answer in one word and in lowercase: sky color?"]
    verdicts = check_reply("the sky is blue", active_constraints(texts))
    assert summary(verdicts) == "2/3 — ✗ one word: 4 words, need one"
    assert summary([]) == ""
