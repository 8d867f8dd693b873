"""Category and per-round leaderboards: the same Bradley–Terry fit on a subset of the votes.

Categories (what a reader of LMArena's category tabs expects): per eval set ("live" for
battles that replay no eval set), per error tag (turns where a rater gave that tag to one of
the replies), image vs text only, and instruction kind (the turn carries a verifiable
constraint, i.e. a response_checks row exists for one of its replies, vs open-ended).
Category boards use sandwich intervals (one pass each, so many categories stay cheap).

Per round: the votes on round >= k form a leaderboard of their own, so "who still follows
in round 3+" is a ranking next to the all-rounds one; ``by_round_boards`` fits each round
(the last bucket pooling every later round) for the rating-by-round curve.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..store.models import ERROR_TAGS
from .battles import Battles
from .bradley_terry import Leaderboard, bradley_terry
from .robust import sandwich_bradley_terry

BOARD_COLUMNS = ["category", "value", "rank", "checkpoint", "rating", "lower", "upper", "votes"]
LIVE = "(live battles)"
MAX_ROUND_BUCKET = 6  # rounds past this are pooled into "6+"


def categories(battles: Battles) -> Iterator[tuple[str, str, np.ndarray]]:
    """(category, value, vote mask) for every category with at least one vote."""
    f = battles.frame
    yield "all", "all votes", np.ones(len(f), bool)
    eval_sets = f["eval_set"].fillna(LIVE)
    for name in sorted(eval_sets.unique()):
        yield "eval set", str(name), (eval_sets == name).to_numpy()
    for tag in ERROR_TAGS:
        mask = f["tags"].map(lambda tags, tag=tag: tag in tags).to_numpy(bool)
        if mask.any():
            yield "error tag", tag, mask
    yield "image", "with image", f["has_image"].to_numpy(bool)
    yield "image", "text only", ~f["has_image"].to_numpy(bool)
    yield "instruction", "verifiable constraint", f["constrained"].to_numpy(bool)
    yield "instruction", "open-ended", ~f["constrained"].to_numpy(bool)


def category_counts(battles: Battles) -> pd.DataFrame:
    """Votes per category value (every category listed, empty ones with 0)."""
    return pd.DataFrame([{"category": c, "value": v, "votes": int(m.sum())} for c, v, m in categories(battles)],
                        columns=["category", "value", "votes"])


def _rows(category: str, value: str, board: Leaderboard) -> list[dict]:
    return [{"category": category, "value": value, **row} for row in board.rows()]


def category_boards(battles: Battles, ci: float = 0.95) -> pd.DataFrame:
    """One sandwich-interval leaderboard per category value, stacked (BOARD_COLUMNS)."""
    rows = []
    for category, value, mask in categories(battles):
        if mask.any():
            rows += _rows(category, value, sandwich_bradley_terry(battles.subset(mask).pairs(), ci=ci))
    return pd.DataFrame(rows, columns=BOARD_COLUMNS)


def rounds_from(battles: Battles, k: int) -> Battles:
    """The votes on round k or later (rounds count from 1)."""
    if k < 1:
        raise ValidationError(f"rounds count from 1; 'from round' cannot be {k}")
    return battles.subset(battles.frame["round"].to_numpy() >= k)


def from_round_board(battles: Battles, k: int, *, rounds: int = 1000, seed: int = 0, ci: float = 0.95,
                     anchor_value: float = 1000.0, anchor_model: str | None = None) -> Leaderboard | None:
    """Bootstrap leaderboard on votes of round >= k, as the all-rounds one; None without votes."""
    later = rounds_from(battles, k)
    if not len(later):
        return None
    pairs = later.pairs()
    anchor = anchor_model if anchor_model in pairs.models else None
    return bradley_terry(pairs, rounds=rounds, seed=seed, ci=ci, anchor_value=anchor_value, anchor_model=anchor)


def side_by_side(all_rounds: Leaderboard | None, later: Leaderboard | None, k: int) -> pd.DataFrame:
    """Checkpoint, all-rounds rank/rating/interval, round >= k rank/rating/interval, rank change."""
    columns = ["checkpoint", "rank_all", "rating_all", "lower_all", "upper_all", "votes_all",
               f"rank_from_{k}", f"rating_from_{k}", f"lower_from_{k}", f"upper_from_{k}", f"votes_from_{k}",
               "rank_change"]
    if all_rounds is None:
        return pd.DataFrame(columns=columns)
    later_rows = {r["checkpoint"]: r for r in later.rows()} if later is not None else {}
    rows = []
    for r in all_rounds.rows():
        s = later_rows.get(r["checkpoint"])
        keys = ("rank", "rating", "lower", "upper", "votes")
        later_values = [s[key] for key in keys] if s else [None] * len(keys)
        rows.append([r["checkpoint"], *(r[key] for key in keys), *later_values,
                     (r["rank"] - s["rank"]) if s else None])
    return pd.DataFrame(rows, columns=columns)


def round_bucket(rounds: pd.Series) -> pd.Series:
    return rounds.clip(upper=MAX_ROUND_BUCKET)


def by_round_boards(battles: Battles, ci: float = 0.95) -> pd.DataFrame:
    """Sandwich leaderboard of each round's votes: round, checkpoint, rating, lower, upper, votes, rank."""
    columns = ["round", "round_label", "rank", "checkpoint", "rating", "lower", "upper", "votes"]
    if not len(battles):
        return pd.DataFrame(columns=columns)
    bucket = round_bucket(battles.frame["round"]).to_numpy()
    rows = []
    for r in sorted(np.unique(bucket)):
        board = sandwich_bradley_terry(battles.subset(bucket == r).pairs(), ci=ci)
        label = f"{r}+" if r == MAX_ROUND_BUCKET else str(r)
        rows += [{"round": int(r), "round_label": label, **row} for row in board.rows()]
    return pd.DataFrame(rows, columns=columns)
