"""Style control: a contextual Bradley–Terry model that separates *how* a reply looks from
*which* checkpoint wrote it (the idea of LMArena's style control, Aug 2024).

Each battle carries style features of its two replies: length in tokens, markdown headers,
list items, bold spans. Feature f of a battle is ``(a_f - b_f) / (a_f + b_f)`` (0 when both
are 0), scaled to unit root-mean-square over the battles (see style_features). The model is

    P(A beats B) = sigmoid(theta_A - theta_B + x . beta)

so beta says how much a longer / more formatted reply wins by itself, and theta is the
checkpoint's strength with style held equal: a checkpoint that wins only by being longer
loses its lead. Fit: Newton on the vote-level log-likelihood (+ the tiny L2 of the plain
fit), with the Hessian assembled block-wise by bincount, so an iteration is O(votes x
features) and nothing loops over votes in Python. Intervals: sandwich (robust) by default,
as LMArena's arena-rank computes them; vote-level bootstrap on request (it refits per round).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import expit
from scipy.stats import norm

from ..errors import ValidationError
from .bradley_terry import DEFAULT_L2, MAX_STEP, SCALE, PairTable, fit_theta, overlap_rank, to_rating
from .robust import rating_intervals, sandwich

STYLE_FEATURES = ("length", "headers", "lists", "bold")
STYLE_LABELS = {"length": "length (tokens)", "headers": "markdown headers", "lists": "list items",
                "bold": "bold spans"}

_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.S)  # "# comment" in code is not a header
_HEADER = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.M)
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.M)
_BOLD = re.compile(r"\*\*(?=\S)[^\n]+?\*\*|__(?=\S)[^\n]+?__")


def style_counts(text: str) -> tuple[int, int, int, int]:
    """(tokens, headers, list items, bold spans) of one reply. Tokens are whitespace-separated
    (the same for every checkpoint, whose own tokenizers differ; only ratios between two
    replies enter the fit, so the unit does not matter); markup counts skip fenced code."""
    text = text or ""
    prose = _CODE_BLOCK.sub("", text) if "```" in text else text
    headers = len(_HEADER.findall(prose)) if "#" in prose else 0
    bold = len(_BOLD.findall(prose)) if ("**" in prose or "__" in prose) else 0
    # a list item starts a line: a one-line reply that does not open with a marker has none
    maybe_list = "\n" in prose or prose.lstrip()[:1] in tuple("-*+0123456789")
    lists = len(_LIST_ITEM.findall(prose)) if maybe_list else 0
    return len(text.split()), headers, lists, bold


def style_features(counts_a: np.ndarray, counts_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-battle (a - b)/(a + b) scaled to unit root-mean-square: (features, scale).

    Not centred (FastChat subtracts the mean): the feature is antisymmetric, 0 means "same
    style", and swapping A and B must only flip its sign. Centring breaks that where one
    checkpoint mostly sits on one side (replays, hand-made battles): the shift then acts as a
    side bonus that the fit pins on that checkpoint."""
    a, b = np.asarray(counts_a, float), np.asarray(counts_b, float)
    ratio = (a - b) / np.maximum(a + b, 1.0)  # counts are >= 0: a + b = 0 means a - b = 0
    scale = np.sqrt((ratio ** 2).mean(axis=0)) if len(ratio) else np.ones(a.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    return ratio / scale, scale


@dataclass(frozen=True)
class StyleFit:
    models: tuple[str, ...]
    features: tuple[str, ...]
    theta: np.ndarray  # strengths with style held equal (natural-log units, mean 0)
    beta: np.ndarray  # style coefficients, per standard deviation of the feature
    cov: np.ndarray  # sandwich covariance of (theta, beta)
    rating: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    rank: np.ndarray
    coef_lower: np.ndarray
    coef_upper: np.ndarray
    games: np.ndarray
    n_votes: int
    ci: float
    interval: str  # "sandwich" or "bootstrap (N rounds)"

    def rows(self) -> list[dict]:
        order = np.lexsort((-self.rating, self.rank))
        return [{"rank": int(self.rank[i]), "checkpoint": self.models[i],
                 "rating": round(float(self.rating[i]), 1), "lower": round(float(self.lower[i]), 1),
                 "upper": round(float(self.upper[i]), 1), "votes": int(self.games[i])} for i in order]

    def coefficient_rows(self) -> list[dict]:
        """One row per style feature: the log-odds a one-sd style advantage adds, and as Elo points."""
        return [{"feature": STYLE_LABELS.get(f, f), "coefficient": round(float(c), 4),
                 "lower": round(float(lo), 4), "upper": round(float(hi), 4),
                 "rating_points": round(float(c * SCALE), 1)}
                for f, c, lo, hi in zip(self.features, self.beta, self.coef_lower, self.coef_upper)]


class _Design:
    """The votes' design (checkpoint pairs, features) with the sums every Newton step needs.

    Per-vote values are summed per (A, B) pair with one bincount each (over the pair index
    a*K + b), so an iteration is a few passes over the votes; the Laplacian, the cross block
    and the gradient follow from those (K, K) pair sums."""

    def __init__(self, k: int, a: np.ndarray, b: np.ndarray, x: np.ndarray):
        self.k, self.a, self.b, self.x = k, a, b, x
        self.pair = a * k + b

    def logits(self, params: np.ndarray) -> np.ndarray:
        theta = params[:self.k]
        return theta[self.a] - theta[self.b] + self.x @ params[self.k:]

    def _pair_sum(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.pair, values, self.k * self.k).reshape(self.k, self.k)

    def gradient(self, r: np.ndarray) -> np.ndarray:
        pair = self._pair_sum(r)
        return np.concatenate([pair.sum(1) - pair.sum(0), r @ self.x])

    def hessian(self, h: np.ndarray) -> np.ndarray:
        """Block matrix [[Laplacian(h), cross], [cross^T, X^T h X]] for per-vote weights h."""
        pair = self._pair_sum(h)
        laplace = -(pair + pair.T)
        idx = np.arange(self.k)
        laplace[idx, idx] = pair.sum(1) + pair.sum(0)
        hx = h[:, None] * self.x
        cross = np.empty((self.k, self.x.shape[1]))
        for f in range(self.x.shape[1]):  # sum over votes of h x_f (e_a - e_b)
            s = self._pair_sum(hx[:, f])
            cross[:, f] = s.sum(1) - s.sum(0)
        return np.block([[laplace, cross], [cross.T, self.x.T @ hx]])


def _pin(k: int, f: int, l2: float) -> np.ndarray:
    pin = (l2 + 1e-12) * np.eye(k + f)
    pin[:k, :k] += 1.0 / k
    return pin


def fit_contextual(design: _Design, outcome: np.ndarray, weight: np.ndarray | None = None,
                   l2: float = DEFAULT_L2, init: np.ndarray | None = None, max_iter: int = 100,
                   tol: float = 1e-8) -> np.ndarray:
    """(theta, beta) stacked: Newton on sum_i w_i [y_i s_i - log(1 + e^s_i)] - l2/2 |params|^2."""
    k, f = design.k, design.x.shape[1]
    w = np.ones(len(outcome)) if weight is None else np.asarray(weight, float)
    params = np.zeros(k + f) if init is None else np.array(init, float)
    pin = _pin(k, f, l2)
    for _ in range(max_iter):
        p = expit(design.logits(params))
        grad = design.gradient(w * (outcome - p)) - l2 * params
        step = np.linalg.solve(design.hessian(w * p * (1 - p)) + pin, grad)
        biggest = np.abs(step).max() if len(step) else 0.0
        params = params + step * min(1.0, MAX_STEP / max(biggest, 1e-300))
        if biggest < tol:
            break
    params[:k] -= params[:k].mean()
    return params


def contextual_covariance(design: _Design, outcome: np.ndarray, params: np.ndarray,
                          l2: float = DEFAULT_L2) -> np.ndarray:
    p = expit(design.logits(params))
    hessian = design.hessian(p * (1 - p)) + _pin(design.k, design.x.shape[1], l2)
    return sandwich(hessian, design.hessian((outcome - p) ** 2))


def style_controlled(models: Sequence[str], a, b, outcome, x: np.ndarray, *, ci: float = 0.95,
                     rounds: int = 0, seed: int = 0, l2: float = DEFAULT_L2, anchor_value: float = 1000.0,
                     anchor_model: str | None = None, features: Sequence[str] = STYLE_FEATURES) -> StyleFit:
    """Style-controlled ratings of vote-level battles (outcome 1 / 0.5 / 0 for A) with features x."""
    models = tuple(models)
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    outcome, x = np.asarray(outcome, float), np.asarray(x, float).reshape(len(a), -1)
    if not len(a):
        raise ValidationError("no votes match these filters, so there is nothing to rank yet")
    if not 0 < ci < 1:
        raise ValidationError(f"the interval level must be between 0 and 1, not {ci}")
    if anchor_model is not None and anchor_model not in models:
        raise ValidationError(f"anchor checkpoint {anchor_model!r} has no votes under these filters")
    k, anchor = len(models), (None if anchor_model is None else models.index(anchor_model))
    design = _Design(k, a, b, x)
    # Warm start at the plain fit (pair counts, milliseconds): Newton then mostly moves beta.
    plain = fit_theta(PairTable.from_arrays(models, a, b, outcome).score_matrix(), l2)
    params = fit_contextual(design, outcome, l2=l2, init=np.concatenate([plain, np.zeros(x.shape[1])]))
    cov = contextual_covariance(design, outcome, params, l2)
    rating, lower, upper = rating_intervals(params[:k], cov[:k, :k], ci, anchor_value, anchor)
    z = norm.ppf(0.5 + ci / 2.0)
    se_beta = np.sqrt(np.maximum(np.diag(cov)[k:], 0.0))
    coef_lower, coef_upper = params[k:] - z * se_beta, params[k:] + z * se_beta
    interval = "sandwich"
    if rounds > 0:
        boot = _bootstrap(design, outcome, params, rounds, seed, l2)
        alpha = (1.0 - ci) / 2.0
        lower, upper = np.quantile(to_rating(boot[:, :k], anchor_value, anchor), [alpha, 1 - alpha], axis=0)
        coef_lower, coef_upper = np.quantile(boot[:, k:], [alpha, 1 - alpha], axis=0)
        interval = f"bootstrap ({rounds} rounds)"
    games = np.bincount(a, minlength=k) + np.bincount(b, minlength=k)
    return StyleFit(models, tuple(features), params[:k], params[k:], cov, rating, lower, upper,
                    overlap_rank(lower, upper), coef_lower, coef_upper, games, len(a), ci, interval)


def _bootstrap(design: _Design, outcome, params, rounds, seed, l2) -> np.ndarray:
    """Votes resampled with replacement (multinomial weights), each round warm-started at the fit."""
    rng = np.random.default_rng(seed)
    n = len(outcome)
    out = np.empty((rounds, len(params)))
    for r in range(rounds):
        weight = np.bincount(rng.integers(0, n, n), minlength=n)
        out[r] = fit_contextual(design, outcome, weight, l2, init=params, max_iter=20, tol=1e-6)
    return out
