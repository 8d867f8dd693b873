"""Accounts, roles and login: scrypt password hashes, the users file, invites.

Users file (``serve --auth-file users.txt``), one account per line::

    # name:role:password      role is rater or admin
    alice:admin:correct horse battery staple
    bob:rater:scrypt$16384$8$1$<salt b64>$<hash b64>

The password may be plain text (hashed on load) or an already hashed
``scrypt$...`` string (``python -m ift_chat raters hash`` prints one), so
the file need not hold plain passwords. Loading adds missing accounts and
updates role and password of existing ones; accounts not in the file are left alone.

Invites: an admin creates a token (one-time or with N uses, expiring). A crowd
rater logs in with a name of their choice and the token as password; that
creates their account with the token as its password, and uses up the invite.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import AuthError, PermissionDenied, ValidationError
from ..store.dates import stamp
from ..store.db import check_name
from ..store.models import Invite, Rater
from ..store.raters import check_role

if TYPE_CHECKING:
    from ..store import Store


# scrypt cost: ~50 ms and 16 MiB per check on a laptop; stored in each hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_PASSWORD = 1024
MIN_PASSWORD = 8

Clock = Callable[[], datetime.datetime]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


# -- passwords ----------------------------------------------------------------
def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$hash``: salted, with its cost parameters, so they can change later."""
    _check_password(password)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * r * n * 2, dklen=32)
    return "$".join(["scrypt", str(n), str(r), str(p), _b64(salt), _b64(digest)])


def verify_password(password: str, encoded: str | None) -> bool:
    if not encoded or not password or len(password) > MAX_PASSWORD:
        return False
    try:
        kind, n, r, p, salt, digest = encoded.split("$")
        n, r, p = int(n), int(r), int(p)
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=n, r=r, p=p,
                                maxmem=128 * r * n * 2, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return kind == "scrypt" and hmac.compare_digest(actual, expected)


def is_password_hash(text: str) -> bool:
    parts = text.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(x.isdigit() for x in parts[1:4])


def _check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValidationError(f"a password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# -- roles --------------------------------------------------------------------
def require_admin(rater: Rater | None) -> Rater:
    """Server-side check at the top of every admin action."""
    if rater is None or rater.disabled or not rater.is_admin:
        name = rater.name if rater is not None else "nobody"
        raise PermissionDenied(f"only an admin can do this ({name} is not an admin)")
    return rater


def admin_for_request(store: Store, request) -> Rater:
    """The logged-in admin behind a Gradio request, for admin-only handlers (export, delete...).

    Only a login counts: without ``--auth-file`` anyone can type any name, so
    a typed name never grants admin rights.
    """
    username = getattr(request, "username", None) if request is not None else None
    if not username:
        raise PermissionDenied("admin actions need a login: start the app with --auth-file "
                               "and log in as an admin (or use the command line)")
    return require_admin(require_active(store.raters.by_name(username)))


def require_active(rater: Rater) -> Rater:
    if rater.disabled:
        raise AuthError(f"the account {rater.name!r} is disabled")
    return rater


# -- accounts -------------------------------------------------------------------
def set_account(store: Store, name: str, role: str, password: str) -> Rater:
    """Create the account or update its role and password (plain or ``scrypt$`` hash)."""
    name, role = check_name(name, "rater name"), check_role(role)
    encoded = password if is_password_hash(password) else hash_password(password)
    store.raters.set_accounts([(name, role, encoded)], stamp(utc_now()))
    return store.raters.by_name(name)


def set_disabled(store: Store, name: str, disabled: bool) -> Rater:
    return store.raters.set_disabled(name, disabled)


def parse_users_file(path: Path | str) -> list[tuple[str, str, str]]:
    """[(name, role, password)], or a ValidationError naming the bad line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValidationError(f"cannot read the users file {path}: {exc.strerror}") from exc
    users, seen = [], set()
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(":", 2)  # the password may contain ':'
        if len(parts) != 3:
            raise ValidationError(f"{path}:{number}: expected name:role:password")
        name, role, password = parts[0].strip(), parts[1].strip(), parts[2]
        try:
            name, role = check_name(name, "rater name"), check_role(role)
            if not is_password_hash(password):
                _check_password(password)
        except ValidationError as exc:
            raise ValidationError(f"{path}:{number}: {exc}") from exc
        if name in seen:
            raise ValidationError(f"{path}:{number}: {name!r} appears twice")
        seen.add(name)
        users.append((name, role, password))
    return users


def load_users_file(path: Path | str, store: Store) -> int:
    """Apply the users file: all accounts or, on any bad line, none. Returns the count."""
    users = parse_users_file(path)
    hashed = [(n, r, p if is_password_hash(p) else hash_password(p)) for n, r, p in users]
    store.raters.set_accounts(hashed, stamp(utc_now()))
    return len(hashed)


# -- invites --------------------------------------------------------------------
def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invite(store: Store, admin: Rater, *, role: str = "rater", hours: float = 72.0,
                  max_uses: int = 1, clock: Clock = utc_now) -> tuple[str, Invite]:
    """A fresh token (shown once; only its hash is kept) and the invite row."""
    require_admin(admin)
    check_role(role)
    if not 0 < hours <= 24 * 365 or not 1 <= max_uses <= 10_000:
        raise ValidationError("an invite lasts 0-8760 hours and allows 1-10000 uses")
    token = secrets.token_urlsafe(18)
    moment = clock()
    row = {"token_sha256": _token_digest(token), "role": role, "max_uses": max_uses, "uses": 0,
           "created": stamp(moment), "expires_at": stamp(moment + datetime.timedelta(hours=hours)),
           "created_by": admin.id}
    return token, store.raters.add_invite(row)


def redeem_invite(store: Store, name: str, token: str, clock: Clock = utc_now) -> Rater:
    """Create account ``name`` from a valid invite; the token becomes its password."""
    name = check_name(name, "rater name")
    digest = _token_digest(token or "")
    if not store.raters.invite_exists(digest):
        raise AuthError("wrong name or password")  # unknown name and no such invite
    encoded = hash_password(token)  # slow: outside the write lock
    return store.raters.redeem_invite(digest, name, encoded, stamp(clock()))


# -- login ----------------------------------------------------------------------
def authenticate(store: Store, name: str, password: str, clock: Clock = utc_now) -> Rater:
    """The rater for these credentials (an unused invite token creates the account)."""
    row = store.raters.login_row(name)
    if row is None:
        return redeem_invite(store, name, password, clock)
    rater = Rater.from_row(row)
    if not verify_password(password, row["password_hash"]):
        raise AuthError("wrong name or password")
    return require_active(rater)


def make_auth_check(store: Store, clock: Clock = utc_now) -> Callable[[str, str], bool]:
    """What ``gr.Blocks.launch(auth=...)`` takes: (username, password) -> bool."""

    def check(username: str, password: str) -> bool:
        try:
            authenticate(store, username, password, clock)
        except (AuthError, ValidationError):
            return False
        return True

    return check
