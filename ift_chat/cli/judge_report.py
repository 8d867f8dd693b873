"""Printing an agreement gate (rich tables) for ``judge agreement``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..store.models import FOLLOWED


def fmt(value, ci=None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def stat_rows(stats: dict) -> list[list[str]]:
    return [[str(key), str(s.n), fmt(s.kappa, s.kappa_ci), fmt(s.alpha, s.alpha_ci)] for key, s in stats.items()]


def print_gate(gate, pairs: dict, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]{gate.rater}[/bold]: {gate.label}", markup=True, highlight=False)
    console.print(f"{gate.overall.n} replies rated by people and this judge "
                  f"({gate.human_ties} more where people split evenly, left out)")
    confusion = Table(title="judge (rows) vs human majority (columns)")
    confusion.add_column("judge")
    for h in FOLLOWED:
        confusion.add_column(h, justify="right")
    for j in FOLLOWED:
        confusion.add_row(j, *(str(gate.confusion[j][h]) for h in FOLLOWED))
    console.print(confusion)
    for title, stats in (("overall", {"all": gate.overall}), ("per round", gate.per_round),
                         ("per error tag (tagged or not)", gate.per_tag)):
        table = Table(title=f"{title}: Cohen's kappa / Krippendorff's alpha, 95% bootstrap intervals")
        for column in ("", "n", "kappa", "alpha"):
            table.add_column(column)
        for row in stat_rows(stats):
            table.add_row(*row)
        console.print(table)
    if gate.self_preference:
        sp = gate.self_preference
        console.print(f"self-preference (judge minus people, yes=1 partial=0.5 no=0): own checkpoint "
                      f"{fmt(sp['own']['judge_minus_human'])} (n={sp['own']['n']}), others "
                      f"{fmt(sp['others']['judge_minus_human'])} (n={sp['others']['n']}), bias {fmt(sp['bias'])}")
    if pairs["pairs"]:
        console.print(f"pairwise: {pairs['pairs']} turns, {pairs['inconsistent']} of {pairs['both_orders_parsed']} "
                      f"changed verdict when A and B swapped (rate {fmt(pairs['inconsistency_rate'])}); "
                      f"{pairs['kept']} kept {pairs['winners']}")
