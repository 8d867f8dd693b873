"""Style control: features from reply text, and a planted length bias that it must remove."""

from __future__ import annotations

import numpy as np
import pytest

from ift_chat.leaderboard import ReportOptions, build_report
from ift_chat.leaderboard.battles import load_battles
from ift_chat.leaderboard.bradley_terry import PairTable, bradley_terry
from ift_chat.leaderboard.style import STYLE_FEATURES, style_controlled, style_counts, style_features


def test_style_counts_of_markdown():
    text = ("# Title\n\nSome **bold** text and __more__.\n\n## Part\n- one\n- two\n* three\n1. first\n"
            "2) second\n\n```python\n# a comment, not a header\n- not a list\n```\n#hashtag is not a header")
    tokens, headers, lists, bold = style_counts(text)
    assert (headers, lists, bold) == (2, 5, 2)
    assert style_counts("Hello, world.") == (2, 0, 0, 0)
    assert style_counts("") == (0, 0, 0, 0) and tokens > 30
    assert style_counts("- one item") == (3, 0, 1, 0) and style_counts("12) twelve")[2] == 1
    assert style_counts("A red square, 2. Not a list.")[2] == 0


def test_features_are_scaled_differences_that_flip_with_the_sides():
    a = np.array([[30, 1, 0, 0], [10, 0, 0, 0], [10, 0, 2, 0]])
    b = np.array([[10, 1, 0, 0], [30, 0, 0, 0], [10, 0, 0, 0]])
    x, scale = style_features(a, b)
    raw_length = np.array([0.5, -0.5, 0.0])
    assert x[:, 0] == pytest.approx(raw_length / np.sqrt(np.mean(raw_length ** 2)))
    assert scale[1] == 1 and (x[:, 1] == 0).all()  # never differs: stays 0
    assert x[:, 2] == pytest.approx([0, 0, np.sqrt(3)])
    assert style_features(b, a)[0] == pytest.approx(-x)  # swapping A and B flips the sign only


def planted_length_bias(n=30_000, seed=1):
    """"verbose" is exactly as strong as "plain" but writes 3x longer replies, and raters
    prefer longer replies; "good" is really better at normal length."""
    names = ("good", "plain", "verbose", "weak")
    strength = np.array([0.35, 0.0, 0.0, -0.4])
    length = np.array([120, 120, 360, 120])
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    counts_a = np.stack([rng.poisson(length[a]), rng.poisson(1, n), rng.poisson(3, n), rng.poisson(1, n)], 1)
    counts_b = np.stack([rng.poisson(length[b]), rng.poisson(1, n), rng.poisson(3, n), rng.poisson(1, n)], 1)
    ratio = (counts_a[:, 0] - counts_b[:, 0]) / (counts_a[:, 0] + counts_b[:, 0])
    p = 1 / (1 + np.exp(-(strength[a] - strength[b] + 2.5 * ratio)))
    outcome = (rng.random(n) < p).astype(float)
    return names, a, b, outcome, counts_a, counts_b


def test_style_control_removes_a_planted_length_bias():
    names, a, b, outcome, counts_a, counts_b = planted_length_bias()
    raw = bradley_terry(PairTable.from_arrays(names, a, b, outcome), rounds=100)
    assert raw.rows()[0]["checkpoint"] == "verbose"  # it wins by length alone
    x, _ = style_features(counts_a, counts_b)
    fit = style_controlled(names, a, b, outcome, x)
    rows = {r["checkpoint"]: r for r in fit.rows()}
    assert fit.rows()[0]["checkpoint"] == "good"
    assert rows["verbose"]["upper"] < rows["good"]["lower"]  # the lead is gone, clearly
    assert rows["verbose"]["lower"] <= rows["plain"]["rating"] <= rows["verbose"]["upper"]  # equal again
    length = fit.coefficient_rows()[0]
    assert length["feature"].startswith("length") and length["lower"] > 0.3
    others = fit.coefficient_rows()[1:]  # markup was random noise: no effect found
    assert all(r["lower"] < 0 < r["upper"] for r in others)


def test_style_bootstrap_intervals_are_close_to_the_sandwich_ones():
    names, a, b, outcome, counts_a, counts_b = planted_length_bias(n=4000, seed=2)
    x, _ = style_features(counts_a, counts_b)
    sandwich = style_controlled(names, a, b, outcome, x)
    boot = style_controlled(names, a, b, outcome, x, rounds=60, seed=3)
    assert boot.interval == "bootstrap (60 rounds)" and sandwich.interval == "sandwich"
    width_s, width_b = sandwich.upper - sandwich.lower, boot.upper - boot.lower
    assert np.all(np.abs(width_b / width_s - 1) < 0.35)
    assert boot.rating == pytest.approx(sandwich.rating)


def test_style_features_come_from_the_stored_replies(arena):
    """Through the store: "ck-long" wins every turn where it wrote a long list-y reply, but
    loses 3 of 4 where both replies are short: ahead raw, behind once style is held equal."""
    for name in ("ck-long", "ck-short", "ck-mid"):
        arena.checkpoint(name)
    long_reply = "# Answer\n" + "\n".join(f"- point **{i}** about the image" for i in range(12))
    short = "A red square."
    for _ in range(6):
        arena.battle("ck-long", "ck-short", ["A"] * 4 + ["B", "B", "B", "A"],
                     texts=[(long_reply, short)] * 4 + [(short, short)] * 4)
        arena.battle("ck-mid", "ck-long", ["A", "B"], texts=[(short, short)] * 2)
        arena.battle("ck-mid", "ck-short", ["A", "B"], texts=[(short, short)] * 2)
    battles = load_battles(arena.store)
    assert battles.style_a.shape == (len(battles), len(STYLE_FEATURES))
    first = battles.frame.index[0]
    assert tuple(battles.style_a[first][1:]) == (1, 12, 12) and tuple(battles.style_b[first][1:]) == (0, 0, 0)
    report = build_report(arena.store, ReportOptions(rounds=50))
    style = report.views.style_table.set_index("checkpoint")
    assert style.loc["ck-long", "rating_raw"] > style.loc["ck-short", "rating_raw"]
    assert style.loc["ck-long", "rating_style"] < style.loc["ck-short", "rating_style"]
    assert report.views.style_coefficients["coefficient"].iloc[0] > 0
