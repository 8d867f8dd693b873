"""The leaderboard's further views, computed once per report: style control, categories,
the per-round leaderboard, and instruction following from the automatic checks."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..store.db import Transactor
from .battles import Battles, load_battles
from .bradley_terry import Leaderboard
from .categories import by_round_boards, category_boards, category_counts, from_round_board, side_by_side
from .following import RatingFilters
from .pif import agreement, auto_vs_human, human_labels, load_checks, per_reply, pif_n_k, pif_table
from .robust import sandwich_bradley_terry
from .style import StyleFit, style_controlled, style_features
from .votes import VoteFilters

STYLE_COLUMNS = ["checkpoint", "rank_raw", "rating_raw", "lower_raw", "upper_raw", "rank_style", "rating_style",
                 "lower_style", "upper_style", "rank_change", "votes"]


@dataclass(frozen=True)
class Views:
    from_round: int
    sandwich: Leaderboard | None  # all votes, plain fit, sandwich intervals
    style: StyleFit | None
    style_table: pd.DataFrame  # raw vs style-controlled, side by side
    style_coefficients: pd.DataFrame
    later: Leaderboard | None  # votes on round >= from_round
    rounds_side_by_side: pd.DataFrame
    by_round_ratings: pd.DataFrame
    categories: pd.DataFrame
    category_counts: pd.DataFrame
    pif_by_round: pd.DataFrame
    pif_overall: pd.DataFrame
    pif_n_k: pd.DataFrame
    auto_vs_human: pd.DataFrame
    agreement: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of these views, keyed by file stem."""
        return {"style": self.style_table, "style_coefficients": self.style_coefficients,
                "rounds_side_by_side": self.rounds_side_by_side, "by_round_ratings": self.by_round_ratings,
                "categories": self.categories, "category_counts": self.category_counts,
                "pif_by_round": self.pif_by_round, "pif": self.pif_overall, "pif_n_k": self.pif_n_k,
                "auto_vs_human": self.auto_vs_human, "check_agreement": self.agreement}


def style_fit(battles: Battles, *, ci: float, rounds: int = 0, seed: int = 0, anchor_value: float = 1000.0,
              anchor_model: str | None = None) -> StyleFit | None:
    if not len(battles):
        return None
    models, a, b = battles.indexed()
    x, _ = style_features(battles.style_a, battles.style_b)
    anchor = anchor_model if anchor_model in models else None
    return style_controlled(models, a, b, battles.frame["outcome"].to_numpy(), x, ci=ci, rounds=rounds,
                            seed=seed, anchor_value=anchor_value, anchor_model=anchor)


def style_table(raw: Leaderboard | None, style: StyleFit | None) -> pd.DataFrame:
    """Raw (plain fit) and style-controlled rank, rating and interval per checkpoint, raw order."""
    if raw is None or style is None:
        return pd.DataFrame(columns=STYLE_COLUMNS)
    controlled = {r["checkpoint"]: r for r in style.rows()}
    rows = []
    for r in raw.rows():
        s = controlled[r["checkpoint"]]
        rows.append([r["checkpoint"], r["rank"], r["rating"], r["lower"], r["upper"], s["rank"], s["rating"],
                     s["lower"], s["upper"], r["rank"] - s["rank"], r["votes"]])
    return pd.DataFrame(rows, columns=STYLE_COLUMNS)


def build_views(store: Transactor, votes: VoteFilters, ratings_filters: RatingFilters, ratings: pd.DataFrame,
                board: Leaderboard | None, *, from_round: int = 3, rounds: int = 1000, style_rounds: int = 0,
                seed: int = 0, ci: float = 0.95, anchor_value: float = 1000.0, anchor_model: str | None = None) -> Views:
    """``ratings``: the report's human ratings (following.load_ratings) under ratings_filters;
    ``board``: its all-rounds bootstrap leaderboard (the per-round one sits beside it)."""
    battles = load_battles(store, votes)
    anchor = dict(anchor_value=anchor_value, anchor_model=anchor_model)
    raw = style = None
    if len(battles):
        pairs = battles.pairs()
        raw = sandwich_bradley_terry(pairs, ci=ci, anchor_value=anchor_value,
                                     anchor_model=anchor_model if anchor_model in pairs.models else None)
        style = style_fit(battles, ci=ci, rounds=style_rounds, seed=seed, **anchor)
    later = from_round_board(battles, from_round, rounds=rounds, seed=seed, ci=ci, **anchor)
    checks = load_checks(store, ratings_filters)
    replies = per_reply(checks)
    labels = human_labels(ratings, ratings_filters.aggregate)
    return Views(
        from_round=from_round, sandwich=raw, style=style, style_table=style_table(raw, style),
        style_coefficients=pd.DataFrame(style.coefficient_rows() if style else [],
                                        columns=["feature", "coefficient", "lower", "upper", "rating_points"]),
        later=later, rounds_side_by_side=side_by_side(board, later, from_round),
        by_round_ratings=by_round_boards(battles, ci), categories=category_boards(battles, ci),
        category_counts=category_counts(battles),
        pif_by_round=pif_table(replies, True, ci), pif_overall=pif_table(replies, False, ci),
        pif_n_k=pd.concat([pif_n_k(replies, False).assign(round="all"), pif_n_k(replies, True)],
                          ignore_index=True)[["checkpoint", "round", "N", "K", "items", "share"]],
        auto_vs_human=auto_vs_human(replies, ratings, ratings_filters.aggregate, ci),
        agreement=agreement(checks, labels))

