"""Raters, accounts (role, password hash, disabled) and invites: every statement on the
``raters`` and ``invites`` tables. Passwords are hashed and checked in crowd/auth.py; this
module only stores what it is given."""

from __future__ import annotations

from ..errors import AuthError, NotFound, ValidationError
from .db import Transactor, check_name, now
from .models import ROLES, Invite, Rater


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


class Raters:
    def __init__(self, tx: Transactor):
        self.tx = tx

    # -- raters -------------------------------------------------------------------
    def create(self, name: str, role: str = "rater", password_hash: str | None = None) -> Rater:
        name, role = check_name(name, "rater name"), check_role(role)
        with self.tx.write() as db:
            if db["raters"].count_where("name = ?", [name]):
                raise ValidationError(f"a rater named {name!r} already exists")
            _insert(db, name, role, password_hash, now())
        return self.by_name(name)

    def get_or_create(self, name: str, role: str = "rater") -> Rater:
        try:
            return self.by_name(name)
        except NotFound:
            return self.create(name, role)

    def by_name(self, name: str) -> Rater:
        return Rater.from_row(self._row_named(name))

    def get(self, rater_id: int) -> Rater:
        rows = self.tx.query("select * from raters where id = ?", [rater_id])
        if not rows:
            raise NotFound(f"no rater with id {rater_id}")
        return Rater.from_row(rows[0])

    def password_hash(self, rater_id: int) -> str | None:
        rows = self.tx.query("select password_hash from raters where id = ?", [rater_id])
        return rows[0]["password_hash"] if rows else None

    def login_row(self, name: str) -> dict | None:
        """The account row (with its password hash) for a login name, or None."""
        rows = self.tx.query("select * from raters where name = ?", [(name or "").strip()])
        return rows[0] if rows else None

    def all(self) -> list[Rater]:
        return [Rater.from_row(r) for r in self.tx.query("select * from raters order by id")]

    # -- accounts -----------------------------------------------------------------
    def set_accounts(self, accounts: list[tuple[str, str, str]], created: str) -> None:
        """Create each (name, role, password hash) or update its role and hash; all in one
        transaction, so a users file is applied whole or not at all."""
        with self.tx.write() as db:
            for name, role, encoded in accounts:
                existing = list(db["raters"].rows_where("name = ?", [name]))
                if existing:
                    db["raters"].update(existing[0]["id"], {"role": role, "password_hash": encoded})
                else:
                    _insert(db, name, role, encoded, created)

    def set_disabled(self, name: str, disabled: bool) -> Rater:
        rater = self.by_name(name)
        with self.tx.write() as db:
            db["raters"].update(rater.id, {"disabled": int(disabled)})
        return self.by_name(name)

    # -- invites ------------------------------------------------------------------
    def add_invite(self, row: dict) -> Invite:
        with self.tx.write() as db:
            row = {**row, "id": db["invites"].insert(row).last_pk}
        return Invite.from_row(row)

    def invite_exists(self, token_sha256: str) -> bool:
        return bool(self.tx.query("select id from invites where token_sha256 = ?", [token_sha256]))

    def redeem_invite(self, token_sha256: str, name: str, password_hash: str, moment: str) -> Rater:
        """Use the invite up once and create account ``name`` with its role, in one transaction;
        an AuthError (used up, expired, name taken) writes nothing."""
        with self.tx.write() as db:
            rows = list(db["invites"].rows_where("token_sha256 = ?", [token_sha256]))
            if not rows:
                raise AuthError("wrong name or password")
            invite = Invite.from_row(rows[0])
            if invite.uses >= invite.max_uses:
                raise AuthError("this invite has already been used")
            if invite.expires_at <= moment:
                raise AuthError("this invite has expired")
            if db["raters"].count_where("name = ?", [name]):
                raise AuthError(f"the name {name!r} is taken; pick another")
            db["invites"].update(invite.id, {"uses": invite.uses + 1})
            _insert(db, name, invite.role, password_hash, moment)
        return self.by_name(name)

    def _row_named(self, name: str) -> dict:
        row = self.login_row(name)
        if row is None:
            raise NotFound(f"no rater named {name!r}")
        return row


def _insert(db, name: str, role: str, password_hash: str | None, created: str) -> None:
    db["raters"].insert({"name": name, "role": role, "password_hash": password_hash,
                         "disabled": 0, "created": created})
