"""Bradley–Terry ratings from pairwise outcome counts: fit, bootstrap, ranks (pure numpy).

The data are unique ``(A, B, outcome)`` rows with a count, where ``outcome`` is A's
score: 1 (A won), 0.5 (tie) or 0 (B won). The model is
``P(i beats j) = sigmoid(theta_i - theta_j)`` and a tie counts as half a win for
each side, so the log-likelihood is ``sum_ij W_ij * log sigmoid(theta_i - theta_j)``
with ``W_ij`` = i's total score against j.

The fit is Newton's method on that log-likelihood plus a tiny L2 penalty
(``l2``, in natural-log units). The penalty keeps every fit finite (a model that
won every battle, or a bootstrap sample that disconnects the comparison graph)
and fixes the free shift at mean(theta) = 0 (per group of models linked by
comparisons); with hundreds of votes its effect is far below a rating point.

Bootstrap: the unique rows' counts are resampled (multinomial over all votes),
and Newton runs batched over rounds, warm-started at the point fit: a
``(batch, K, K)`` array and one batched linear solve per iteration, so 1000
rounds over 50 models take about a second. Nothing loops over votes. A model
that a resample leaves without votes is NaN in that round, not pulled to the mean.

Ratings are on the familiar scale ``400 * log10(odds) + anchor_value``; by
default the mean model sits at ``anchor_value`` (1000), or ``anchor_model``
is pinned to it (then that model's interval has width 0 by construction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from ..errors import ValidationError

SCALE = 400.0 / np.log(10.0)  # natural-log odds -> "Elo" points
DEFAULT_L2 = 1e-3
MAX_STEP = 2.0  # cap on one Newton step (logits): keeps near-separable fits stable
BATCH = 250  # bootstrap rounds per batched fit: bounds memory, paces progress reports


@dataclass(frozen=True)
class PairTable:
    """Unique (A, B, outcome) rows with counts; a, b index into ``models``."""

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    count: np.ndarray

    @classmethod
    def from_records(cls, records: Iterable[tuple[str, str, float, int]],
                     models: Sequence[str] | None = None) -> "PairTable":
        """records: (model_a, model_b, outcome for A, count); duplicates are summed."""
        records = [r for r in records if r[0] != r[1] and r[3] > 0]
        names = tuple(models) if models is not None else tuple(
            sorted({r[0] for r in records} | {r[1] for r in records}))
        index = {m: i for i, m in enumerate(names)}
        unknown = {m for r in records for m in r[:2] if m not in index}
        if unknown:
            raise ValidationError(f"votes name checkpoints not in the model list: {sorted(unknown)}")
        if any(r[2] not in (0, 0.5, 1) for r in records):
            raise ValidationError("an outcome must be 1 (A won), 0.5 (tie) or 0 (B won)")
        a = np.array([index[r[0]] for r in records], dtype=np.int64)
        b = np.array([index[r[1]] for r in records], dtype=np.int64)
        outcome = np.array([r[2] for r in records], dtype=float)
        count = np.array([r[3] for r in records], dtype=np.int64)
        return cls.from_arrays(names, a, b, outcome, count)

    @classmethod
    def from_arrays(cls, models: Sequence[str], a, b, outcome, count=None) -> "PairTable":
        """Vote-level or row-level arrays, collapsed to unique rows (one bincount, O(votes)).

        Rows are stored with a < b (a "B won" vote for (x, y) is an "A won" vote for
        (y, x)), so each pair has at most three rows: fewer categories to resample.
        """
        k = len(models)
        a, b = np.asarray(a, np.int64).ravel(), np.asarray(b, np.int64).ravel()
        outcome = np.asarray(outcome, float).ravel()
        count = np.ones_like(a) if count is None else np.asarray(count, np.int64).ravel()
        if not (a.size == b.size == outcome.size == count.size):
            raise ValidationError("a, b, outcome and count must have the same length")
        half = np.rint(outcome * 2).astype(np.int64)
        if a.size and (np.any(half / 2.0 != outcome) or half.min() < 0 or half.max() > 2):
            raise ValidationError("an outcome must be 1 (A won), 0.5 (tie) or 0 (B won)")
        if a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= k):
            raise ValidationError("a model index is outside the model list")
        if np.any(a == b) or np.any(count < 0):
            raise ValidationError("a model cannot play itself, and counts cannot be negative")
        swap = a > b
        lo, hi = np.where(swap, b, a), np.where(swap, a, b)
        half = np.where(swap, 2 - half, half)
        summed = np.bincount((lo * k + hi) * 3 + half, weights=count, minlength=k * k * 3)
        keys = np.flatnonzero(summed)
        pair, half = np.divmod(keys, 3)
        return cls(tuple(models), pair // k, pair % k, half / 2.0, summed[keys].astype(np.int64))

    @property
    def n_votes(self) -> int:
        return int(self.count.sum())

    def score_matrix(self, counts: np.ndarray | None = None) -> np.ndarray:
        """W[..., i, j] = i's score against j; counts (rounds, rows) gives (rounds, K, K)."""
        k = len(self.models)
        rows = np.arange(len(self.a))
        # Each row adds outcome*count to W[a, b] and (1 - outcome)*count to W[b, a].
        mapping = sparse.csr_matrix(
            (np.concatenate([self.outcome, 1.0 - self.outcome]),
             (np.concatenate([rows, rows]), np.concatenate([self.a * k + self.b, self.b * k + self.a]))),
            shape=(len(self.a), k * k))
        c = self.count[None, :] if counts is None else np.atleast_2d(counts)
        flat = np.asarray((mapping.T @ c.T.astype(float)).T)
        out = flat.reshape(c.shape[0], k, k)
        return out[0] if counts is None else out

    def games_per_model(self, counts: np.ndarray | None = None) -> np.ndarray:
        """Votes each model took part in; counts (rounds, rows) gives (rounds, K)."""
        k = len(self.models)
        if counts is None:
            return (np.bincount(self.a, self.count, k) + np.bincount(self.b, self.count, k)).astype(np.int64)
        rows = np.arange(len(self.a))
        incidence = sparse.csr_matrix((np.ones(2 * len(rows)), (np.r_[rows, rows], np.r_[self.a, self.b])),
                                      shape=(len(rows), k))
        return np.asarray((incidence.T @ np.atleast_2d(counts).T.astype(float)).T)

    def groups(self) -> np.ndarray:
        """Component label per model: models in different groups were never compared, even
        indirectly, so ratings across groups mean nothing (each group is centred on its own)."""
        k = len(self.models)
        graph = sparse.csr_matrix((np.ones(len(self.a)), (self.a, self.b)), shape=(k, k))
        return connected_components(graph, directed=False)[1]


def fit_theta(scores: np.ndarray, l2: float = DEFAULT_L2, max_iter: int = 200,
              tol: float = 1e-9, init: np.ndarray | None = None) -> np.ndarray:
    """Maximum-likelihood strengths (natural-log units, mean 0) for (K,K) or (R,K,K) scores.

    ``init`` (K,) warm-starts every round, e.g. bootstrap rounds from the point fit:
    Newton then needs a few iterations instead of ten or more.
    """
    single = scores.ndim == 2
    w = scores[None] if single else scores
    rounds, k, _ = w.shape
    games = w + w.transpose(0, 2, 1)
    theta = np.zeros((rounds, k))
    if init is not None:
        theta += np.asarray(init, float) - np.mean(init)
    # The ones/K term pins the free shift (the likelihood's null direction) without
    # changing steps orthogonal to it, so l2=0 works whenever the graph is connected.
    pin = np.full((k, k), 1.0 / k) + (l2 + 1e-12) * np.eye(k)
    for _ in range(max_iter):
        p = expit(theta[:, :, None] - theta[:, None, :])
        grad = (w - games * p).sum(axis=2) - l2 * theta
        info = games * p * (1.0 - p)
        hess = -info
        idx = np.arange(k)
        hess[:, idx, idx] = info.sum(axis=2)
        step = np.linalg.solve(hess + pin, grad[..., None])[..., 0]
        biggest = np.abs(step).max(axis=1, keepdims=True)
        step *= np.minimum(1.0, MAX_STEP / np.maximum(biggest, 1e-300))
        theta += step
        if biggest.max() < tol:
            break
    theta -= theta.mean(axis=1, keepdims=True)
    return theta[0] if single else theta


def to_rating(theta: np.ndarray, anchor_value: float = 1000.0,
              anchor_index: int | None = None) -> np.ndarray:
    rating = SCALE * theta
    if anchor_index is not None:
        rating = rating - rating[..., anchor_index:anchor_index + 1]
    return rating + anchor_value


def bootstrap_counts(count: np.ndarray, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """Resample votes with replacement: multinomial over the unique rows' counts."""
    total = int(count.sum())
    return rng.multinomial(total, count / total, size=rounds)


def overlap_rank(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """1 + number of models whose lower bound exceeds this model's upper bound."""
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)


@dataclass(frozen=True)
class Leaderboard:
    models: tuple[str, ...]
    rating: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    rank: np.ndarray
    games: np.ndarray
    theta: np.ndarray  # natural-log strengths of the point fit (mean 0)
    boot: np.ndarray  # (rounds, K) bootstrap ratings, NaN where a model drew no votes
    n_votes: int
    ci: float
    groups: np.ndarray  # connected-component label per model (see PairTable.groups)

    @property
    def n_groups(self) -> int:
        return int(len(np.unique(self.groups))) if len(self.groups) else 0

    def rows(self) -> list[dict]:
        """One dict per model, best first (rank, then rating)."""
        order = np.lexsort((-self.rating, self.rank))
        return [{"rank": int(self.rank[i]), "checkpoint": self.models[i],
                 "rating": round(float(self.rating[i]), 1),
                 "lower": round(float(self.lower[i]), 1), "upper": round(float(self.upper[i]), 1),
                 "votes": int(self.games[i])} for i in order]


def bradley_terry(pairs: PairTable, *, rounds: int = 1000, seed: int = 0, ci: float = 0.95,
                  l2: float = DEFAULT_L2, anchor_value: float = 1000.0, anchor_model: str | None = None,
                  on_progress: Callable[[int], None] | None = None) -> Leaderboard:
    """Point fit plus percentile bootstrap intervals and overlap-respecting ranks.

    ``on_progress(n)`` is called after each batch with the number of rounds just fitted.
    """
    if pairs.n_votes == 0:
        raise ValidationError("no votes match these filters, so there is nothing to rank yet")
    if not 0 < ci < 1:
        raise ValidationError(f"the interval level must be between 0 and 1, not {ci}")
    if rounds < 0:
        raise ValidationError(f"bootstrap rounds cannot be negative ({rounds})")
    if anchor_model is not None and anchor_model not in pairs.models:
        raise ValidationError(f"anchor checkpoint {anchor_model!r} has no votes under these filters")
    anchor = None if anchor_model is None else pairs.models.index(anchor_model)
    theta = fit_theta(pairs.score_matrix(), l2)
    rating = to_rating(theta, anchor_value, anchor)
    if rounds > 0:
        counts = bootstrap_counts(pairs.count, rounds, np.random.default_rng(seed))
        boot = np.concatenate([_bootstrap_batch(pairs, counts[start:start + BATCH], theta, l2,
                                                anchor_value, anchor, on_progress)
                               for start in range(0, rounds, BATCH)])
        lower, upper = _percentiles(boot, rating, ci)
    else:
        boot = np.zeros((0, len(pairs.models)))
        lower, upper = rating.copy(), rating.copy()
    return Leaderboard(pairs.models, rating, lower, upper, overlap_rank(lower, upper),
                       pairs.games_per_model(), theta, boot, pairs.n_votes, ci, pairs.groups())


def _bootstrap_batch(pairs: PairTable, counts: np.ndarray, theta: np.ndarray, l2: float,
                     anchor_value: float, anchor: int | None, on_progress) -> np.ndarray:
    """Ratings for a batch of resamples; NaN for a model the resample left without votes
    (its penalised strength would sit at the mean and drag its interval there)."""
    boot = to_rating(fit_theta(pairs.score_matrix(counts), l2, init=theta), anchor_value, anchor)
    absent = pairs.games_per_model(counts) == 0
    boot[absent] = np.nan
    if anchor is not None:
        boot[absent[:, anchor]] = np.nan
    if on_progress:
        on_progress(len(counts))
    return boot


def _percentiles(boot: np.ndarray, rating: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1.0 - ci) / 2.0
    seen = ~np.isnan(boot).all(axis=0)
    lower, upper = rating.copy(), rating.copy()
    if seen.any():
        lower[seen], upper[seen] = np.nanquantile(boot[:, seen], [alpha, 1.0 - alpha], axis=0)
    return lower, upper
