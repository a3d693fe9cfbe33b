"""Accounts, passwords and login sessions (store I/O).

Four roles share one tool under an information-sharing agreement:

- ``admin``: everything, and the audit log;
- ``analyst`` (MACE/JAG): full detail, notes and intelligence grades included;
- ``police``: places, levels, scores, patrol plans and activities; no free-text notes and
  no intelligence grades;
- ``guardian`` (community guardian coordinators): the guardian view and its data only.

Passwords are hashed with argon2id (argon2-cffi, OWASP's first choice). A login creates a
session whose random token goes to the user once, as a cookie or a bearer token; the store
keeps only its SHA-256. Repeated failed logins lock the account for a time that doubles with
each further failure (`lockout_seconds`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from layers import schema
from layers.store import Store, utcnow

ROLES = schema.ROLES
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
MIN_PASSWORD = 12
FREE_FAILURES = 5  # failed logins before the first lock-out
LOCK_BASE_S = 30
LOCK_MAX_S = 15 * 60
_hasher = PasswordHasher()


class AccountError(ValueError):
    """A user name, role or password that cannot be used."""


@dataclass(frozen=True)
class User:
    """A signed-in user, as the API sees them."""

    id: int
    name: str
    role: str


@dataclass(frozen=True)
class Session:
    """A live session: its user and the CSRF token its forms must carry."""

    user: User
    kind: str
    csrf_token: str
    expires_at: dt.datetime


def check_role(role: str) -> str:
    """Return ``role`` if it is one of `ROLES`, else raise `AccountError`."""
    if role not in ROLES:
        msg = f"role {role!r} is not one of {', '.join(ROLES)}"
        raise AccountError(msg)
    return role


def check_name(name: str) -> str:
    """A user name: 2-64 letters, digits or ``. _ @ -``, starting with a letter or digit.

    Examples
    --------
    >>> check_name("j.smith@council")
    'j.smith@council'
    """
    if not NAME.match(name):
        msg = (f"user name {name!r}: use 2-64 letters, digits or . _ @ -, starting with a "
               "letter or digit")
        raise AccountError(msg)
    return name


def check_password(password: str) -> str:
    """At least `MIN_PASSWORD` characters (a passphrase), per NIST SP 800-63B."""
    if len(password) < MIN_PASSWORD:
        msg = f"password too short: use at least {MIN_PASSWORD} characters (a passphrase)"
        raise AccountError(msg)
    return password


def new_password() -> str:
    """A random password of about 120 bits, easy to copy (URL-safe characters)."""
    return secrets.token_urlsafe(15)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a session token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(store: Store, name: str, role: str, password: str) -> User:
    """Create an account; raise `AccountError` if the name is taken or a value is bad."""
    check_name(name)
    check_role(role)
    check_password(password)
    with store.begin() as conn:
        taken = conn.scalar(sa.select(schema.users.c.id).where(schema.users.c.name == name))
        if taken is not None:
            msg = f"user {name!r} already exists; pick another name or disable the old one"
            raise AccountError(msg)
        conn.execute(sa.insert(schema.users).values(
            name=name, role=role, password_hash=_hasher.hash(password), created_at=utcnow()))
        user_id: int = conn.execute(sa.select(schema.users.c.id)
                                    .where(schema.users.c.name == name)).scalar_one()
    return User(user_id, name, role)


def list_users(store: Store) -> list[dict[str, object]]:
    """Every account without its hash: name, role, disabled, created, last login."""
    u = schema.users
    with store.connect() as conn:
        rows = conn.execute(sa.select(u.c.name, u.c.role, u.c.disabled, u.c.created_at,
                                      u.c.last_login_at).order_by(u.c.name)).all()
    return [dict(r._mapping) for r in rows]


def set_disabled(store: Store, name: str, *, disabled: bool = True) -> None:
    """Disable (or re-enable) an account; disabling also ends its sessions."""
    u, s = schema.users, schema.sessions
    with store.begin() as conn:
        user_id = conn.scalar(sa.select(u.c.id).where(u.c.name == name))
        if user_id is None:
            msg = f"no user {name!r}; see `placerisk users list`"
            raise AccountError(msg)
        conn.execute(sa.update(u).where(u.c.id == user_id).values(disabled=disabled))
        if disabled:
            conn.execute(sa.update(s).where(s.c.user_id == user_id, s.c.revoked_at.is_(None))
                         .values(revoked_at=utcnow()))


def lockout_seconds(failures: int) -> int:
    """Seconds an account stays locked after ``failures`` failed logins in a row.

    Examples
    --------
    >>> [lockout_seconds(n) for n in (4, 5, 6, 7, 20)]
    [0, 30, 60, 120, 900]
    """
    if failures < FREE_FAILURES:
        return 0
    return min(LOCK_BASE_S * 2 ** (failures - FREE_FAILURES), LOCK_MAX_S)


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt came to: a user, or the reason it failed."""

    user: User | None
    reason: str  # "ok", "unknown", "password", "disabled" or "locked"
    retry_after: int = 0


def authenticate(store: Store, name: str, password: str) -> LoginResult:
    """Check a name and password, counting failures and locking out repeated ones.

    The same work is done for an unknown name as for a wrong password, so timing does not
    tell which names exist.
    """
    u = schema.users
    now = utcnow()
    with store.begin() as conn:
        row = conn.execute(sa.select(u).where(u.c.name == name)).first()
        if row is None:
            _verify(_DUMMY_HASH, password)
            return LoginResult(None, "unknown")
        locked = row.locked_until is not None and _aware(row.locked_until) > now
        if locked:
            left = int((_aware(row.locked_until) - now).total_seconds()) + 1
            return LoginResult(None, "locked", left)
        if not _verify(row.password_hash, password):
            failures = row.failed_logins + 1
            wait = lockout_seconds(failures)
            conn.execute(sa.update(u).where(u.c.id == row.id).values(
                failed_logins=failures,
                locked_until=now + dt.timedelta(seconds=wait) if wait else None))
            return LoginResult(None, "password", wait)
        if row.disabled:
            return LoginResult(None, "disabled")
        conn.execute(sa.update(u).where(u.c.id == row.id).values(
            failed_logins=0, locked_until=None, last_login_at=now))
    return LoginResult(User(row.id, row.name, row.role), "ok")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite gives naive UTC datetimes back; make them aware for comparison."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def start_session(store: Store, user: User, *, kind: str, hours: float) -> tuple[str, Session]:
    """Create a session; returns the token (give it to the user once) and the session."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = utcnow()
    expires = now + dt.timedelta(hours=hours)
    with store.begin() as conn:
        conn.execute(sa.insert(schema.sessions).values(
            token_hash=token_digest(token), user_id=user.id, kind=kind, csrf_token=csrf,
            created_at=now, expires_at=expires))
    return token, Session(user, kind, csrf, expires)


def find_session(store: Store, token: str, *, kind: str) -> Session | None:
    """The live session of ``token`` (not expired, revoked or of a disabled user), or None."""
    s, u = schema.sessions, schema.users
    with store.connect() as conn:
        row = conn.execute(
            sa.select(s.c.kind, s.c.csrf_token, s.c.expires_at, s.c.revoked_at, u.c.id,
                      u.c.name, u.c.role, u.c.disabled)
            .join(u, u.c.id == s.c.user_id)
            .where(s.c.token_hash == token_digest(token), s.c.kind == kind)).first()
    if row is None or row.revoked_at is not None or row.disabled:
        return None
    if _aware(row.expires_at) <= utcnow():
        return None
    return Session(User(row.id, row.name, row.role), row.kind, row.csrf_token,
                   _aware(row.expires_at))


def end_session(store: Store, token: str) -> None:
    """Revoke the session of ``token`` (logout)."""
    s = schema.sessions
    with store.begin() as conn:
        conn.execute(sa.update(s).where(s.c.token_hash == token_digest(token),
                                         s.c.revoked_at.is_(None))
                     .values(revoked_at=utcnow()))
