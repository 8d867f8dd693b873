"""The Bradley–Terry fit against hand-computed values, scikit-learn and known strengths."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from ift_chat.errors import ValidationError
from ift_chat.leaderboard.bradley_terry import (SCALE, PairTable, bradley_terry, fit_theta,
                                                overlap_rank)

# (A, B, A's score, count): a small, connected, non-separable set with ties.
TINY = [("x", "y", 1.0, 3), ("x", "y", 0.0, 1), ("y", "z", 1.0, 2), ("y", "z", 0.5, 1),
        ("z", "y", 1.0, 1), ("x", "z", 1.0, 1), ("z", "x", 1.0, 1), ("x", "z", 0.5, 2)]


def test_two_models_match_the_closed_form():
    # x beat y 3 times out of 4: theta_x - theta_y = log 3, i.e. 400*log10(3) = 190.85 points.
    pairs = PairTable.from_records([("x", "y", 1.0, 3), ("y", "x", 1.0, 1)])
    board = bradley_terry(pairs, rounds=0, l2=0.0)
    gap = board.rating[0] - board.rating[1]
    assert gap == pytest.approx(400 * np.log10(3), abs=1e-6)
    assert board.rating.mean() == pytest.approx(1000.0)


def test_ties_count_half_a_win_each():
    # 2 wins + 2 ties for x, 0 + 2 ties for y: score 3 vs 1, same as 3 wins to 1.
    with_ties = PairTable.from_records([("x", "y", 1.0, 2), ("x", "y", 0.5, 2)])
    plain = PairTable.from_records([("x", "y", 1.0, 3), ("x", "y", 0.0, 1)])
    a = bradley_terry(with_ties, rounds=0, l2=0.0).rating
    b = bradley_terry(plain, rounds=0, l2=0.0).rating
    np.testing.assert_allclose(a, b, atol=1e-9)


def _sklearn_ratings(pairs: PairTable, l2: float) -> np.ndarray:
    """Logistic regression without intercept on the ±1 design, ties as half-weighted rows."""
    k = len(pairs.models)
    rows, y, weight = [], [], []
    for a, b, outcome, count in zip(pairs.a, pairs.b, pairs.outcome, pairs.count):
        x = np.zeros(k)
        x[a], x[b] = 1.0, -1.0
        for label, w in ((1, outcome * count), (0, (1 - outcome) * count)):
            if w > 0:
                rows.append(x), y.append(label), weight.append(w)
    # sklearn minimises 0.5*|beta|^2 + C*sum(w*loss); ours is l2/2*|theta|^2 + sum(w*loss).
    model = LogisticRegression(fit_intercept=False, C=1.0 / l2, tol=1e-12, max_iter=10_000)
    model.fit(np.array(rows), np.array(y), sample_weight=np.array(weight))
    return SCALE * model.coef_[0] + 1000.0


@pytest.mark.parametrize("l2", [1e-3, 0.5])
def test_tiny_case_matches_sklearn_logistic_regression(l2):
    pairs = PairTable.from_records(TINY)
    ours = bradley_terry(pairs, rounds=0, l2=l2).rating
    np.testing.assert_allclose(ours, _sklearn_ratings(pairs, l2), atol=1e-3)


def test_tiny_case_matches_scipy_on_the_raw_likelihood():
    from scipy.optimize import minimize
    from scipy.special import log_expit

    pairs = PairTable.from_records(TINY)
    w = pairs.score_matrix()

    def nll(free):  # theta_z fixed at 0: the unpenalised likelihood has a free shift
        theta = np.append(free, 0.0)
        return -(w * log_expit(theta[:, None] - theta[None, :])).sum()

    free = minimize(nll, np.zeros(2), method="BFGS", options={"gtol": 1e-12}).x
    reference = SCALE * np.append(free, 0.0)
    ours = bradley_terry(pairs, rounds=0, l2=0.0, anchor_model="z", anchor_value=0.0).rating
    np.testing.assert_allclose(ours, reference, atol=1e-3)


def draw_votes(strength: np.ndarray, n_votes: int, rng) -> tuple:
    k = len(strength)
    a = rng.integers(0, k, n_votes)
    b = (a + rng.integers(1, k, n_votes)) % k
    a_wins = rng.random(n_votes) < 1 / (1 + np.exp(strength[b] - strength[a]))
    return a, b, a_wins.astype(float)


def test_bootstrap_intervals_cover_the_truth_over_many_synthetic_leaderboards():
    """Across 20 leaderboards of 12 models the 95% intervals hold the truth ~95% of the time."""
    rng = np.random.default_rng(7)
    covered, total = 0, 0
    for _ in range(20):
        strength = rng.normal(0, 0.8, 12)
        a, b, outcome = draw_votes(strength, 3000, rng)
        board = bradley_terry(PairTable.from_arrays([f"m{i}" for i in range(12)], a, b, outcome),
                              rounds=300, seed=int(rng.integers(1 << 30)))
        truth = 1000 + SCALE * (strength - strength.mean())
        assert np.corrcoef(board.rating, truth)[0, 1] > 0.97
        covered += int(((board.lower <= truth) & (truth <= board.upper)).sum())
        total += 12
    assert 0.90 <= covered / total <= 0.99


def test_anchor_model_is_pinned_and_shifts_everyone_equally():
    pairs = PairTable.from_records(TINY)
    free = bradley_terry(pairs, rounds=50)
    pinned = bradley_terry(pairs, rounds=50, anchor_model="y", anchor_value=1500.0)
    assert pinned.rating[1] == pytest.approx(1500.0)
    assert pinned.lower[1] == pinned.upper[1] == pytest.approx(1500.0)
    np.testing.assert_allclose(pinned.rating - pinned.rating[1], free.rating - free.rating[1], atol=1e-9)


def test_a_model_that_won_everything_still_gets_a_finite_rating():
    pairs = PairTable.from_records([("x", "y", 1.0, 5), ("y", "z", 1.0, 5), ("x", "z", 1.0, 5)])
    board = bradley_terry(pairs, rounds=100)
    assert np.all(np.isfinite(board.rating)) and np.all(np.isfinite(board.boot))
    assert board.rating[0] > board.rating[1] > board.rating[2]


def test_overlap_rank_counts_models_clearly_above():
    lower, upper = np.array([1100, 1050, 900, 880]), np.array([1200, 1150, 1000, 990])
    # model 0 and 1 overlap (both rank 1); 2 and 3 have both of them clearly above.
    assert overlap_rank(lower, upper).tolist() == [1, 1, 3, 3]


def test_batched_fit_equals_one_fit_per_round():
    pairs = PairTable.from_records(TINY)
    counts = np.random.default_rng(1).multinomial(pairs.n_votes, pairs.count / pairs.n_votes, size=4)
    batched = fit_theta(pairs.score_matrix(counts))
    single = np.stack([fit_theta(pairs.score_matrix(c[None])[0]) for c in counts])
    np.testing.assert_allclose(batched, single, atol=1e-8)


def test_vote_level_arrays_collapse_to_the_same_table_as_records():
    names = ["x", "y", "z"]
    idx = {m: i for i, m in enumerate(names)}
    a = [idx[r[0]] for r in TINY for _ in range(r[3])]
    b = [idx[r[1]] for r in TINY for _ in range(r[3])]
    outcome = [r[2] for r in TINY for _ in range(r[3])]
    from_votes = PairTable.from_arrays(names, a, b, outcome)
    np.testing.assert_allclose(from_votes.score_matrix(), PairTable.from_records(TINY).score_matrix())
    assert from_votes.n_votes == sum(r[3] for r in TINY)


@pytest.mark.parametrize("records, message", [
    ([("x", "y", 0.7, 1)], "outcome"),
    ([], "no votes"),
])
def test_bad_input_is_a_clear_error(records, message):
    with pytest.raises(ValidationError, match=message):
        bradley_terry(PairTable.from_records(records), rounds=0)


def test_unknown_anchor_is_a_clear_error():
    with pytest.raises(ValidationError, match="anchor"):
        bradley_terry(PairTable.from_records(TINY), rounds=0, anchor_model="nobody")


def test_checkpoints_never_compared_form_separate_groups():
    pairs = PairTable.from_records([("x", "y", 1.0, 3), ("y", "x", 1.0, 1), ("v", "w", 1.0, 2),
                                    ("w", "v", 1.0, 2)])
    board = bradley_terry(pairs, rounds=20)
    assert board.n_groups == 2
    groups = dict(zip(board.models, board.groups))
    assert groups["x"] == groups["y"] != groups["v"] == groups["w"]


def test_a_resample_without_a_model_leaves_it_out_of_that_round():
    # "rare" has 1 vote in 201: about 37% of resamples draw none of it.
    pairs = PairTable.from_records([("x", "y", 1.0, 120), ("y", "x", 1.0, 80), ("rare", "x", 1.0, 1)])
    board = bradley_terry(pairs, rounds=400, seed=3)
    rare = board.models.index("rare")
    missing = np.isnan(board.boot[:, rare]).mean()
    assert 0.25 < missing < 0.5
    assert not np.isnan(board.boot[:, board.models.index("x")]).any()
    assert np.isfinite(board.lower[rare]) and board.lower[rare] <= board.rating[rare] <= board.upper[rare]
