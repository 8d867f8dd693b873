"""Plotly figures for the leaderboard tab and the CLI report."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from .bradley_terry import SCALE, Leaderboard


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


def _interval_trace(x, y, lower, upper, name: str, **kwargs) -> go.Scatter:
    """Markers at x with an asymmetric horizontal interval [lower, upper]."""
    x, lower, upper = (pd.Series(v, dtype=float).reset_index(drop=True) for v in (x, lower, upper))
    return go.Scatter(x=x, y=list(y), mode="markers", name=name,
                      error_x={"type": "data", "symmetric": False, "array": upper - x, "arrayminus": x - lower},
                      hovertemplate="%{y}: %{x:.0f}<extra>" + name + "</extra>", **kwargs)


def dumbbell_figure(table: pd.DataFrame, first: str, second: str, labels: tuple[str, str], title: str,
                    empty: str) -> go.Figure:
    """Two ratings per checkpoint (e.g. raw vs style-controlled) with their intervals, one row each;
    columns rating_/lower_/upper_ + first / second suffixes."""
    if table.empty:
        return _empty(title, empty)
    fig = go.Figure()
    y = list(table["checkpoint"])
    for suffix, label, symbol in ((first, labels[0], "circle"), (second, labels[1], "diamond")):
        rows = table[table[f"rating_{suffix}"].notna()]
        fig.add_trace(_interval_trace(rows[f"rating_{suffix}"], rows["checkpoint"], rows[f"lower_{suffix}"],
                                      rows[f"upper_{suffix}"], label, marker={"symbol": symbol, "size": 10}))
    fig.update_layout(title=title, xaxis_title="rating (400·log10 odds)", showlegend=True,
                      yaxis={"autorange": "reversed", "categoryorder": "array", "categoryarray": y},
                      height=max(300, 60 + 32 * len(y)))
    return fig


def style_coefficients_figure(coefficients: pd.DataFrame) -> go.Figure:
    title = "Style coefficients: rating points a one-sd style advantage is worth by itself"
    if coefficients.empty:
        return _empty(title, "no votes yet")
    c = coefficients
    fig = go.Figure(go.Bar(
        x=c["feature"], y=c["coefficient"] * SCALE,
        error_y={"type": "data", "symmetric": False, "array": (c["upper"] - c["coefficient"]) * SCALE,
                 "arrayminus": (c["coefficient"] - c["lower"]) * SCALE}))
    fig.update_layout(title=title, yaxis_title="rating points per sd")
    return fig


def rating_by_round_figure(table: pd.DataFrame) -> go.Figure:
    title = "Rating by round: Bradley–Terry on each round's votes (sandwich interval)"
    if table.empty:
        return _empty(title, "no votes yet")
    fig = go.Figure()
    for checkpoint, rows in table.groupby("checkpoint", sort=True):
        fig.add_trace(go.Scatter(
            x=rows["round_label"], y=rows["rating"], mode="lines+markers", name=str(checkpoint),
            error_y={"type": "data", "symmetric": False, "array": rows["upper"] - rows["rating"],
                     "arrayminus": rows["rating"] - rows["lower"]},
            customdata=rows[["votes", "rank"]],
            hovertemplate="round %{x}: %{y:.0f} (rank %{customdata[1]}, %{customdata[0]} votes)"))
    order = table.sort_values("round")["round_label"].unique().tolist()
    fig.update_layout(title=title, xaxis={"title": "round (turn in the dialog)", "categoryorder": "array",
                                          "categoryarray": order, "type": "category"},
                      yaxis_title="rating", showlegend=True)
    return fig


def categories_figure(table: pd.DataFrame) -> go.Figure:
    title = "Leaderboards by category: rating (rank), sandwich intervals"
    if table.empty:
        return _empty(title, "no votes yet")
    label = table["category"] + ": " + table["value"]
    columns = list(dict.fromkeys(label))
    rating = table.assign(label=label).pivot_table(index="checkpoint", columns="label", values="rating")
    rank = table.assign(label=label).pivot_table(index="checkpoint", columns="label", values="rank")
    rows = [c for c in table[table["category"] == "all"].sort_values("rank")["checkpoint"]]
    rows += [c for c in rating.index if c not in rows]
    rating, rank = rating.reindex(index=rows, columns=columns), rank.reindex(index=rows, columns=columns)
    text = [["" if pd.isna(v) else f"{v:.0f} (#{int(r)})" for v, r in zip(vr, rr)]
            for vr, rr in zip(rating.to_numpy(), rank.to_numpy())]
    fig = go.Figure(go.Heatmap(z=rating.to_numpy(), x=columns, y=rows, text=text, texttemplate="%{text}",
                               colorscale="Viridis", hoverongaps=False, colorbar={"title": "rating"}))
    fig.update_layout(title=title, yaxis={"autorange": "reversed"}, height=max(350, 80 + 40 * len(rows)))
    return fig


def _share_lines(fig: go.Figure, table: pd.DataFrame, value: str, lower: str, upper: str, name: str,
                 dash: str = "solid") -> None:
    for checkpoint, rows in table.groupby("checkpoint", sort=True):
        fig.add_trace(go.Scatter(
            x=rows["round"], y=rows[value], mode="lines+markers", name=f"{checkpoint} {name}".strip(),
            line={"dash": dash},
            error_y={"type": "data", "symmetric": False, "array": rows[upper] - rows[value],
                     "arrayminus": rows[value] - rows[lower]},
            hovertemplate="round %{x}: %{y:.0%}<extra>" + f"{checkpoint} {name}" + "</extra>"))


def pif_figure(table: pd.DataFrame) -> go.Figure:
    title = "Automatic checks: PIF (share of active constraints followed) by round"
    if table.empty:
        return _empty(title, "no checked replies yet")
    fig = go.Figure()
    _share_lines(fig, table, "pif", "pif_lower", "pif_upper", "PIF")
    _share_lines(fig, table, "prompt_strict", "prompt_strict_lower", "prompt_strict_upper",
                 "all followed (strict)", dash="dot")
    fig.update_layout(title=title, xaxis_title="round (turn in the dialog)", xaxis_dtick=1,
                      yaxis_title="share", yaxis_range=[-0.05, 1.05], showlegend=True)
    return fig


def auto_vs_human_figure(table: pd.DataFrame) -> go.Figure:
    title = "Instruction following by round: automatic checks (solid) vs human ratings (dashed)"
    if table.empty:
        return _empty(title, "no checked or rated replies yet")
    fig = go.Figure()
    for source, dash in (("automatic", "solid"), ("human", "dash")):
        _share_lines(fig, table[table["source"] == source], "followed", "lower", "upper", source, dash)
    fig.update_layout(title=title, xaxis_title="round (turn in the dialog)", xaxis_dtick=1,
                      yaxis_title="share of replies following", yaxis_range=[-0.05, 1.05], showlegend=True)
    return fig


def agreement_figure(table: pd.DataFrame) -> go.Figure:
    title = "Automatic verdict vs human 'followed' rating: Cohen's kappa per constraint kind"
    if table.empty:
        return _empty(title, "no reply has both a check and a human rating yet")
    fig = go.Figure(go.Bar(x=table["kind"], y=table["kappa"].fillna(0),
                           text=[f"κ={k:.2f}<br>{a:.0%} agree, n={n}" if pd.notna(k) else f"n={n}, κ undefined"
                                 for k, a, n in zip(table["kappa"], table["agreement"], table["replies"])],
                           textposition="outside"))
    fig.update_layout(title=title, yaxis_title="Cohen's kappa", yaxis_range=[-1, 1.2])
    return fig


def view_figures(views) -> dict[str, go.Figure]:
    """Plots of the style, per-round, category and automatic-check views, keyed by file stem."""
    k = views.from_round
    return {
        "rounds_leaderboard": dumbbell_figure(
            views.rounds_side_by_side.rename(columns=lambda c: c.replace(f"_from_{k}", "_later")),
            "all", "later", ("all rounds", f"rounds {k}+"),
            f"Who still wins in round {k}+: all-rounds rating vs votes on round {k} or later", "no votes yet"),
        "rating_by_round": rating_by_round_figure(views.by_round_ratings),
        "auto_vs_human": auto_vs_human_figure(views.auto_vs_human),
        "style": dumbbell_figure(views.style_table, "raw", "style", ("raw", "style-controlled"),
                                 "Raw vs style-controlled rating (sandwich intervals)", "no votes yet"),
        "style_coefficients": style_coefficients_figure(views.style_coefficients),
        "categories": categories_figure(views.categories),
        "pif": pif_figure(views.pif_by_round),
        "check_agreement": agreement_figure(views.agreement)}


def rating_figures(report) -> dict[str, go.Figure]:
    """All plots of a leaderboard Report, keyed by file stem."""
    figures = {"ratings": ratings_figure(report.board),
               "rounds": rounds_figure(report.rounds),
               "win_rate": win_rate_figure(report.win_rate, report.vote_counts),
               "tags": tags_figure(report.tags)}
    return {**figures, **(view_figures(report.views) if report.views is not None else {})}
