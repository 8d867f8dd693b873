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
from ..errors import StorageError, ValidationError
from ..store.db import Transactor, now
from .bradley_terry import Leaderboard, bradley_terry
from .following import RatingFilters, by_round, by_tag, load_ratings
from .pairs import pair_table, win_rate_matrix
from .plots import rating_figures
from .views import Views, build_views
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
    from_round: int = 3  # the per-round leaderboard ranks votes on round >= this
    style_rounds: int = 0  # bootstrap rounds for the style-controlled fit (0: sandwich intervals)

    def __post_init__(self):
        if self.from_round < 1:
            raise ValidationError(f"rounds count from 1; 'from round' cannot be {self.from_round}")
        if self.style_rounds < 0:
            raise ValidationError(f"style-control bootstrap rounds cannot be negative ({self.style_rounds})")


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
    views: Views | None = None  # style control, categories, per-round board, automatic checks

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
                "comparison_groups": self.board.n_groups if self.board else 0,
                **(self.views_summary() if self.views else {})}

    def views_summary(self) -> dict:
        v = self.views
        return {"from_round": v.from_round, "votes_from_round": v.later.n_votes if v.later else 0,
                "style_interval": v.style.interval if v.style else None,
                "style_coefficients": v.style_coefficients.to_dict(orient="records"),
                "checked_replies": int(v.pif_overall["replies"].sum()) if len(v.pif_overall) else 0}

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
    views = build_views(store, vote_filters, rating_filters, ratings, board, from_round=options.from_round,
                        rounds=options.rounds, style_rounds=options.style_rounds, seed=options.seed,
                        ci=options.ci, anchor_value=options.anchor_value, anchor_model=options.anchor_model)
    return Report(
        options=options, board=board,
        ratings=_with_sandwich(board, views),
        pairs=pair_table(pairs, board) if board else pd.DataFrame(),
        win_rate=rate, vote_counts=games,
        rounds=by_round(ratings, rating_filters.aggregate, options.ci),
        tags=by_tag(ratings, options.ci), tags_by_round=by_tag(ratings, options.ci, per_round=True),
        excluded_raters=tuple(sorted(dropped)), created=now(), views=views)


RATING_COLUMNS = ["rank", "checkpoint", "rating", "lower", "upper", "votes", "sandwich_lower", "sandwich_upper"]


def _with_sandwich(board: Leaderboard | None, views: Views) -> pd.DataFrame:
    """The bootstrap leaderboard rows with the sandwich interval of the same fit beside them."""
    if board is None:
        return pd.DataFrame(columns=RATING_COLUMNS)
    robust = {r["checkpoint"]: r for r in views.sandwich.rows()} if views.sandwich else {}
    rows = [{**r, "sandwich_lower": robust.get(r["checkpoint"], {}).get("lower"),
             "sandwich_upper": robust.get(r["checkpoint"], {}).get("upper")} for r in board.rows()]
    return pd.DataFrame(rows, columns=RATING_COLUMNS)


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


SECTIONS = (  # (heading, figure stems, view tables shown under them)
    ("Per-round leaderboard: who still wins and follows in later rounds",
     ("rounds_leaderboard", "rating_by_round", "auto_vs_human", "rounds"), ("rounds_side_by_side",)),
    ("Overall leaderboard", ("ratings", "win_rate"), ()),
    ("Style control", ("style", "style_coefficients"), ("style", "style_coefficients")),
    ("Categories", ("categories",), ("category_counts",)),
    ("Automatic instruction checks", ("pif", "check_agreement"), ("pif", "pif_n_k", "check_agreement")),
    ("Error tags", ("tags",), ()),
)


def _table_html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, border=0, float_format=lambda v: f"{v:.3f}") if len(table) else "<p>none yet</p>"


def index_html(report: Report, figures: dict[str, go.Figure]) -> str:
    """One page with the summary, the leaderboard tables and every plot (plotly.min.js beside it),
    the per-round view first."""
    s = report.summary()
    tables = report.views.tables() if report.views else {}
    body, shown = [], set()
    for heading, stems, table_names in SECTIONS:
        parts = [figures[n].to_html(full_html=False, include_plotlyjs=False) for n in stems if n in figures]
        parts += [f"<h3>{html.escape(n)}</h3>{_table_html(tables[n])}" for n in table_names if n in tables]
        shown |= set(stems)
        if heading == "Overall leaderboard":
            parts.insert(0, _table_html(report.ratings) if len(report.ratings) else "<p>No votes yet.</p>")
        body.append(f"<h2>{html.escape(heading)}</h2>" + "\n".join(parts))
    body += [fig.to_html(full_html=False, include_plotlyjs=False) for n, fig in figures.items() if n not in shown]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>ift-chat leaderboard</title>"
            f"<script src='plotly.min.js'></script></head><body style='font-family:sans-serif'>"
            f"<h1>ift-chat leaderboard</h1><p>{s['votes']:,} votes, {s['checkpoints']} checkpoints, "
            f"{s['bootstrap_rounds']} bootstrap rounds, made {html.escape(s['created'])}.</p>"
            + "\n".join(body) + "</body></html>")


def _write_files(report: Report, folder: ExportDir, png: bool) -> dict:
    tables = {"ratings": report.ratings, "pairs": report.pairs, "rounds": report.rounds,
              "tags": report.tags, "tags_by_round": report.tags_by_round,
              **(report.views.tables() if report.views else {})}
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
