"""Leaderboard speed: 1,000,000 votes over 50 checkpoints, Bradley–Terry fit + 1000 bootstrap rounds,
and beside it the style-controlled (contextual) fit with sandwich intervals on the same votes.

The style section gives every vote style counts of its two replies (some checkpoints write
3x longer replies) and plants a length preference in the outcomes; it times the features,
the style-controlled fit + sandwich intervals (goal < 5 s), the plain fit's sandwich
intervals, and a few style bootstrap rounds (extrapolated), and checks the fit recovers the
strengths and the planted length coefficient.

Prints seconds for each stage and the ratio to the plain approach: one scikit-learn
LogisticRegression fit on the vote-level ±1 design per bootstrap round. sklearn is
timed on a few rounds and extrapolated to 1 + rounds fits (it says so in the output).
With ``--db`` it also writes the votes into a real SQLite store (bulk inserts, not the
per-vote API) and times the SQL that aggregates them into pair counts.

    .venv/bin/python bench/bench_leaderboard.py [--votes 1000000] [--models 50] [--rounds 1000] [--db]
        [--style-rounds 5] [--sklearn-fits 3 (0: skip)]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ift_chat.leaderboard.bradley_terry import SCALE, PairTable, bradley_terry  # noqa: E402
from ift_chat.leaderboard.robust import sandwich_bradley_terry  # noqa: E402
from ift_chat.leaderboard.style import style_controlled, style_features  # noqa: E402

GOAL_S = 10.0
STYLE_GOAL_S = 5.0
PLANTED_LENGTH = 1.5  # log-odds per unit of (len_a - len_b) / (len_a + len_b)


def synthetic_votes(n_votes: int, n_models: int, seed: int = 0, tie_share: float = 0.2):
    """Votes from known strengths, with ties that keep A's expected score at p = sigmoid(gap).

    A tie comes with probability tie_share * min(p, 1 - p) and takes that much from A's
    win probability, so ties-as-half-wins stays an unbiased Bradley–Terry estimate.
    """
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, n_models)
    a = rng.integers(0, n_models, n_votes)
    b = (a + rng.integers(1, n_models, n_votes)) % n_models
    p = 1 / (1 + np.exp(strength[b] - strength[a]))
    tie = tie_share * np.minimum(p, 1 - p)
    u = rng.random(n_votes)
    outcome = np.where(u < p - tie / 2, 1.0, np.where(u < p + tie / 2, 0.5, 0.0))
    return strength, a, b, outcome


def sklearn_seconds_per_fit(a, b, outcome, n_models: int, fits: int, seed: int = 1) -> float:
    """Mean seconds of one LogisticRegression fit on a vote-level bootstrap resample."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    n = len(a)
    times = []
    for _ in range(fits):
        pick = rng.integers(0, n, n)
        ra, rb, ro = a[pick], b[pick], outcome[pick]
        rows = np.arange(n)
        x = sparse.csr_matrix((np.r_[np.ones(n), -np.ones(n)], (np.r_[rows, rows], np.r_[ra, rb])),
                              shape=(n, n_models))
        # A tie is two half-weighted rows (one win, one loss), exactly as in our fit.
        tie = ro == 0.5
        x_all = sparse.vstack([x, x[tie]])
        y = np.r_[(ro >= 0.5).astype(int), np.zeros(tie.sum(), int)]
        w = np.r_[np.where(tie, 0.5, 1.0), np.full(tie.sum(), 0.5)]
        started = time.perf_counter()
        LogisticRegression(fit_intercept=False, C=1e3, max_iter=1000).fit(x_all, y, sample_weight=w)
        times.append(time.perf_counter() - started)
    return float(np.mean(times))


REPLIES = ("A short answer.", "# Title\n- one **point**\n- two\n\nMore text here, " * 3,
           "1. first\n2. second\n\n**Bold** close.", "Plain prose " * 40)


def sqlite_aggregation_seconds(a, b, outcome, names) -> tuple[float, float, float]:
    """(seconds to bulk-write the votes and replies, seconds for load_pairs, seconds for
    load_battles: the vote-level read model with style counts of every reply) on a real store."""
    from ift_chat.config import Config
    from ift_chat.leaderboard import load_pairs
    from ift_chat.leaderboard.battles import load_battles
    from ift_chat.store import Store

    winner = np.where(outcome == 1.0, "A", np.where(outcome == 0.0, "B", "tie"))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Config(home=Path(tmp), checkpoints_dir=Path(tmp) / "ck"))
        started = time.perf_counter()
        rater = store.raters.create("bench").id
        for name in names:
            store.checkpoints.register(name)
        with store.write() as db:  # one conversation per vote, like one-turn battles
            conv = db.conn.executemany
            conv("insert into conversations (id, mode, created) values (?, 'arena-anonymous', '2026')",
                 ((f"c{i}",) for i in range(len(a))))
            conv("insert into conversation_sides values (?, ?, ?)",
                 ((f"c{i}", side, names[m]) for i in range(len(a)) for side, m in (("A", a[i]), ("B", b[i]))))
            conv("insert into turns (id, conversation_id, idx, user_text, created) values (?, ?, 1, 'q', '2026')",
                 ((i + 1, f"c{i}") for i in range(len(a))))
            conv("insert into votes (turn_id, rater_id, winner, anonymous, created) values (?, ?, ?, 1, '2026')",
                 ((i + 1, rater, str(w)) for i, w in enumerate(winner)))
            conv("insert into responses (turn_id, side, checkpoint, text, status, created) "
                 "values (?, ?, ?, ?, 'ok', '2026')",
                 ((i + 1, side, names[m], REPLIES[(i + (side == "B")) % len(REPLIES)])
                  for i in range(len(a)) for side, m in (("A", a[i]), ("B", b[i]))))
        written = time.perf_counter() - started
        started = time.perf_counter()
        pairs = load_pairs(store)
        loaded = time.perf_counter() - started
        assert pairs.n_votes == len(a)
        started = time.perf_counter()
        battles = load_battles(store)
        battles_s = time.perf_counter() - started
        assert len(battles) == len(a)
        store.close()
    return written, loaded, battles_s


def synthetic_style(a, b, strength, n_models: int, seed: int = 2):
    """Style counts per reply (every 5th checkpoint writes 3x longer replies) and outcomes with
    the planted length preference; ties as in synthetic_votes."""
    rng = np.random.default_rng(seed)
    n = len(a)
    length = np.where(np.arange(n_models) % 5 == 0, 600, 200)
    counts = [np.column_stack([rng.poisson(length[side]), rng.poisson(1, n), rng.poisson(4, n), rng.poisson(2, n)])
              for side in (a, b)]
    ratio = (counts[0][:, 0] - counts[1][:, 0]) / (counts[0][:, 0] + counts[1][:, 0])
    p = 1 / (1 + np.exp(strength[b] - strength[a] - PLANTED_LENGTH * ratio))
    tie = 0.2 * np.minimum(p, 1 - p)
    u = rng.random(n)
    outcome = np.where(u < p - tie / 2, 1.0, np.where(u < p + tie / 2, 0.5, 0.0))
    return counts[0], counts[1], outcome, ratio


def style_section(args, strength, a, b, names) -> None:
    counts_a, counts_b, outcome, ratio = synthetic_style(a, b, strength, args.models)
    timings = {}
    started = time.perf_counter()
    x, scale = style_features(counts_a, counts_b)
    timings["features"] = time.perf_counter() - started
    started = time.perf_counter()
    fit = style_controlled(names, a, b, outcome, x)
    timings["style"] = time.perf_counter() - started
    started = time.perf_counter()
    pairs = PairTable.from_arrays(names, a, b, outcome)
    plain = bradley_terry(pairs, rounds=args.rounds, seed=0)
    timings["plain"] = time.perf_counter() - started
    started = time.perf_counter()
    robust = sandwich_bradley_terry(pairs)
    timings["plain_sandwich"] = time.perf_counter() - started
    truth = 1000 + SCALE * (strength - strength.mean())
    verbose = np.arange(args.models) % 5 == 0
    inside = np.mean((fit.lower <= truth) & (truth <= fit.upper))
    print(f"\nstyle control on the same {args.votes:,} votes, planted length coefficient {PLANTED_LENGTH} "
          f"(every 5th checkpoint writes 3x longer replies):")
    print(f"  style features (a-b)/(a+b), scaled: {timings['features']:.2f} s")
    print(f"  style-controlled fit + sandwich intervals: {timings['style']:.2f} s "
          f"(goal < {STYLE_GOAL_S:.0f} s: {'met' if timings['style'] < STYLE_GOAL_S else 'NOT met'})")
    print(f"  plain fit + {args.rounds} bootstrap rounds (same votes): {timings['plain']:.2f} s; "
          f"plain fit + sandwich intervals: {timings['plain_sandwich']:.2f} s")
    print(f"  ratio style-controlled (sandwich) / plain (bootstrap): {timings['style'] / timings['plain']:.2f}")
    print(f"  length coefficient: {fit.beta[0] / scale[0]:.3f} per unit ratio (planted {PLANTED_LENGTH}), "
          f"{fit.coef_lower[0] / scale[0]:.3f}..{fit.coef_upper[0] / scale[0]:.3f}")
    print(f"  verbose checkpoints, mean rating minus truth: raw {np.mean((plain.rating - truth)[verbose]):+.1f}, "
          f"style-controlled {np.mean((fit.rating - truth)[verbose]):+.1f}")
    print(f"  corr(style rating, truth) = {np.corrcoef(fit.rating, truth)[0, 1]:.5f}; truth inside the 95% "
          f"sandwich interval for {inside:.0%} of checkpoints; mean interval width: style "
          f"{np.mean(fit.upper - fit.lower):.1f}, plain sandwich {np.mean(robust.upper - robust.lower):.1f}, "
          f"plain bootstrap {np.mean(plain.upper - plain.lower):.1f}")
    if args.style_rounds:
        started = time.perf_counter()
        style_controlled(names, a, b, outcome, x, rounds=args.style_rounds)
        per_round = (time.perf_counter() - started - timings["style"]) / args.style_rounds
        print(f"  style bootstrap: {per_round:.2f} s per round (measured on {args.style_rounds}), "
              f"{per_round * 1000:.0f} s extrapolated to 1000 rounds: why sandwich is the default")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--sklearn-fits", type=int, default=3, help="sklearn fits to time (then extrapolate)")
    parser.add_argument("--db", action="store_true", help="also time the SQLite aggregation")
    parser.add_argument("--style-rounds", type=int, default=5, help="style bootstrap rounds to time (0: skip)")
    args = parser.parse_args()

    strength, a, b, outcome = synthetic_votes(args.votes, args.models)
    names = [f"ckpt-{i:02d}" for i in range(args.models)]
    started = time.perf_counter()
    pairs = PairTable.from_arrays(names, a, b, outcome)
    collapsed = time.perf_counter() - started
    started = time.perf_counter()
    board = bradley_terry(pairs, rounds=args.rounds, seed=0)
    fitted = time.perf_counter() - started
    total = collapsed + fitted
    truth = 1000 + 400 / np.log(10) * (strength - strength.mean())
    inside = np.mean((board.lower <= truth) & (truth <= board.upper))
    print(f"{args.votes:,} votes, {args.models} checkpoints -> {len(pairs.count):,} unique (A, B, outcome) rows")
    print(f"collapse votes to pair counts: {collapsed:.2f} s")
    print(f"fit + {args.rounds} bootstrap rounds: {fitted:.2f} s")
    print(f"total: {total:.2f} s (goal < {GOAL_S:.0f} s: {'met' if total < GOAL_S else 'NOT met'})")
    print(f"check: corr(rating, truth) = {np.corrcoef(board.rating, truth)[0, 1]:.5f}, "
          f"truth inside the 95% interval for {inside:.0%} of checkpoints")

    if args.sklearn_fits:
        per_fit = sklearn_seconds_per_fit(a, b, outcome, args.models, args.sklearn_fits)
        extrapolated = per_fit * (args.rounds + 1)
        print(f"scikit-learn LogisticRegression (lbfgs, sparse ±1 design, vote level): {per_fit:.2f} s per fit, "
              f"measured on {args.sklearn_fits} resamples, extrapolated to {args.rounds + 1} fits: "
              f"{extrapolated:.0f} s")
        print(f"ratio (sklearn per round / ours): {extrapolated / total:.0f}x faster")

    style_section(args, strength, a, b, names)

    if args.db:
        written, loaded, battles_s = sqlite_aggregation_seconds(a, b, outcome, names)
        print(f"SQLite: bulk-wrote {args.votes:,} one-turn battles (2 replies each) in {written:.1f} s; "
              f"load_pairs (SQL join + group by) took {loaded:.2f} s; load_battles (vote level, reply "
              f"texts, style counts) took {battles_s:.2f} s")


if __name__ == "__main__":
    main()
