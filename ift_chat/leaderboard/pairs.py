"""Head-to-head tables: win rates, vote counts and which pairs need more battles."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from .bradley_terry import SCALE, Leaderboard, PairTable

# Beyond this the two checkpoints are, for practical purposes, equally strong.
MAX_EXTRA_VOTES = 1_000_000


def win_rate_matrix(pairs: PairTable) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(win rate of row vs column with ties as half, votes between them); NaN where never met."""
    scores = pairs.score_matrix()
    games = scores + scores.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(games > 0, scores / games, np.nan)
    names = list(pairs.models)
    return (pd.DataFrame(rate, index=names, columns=names),
            pd.DataFrame(games.round().astype(int), index=names, columns=names))


def extra_votes_needed(rating_gap: np.ndarray, votes: np.ndarray, ci: float = 0.95) -> np.ndarray:
    """Rough head-to-head votes still needed before two checkpoints' intervals stop overlapping.

    With n direct votes the log-odds gap d has standard error 1/sqrt(n p (1-p))
    (p = sigmoid(d)); two intervals of half-width z*se_i separate when
    d > z (se_i + se_j) ~ sqrt(2) z se_diff, so n ~ 2 z^2 / (d^2 p (1-p)). It ignores
    indirect comparisons through other checkpoints, so it errs on the high side.
    """
    d = np.abs(np.asarray(rating_gap, float)) / SCALE
    p = expit(d)
    z = norm.ppf(0.5 + ci / 2.0)
    with np.errstate(divide="ignore"):
        needed = 2 * z * z / (d * d * p * (1 - p))
    extra = np.ceil(np.minimum(needed, MAX_EXTRA_VOTES) - np.asarray(votes, float))
    return np.maximum(extra, 0).astype(np.int64)


def pair_table(pairs: PairTable, board: Leaderboard) -> pd.DataFrame:
    """One row per pair of ranked checkpoints: votes, win rate, and whether they are separated."""
    rate, games = win_rate_matrix(pairs)
    idx = {m: i for i, m in enumerate(board.models)}
    rows = []
    names = list(board.models)
    for n, first in enumerate(names):
        for second in names[n + 1:]:
            i, j = idx[first], idx[second]
            if board.rating[j] > board.rating[i]:
                i, j = j, i
            overlap = bool(board.lower[i] <= board.upper[j])
            rows.append({"checkpoint": names[i], "opponent": names[j],
                         "rating_gap": round(float(board.rating[i] - board.rating[j]), 1),
                         "votes": int(games.iat[i, j]),
                         "win_rate": None if np.isnan(rate.iat[i, j]) else round(float(rate.iat[i, j]), 4),
                         "intervals_overlap": overlap})
    table = pd.DataFrame(rows, columns=["checkpoint", "opponent", "rating_gap", "votes", "win_rate",
                                        "intervals_overlap"])
    extra = extra_votes_needed(table["rating_gap"].to_numpy(), table["votes"].to_numpy(), board.ci)
    table["extra_votes_to_separate"] = np.where(table["intervals_overlap"], extra, 0)
    return table.sort_values(["intervals_overlap", "extra_votes_to_separate"],
                             ascending=[False, True], ignore_index=True)


def battles_needed(table: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """The overlapping pairs cheapest to separate: where the next votes help the ranking most."""
    open_pairs = table[table["intervals_overlap"]]
    return open_pairs.sort_values("extra_votes_to_separate").head(limit).reset_index(drop=True)
