"""Everything the Leaderboard tab and ``leaderboard`` CLI show, computed once, written as files."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import pandas as pd
import plotly.graph_objects as go

from ..crowd.quality import excluded_raters
from ..dataloop.outdir import ExportDir
from ..errors import StorageError
from ..store.db import Transactor, now
from .bradley_terry import Leaderboard, bradley_terry
from .following import RatingFilters, by_round, by_tag, load_ratings
from .pairs import pair_table, win_rate_matrix
from .plots import rating_figures
from .votes import VoteFilters, load_pairs


@dataclass(frozen=True)
class ReportOptions:
    votes: VoteFilters = field(default_factory=VoteFilters)
    ratings: RatingFilters = field(default_factory=RatingFilters)
    rounds: int = 1000
    seed: int = 0
    ci: float = 0.95
    anchor_value: float = 1000.0
    anchor_model: str | None = None
    # Leave out raters whose gold accuracy is below this (after min_gold gold items).
    min_gold_accuracy: float | None = None
    min_gold: int = 5


@dataclass(frozen=True)
class Report:
    options: ReportOptions
    board: Leaderboard | None  # None when no vote passes the filters
    ratings: pd.DataFrame  # leaderboard rows
    pairs: pd.DataFrame  # one row per pair of checkpoints
    win_rate: pd.DataFrame
    vote_counts: pd.DataFrame
    rounds: pd.DataFrame  # instruction following by round
    tags: pd.DataFrame
    tags_by_round: pd.DataFrame
    excluded_raters: tuple[int, ...]
    created: str

    def figures(self) -> dict[str, go.Figure]:
        return rating_figures(self)

    def summary(self) -> dict:
        return {"created": self.created, "votes": self.board.n_votes if self.board else 0,
                "checkpoints": len(self.ratings), "bootstrap_rounds": self.options.rounds,
                "ci": self.options.ci, "anchor_value": self.options.anchor_value,
                "anchor_model": self.options.anchor_model,
                "vote_filters": self.options.votes.to_dict(),
                "rating_aggregate": self.options.ratings.aggregate,
                "excluded_raters": list(self.excluded_raters),
                "rated_responses_by_round": int(self.rounds["responses"].sum()) if len(self.rounds) else 0,
                "comparison_groups": self.board.n_groups if self.board else 0}

    def warnings(self) -> list[str]:
        """What a reader must know before trusting the ranking."""
        if self.board is None or self.board.n_groups < 2:
            return []
        groups = {}
        for name, label in zip(self.board.models, self.board.groups):
            groups.setdefault(int(label), []).append(name)
        listed = "; ".join(", ".join(names) for names in groups.values())
        return [f"the checkpoints form {len(groups)} groups never compared with each other ({listed}): "
                "ratings are comparable only within a group; battle across groups to link them"]


def _with_quality(options: ReportOptions, store: Transactor) -> tuple[VoteFilters, RatingFilters, frozenset]:
    dropped = set(options.votes.exclude_raters) | set(options.ratings.exclude_raters)
    if options.min_gold_accuracy is not None:
        dropped |= excluded_raters(store, options.min_gold_accuracy, options.min_gold)
    dropped = frozenset(dropped)
    votes = replace(options.votes, exclude_raters=dropped)
    ratings = replace(options.ratings, exclude_raters=dropped, ci=options.ci)
    return votes, ratings, dropped


def build_report(store: Transactor, options: ReportOptions = ReportOptions(),
                 on_progress: Callable[[int], None] | None = None) -> Report:
    """Fit the leaderboard and tabulate instruction following under ``options``."""
    vote_filters, rating_filters, dropped = _with_quality(options, store)
    pairs = load_pairs(store, vote_filters)
    board = None
    if pairs.n_votes:
        board = bradley_terry(pairs, rounds=options.rounds, seed=options.seed, ci=options.ci,
                              anchor_value=options.anchor_value, anchor_model=options.anchor_model,
                              on_progress=on_progress)
    rate, games = win_rate_matrix(pairs)
    if board is not None:  # best first, as in the leaderboard
        order = [row["checkpoint"] for row in board.rows()]
        rate, games = rate.loc[order, order], games.loc[order, order]
    ratings = load_ratings(store, rating_filters)
    return Report(
        options=options, board=board,
        ratings=pd.DataFrame(board.rows() if board else [],
                             columns=["rank", "checkpoint", "rating", "lower", "upper", "votes"]),
        pairs=pair_table(pairs, board) if board else pd.DataFrame(),
        win_rate=rate, vote_counts=games,
        rounds=by_round(ratings, rating_filters.aggregate, options.ci),
        tags=by_tag(ratings, options.ci), tags_by_round=by_tag(ratings, options.ci, per_round=True),
        excluded_raters=tuple(sorted(dropped)), created=now())


def write_png(figures: dict[str, go.Figure], folder: Path) -> str | None:
    """PNG copies through kaleido, which drives a headless Chromium/Chrome it finds on PATH
    (or BROWSER_PATH); None when written, else why not."""
    try:
        import kaleido  # noqa: F401  (plotly's image export backend)
        import plotly.io as pio

        names = list(figures)
        # One call renders every figure in one browser session (a launch costs seconds).
        pio.write_images([figures[n] for n in names], [folder / f"{n}.png" for n in names],
                         width=1100, height=[max(500, figures[n].layout.height or 0) for n in names])
    except Exception as exc:  # kaleido/Chromium failures must not lose the HTML and tables
        return f"PNG export failed: {type(exc).__name__}: {exc}"
    return None


def index_html(report: Report, figures: dict[str, go.Figure]) -> str:
    """One page with the summary, the leaderboard table and every plot (plotly.min.js beside it)."""
    s = report.summary()
    plots = "\n".join(fig.to_html(full_html=False, include_plotlyjs=False) for fig in figures.values())
    table = report.ratings.to_html(index=False, border=0) if len(report.ratings) else "<p>No votes yet.</p>"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>ift-chat leaderboard</title>"
            f"<script src='plotly.min.js'></script></head><body style='font-family:sans-serif'>"
            f"<h1>ift-chat leaderboard</h1><p>{s['votes']:,} votes, {s['checkpoints']} checkpoints, "
            f"{s['bootstrap_rounds']} bootstrap rounds, made {html.escape(s['created'])}.</p>"
            f"{table}{plots}</body></html>")


def _write_files(report: Report, folder: ExportDir, png: bool) -> dict:
    tables = {"ratings": report.ratings, "pairs": report.pairs, "rounds": report.rounds,
              "tags": report.tags, "tags_by_round": report.tags_by_round}
    for name, table in tables.items():
        table.to_csv(folder.path(f"{name}.csv"), index=False)
        table.to_json(folder.path(f"{name}.json"), orient="records", indent=1)
    report.win_rate.to_csv(folder.path("win_rate.csv"))
    report.vote_counts.to_csv(folder.path("vote_counts.csv"))
    figures = report.figures()
    for name, fig in figures.items():
        fig.write_html(folder.path(f"{name}.html"), include_plotlyjs="directory")
    folder.path("index.html").write_text(index_html(report, figures))
    png_problem = write_png(figures, folder.tmp) if png else "skipped (--no-png)"
    summary = {**report.summary(), "warnings": report.warnings(), "png": png_problem or "written"}
    folder.path("report.json").write_text(json.dumps(summary, indent=1))
    return summary


def write_report(report: Report, out: Path, *, force: bool = False, png: bool = True) -> dict:
    """Tables as CSV + JSON, plots as HTML (+ PNG) and index.html; the folder appears only when complete."""
    with ExportDir(out, force=force) as folder:
        try:
            summary = _write_files(report, folder, png)
        except OSError as exc:
            raise StorageError(f"cannot write the report: {exc.strerror or exc}") from exc
        path = folder.commit()
    return {**summary, "path": str(path)}
