"""Plotly figures for the leaderboard tab and the CLI report."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from .bradley_terry import Leaderboard


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, xaxis_visible=False, yaxis_visible=False,
                      annotations=[{"text": message, "showarrow": False, "font": {"size": 14}}])
    return fig


def ratings_figure(board: Leaderboard | None) -> go.Figure:
    title = "Bradley–Terry rating with bootstrap interval"
    if board is None:
        return _empty(title, "no votes yet")
    rows = board.rows()
    names = [f"#{r['rank']} {r['checkpoint']}" for r in rows]
    fig = go.Figure(go.Scatter(
        x=[r["rating"] for r in rows], y=names, mode="markers",
        error_x={"type": "data", "symmetric": False,
                 "array": [r["upper"] - r["rating"] for r in rows],
                 "arrayminus": [r["rating"] - r["lower"] for r in rows]},
        customdata=[[r["lower"], r["upper"], r["votes"]] for r in rows],
        hovertemplate="%{y}: %{x:.0f} [%{customdata[0]:.0f}, %{customdata[1]:.0f}], "
                      "%{customdata[2]} votes<extra></extra>"))
    fig.update_layout(title=f"{title} ({board.ci:.0%}, {board.n_votes:,} votes)",
                      xaxis_title="rating (400·log10 odds)", yaxis={"autorange": "reversed"},
                      height=max(300, 40 + 28 * len(rows)))
    return fig


def rounds_figure(table: pd.DataFrame) -> go.Figure:
    title = "Instruction following by round"
    if table.empty:
        return _empty(title, "no ratings yet")
    fig = go.Figure()
    for checkpoint, rows in table.groupby("checkpoint", sort=True):
        fig.add_trace(go.Scatter(
            x=rows["round"], y=rows["followed"], mode="lines+markers", name=str(checkpoint),
            error_y={"type": "data", "symmetric": False,
                     "array": rows["upper"] - rows["followed"],
                     "arrayminus": rows["followed"] - rows["lower"]},
            customdata=rows[["responses"]],
            hovertemplate="round %{x}: %{y:.0%} followed (%{customdata[0]} responses)"))
    fig.update_layout(title=title, xaxis_title="round (turn in the dialog)", xaxis_dtick=1, showlegend=True,
                      yaxis_title="share followed (partial = ½)", yaxis_range=[-0.05, 1.05])
    return fig


def win_rate_figure(rate: pd.DataFrame, games: pd.DataFrame) -> go.Figure:
    title = "Win rate of row against column (ties count half)"
    if rate.empty:
        return _empty(title, "no votes yet")
    text = [[("" if g == 0 else f"{r:.0%}<br>n={g}") for r, g in zip(rr, gg)]
            for rr, gg in zip(rate.to_numpy(), games.to_numpy())]
    fig = go.Figure(go.Heatmap(
        z=rate.to_numpy(), x=list(rate.columns), y=list(rate.index), zmin=0, zmax=1,
        colorscale="RdBu", text=text, texttemplate="%{text}", hoverongaps=False))
    fig.update_layout(title=title, yaxis={"autorange": "reversed"},
                      height=max(350, 60 + 40 * len(rate)))
    return fig


def tags_figure(table: pd.DataFrame) -> go.Figure:
    title = "Error tags: share of rated responses"
    if table.empty:
        return _empty(title, "no ratings yet")
    fig = go.Figure()
    for checkpoint, rows in table.groupby("checkpoint", sort=True):
        fig.add_trace(go.Bar(x=rows["tag"], y=rows["rate"], name=str(checkpoint),
                             error_y={"type": "data", "symmetric": False,
                                      "array": rows["upper"] - rows["rate"],
                                      "arrayminus": rows["rate"] - rows["lower"]}))
    fig.update_layout(title=title, barmode="group", yaxis_title="share of responses", showlegend=True,
                      yaxis_range=[0, 1])
    return fig


def rating_figures(report) -> dict[str, go.Figure]:
    """All plots of a leaderboard Report, keyed by file stem."""
    return {"ratings": ratings_figure(report.board),
            "rounds": rounds_figure(report.rounds),
            "win_rate": win_rate_figure(report.win_rate, report.vote_counts),
            "tags": tags_figure(report.tags)}
