"""Sandwich intervals against LMArena's own package, arena-rank, on the same votes.

Stated tolerance: ratings within 0.05 rating points, interval bounds within 0.25 points,
equal ranks (both by point rating and by non-overlapping intervals). Differences come from
the fits' regularisation only (ours: L2 1e-3 on the log-likelihood sum; arena-rank: none on
plain ratings, 1e-5 x votes on the Hessian diagonal).
"""

from __future__ import annotations

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # no probing for accelerators at import

import numpy as np  # noqa: E402
import pandas as pd
import pytest
from arena_rank.models.bradley_terry import BradleyTerry
from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
from arena_rank.utils.data_utils import ContextualPairDataset, PairDataset

from ift_chat.leaderboard.battles import load_battles
from ift_chat.leaderboard.bradley_terry import PairTable, overlap_rank
from ift_chat.leaderboard.robust import sandwich_bradley_terry
from ift_chat.leaderboard.style import style_controlled, style_features

RATING_TOL, BOUND_TOL = 0.05, 0.25
WINNER = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}


def synthetic(n=30_000, k=8, seed=5):
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 0.6, k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    p = 1 / (1 + np.exp(strength[b] - strength[a]))
    u = rng.random(n)
    outcome = np.where(u < p - 0.05, 1.0, np.where(u < p + 0.05, 0.5, 0.0))
    return [f"ckpt-{i}" for i in range(k)], a, b, outcome


def theirs(names, a, b, outcome) -> dict[str, np.ndarray]:
    frame = pd.DataFrame({"model_a": np.asarray(names)[a], "model_b": np.asarray(names)[b],
                          "winner": [WINNER[o] for o in outcome]})
    data = PairDataset.from_pandas(frame)
    result = BradleyTerry(n_competitors=len(data.competitors)).compute_ratings_and_cis(data, 0.05)
    order = [list(result["competitors"]).index(n) for n in names]
    return {key: np.asarray(result[key])[order] for key in ("ratings", "rating_lower", "rating_upper")}


def assert_agree(board, reference):
    assert np.abs(board.rating - reference["ratings"]).max() < RATING_TOL
    assert np.abs(board.lower - reference["rating_lower"]).max() < BOUND_TOL
    assert np.abs(board.upper - reference["rating_upper"]).max() < BOUND_TOL
    assert np.argsort(-board.rating).tolist() == np.argsort(-reference["ratings"]).tolist()
    assert board.rank.tolist() == overlap_rank(reference["rating_lower"], reference["rating_upper"]).tolist()


def test_sandwich_intervals_agree_with_arena_rank():
    names, a, b, outcome = synthetic()
    board = sandwich_bradley_terry(PairTable.from_arrays(names, a, b, outcome))
    assert len(set(board.rank.tolist())) > 3  # a ranking with real separations, not all tied
    assert_agree(board, theirs(names, a, b, outcome))


def test_stored_votes_agree_with_arena_rank(arena):
    """The votes as the leaderboard reads them from SQLite, fed to both."""
    for name in ("ck-x", "ck-y", "ck-z"):
        arena.checkpoint(name)
    arena.battle("ck-x", "ck-y", ["A"] * 14 + ["B"] * 6 + ["tie"] * 3)
    arena.battle("ck-y", "ck-z", ["A"] * 12 + ["B"] * 8 + ["both_bad"] * 2)
    arena.battle("ck-z", "ck-x", ["A"] * 5 + ["B"] * 15)
    battles = load_battles(arena.store)
    names, a, b = battles.indexed()
    outcome = battles.frame["outcome"].to_numpy()
    assert_agree(sandwich_bradley_terry(battles.pairs()), theirs(names, a, b, outcome))


def test_style_controlled_fit_agrees_with_arena_rank_contextual_model():
    names, a, b, outcome = synthetic(n=10_000, k=5, seed=8)
    rng = np.random.default_rng(9)
    x, _ = style_features(rng.poisson(100, (len(a), 4)), rng.poisson(100, (len(a), 4)))
    outcome = np.where(outcome == 0.5, 1.0, outcome)  # a contextual fit of win/loss votes
    ours = style_controlled(names, a, b, outcome, x)
    frame = pd.DataFrame({"model_a": np.asarray(names)[a], "model_b": np.asarray(names)[b],
                          "winner": [WINNER[o] for o in outcome], **{f"f{j}": x[:, j] for j in range(4)}})
    data = ContextualPairDataset.from_pandas(frame, [f"f{j}" for j in range(4)], reweighted=False,
                                             normalize_features=False)
    # Their loss is the mean log-likelihood + reg/2 |beta|^2; ours the sum + 1e-3/2 |params|^2.
    result = ContextualBradleyTerry(len(names), 4, reg=1e-3 / len(a)).compute_ratings_and_cis(data, 0.05)
    order = [list(result["competitors"]).index(n) for n in names]
    assert np.abs(ours.rating - np.asarray(result["ratings"])[order]).max() < RATING_TOL
    assert np.abs(ours.beta - np.asarray(result["coeffs"])).max() < 1e-3
    assert np.abs(ours.lower - np.asarray(result["rating_lower"])[order]).max() < 1.0


def test_anchored_sandwich_interval_is_relative_to_the_anchor():
    names, a, b, outcome = synthetic(n=5_000, k=4, seed=11)
    pairs = PairTable.from_arrays(names, a, b, outcome)
    free = sandwich_bradley_terry(pairs)
    pinned = sandwich_bradley_terry(pairs, anchor_model="ckpt-2", anchor_value=1500.0)
    assert pinned.rating[2] == pinned.lower[2] == pinned.upper[2] == 1500.0  # width 0 by construction
    gaps = free.rating - free.rating[2]
    assert pinned.rating - 1500.0 == pytest.approx(gaps)
    assert np.all((pinned.upper - pinned.lower)[[0, 1, 3]] > 0)
