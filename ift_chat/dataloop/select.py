"""Choosing what to export: rated dialogs, which turns pass, filters, dedup, split.

The store is read a batch of conversations at a time, so a large export holds one
batch in memory (plus small dedup/split indexes) and other threads can write
between batches.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Iterator

from ..crowd.quality import excluded_raters
from ..crowd.tasks import Tasks
from ..errors import ValidationError
from ..store.dates import DateRange
from ..store.db import Transactor

BATCH_CONVERSATIONS = 200
SPLITS = ("default", "all", "train", "eval")
CHECK_MODES = ("off", "strict", "loose")  # which stored automatic verdict (response_checks) decides
# ``default``: eval sets come from the eval split, training formats from the train split,
# so the default eval set never overlaps the default training set.
SKIP_FAILED_CHECK = "replies the raters passed but an automatic check failed (--checks): SFT dialogs end " \
                    "before them, KTO leaves them out, vote pairs with such a chosen reply are dropped"
DEFAULT_SPLIT = {"sft": "train", "preference": "train", "unpaired": "train", "evalset": "eval"}
JUDGE_USES = ("label", "filter")  # --judge: label replies no person rated, or veto what people passed
SKIP_JUDGE_VETO = "replies the raters passed but the opted-in judge said were not fully followed (--judge-use filter)"
JUDGE_LABELLED = "replies no person rated, labelled by the opted-in judge (--judge-use label)"


@dataclass(frozen=True)
class Filters:
    """Everything that decides which rated turns become training data."""

    checkpoints: tuple[str, ...] = ()
    since: str | None = None  # a date (whole day) or date-time, UTC: store/dates.py
    until: str | None = None  # a date counts through that day; a date-time up to that instant
    task_set: str | None = None  # only responses that are items of this rating task set
    min_gold_accuracy: float | None = None  # drop ratings of raters below this on gold items
    min_gold_items: int = 5
    min_agreement: float | None = None  # share of raters agreeing with the majority label
    min_raters: int = 2
    min_score: float | None = None  # mean quality score (1-5) of the raters who gave one
    min_voters: int = 1  # arena votes needed on a turn to make a preference pair
    use_corrections: bool = True  # a rater-written reply replaces the model's
    include_identity_leak: bool = False
    dedup: bool = True
    split: str = "default"  # default | all | train | eval (by image: no image lands in both)
    eval_fraction: float = 0.1
    split_seed: int = 0
    checks: str = "off"  # off | strict | loose: a reply failing a stored automatic check does not pass
    checks_only: bool = False  # the automatic checks decide alone (no ratings or votes needed)
    judge: str | None = None  # opt-in: a judge rater (judge:NAME@HASH or NAME); default people only
    judge_use: str = "label"  # label | filter (see JUDGE_USES)
    allow_untrusted_judge: bool = False  # else a judge below the kappa threshold is refused

    def validate(self) -> "Filters":
        DateRange.parse(self.since, self.until)  # a bad or empty range: a clear error
        for name in ("min_gold_accuracy", "min_agreement", "eval_fraction"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ValidationError(f"{name} must be between 0 and 1, not {value!r}")
        if self.min_score is not None and not 1 <= self.min_score <= 5:
            raise ValidationError(f"min_score must be between 1 and 5, not {self.min_score!r}")
        if self.min_raters < 1 or self.min_voters < 1 or self.min_gold_items < 0:
            raise ValidationError("min_raters and min_voters must be at least 1")
        if self.split not in SPLITS:
            raise ValidationError(f"split must be one of {', '.join(SPLITS)}, not {self.split!r}")
        if self.checks not in CHECK_MODES:
            raise ValidationError(f"checks must be one of {', '.join(CHECK_MODES)}, not {self.checks!r}")
        if self.judge_use not in JUDGE_USES:
            raise ValidationError(f"judge_use must be one of {', '.join(JUDGE_USES)}, not {self.judge_use!r}")
        if self.checks_only and self.checks == "off":
            raise ValidationError("checks-only needs checks strict or loose (which verdict decides)")
        return self

    def for_kind(self, kind: str) -> "Filters":
        """``split="default"`` resolved for an export kind (train for training data, eval for eval sets)."""
        if self.split != "default":
            return self
        return replace(self, split=DEFAULT_SPLIT.get(kind, "train"))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["checkpoints"] = list(self.checkpoints)
        return d


@dataclass(frozen=True)
class Judgement:
    """What the (trusted) raters said about one response."""

    labels: tuple[str, ...] = ()
    scores: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    corrected: str | None = None  # the latest rater-written replacement, if any
    rating_ids: tuple[int, ...] = ()
    correction_id: int | None = None  # the rating that carries ``corrected``
    judge_followed: str | None = None  # the opted-in judge's verdict (None: no judge, or none stored)
    judge_verdict_id: int | None = None
    by_judge: bool = False  # no person rated it: labels are the judge's (--judge-use label)

    @property
    def n(self) -> int:
        return len(self.labels)

    @property
    def majority(self) -> str | None:
        """The label more than half the raters gave, else None."""
        if not self.labels:
            return None
        label, count = Counter(self.labels).most_common(1)[0]
        return label if count * 2 > self.n else None

    @property
    def agreement(self) -> float:
        return Counter(self.labels).most_common(1)[0][1] / self.n if self.labels else 0.0

    @property
    def mean_score(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None


@dataclass(frozen=True)
class RatedResponse:
    id: int
    side: str
    checkpoint: str
    text: str
    ok: bool  # finished normally
    identity_leak: bool
    in_task_set: bool
    judgement: Judgement
    status: str = "ok"  # ok | stopped | error | ...
    created: str = ""  # when it started: what earlier votes it could have been continued from
    checks: tuple[dict, ...] = ()  # stored automatic verdicts (loaded when Filters.checks is on)


@dataclass(frozen=True)
class RatedTurn:
    id: int
    idx: int
    text: str
    images: tuple[str, ...]
    responses: dict[str, RatedResponse]
    winners: tuple[str, ...]  # arena votes of trusted raters
    last_winner: str | None = None  # the latest vote of anyone: what "winner" history carried
    vote_ids: tuple[int, ...] = ()  # of the trusted votes in ``winners``
    created: str = ""
    vote_times: tuple[tuple[str, str], ...] = ()  # (when, winner) of every vote, oldest first

    def winner_at(self, when: str) -> str | None:
        """The latest vote cast by ``when``: what a winner-continued arena carried on with then."""
        cast = [w for at, w in self.vote_times if at <= when]
        return cast[-1] if cast else None


@dataclass(frozen=True)
class RatedDialog:
    id: str
    created: str
    system_prompt: str
    turns: tuple[RatedTurn, ...]
    history_mode: str | None = None  # what earlier replies the model saw (see ``history``)
    references: tuple[str | None, ...] = ()  # per round, for replays of an eval item


class Selection:
    """Rated dialogs under a set of filters, and the samples derived from them."""

    def __init__(self, store: Transactor, filters: Filters):
        self.store = store
        self.filters = filters.validate().for_kind("sft")  # run_export resolves it per format kind
        self.task_set_id = self._task_set_id()
        self.excluded = (excluded_raters(store, filters.min_gold_accuracy, filters.min_gold_items)
                         if filters.min_gold_accuracy is not None else set())
        self._split_of: dict[str, str] | None = None
        self._seen: set[bytes] = set()  # 16-byte digests: small per row
        self.duplicates = 0
        self.skipped: Counter = Counter()  # reason → turns/rows left out (report.json "skipped")
        self.notes: Counter = Counter()  # what was done differently, with counts (report.json "notes")
        self.judge, self.judge_warning = _opt_in_judge(store, self.filters)

    # -- reading -----------------------------------------------------------------
    def _task_set_id(self) -> int | None:
        if not self.filters.task_set:
            return None
        return Tasks(self.store).set_named(self.filters.task_set, "rating task set").id

    def conversation_ids(self) -> list[str]:
        where, params = DateRange.parse(self.filters.since, self.filters.until).where("created")
        where = where or ["1=1"]
        sql = f"select id from conversations where {' and '.join(where)} order by created, id"
        return [r["id"] for r in self.store.query(sql, params)]

    def dialogs(self) -> Iterator[RatedDialog]:
        ids = self.conversation_ids()
        for start in range(0, len(ids), BATCH_CONVERSATIONS):
            yield from self._load_batch(ids[start:start + BATCH_CONVERSATIONS])

    def _load_batch(self, ids: list[str]) -> list[RatedDialog]:
        marks = ",".join("?" * len(ids))
        rows = self.store.query(f"""
            select c.id conv, c.created, c.system_prompt, c.history_mode, c.eval_item_id, t.id turn_id, t.idx, t.user_text,
                   t.created turn_created, r.created resp_created, r.id rid, r.side, r.checkpoint, r.text, r.status, r.identity_leak,
                   r.id in (select response_id from task_items where task_set_id = ?) in_task
            from conversations c
            join turns t on t.conversation_id = c.id and t.superseded = 0
            left join responses r on r.turn_id = t.id and r.superseded = 0
            where c.id in ({marks}) order by c.created, c.id, t.idx, t.id, r.side""",
            [self.task_set_id, *ids])
        images: dict[int, list[str]] = {}
        for r in self.store.query(f"""select ti.turn_id, ti.image_sha256 from turn_images ti
                join turns t on t.id = ti.turn_id where t.conversation_id in ({marks})
                order by ti.turn_id, ti.position""", ids):
            images.setdefault(r["turn_id"], []).append(r["image_sha256"])
        ratings: dict[int, list[dict]] = {}
        for r in self.store.query(f"""select ra.* from ratings ra join responses r on r.id = ra.response_id
                join turns t on t.id = r.turn_id where t.conversation_id in ({marks})
                order by coalesce(ra.updated, ra.created)""", ids):
            if r["rater_id"] not in self.excluded:
                ratings.setdefault(r["response_id"], []).append(r)
        winners: dict[int, list[str]] = {}
        for r in self.store.query(f"""select v.id, v.turn_id, v.rater_id, v.winner,
                coalesce(v.updated, v.created) at from votes v
                join turns t on t.id = v.turn_id where t.conversation_id in ({marks})
                order by coalesce(v.updated, v.created)""", ids):
            winners.setdefault(r["turn_id"], []).append((r["rater_id"], r["winner"], r["id"], r["at"]))
        references = {r["id"]: [x.get("reference") for x in json.loads(r["rounds"])] for r in self.store.query(
            f"""select e.id, e.rounds from eval_items e join conversations c on c.eval_item_id = e.id
                where c.id in ({marks})""", ids)}
        checks = (self.store.checks.for_responses(r["rid"] for r in rows if r["rid"] is not None)
                  if self.filters.checks != "off" else {})
        judged = (self.store.judges.for_responses(self.judge.info["rater_id"], (r["rid"] for r in rows
                                                                               if r["rid"] is not None))
                  if self.judge else {})
        return _assemble(rows, images, ratings, winners, references, self.excluded, checks,
                         (judged, self.filters.judge_use))

    # -- which responses count ---------------------------------------------------
    def eligible(self, resp: RatedResponse | None, stopped_ok: bool = False) -> bool:
        f = self.filters
        return (resp is not None and (resp.ok or (stopped_ok and resp.status == "stopped"))
                and (f.include_identity_leak or not resp.identity_leak)
                and (not f.checkpoints or resp.checkpoint in f.checkpoints)
                and (self.task_set_id is None or resp.in_task_set))

    def trusted(self, j: Judgement) -> bool:
        f = self.filters
        if j.by_judge:  # opted in: the judge's one verdict stands for the raters no one was
            return True
        return j.n >= f.min_raters and (f.min_agreement is None or j.agreement >= f.min_agreement)

    def check_passed(self, resp: RatedResponse | None) -> bool | None:
        """Did the reply pass every stored automatic check (strict or loose, per ``checks``)?
        None when checks are off or its turn carried no verifiable constraint."""
        if self.filters.checks == "off" or resp is None or not resp.checks:
            return None
        key = "passed" if self.filters.checks == "strict" else "passed_loose"
        return all(c[key] for c in resp.checks)

    def sft_reply(self, resp: RatedResponse | None) -> str | None:
        """The reply to train on (correction or the model's), or None if the turn fails."""
        if self.filters.checks_only:
            ok = self.eligible(resp) and self.check_passed(resp) is True and resp.text.strip()
            return resp.text if ok else None
        j = resp.judgement if resp is not None else None
        if self.filters.use_corrections and j and j.corrected and self.eligible(resp, stopped_ok=True):
            if resp.status == "stopped":  # the rater finished what Stop cut off: train on that
                self.notes["corrections of stopped replies used as the reply"] += 1
            return j.corrected
        if not self.eligible(resp):
            return None
        if not self.trusted(j) or j.majority != "yes" or not resp.text.strip():
            return None
        if self.filters.min_score is not None and (j.mean_score is None or j.mean_score < self.filters.min_score):
            return None
        if self.check_passed(resp) is False:
            self.skipped[SKIP_FAILED_CHECK] += 1
            return None
        if self.judge_vetoes(resp):
            return None
        if j.by_judge:
            self.notes[JUDGE_LABELLED] += 1
        return resp.text

    def judge_vetoes(self, resp: RatedResponse) -> bool:
        """--judge-use filter: the judge said a reply people passed was not fully followed."""
        j = resp.judgement
        if self.filters.judge_use != "filter" or j.judge_followed in (None, "yes"):
            return False
        self.skipped[SKIP_JUDGE_VETO] += 1
        return True

    def judge_choice(self) -> dict | None:
        """report.json's record of the opted-in judge: who, which rubric, its agreement, how used."""
        if self.judge is None:
            return None
        use = ("labels replies no person rated (people's ratings win wherever they exist)"
               if self.filters.judge_use == "label" else "vetoes replies people passed that it said were not followed")
        return {**self.judge.figures, "use": self.filters.judge_use, "how": use, "warning": self.judge_warning}

    # -- split and dedup ---------------------------------------------------------
    def in_split(self, conversation_id: str) -> bool:
        if self.filters.split == "all":
            return True
        if self._split_of is None:
            self._split_of = split_by_image(self.store, self.filters.eval_fraction, self.filters.split_seed)
        return self._split_of.get(conversation_id, "train") == self.filters.split

    def is_new(self, *key_parts) -> bool:
        """Dedup on same images + same instructions (+ completions for pairs/KTO)."""
        if not self.filters.dedup:
            return True
        key = hashlib.blake2b(json.dumps(key_parts, ensure_ascii=False).encode(), digest_size=16).digest()
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(key)
        return True

    def dialogs_in_split(self) -> Iterator[RatedDialog]:
        return (d for d in self.dialogs() if self.in_split(d.id))


def _opt_in_judge(store: Transactor, filters: Filters):
    """(OptIn or None, warning or None); a judge below the kappa threshold is refused unless allowed."""
    if not filters.judge:
        return None, None
    from ..judge.optin import opt_in, require_trusted

    choice = opt_in(store, filters.judge)
    return choice, require_trusted(choice, filters.allow_untrusted_judge)


def _judgement(ratings: list[dict], judge: dict | None = None, use: str = "label") -> Judgement:
    if judge is not None and use == "label" and not ratings:
        return Judgement(labels=(judge["followed"],), scores=(judge["score"],) if judge["score"] else (),
                         tags=tuple(json.loads(judge["tags"] or "[]")), judge_followed=judge["followed"],
                         judge_verdict_id=judge["id"], by_judge=True)
    corrected = [r for r in ratings if r["corrected_text"]]
    # filter: the judge was consulted on what people passed (provenance names it); label: people win
    extra = {"judge_followed": judge["followed"], "judge_verdict_id": judge["id"]} \
        if judge is not None and use == "filter" else {}
    return Judgement(**extra,
        labels=tuple(r["followed"] for r in ratings),
        scores=tuple(r["score"] for r in ratings if r["score"] is not None),
        tags=tuple(t for r in ratings for t in json.loads(r["tags"] or "[]")),
        corrected=corrected[-1]["corrected_text"] if corrected else None,
        rating_ids=tuple(r["id"] for r in ratings),
        correction_id=corrected[-1]["id"] if corrected else None)


def _assemble(rows, images, ratings, winners, references, excluded, checks, judged=({}, "label")) -> list[RatedDialog]:
    dialogs: dict[str, dict] = {}
    for row in rows:
        d = dialogs.setdefault(row["conv"], {"created": row["created"], "system": row["system_prompt"] or "",
                                             "turns": {}, "history_mode": row["history_mode"],
                                             "references": tuple(references.get(row["eval_item_id"], ()))})
        turn = d["turns"].setdefault(row["turn_id"], {"idx": row["idx"], "text": row["user_text"],
                                                      "responses": {}, "created": row["turn_created"] or ""})
        if row["rid"] is not None:
            turn["responses"][row["side"]] = RatedResponse(
                id=row["rid"], side=row["side"], checkpoint=row["checkpoint"], text=row["text"] or "",
                ok=row["status"] == "ok", status=row["status"] or "", identity_leak=bool(row["identity_leak"]),
                in_task_set=bool(row["in_task"]),
                judgement=_judgement(ratings.get(row["rid"], []), judged[0].get(row["rid"]), judged[1]),
                created=row["resp_created"] or "", checks=tuple(checks.get(row["rid"], ())))
    def turn(tid: int, t: dict) -> RatedTurn:
        votes = winners.get(tid, [])
        trusted = [(w, vid) for rater, w, vid, _ in votes if rater not in excluded]
        return RatedTurn(tid, t["idx"], t["text"], tuple(images.get(tid, ())), t["responses"],
                         tuple(w for w, _ in trusted), votes[-1][1] if votes else None,
                         tuple(vid for _, vid in trusted), t["created"], tuple((at, w) for _, w, _, at in votes))

    return [RatedDialog(conv, d["created"], d["system"],
                        tuple(turn(tid, t) for tid, t in d["turns"].items()),
                        d["history_mode"], d["references"]) for conv, d in dialogs.items()]


def split_by_image(store: Transactor, eval_fraction: float, seed: int) -> dict[str, str]:
    """conversation id → "train"|"eval"; conversations sharing any image share a split.

    Union-find over (conversation, image) links: a component's split is a hash of
    its smallest member, so the assignment is stable across exports.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in store.query("""select distinct t.conversation_id conv, ti.image_sha256 sha
                              from turn_images ti join turns t on t.id = ti.turn_id"""):
        # "0:" sorts images first: a component is named by its smallest image hash,
        # so the same images land in the same split in any database.
        a, b = find("c:" + row["conv"]), find("0:" + row["sha"])
        if a != b:
            parent[max(a, b)] = min(a, b)
    for row in store.query("select id from conversations"):
        find("c:" + row["id"])
    out = {}
    for node in list(parent):
        if node.startswith("c:"):
            root = find(node)
            digest = hashlib.sha256(f"{seed}:{root}".encode()).digest()
            share = int.from_bytes(digest[:8], "big") / 2**64
            out[node[2:]] = "eval" if share < eval_fraction else "train"
    return out
