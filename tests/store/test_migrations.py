from ift_chat.store.db import open_database
from ift_chat.store.migrations import migrations

EXPECTED = {
    "raters": {"id": int, "name": str, "role": str, "password_hash": str, "disabled": int, "created": str,
               "kind": str},
    "checkpoints": {"name": str, "source": str, "backend": str, "architecture": str,
                    "fingerprint": str, "base": str, "first_seen": str, "model": str,
                    "display_name": str},
    "images": {"sha256": str, "path": str, "mime": str, "width": int, "height": int,
               "bytes": int, "created": str},
    "conversations": {"id": str, "mode": str, "rater_id": int, "created": str, "system_prompt": str,
                      "sampling_params": str, "eval_item_id": int, "history_mode": str, "title": str,
                      "revealed": str},
    "conversation_sides": {"conversation_id": str, "side": str, "checkpoint": str},
    "turns": {"id": int, "conversation_id": str, "idx": int, "user_text": str, "superseded": int,
              "created": str},
    "turn_images": {"turn_id": int, "position": int, "image_sha256": str},
    "responses": {"id": int, "turn_id": int, "side": str, "checkpoint": str, "text": str,
                  "status": str, "error": str, "finish_reason": str, "ttft_ms": float,
                  "latency_ms": float, "tokens_in": int, "tokens_out": int, "sampling_params": str,
                  "superseded": int, "identity_leak": int, "created": str, "completed": str},
    "votes": {"id": int, "turn_id": int, "rater_id": int, "winner": str, "anonymous": int,
              "reason": str, "created": str, "updated": str},
    "ratings": {"id": int, "response_id": int, "rater_id": int, "followed": str, "score": int,
                "tags": str, "comment": str, "corrected_text": str, "seconds_spent": float,
                "created": str, "updated": str},
    "eval_sets": {"id": int, "name": str, "source": str, "description": str, "created": str},
    "eval_items": {"id": int, "eval_set_id": int, "idx": int, "external_id": str, "rounds": str,
                   "created": str, "system_prompt": str},
    "exports": {"id": int, "kind": str, "format": str, "path": str, "filters": str, "row_count": int,
                "sha256": str, "rater_id": int, "created": str},
    "response_checks": {"id": int, "response_id": int, "kind": str, "params": str,
                        "source_turn_idx": int, "persistent": int, "passed": int, "passed_loose": int,
                        "detail": str, "version": str, "created": str},
    "judge_raters": {"rater_id": int, "judge_name": str, "rubric_hash": str, "checkpoint": str, "model": str,
                     "url": str, "multimodal": int, "created": str},
    "judge_verdicts": {"id": int, "response_id": int, "rater_id": int, "history_policy": str, "status": str,
                       "parse": str, "followed": str, "score": int, "tags": str, "reason": str,
                       "raw_output": str, "error": str, "images_sent": int, "images_hidden": int,
                       "latency_ms": float, "created": str},
    "judge_pairs": {"id": int, "turn_id": int, "rater_id": int, "history_policy": str, "status": str,
                    "winner_ab": str, "winner_ba": str, "winner": str, "consistent": int, "raw_ab": str,
                    "raw_ba": str, "error": str, "created": str},
}


def test_migrations_from_empty_db_give_the_schema(tmp_path):
    db = open_database(tmp_path / "x.db")
    for table, columns in EXPECTED.items():
        assert db[table].columns_dict == columns, table
    assert not migrations.pending(db)


def test_migrations_are_idempotent_and_recorded(tmp_path):
    path = tmp_path / "x.db"
    open_database(path).close()
    db = open_database(path)
    names = [m.name for m in migrations.applied(db)]
    assert names == [m.name for m in migrations._migrations]
    assert len(names) == len(set(names))


def test_pragmas(tmp_path):
    db = open_database(tmp_path / "x.db")
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert db.execute("pragma foreign_keys").fetchone()[0] == 1
    assert db.execute("pragma synchronous").fetchone()[0] == 2  # FULL


def test_foreign_keys_enforced(tmp_path):
    import sqlite3

    import pytest

    db = open_database(tmp_path / "x.db")
    with pytest.raises(sqlite3.IntegrityError):
        db["turns"].insert({"conversation_id": "nope", "idx": 1, "user_text": "x", "created": "t"})


def test_battles_from_before_the_reveal_count_as_revealed_at_their_first_vote(tmp_path):
    """The old battle page showed the names after the first vote: the migration dates the
    reveal there, so that vote counts and the later ones (cast knowing the names) do not."""
    from ift_chat.leaderboard.votes import vote_counts
    from ift_chat.store.db import Transactor

    db = open_database(tmp_path / "x.db")
    db["conversations"].transform(drop={"revealed"})  # the schema before the migration
    db["_sqlite_migrations"].delete_where("name = ?", ["battle_add_revealed"])
    db["raters"].insert({"id": 1, "name": "ann", "role": "rater", "created": "2026-01-01"})
    for name in ("ck-a", "ck-b"):
        db["checkpoints"].insert({"name": name, "first_seen": "2026-01-01"})
    for conv, mode in (("old", "arena-anonymous"), ("unvoted", "arena-anonymous"), ("named", "arena-named")):
        db["conversations"].insert({"id": conv, "mode": mode, "rater_id": 1, "created": "2026-01-01"})
        db["conversation_sides"].insert_all([{"conversation_id": conv, "side": "A", "checkpoint": "ck-a"},
                                             {"conversation_id": conv, "side": "B", "checkpoint": "ck-b"}])
    for turn, (conv, idx, winner, at) in enumerate([("old", 1, "A", "2026-01-02"), ("old", 2, "B", "2026-01-03"),
                                                   ("named", 1, "B", "2026-01-02")], start=1):
        db["turns"].insert({"id": turn, "conversation_id": conv, "idx": idx, "user_text": "x",
                            "superseded": 0, "created": at})
        db["votes"].insert({"turn_id": turn, "rater_id": 1, "winner": winner, "anonymous": int(conv == "old"),
                            "created": at})
    migrations.apply(db)
    revealed = {r["id"]: r["revealed"] for r in db.query("select id, revealed from conversations")}
    assert revealed == {"old": "2026-01-02", "unvoted": None, "named": None}
    assert [(r["a"], r["b"], r["winner"], r["n"]) for r in vote_counts(Transactor(db))] == [("ck-a", "ck-b", "A", 1)]
