"""Sandwich (robust) intervals for Bradley–Terry ratings, as LMArena's ``arena-rank`` computes
them by default: ``cov = H^-1 G H^-1`` with H the Hessian of the log-likelihood at the fit
and G the summed outer products of each vote's score (gradient), so the interval holds even
where the model is misspecified (ties, rater drift). One pass over the unique rows; no
resampling, so it is cheap enough for every category and per-round view.

The free shift of the ratings (adding a constant to all) is pinned the same way as in the
fit (a ones/K term), and the tiny L2 penalty of the fit is added to H; G has no component
along a comparison group's shift, so groups never compared do not blow up the variances.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from scipy.stats import norm

from ..errors import ValidationError
from .bradley_terry import (DEFAULT_L2, SCALE, Leaderboard, PairTable, fit_theta, overlap_rank,
                            to_rating)


def laplacian(k: int, a: np.ndarray, b: np.ndarray, values: np.ndarray) -> np.ndarray:
    """sum_i values_i (e_a - e_b)(e_a - e_b)^T as a (K, K) matrix, by bincount (O(rows))."""
    pair = np.bincount(a * k + b, weights=values, minlength=k * k).reshape(k, k)
    out = -(pair + pair.T)
    idx = np.arange(k)
    out[idx, idx] = np.bincount(a, values, k) + np.bincount(b, values, k)
    return out


def sandwich(hessian: np.ndarray, meat: np.ndarray) -> np.ndarray:
    """H^-1 G H^-1 (H symmetric positive definite after pinning)."""
    bread = np.linalg.inv(hessian)
    return bread @ meat @ bread


def rating_intervals(theta: np.ndarray, cov: np.ndarray, ci: float, anchor_value: float = 1000.0,
                     anchor: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rating, lower, upper) from strengths and their covariance; with an anchor the variance
    is that of theta_i - theta_anchor (the anchor's own interval then has width 0)."""
    var = np.diag(cov).copy()
    if anchor is not None:
        var = var + cov[anchor, anchor] - 2 * cov[:, anchor]
    half = norm.ppf(0.5 + ci / 2.0) * np.sqrt(np.maximum(var, 0.0)) * SCALE
    rating = to_rating(theta, anchor_value, anchor)
    return rating, rating - half, rating + half


def bt_covariance(pairs: PairTable, theta: np.ndarray, l2: float = DEFAULT_L2) -> np.ndarray:
    """Sandwich covariance of the plain Bradley–Terry strengths (natural-log units)."""
    k = len(pairs.models)
    p = expit(theta[pairs.a] - theta[pairs.b])
    count = pairs.count.astype(float)
    hessian = laplacian(k, pairs.a, pairs.b, count * p * (1 - p)) + np.full((k, k), 1.0 / k) + l2 * np.eye(k)
    meat = laplacian(k, pairs.a, pairs.b, count * (pairs.outcome - p) ** 2)
    return sandwich(hessian, meat)


def sandwich_bradley_terry(pairs: PairTable, *, ci: float = 0.95, l2: float = DEFAULT_L2,
                           anchor_value: float = 1000.0, anchor_model: str | None = None) -> Leaderboard:
    """The same point fit as ``bradley_terry``, with sandwich intervals instead of bootstrap ones."""
    if pairs.n_votes == 0:
        raise ValidationError("no votes match these filters, so there is nothing to rank yet")
    if not 0 < ci < 1:
        raise ValidationError(f"the interval level must be between 0 and 1, not {ci}")
    if anchor_model is not None and anchor_model not in pairs.models:
        raise ValidationError(f"anchor checkpoint {anchor_model!r} has no votes under these filters")
    anchor = None if anchor_model is None else pairs.models.index(anchor_model)
    theta = fit_theta(pairs.score_matrix(), l2)
    rating, lower, upper = rating_intervals(theta, bt_covariance(pairs, theta, l2), ci, anchor_value, anchor)
    return Leaderboard(pairs.models, rating, lower, upper, overlap_rank(lower, upper),
                       pairs.games_per_model(), theta, np.zeros((0, len(pairs.models))), pairs.n_votes,
                       ci, pairs.groups())
