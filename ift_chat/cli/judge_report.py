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


def print_pair_votes(votes: dict, console: Console | None = None) -> None:
    """Position-consistent pairwise verdicts vs the human majority vote on the same turns."""
    console = console or Console()
    if not votes["n"]:
        console.print(f"pairwise vs people's votes: no arena turn has both a consistent verdict and a "
                      f"majority vote yet ({votes['human_splits']} where the votes split)", highlight=False)
        return
    table = Table(title=f"pairwise: judge winner (rows) vs people's majority vote (columns), n={votes['n']}")
    labels = list(votes["confusion"])
    table.add_column("judge")
    for h in labels:
        table.add_column(h, justify="right")
    for j in labels:
        table.add_row(j, *(str(votes["confusion"][j][h]) for h in labels))
    console.print(table)
    console.print(f"pairwise vs votes: kappa {fmt(votes['kappa'], votes['kappa_ci'])}; the judge's winner is "
                  f"people's majority on {fmt(votes['matches_majority'])} of turns "
                  f"({votes['human_splits']} turns with split votes left out)", highlight=False)


def print_conversations(rows: list[dict], console: Console | None = None, limit: int = 50) -> None:
    """MT-Bench-101 style per conversation: the minimum over turns shows the first break."""
    console = console or Console()
    if not rows:
        return
    table = Table(title="per conversation: judge score mean and minimum over turns (MT-Bench-101)")
    for column in ("conversation", "side", "checkpoint", "turns", "mean", "min over turns",
                   "first round not followed"):
        table.add_column(column)
    for r in sorted(rows, key=lambda r: (r["min"], r["mean"]))[:limit]:
        table.add_row(r["conversation_id"][:12], r["side"], r["checkpoint"], str(r["turns"]), f"{r['mean']:.2f}",
                      str(r["min"]), str(r["first_break_round"] or "-"))
    console.print(table)
    if len(rows) > limit:
        console.print(f"(lowest {limit} of {len(rows)} conversations; --json for all)")
