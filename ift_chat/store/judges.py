"""Judge raters, their per-reply verdicts and pairwise verdicts (see ift_chat/judge).

A judge is a ``raters`` row of kind 'judge' named ``judge:<name>@<rubric hash>``; its verdicts
are in ``judge_verdicts`` / ``judge_pairs``, never in ``ratings``, so the leaderboard, exports
and crowd agreement (which read ``ratings``) stay human-only unless a caller asks for a judge.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from ..errors import NotFound, ValidationError
from .db import Transactor, now

SCOPES = ("task_set", "eval_set", "checkpoint", "unrated", "all")
# Replies a judge may grade: final, current, and not in a battle that is still blind.
_ELIGIBLE = """r.status in ('ok', 'stopped') and r.superseded = 0 and t.superseded = 0
  and (c.mode != 'arena-anonymous' or c.revealed is not null)"""
_SCOPE_SQL = {
    "task_set": """r.id in (select i.response_id from task_items i join task_sets s
                            on s.id = i.task_set_id where s.name = :target)""",
    "eval_set": """c.eval_item_id in (select i.id from eval_items i join eval_sets s
                                      on s.id = i.eval_set_id where s.name = :target)""",
    "checkpoint": "r.checkpoint = :target",
    "unrated": "not exists (select 1 from ratings g where g.response_id = r.id)",
    "all": "1 = 1",
}
VERDICT_COLUMNS = ("status", "parse", "followed", "score", "tags", "reason", "raw_output", "error",
                   "images_sent", "images_hidden", "latency_ms")
PAIR_COLUMNS = ("status", "winner_ab", "winner_ba", "winner", "consistent", "raw_ab", "raw_ba", "error")


def _scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ValidationError(f"the scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    return _SCOPE_SQL[scope]


class Judges:
    def __init__(self, tx: Transactor, images_root: Path):
        self.tx = tx
        self.images_root = Path(images_root)

    # -- judge raters ---------------------------------------------------------------------
    def ensure_rater(self, rater_name: str, *, judge_name: str, rubric_hash: str,
                     checkpoint: str | None, model: str | None, url: str | None,
                     multimodal: bool) -> int:
        """The rater id of ``judge:<name>@<hash>``, created (kind judge, disabled) on first use."""
        with self.tx.write() as db:
            row = db.execute("select id, kind from raters where name = ?", [rater_name]).fetchone()
            if row is not None and row[1] != "judge":
                raise ValidationError(f"a human rater is already named {rater_name!r}")
            if row is None:
                stamp = now()
                rater_id = db["raters"].insert({"name": rater_name, "role": "rater", "kind": "judge",
                                                "disabled": 1, "created": stamp}).last_pk
                db["judge_raters"].insert({"rater_id": rater_id, "judge_name": judge_name,
                                           "rubric_hash": rubric_hash, "checkpoint": checkpoint,
                                           "model": model, "url": url, "multimodal": int(multimodal),
                                           "created": stamp})
                return rater_id
            return row[0]

    def raters(self) -> list[dict]:
        return self.tx.query("""select r.id as rater_id, r.name, j.judge_name, j.rubric_hash, j.checkpoint,
                                       j.model, j.url, j.multimodal, j.created
                                from judge_raters j join raters r on r.id = j.rater_id order by r.name""")

    def rater(self, rater_name: str) -> dict:
        rows = [r for r in self.raters() if r["name"] == rater_name]
        if not rows:
            raise NotFound(f"no judge rater named {rater_name!r}")
        return rows[0]

    # -- what a job grades ----------------------------------------------------------------
    def single_targets(self, scope: str, target: str | None, rater_id: int, policy: str) -> list[dict]:
        """Eligible replies in the scope with this judge's stored status (None: not judged)."""
        return self.tx.query(f"""
            select r.id as response_id, r.turn_id, r.side, r.checkpoint, r.text, t.idx,
                   t.conversation_id, c.eval_item_id, c.system_prompt,
                   (select v.status from judge_verdicts v where v.response_id = r.id
                      and v.rater_id = :rater and v.history_policy = :policy) as judged
            from responses r join turns t on t.id = r.turn_id
            join conversations c on c.id = t.conversation_id
            where {_ELIGIBLE} and {_scope(scope)}
            order by t.conversation_id, t.idx, r.side, r.id""",
            {"target": target, "rater": rater_id, "policy": policy})

    def pair_targets(self, scope: str, target: str | None, rater_id: int, policy: str) -> list[dict]:
        """Arena turns with a final reply on both sides (side A's reply must be in the scope)."""
        return self.tx.query(f"""
            select t.id as turn_id, t.idx, t.conversation_id, c.eval_item_id, c.system_prompt,
                   r.id as a_id, r.text as a_text, r.checkpoint as a_checkpoint,
                   b.id as b_id, b.text as b_text, b.checkpoint as b_checkpoint,
                   (select p.status from judge_pairs p where p.turn_id = t.id
                      and p.rater_id = :rater and p.history_policy = :policy) as judged
            from responses r join turns t on t.id = r.turn_id
            join conversations c on c.id = t.conversation_id
            join responses b on b.turn_id = t.id and b.side = 'B' and b.superseded = 0
                 and b.status in ('ok', 'stopped')
            where r.side = 'A' and c.mode like 'arena-%' and {_ELIGIBLE} and {_scope(scope)}
            order by t.conversation_id, t.idx""",
            {"target": target, "rater": rater_id, "policy": policy})

    def history(self, conversation_id: str, idx: int, side: str) -> list[dict]:
        """Earlier live turns of a conversation, each with its image paths and this side's
        current final reply (None when it has none)."""
        turns = self.tx.query(
            """select t.id, t.idx, t.user_text,
                      (select r.text from responses r where r.turn_id = t.id and r.side = ?
                         and r.superseded = 0 and r.status in ('ok', 'stopped')
                       order by r.id desc limit 1) as reply
               from turns t where t.conversation_id = ? and t.superseded = 0 and t.idx <= ?
               order by t.idx, t.id""", [side, conversation_id, idx])
        paths = self.image_paths([t["id"] for t in turns])
        return [{**t, "images": paths.get(t["id"], [])} for t in turns]

    def image_paths(self, turn_ids: Iterable[int]) -> dict[int, list[str]]:
        ids = list(turn_ids)
        out: dict[int, list[str]] = {}
        if not ids:
            return out
        for row in self.tx.query(
                f"""select ti.turn_id, i.path from turn_images ti join images i on i.sha256 = ti.image_sha256
                    where ti.turn_id in ({', '.join('?' * len(ids))}) order by ti.turn_id, ti.position""", ids):
            out.setdefault(row["turn_id"], []).append(str(self.images_root / row["path"]))
        return out

    def eval_rounds(self, eval_item_id: int | None) -> list[dict] | None:
        if eval_item_id is None:
            return None
        rows = self.tx.query("select rounds from eval_items where id = ?", [eval_item_id])
        return json.loads(rows[0]["rounds"]) if rows else None

    # -- writing verdicts -----------------------------------------------------------------
    def record_verdicts(self, items: list[tuple[int, int, str, dict]]) -> None:
        """(response id, rater id, policy, values) rows in one transaction; an existing row of
        the same key (``--force``, or an error being retried) is replaced."""
        stamp = now()
        rows = [{"response_id": rid, "rater_id": rater, "history_policy": policy, "created": stamp,
                 **{k: values.get(k) for k in VERDICT_COLUMNS},
                 "tags": json.dumps(list(values.get("tags") or []))} for rid, rater, policy, values in items]
        with self.tx.write() as db:
            db.conn.executemany("delete from judge_verdicts where response_id = ? and rater_id = ? "
                                "and history_policy = ?", [(r["response_id"], r["rater_id"], r["history_policy"])
                                                           for r in rows])
            db["judge_verdicts"].insert_all(rows)

    def record_verdict(self, response_id: int, rater_id: int, policy: str, values: dict) -> None:
        self.record_verdicts([(response_id, rater_id, policy, values)])

    def record_pairs(self, items: list[tuple[int, int, str, dict]]) -> None:
        stamp = now()
        rows = [{"turn_id": tid, "rater_id": rater, "history_policy": policy, "created": stamp,
                 **{k: values.get(k) for k in PAIR_COLUMNS}} for tid, rater, policy, values in items]
        with self.tx.write() as db:
            db.conn.executemany("delete from judge_pairs where turn_id = ? and rater_id = ? and history_policy = ?",
                                [(r["turn_id"], r["rater_id"], r["history_policy"]) for r in rows])
            db["judge_pairs"].insert_all(rows)

    # -- reading verdicts -----------------------------------------------------------------
    def verdicts(self, rater_id: int) -> list[dict]:
        return self.tx.query(
            """select v.*, r.checkpoint, r.side, t.idx as round, t.conversation_id
               from judge_verdicts v join responses r on r.id = v.response_id
               join turns t on t.id = r.turn_id
               where v.rater_id = ? order by t.conversation_id, r.side, t.idx""", [rater_id])

    def verdicts_with_humans(self, rater_id: int, policy: str = "own") -> list[dict]:
        """Parsed verdicts of this judge on replies that people rated, with the human ratings
        (JSON lists) beside them: what the agreement gate compares."""
        return self.tx.query(
            """select v.response_id, v.followed as judge_followed, v.tags as judge_tags,
                      r.checkpoint, t.idx as round,
                      json_group_array(g.followed) as human_followed,
                      json_group_array(json(g.tags)) as human_tags
               from judge_verdicts v join responses r on r.id = v.response_id
               join turns t on t.id = r.turn_id
               join ratings g on g.response_id = v.response_id
               join raters h on h.id = g.rater_id and h.kind = 'human'
               where v.rater_id = ? and v.history_policy = ? and v.status = 'ok'
               group by v.id order by v.response_id""", [rater_id, policy])

    def as_ratings(self, rater_id: int, policy: str = "own") -> list[dict]:
        """A judge's parsed verdicts in the leaderboard's rating columns (response_id, checkpoint,
        round, rater_id, followed, tags), for a caller that opted in to this judge."""
        return self.tx.query(f"""
            select r.id as response_id, r.checkpoint, t.idx as round, v.rater_id, v.followed, v.tags
            from judge_verdicts v join responses r on r.id = v.response_id
            join turns t on t.id = r.turn_id join conversations c on c.id = t.conversation_id
            where v.rater_id = ? and v.history_policy = ? and v.status = 'ok' and {_ELIGIBLE}
            order by r.id""", [rater_id, policy])

    def pairs(self, rater_id: int) -> list[dict]:
        return self.tx.query("select * from judge_pairs where rater_id = ? order by turn_id", [rater_id])

    def counts(self, rater_id: int) -> dict[str, int]:
        rows = self.tx.query("select status, count(*) n from judge_verdicts where rater_id = ? "
                             "group by status", [rater_id])
        return {r["status"]: r["n"] for r in rows}

    # -- opt-in readers (exports, reply badges, pairwise vs votes) -------------------------
    def for_responses(self, rater_id: int, response_ids: Iterable[int], policy: str = "own") -> dict[int, dict]:
        """This judge's parsed verdicts on these replies, by response id (an export that opted in)."""
        ids = list(response_ids)
        if not ids:
            return {}
        rows = self.tx.query(
            f"""select id, response_id, followed, score, tags, reason from judge_verdicts
                where rater_id = ? and history_policy = ? and status = 'ok'
                  and response_id in ({', '.join('?' * len(ids))})""", [rater_id, policy, *ids])
        return {r["response_id"]: r for r in rows}

    def verdicts_of_responses(self, response_ids: Iterable[int], policy: str = "own") -> list[dict]:
        """Every judge's verdict (any status) on these replies, with the judge's rater name."""
        ids = list(response_ids)
        if not ids:
            return []
        return self.tx.query(
            f"""select v.response_id, v.rater_id, r.name as rater, j.judge_name, v.status, v.followed,
                       v.score, v.tags, v.reason
                from judge_verdicts v join raters r on r.id = v.rater_id
                join judge_raters j on j.rater_id = v.rater_id
                where v.history_policy = ? and v.response_id in ({', '.join('?' * len(ids))})
                order by r.name""", [policy, *ids])

    def pairs_with_votes(self, rater_id: int, policy: str = "own") -> list[dict]:
        """Position-consistent pairwise verdicts of this judge on turns people voted on, with the
        people's winners (JSON list of A / B / tie / both_bad)."""
        return self.tx.query(
            """select p.turn_id, p.winner as judge_winner, json_group_array(v.winner) as human_winners
               from judge_pairs p join votes v on v.turn_id = p.turn_id
               join raters h on h.id = v.rater_id and h.kind = 'human'
               where p.rater_id = ? and p.history_policy = ? and p.consistent = 1 and p.winner is not null
               group by p.id order by p.turn_id""", [rater_id, policy])
