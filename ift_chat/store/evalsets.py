"""Evaluation sets: multi-round dialogs (user turns + images + optional references)."""

from __future__ import annotations

import json

from ..errors import NotFound, ValidationError
from .db import Transactor, check_name, now
from .models import EvalItem, EvalSet


def check_rounds(rounds: list) -> list[dict]:
    """Each round: {"text": str, "images": [sha256...], "reference": str|None}."""
    if not isinstance(rounds, list) or not rounds:
        raise ValidationError("an evaluation item needs at least one round")
    clean = []
    for i, r in enumerate(rounds, 1):
        if not isinstance(r, dict) or not isinstance(r.get("text", ""), str):
            raise ValidationError(f"round {i} must be an object with a 'text' string")
        images = r.get("images") or []
        if not all(isinstance(s, str) and len(s) == 64 for s in images):
            raise ValidationError(f"round {i}: images must be stored image sha256 hashes")
        if not r.get("text", "").strip() and not images:
            raise ValidationError(f"round {i} has neither text nor images")
        clean.append({"text": r.get("text", ""), "images": list(images), "reference": r.get("reference")})
    return clean


class EvalSets:
    def __init__(self, tx: Transactor):
        self.tx = tx

    def create(self, name: str, source: str | None = None, description: str | None = None) -> EvalSet:
        name = check_name(name, "evaluation set name")
        with self.tx.write() as db:
            if db["eval_sets"].count_where("name = ?", [name]):
                raise ValidationError(f"an evaluation set named {name!r} already exists")
            db["eval_sets"].insert({"name": name, "source": source, "description": description,
                                    "created": now()})
        return self.by_name(name)

    def by_name(self, name: str) -> EvalSet:
        rows = self.tx.query("select * from eval_sets where name = ?", [name])
        if not rows:
            raise NotFound(f"no evaluation set named {name!r}")
        return EvalSet.from_row(rows[0])

    def all(self) -> list[EvalSet]:
        return [EvalSet.from_row(r) for r in self.tx.query("select * from eval_sets order by id")]

    def add_items(self, eval_set_id: int, items: list[tuple]) -> int:
        """items: (external_id, rounds) or (external_id, rounds, system_prompt). All or nothing."""
        checked = [(ext, check_rounds(rounds), (rest[0] if rest else None) or None) for ext, rounds, *rest in items]
        with self.tx.write() as db:
            start = db.execute("select coalesce(max(idx), 0) from eval_items where eval_set_id = ?",
                               [eval_set_id]).fetchone()[0]
            missing = {s for _, rounds, _ in checked for r in rounds for s in r["images"]
                       if not db["images"].count_where("sha256 = ?", [s])}
            if missing:
                raise ValidationError(f"{len(missing)} image(s) referenced by the items are not stored")
            db["eval_items"].insert_all(
                {"eval_set_id": eval_set_id, "idx": start + n, "external_id": ext,
                 "rounds": json.dumps(rounds), "created": now(), "system_prompt": system}
                for n, (ext, rounds, system) in enumerate(checked, 1))
        return len(checked)

    def summary(self) -> list[dict]:
        """name, source and item count ``n`` of every set, oldest first."""
        return self.tx.query("""select s.name, s.source, count(i.id) n from eval_sets s
                                left join eval_items i on i.eval_set_id = s.id group by s.id order by s.id""")

    def items(self, eval_set_id: int) -> list[EvalItem]:
        return [EvalItem.from_row(r) for r in self.tx.query(
            "select * from eval_items where eval_set_id = ? order by idx", [eval_set_id])]

    def item(self, item_id: int) -> EvalItem:
        rows = self.tx.query("select * from eval_items where id = ?", [item_id])
        if not rows:
            raise NotFound(f"no evaluation item {item_id}")
        return EvalItem.from_row(rows[0])
