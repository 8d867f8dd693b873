"""Where every exported row came from: row ids, the ``provenance.jsonl`` sidecar, ``export explain``.

A row id is ``x<export id>-<source>``, with source one of ``sft-<conversation>-<side>``,
``eval-<conversation>-<side>``, ``vote-<turn id>``, ``check-<turn id>`` (a pair the automatic
checks decided), ``correction-<response id>``,
``response-<response id>`` or ``item-<eval item id>``. Every export also writes
``provenance.jsonl``: line N describes row N of the main file (conversation, turn,
response, rating, vote and automatic-check ids), so even formats without a place for metadata
(OpenAI's) can be traced; formats that have one carry the same dict in the row.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import NotFound, ValidationError
from ..store.db import Transactor

ROW_ID_RE = re.compile(r"^x(\d+)-(sft|eval|vote|check|correction|response|item)-(.+)$")
SIDECAR = "provenance.jsonl"


def row_id(export_id: int, source_id: str) -> str:
    return f"x{export_id}-{source_id}"


class ProvenanceWriter:
    """One JSON line per written row, in row order."""

    def __init__(self, path: Path, export_id: int):
        self.f = open(path, "w", encoding="utf-8")
        self.export_id = export_id
        self.count = 0

    def add(self, rid: str, prov: dict) -> dict:
        """Record a row; returns the in-row metadata (the export id added)."""
        meta = {"export": self.export_id, "row_id": rid, **prov}
        self.f.write(json.dumps({"row": self.count, **meta}, ensure_ascii=False) + "\n")
        self.count += 1
        return meta

    def close(self) -> None:
        self.f.close()


def find_in_sidecar(export_dir: Path, rid: str) -> dict | None:
    path = Path(export_dir) / SIDECAR
    if not path.is_file():
        return None
    needle = json.dumps(rid)
    with open(path, encoding="utf-8") as f:
        for line in f:  # streaming: sidecars of large exports are not loaded whole
            if needle in line:
                entry = json.loads(line)
                if entry.get("row_id") == rid:
                    return entry
    return None


def _ids(values) -> list[int]:
    return [int(v) for v in values or [] if v is not None]


def explain(store: Transactor, rid: str) -> dict:
    """The export, conversation, turns, responses, ratings and votes behind one row id."""
    m = ROW_ID_RE.match(rid.strip())
    if not m:
        raise ValidationError(f"{rid!r} is not an export row id (like x12-vote-345 or x12-sft-<conv>-A)")
    export_id = int(m.group(1))
    rows = store.query("select * from exports where id = ?", [export_id])
    if not rows:
        raise NotFound(f"no export {export_id} (row {rid})")
    export = rows[0]
    entry = find_in_sidecar(Path(export["path"]), rid)
    if entry is None:
        raise NotFound(f"row {rid} is not in export {export_id} ({export['path']}/{SIDECAR})")
    marks = lambda ids: ",".join("?" * len(ids))  # noqa: E731
    turns, responses = _ids(entry.get("turns")), _ids(entry.get("responses"))
    ratings, votes = _ids(entry.get("ratings")), _ids(entry.get("votes"))
    checks = _ids(entry.get("checks"))
    out = {"row_id": rid, "row": entry.get("row"), "export": export, "provenance": entry,
           "checks_filter": _checks_filter(export), "conversation": None, "turns": [], "responses": [],
           "ratings": [], "votes": [], "checks": [], "eval_item": None}
    if entry.get("conversation"):
        conv = store.query("select id, mode, created, system_prompt, history_mode, eval_item_id, title "
                           "from conversations where id = ?", [entry["conversation"]])
        out["conversation"] = conv[0] if conv else {"id": entry["conversation"], "missing": True}
        out["sides"] = {r["side"]: r["checkpoint"] for r in store.query(
            "select side, checkpoint from conversation_sides where conversation_id = ?", [entry["conversation"]])}
    if turns:
        out["turns"] = store.query(f"select id, idx, user_text, created from turns where id in ({marks(turns)}) "
                                   "order by idx", turns)
    if responses:
        out["responses"] = store.query(
            f"select id, turn_id, side, checkpoint, status, text from responses where id in ({marks(responses)})",
            responses)
    if ratings:
        out["ratings"] = store.query(
            f"""select ra.id, ra.response_id, r.name rater, ra.followed, ra.score, ra.corrected_text
                from ratings ra join raters r on r.id = ra.rater_id where ra.id in ({marks(ratings)})""", ratings)
    if votes:
        out["votes"] = store.query(
            f"""select v.id, v.turn_id, r.name rater, v.winner, v.anonymous from votes v
                join raters r on r.id = v.rater_id where v.id in ({marks(votes)})""", votes)
    if checks:  # rows replaced by a later `checks run` are gone: listed as missing
        found = {c["id"]: c for c in store.query(
            f"""select id, response_id, kind, params, source_turn_idx, persistent, passed, passed_loose, detail,
                       version from response_checks where id in ({marks(checks)})""", checks)}
        out["checks"] = [found.get(i, {"id": i, "missing": True}) for i in checks]
    if entry.get("eval_item"):
        item = store.query("select id, eval_set_id, idx, external_id from eval_items where id = ?",
                           [entry["eval_item"]])
        out["eval_item"] = item[0] if item else None
    return out


def _checks_filter(export: dict) -> dict | None:
    """How the export used the automatic checks (None: it did not)."""
    try:
        filters = json.loads(export.get("filters") or "{}")
    except ValueError:
        return None
    mode = filters.get("checks", "off")
    return None if mode == "off" else {"checks": mode, "checks_only": bool(filters.get("checks_only"))}


def _short(text: str | None, n: int = 70) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[:n - 1] + "…"


def explanation_text(e: dict) -> str:
    x = e["export"]
    lines = [f"row {e['row_id']}: row {e['row']} of export {x['id']} ({x['format']}, {x['created'][:19]}) "
             f"in {x['path']}"]
    c = e.get("conversation")
    if c:
        sides = ", ".join(f"{s}={k}" for s, k in (e.get("sides") or {}).items())
        lines.append(f"conversation {c['id']} ({c.get('mode')}, {str(c.get('created'))[:19]}; {sides}; "
                     f"history {c.get('history_mode') or 'own'})"
                     + (f"; system prompt: {_short(c.get('system_prompt'))!r}" if c.get("system_prompt") else ""))
    if e["provenance"].get("side"):
        lines.append(f"side {e['provenance']['side']}")
    for t in e["turns"]:
        lines.append(f"  turn {t['id']} (round {t['idx']}): {_short(t['user_text'])!r}")
    kind = ROW_ID_RE.match(e["row_id"]).group(2)
    order = e["provenance"].get("responses") or []
    roles = {"vote": ["chosen", "rejected"], "check": ["chosen", "rejected"], "correction": ["rejected; its correction is chosen"]}.get(kind, [])
    role_of = dict(zip(order, roles))
    for r in sorted(e["responses"], key=lambda r: order.index(r["id"]) if r["id"] in order else 0):
        role = f" [{role_of[r['id']]}]" if r["id"] in role_of else ""
        lines.append(f"  response {r['id']}{role} (turn {r['turn_id']}, side {r['side']}, {r['checkpoint']}, "
                     f"{r['status']}): {_short(r['text'])!r}")
    for r in e["ratings"]:
        fix = f", correction {_short(r['corrected_text'], 40)!r}" if r["corrected_text"] else ""
        lines.append(f"  rating {r['id']} of response {r['response_id']} by {r['rater']}: followed={r['followed']}"
                     f" score={r['score']}{fix}")
    for v in e["votes"]:
        lines.append(f"  vote {v['id']} on turn {v['turn_id']} by {v['rater']}: {v['winner']}"
                     + (" (anonymous)" if v["anonymous"] else ""))
    if e.get("checks_filter"):
        f = e["checks_filter"]
        lines.append(f"selected with the automatic checks ({f['checks']}"
                     + (", alone: no ratings or votes needed)" if f["checks_only"] else ", besides the ratings)"))
    for c in e.get("checks") or []:
        if c.get("missing"):
            lines.append(f"  check {c['id']}: no longer stored (re-checked since the export)")
            continue
        verdict = "passed" if c["passed"] else ("passed loose only" if c["passed_loose"] else "failed")
        lines.append(f"  check {c['id']} of response {c['response_id']}: {c['kind']} {c['params']} "
                     f"(from round {c['source_turn_idx']}{', persistent' if c['persistent'] else ''}) "
                     f"{verdict}: {_short(c['detail'], 60)!r} [checker {c['version']}]")
    if e.get("eval_item"):
        i = e["eval_item"]
        lines.append(f"eval item {i['id']} (set {i['eval_set_id']}, #{i['idx']}, id {i['external_id']})")
    return "\n".join(lines)
