"""Schema, as small named migrations. Only ever append; never edit one that shipped."""

from sqlite_utils.migrations import Migrations

migrations = Migrations("ift_chat")


@migrations()
def create_raters_and_checkpoints(db):
    db["raters"].create(
        {"id": int, "name": str, "role": str, "password_hash": str,
         "disabled": int, "created": str},
        pk="id", not_null={"name", "role", "created"}, defaults={"disabled": 0},
    )
    db["raters"].create_index(["name"], unique=True)
    db["checkpoints"].create(
        {"name": str, "source": str, "backend": str, "architecture": str,
         "fingerprint": str, "base": str, "first_seen": str},
        pk="name", not_null={"first_seen"},
    )


@migrations()
def create_images(db):
    db["images"].create(
        {"sha256": str, "path": str, "mime": str, "width": int, "height": int,
         "bytes": int, "created": str},
        pk="sha256", not_null={"path", "mime", "width", "height", "bytes"},
    )


@migrations()
def create_eval_sets(db):
    db["eval_sets"].create(
        {"id": int, "name": str, "source": str, "description": str, "created": str},
        pk="id", not_null={"name", "created"},
    )
    db["eval_sets"].create_index(["name"], unique=True)
    # rounds: JSON list of {"text", "images": [sha256...], "reference"}
    db["eval_items"].create(
        {"id": int, "eval_set_id": int, "idx": int, "external_id": str,
         "rounds": str, "created": str},
        pk="id", foreign_keys=[("eval_set_id", "eval_sets", "id")],
        not_null={"eval_set_id", "idx", "rounds"},
    )
    db["eval_items"].create_index(["eval_set_id", "idx"], unique=True)


@migrations()
def create_conversations(db):
    db["conversations"].create(
        {"id": str, "mode": str, "rater_id": int, "created": str,
         "system_prompt": str, "sampling_params": str, "eval_item_id": int,
         "history_mode": str, "title": str},
        pk="id", not_null={"mode", "created"},
        foreign_keys=[("rater_id", "raters", "id"), ("eval_item_id", "eval_items", "id")],
    )
    db["conversations"].create_index(["created"])
    # Which checkpoint sits on which side; known before any response exists,
    # and kept server-side so anonymous arenas never ship it to the browser.
    db["conversation_sides"].create(
        {"conversation_id": str, "side": str, "checkpoint": str},
        pk=("conversation_id", "side"),
        foreign_keys=[("conversation_id", "conversations", "id"),
                      ("checkpoint", "checkpoints", "name")],
    )
    db["turns"].create(
        {"id": int, "conversation_id": str, "idx": int, "user_text": str,
         "superseded": int, "created": str},
        pk="id", foreign_keys=[("conversation_id", "conversations", "id")],
        not_null={"conversation_id", "idx", "user_text", "created"},
        defaults={"superseded": 0},
    )
    db["turns"].create_index(["conversation_id", "idx"])
    db["turn_images"].create(
        {"turn_id": int, "position": int, "image_sha256": str},
        pk=("turn_id", "position"),
        foreign_keys=[("turn_id", "turns", "id"), ("image_sha256", "images", "sha256")],
    )


@migrations()
def create_responses(db):
    db["responses"].create(
        {"id": int, "turn_id": int, "side": str, "checkpoint": str, "text": str,
         "status": str, "error": str, "finish_reason": str, "ttft_ms": float,
         "latency_ms": float, "tokens_in": int, "tokens_out": int,
         "sampling_params": str, "superseded": int, "identity_leak": int,
         "created": str, "completed": str},
        pk="id",
        foreign_keys=[("turn_id", "turns", "id"), ("checkpoint", "checkpoints", "name")],
        not_null={"turn_id", "side", "checkpoint", "status", "created"},
        defaults={"text": "", "superseded": 0, "identity_leak": 0},
    )
    db["responses"].create_index(["turn_id", "side"])
    db["responses"].create_index(["checkpoint"])


@migrations()
def create_votes_and_ratings(db):
    db["votes"].create(
        {"id": int, "turn_id": int, "rater_id": int, "winner": str,
         "anonymous": int, "reason": str, "created": str, "updated": str},
        pk="id", foreign_keys=[("turn_id", "turns", "id"), ("rater_id", "raters", "id")],
        not_null={"turn_id", "rater_id", "winner", "anonymous", "created"},
    )
    db["votes"].create_index(["turn_id", "rater_id"], unique=True)
    db["ratings"].create(
        {"id": int, "response_id": int, "rater_id": int, "followed": str,
         "score": int, "tags": str, "comment": str, "corrected_text": str,
         "seconds_spent": float, "created": str, "updated": str},
        pk="id",
        foreign_keys=[("response_id", "responses", "id"), ("rater_id", "raters", "id")],
        not_null={"response_id", "rater_id", "followed", "created"},
        defaults={"tags": "[]"},
    )
    db["ratings"].create_index(["response_id", "rater_id"], unique=True)


@migrations()
def create_exports(db):
    db["exports"].create(
        {"id": int, "kind": str, "format": str, "path": str, "filters": str,
         "row_count": int, "sha256": str, "rater_id": int, "created": str},
        pk="id", foreign_keys=[("rater_id", "raters", "id")],
        not_null={"kind", "format", "path", "row_count", "created"},
    )


@migrations()
def create_rating_tasks(db):
    db["task_sets"].create(
        {"id": int, "name": str, "k": int, "anonymous": int, "status": str,
         "filters": str, "lease_seconds": int, "created_by": int, "created": str,
         "closed": str},
        pk="id", foreign_keys=[("created_by", "raters", "id")],
        not_null={"name", "k", "status", "created"},
        defaults={"anonymous": 1, "status": "open", "lease_seconds": 900},
    )
    # gold_followed: the known answer for gold items (NULL for ordinary items)
    db["task_items"].create(
        {"id": int, "task_set_id": int, "response_id": int, "gold_followed": str},
        pk="id",
        foreign_keys=[("task_set_id", "task_sets", "id"), ("response_id", "responses", "id")],
        not_null={"task_set_id", "response_id"},
    )
    db["task_items"].create_index(["task_set_id", "response_id"], unique=True)
    db["task_leases"].create(
        {"task_item_id": int, "rater_id": int, "leased_at": str, "expires_at": str,
         "completed_at": str},
        pk=("task_item_id", "rater_id"),
        foreign_keys=[("task_item_id", "task_items", "id"), ("rater_id", "raters", "id")],
    )


@migrations()
def crowd_create_invites(db):
    # Only the token's sha256 is kept; the token itself is shown once to the admin.
    db["invites"].create(
        {"id": int, "token_sha256": str, "role": str, "max_uses": int, "uses": int,
         "created": str, "expires_at": str, "created_by": int},
        pk="id", foreign_keys=[("created_by", "raters", "id")],
        not_null={"token_sha256", "role", "max_uses", "uses", "created", "expires_at"},
        defaults={"uses": 0, "max_uses": 1},
    )
    db["invites"].create_index(["token_sha256"], unique=True)


@migrations()
def create_response_checks(db):
    # One row per (reply, active constraint): the automatic verdicts of ift_chat/checks.
    db["response_checks"].create(
        {"id": int, "response_id": int, "kind": str, "params": str, "source_turn_idx": int,
         "persistent": int, "passed": int, "passed_loose": int, "detail": str,
         "version": str, "created": str},
        pk="id", foreign_keys=[("response_id", "responses", "id")],
        not_null={"response_id", "kind", "params", "source_turn_idx", "persistent", "passed",
                  "passed_loose", "version", "created"},
    )
    db["response_checks"].create_index(
        ["response_id", "kind", "params", "source_turn_idx", "version"], unique=True)


@migrations()
def battle_add_revealed(db):
    # When the owner of an anonymous battle ended it and saw the names (NULL: still blind).
    # Its votes and ratings count only from then on; it accepts no more votes or turns.
    db["conversations"].add_column("revealed", str)
    # Before this, a battle showed its names after the first vote: that is when it was revealed
    # (later votes were cast knowing the names and do not count).
    db.execute("""update conversations set revealed = (
                      select min(v.created) from votes v join turns t on t.id = v.turn_id
                      where t.conversation_id = conversations.id)
                  where mode = 'arena-anonymous'""")


@migrations()
def checkpoints_add_served_identity(db):
    # What else names a checkpoint: the model id its server is asked for, its display name.
    # Battles redact these and flag replies that say them.
    db["checkpoints"].add_column("model", str)
    db["checkpoints"].add_column("display_name", str)


@migrations()
def eval_items_system_prompt(db):
    # An eval item's system prompt (imported or exported with the item); replays run with it.
    db["eval_items"].add_column("system_prompt", str)


@migrations()
def create_judge_verdicts(db):
    # Judges (ift_chat/judge) are raters of their own kind: a raters row named
    # "judge:<name>@<rubric hash>" with kind 'judge' (disabled: nobody logs in as one).
    # Their verdicts live in their own tables, so every human rating query stays human-only.
    db["raters"].add_column("kind", str, not_null_default="human")
    db["judge_raters"].create(
        {"rater_id": int, "judge_name": str, "rubric_hash": str, "checkpoint": str, "model": str,
         "url": str, "multimodal": int, "created": str},
        pk="rater_id", foreign_keys=[("rater_id", "raters", "id")],
        not_null={"judge_name", "rubric_hash", "multimodal", "created"})
    # followed NULL: unparsable (raw_output kept) or error (re-asked on the next run)
    db["judge_verdicts"].create(
        {"id": int, "response_id": int, "rater_id": int, "history_policy": str, "status": str,
         "parse": str, "followed": str, "score": int, "tags": str, "reason": str,
         "raw_output": str, "error": str, "images_sent": int, "images_hidden": int,
         "latency_ms": float, "created": str},
        pk="id", foreign_keys=[("response_id", "responses", "id"), ("rater_id", "raters", "id")],
        not_null={"response_id", "rater_id", "history_policy", "status", "created"},
        defaults={"tags": "[]", "images_sent": 0, "images_hidden": 0})
    db["judge_verdicts"].create_index(["response_id", "rater_id", "history_policy"], unique=True)
    # One arena turn judged in both orders; winner is kept only when both orders agree.
    db["judge_pairs"].create(
        {"id": int, "turn_id": int, "rater_id": int, "history_policy": str, "status": str,
         "winner_ab": str, "winner_ba": str, "winner": str, "consistent": int,
         "raw_ab": str, "raw_ba": str, "error": str, "created": str},
        pk="id", foreign_keys=[("turn_id", "turns", "id"), ("rater_id", "raters", "id")],
        not_null={"turn_id", "rater_id", "history_policy", "status", "created"})
    db["judge_pairs"].create_index(["turn_id", "rater_id", "history_policy"], unique=True)
