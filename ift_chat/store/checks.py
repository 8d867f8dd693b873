"""Stored automatic verdicts: one row per (reply, constraint active for its turn)."""

from __future__ import annotations

from typing import Iterable, Sequence

from .db import Transactor, now

COLUMNS = ("response_id", "kind", "params", "source_turn_idx", "persistent", "passed",
           "passed_loose", "detail", "version", "created")
_INSERT = f"insert into response_checks ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})"


def _rows(response_id: int, verdicts, version: str, created: str) -> list[tuple]:
    # The same constraint can be active twice (restated persistently): keep one row.
    rows = {}
    for v in verdicts:
        c = v.constraint
        key = (c.kind, c.params_json, c.source_turn)
        rows.setdefault(key, (response_id, c.kind, c.params_json, c.source_turn, int(c.persistent),
                              int(v.passed), int(v.passed_loose), v.detail, version, created))
    return list(rows.values())


class Checks:
    def __init__(self, tx: Transactor):
        self.tx = tx

    def record(self, response_id: int, verdicts: Sequence, version: str) -> None:
        """Replace the reply's verdicts in one transaction (rows of other versions go too,
        so a reply only ever has the verdicts of one checker version)."""
        self.record_many([(response_id, verdicts)], version)

    def record_many(self, items: Iterable[tuple[int, Sequence]], version: str) -> int:
        """Many replies' verdicts in one transaction (checks run); returns rows written."""
        created, ids, rows = now(), [], []
        for response_id, verdicts in items:
            ids.append(response_id)
            rows.extend(_rows(response_id, verdicts, version, created))
        with self.tx.write() as db:
            db.conn.executemany("delete from response_checks where response_id = ?", [(i,) for i in ids])
            db.conn.executemany(_INSERT, rows)
        return len(rows)

    def for_response(self, response_id: int) -> list[dict]:
        return self.tx.query(
            "select * from response_checks where response_id = ? order by source_turn_idx, id",
            [response_id])

    def for_responses(self, ids: Iterable[int]) -> dict[int, list[dict]]:
        ids = list(dict.fromkeys(ids))
        found: dict[int, list[dict]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            for row in self.tx.query(
                    f"select * from response_checks where response_id in ({', '.join('?' * len(chunk))})"
                    " order by response_id, source_turn_idx, id", chunk):
                found[row["response_id"]].append(row)
        return found

    # -- what `checks run` and the recording hook read ---------------------------------
    def reply_context(self, response_id: int) -> dict | None:
        """The reply's text and status, and the user texts of its conversation up to its
        turn (superseded turns left out), or None when there is no such reply."""
        rows = self.tx.query(
            """select r.id, r.text, r.status, t.conversation_id, t.idx, t.user_text
               from responses r join turns t on t.id = r.turn_id where r.id = ?""", [response_id])
        if not rows:
            return None
        row = rows[0]
        texts = [r["user_text"] for r in self.tx.query(
            """select user_text from turns where conversation_id = ? and superseded = 0 and idx < ?
               order by idx, id""", [row["conversation_id"], row["idx"]])]
        return {**row, "user_texts": [*texts, row["user_text"]]}

    def conversations_to_check(self, *, conversation_id: str | None = None,
                               eval_set: str | None = None) -> list[str]:
        """Ids of the conversations `checks run` covers: one, one eval set's replays, or all."""
        if conversation_id is not None:
            return [r["id"] for r in self.tx.query("select id from conversations where id = ?",
                                                   [conversation_id])]
        if eval_set is not None:
            return [r["id"] for r in self.tx.query(
                """select c.id from conversations c join eval_items i on i.id = c.eval_item_id
                   join eval_sets s on s.id = i.eval_set_id where s.name = ? order by c.created, c.id""",
                [eval_set])]
        return [r["id"] for r in self.tx.query("select id from conversations order by created, id")]

    def final_replies(self, conversation_ids: Sequence[str], version: str) -> list[dict]:
        """Every final (ok/stopped) reply of these conversations with its turn's position,
        and each conversation's user texts: rows of {conversation_id, idx, user_text,
        response_id, text, checked (has rows of `version`), has_rows}. Superseded turns are left out of the history;
        replies to them are still checked against their own history. One query per 500."""
        out: list[dict] = []
        for start in range(0, len(conversation_ids), 500):
            chunk = list(conversation_ids[start:start + 500])
            marks = ", ".join("?" * len(chunk))
            out.extend(self.tx.query(
                f"""select t.conversation_id, t.id turn_id, t.idx, t.superseded turn_superseded,
                           t.user_text, r.id response_id, r.text, r.status,
                           exists(select 1 from response_checks k
                                  where k.response_id = r.id and k.version = ?) checked,
                           exists(select 1 from response_checks k where k.response_id = r.id) has_rows
                    from turns t left join responses r
                         on r.turn_id = t.id and r.status in ('ok', 'stopped')
                    where t.conversation_id in ({marks})
                    order by t.conversation_id, t.idx, t.id, r.id""", [version, *chunk]))
        return out
