"""Accounts, passwords and login sessions (store I/O).

Four roles share one tool under an information-sharing agreement:

- ``admin``: everything, and the audit log;
- ``analyst`` (MACE/JAG): full detail, notes and intelligence grades included;
- ``police``: places, levels, scores, patrol plans and activities; no free-text notes and
  no intelligence grades;
- ``guardian`` (community guardian coordinators): the guardian view and its data only.

Each account also has the local authorities it may see (need-to-know: a Hartlepool
neighbourhood team sees Hartlepool; the hub's analysts see both). They are stored as rows of
``user_authorities``: authority codes, or ``*`` for every authority, those loaded later
included (`layers.store.scope`). Admins always see every authority (they read the whole audit
log); an account without any row sees nothing.

Passwords are hashed with argon2id (argon2-cffi, OWASP's first choice). A login creates a
session whose random token goes to the user once, as a cookie or a bearer token; the store
keeps only its SHA-256. Repeated failed logins from one client address lock that name at
that address for a time that doubles with each further failure (`lockout_seconds`); the app
keeps that count, and its throttles per address and per name, in memory
(`api.security.SignInGuard`). The users table keeps each account's failures since its last
sign-in (``failed_logins``); ``locked_until`` is no longer set (a lock per address has no
column), and a lock left in it by an older version is ignored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from layers.store import audit, schema
from layers.store.engine import Store, utcnow
from layers.store.scope import ALL, Scope, describe, from_codes

ROLES = schema.ROLES
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
MIN_PASSWORD = 12
FREE_FAILURES = 5  # failed logins before the first lock-out
LOCK_BASE_S = 30
LOCK_MAX_S = 15 * 60
HASH_SLOTS = 2  # password hashes computed at once; more wait their turn
AUTHORITY_CODE = re.compile(r"^[A-Z][0-9]{8}$")  # a GSS code, such as E06000001
_hasher = PasswordHasher()
_hashing = threading.BoundedSemaphore(HASH_SLOTS)


class AccountError(ValueError):
    """A user name, role or password that cannot be used."""


@dataclass(frozen=True)
class User:
    """A signed-in user, as the API sees them.

    ``authorities`` is the user's scope (`layers.store.scope`): the authority codes they may see,
    or ``None`` for every authority.
    """

    id: int
    name: str
    role: str
    authorities: Scope


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


def check_authorities(role: str, authorities: Iterable[str] | None) -> Scope:
    """The scope an account of ``role`` may be given: ``None`` (all) or authority codes.

    An admin reads the whole audit log, so sees every authority: restricting one is refused,
    as is an empty list or a code that is not a GSS code (a letter and eight digits).

    Examples
    --------
    >>> sorted(check_authorities("police", ["E06000001"]))
    ['E06000001']
    >>> check_authorities("admin", None) is None
    True
    """
    if authorities is None:
        return None
    codes = frozenset(authorities)
    if ALL in codes:
        return None
    if not codes:
        msg = "give at least one authority code (or all authorities)"
        raise AccountError(msg)
    bad = sorted(c for c in codes if not AUTHORITY_CODE.match(c))
    if bad:
        msg = (f"authority code {bad[0]!r}: expected a GSS code such as E06000001 "
               "(a capital letter and eight digits, as areas.authority_code holds)")
        raise AccountError(msg)
    if role == "admin":
        msg = ("an admin reads the whole audit log and so sees every authority; give the "
               "restricted user an analyst account instead")
        raise AccountError(msg)
    return codes


def _authority_rows(user_id: int, scope: Scope) -> list[dict[str, object]]:
    codes = [ALL] if scope is None else sorted(scope)
    return [{"user_id": user_id, "authority_code": code} for code in codes]


def _scope(conn: sa.Connection, user_id: int) -> Scope:
    """The stored scope of an account: no row at all is no authority."""
    ua = schema.user_authorities
    return from_codes(conn.scalars(sa.select(ua.c.authority_code)
                                   .where(ua.c.user_id == user_id)))


def new_password() -> str:
    """A random password of about 120 bits, easy to copy (URL-safe characters)."""
    return secrets.token_urlsafe(15)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a session token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(store: Store, name: str, role: str, password: str, *,
             authorities: Iterable[str] | None = None) -> User:
    """Create an account; raise `AccountError` if the name is taken or a value is bad.

    ``authorities``: the authority codes the account may see; ``None`` for every authority,
    those loaded later included (see `check_authorities`).
    """
    check_name(name)
    check_role(role)
    check_password(password)
    scope = check_authorities(role, authorities)
    with _hashing:
        password_hash = _hasher.hash(password)  # before the transaction: it takes a while
    with store.begin() as conn:
        taken = conn.scalar(sa.select(schema.users.c.id).where(schema.users.c.name == name))
        if taken is not None:
            msg = f"user {name!r} already exists; pick another name or disable the old one"
            raise AccountError(msg)
        conn.execute(sa.insert(schema.users).values(
            name=name, role=role, password_hash=password_hash, created_at=utcnow()))
        user_id: int = conn.execute(sa.select(schema.users.c.id)
                                    .where(schema.users.c.name == name)).scalar_one()
        conn.execute(sa.insert(schema.user_authorities), _authority_rows(user_id, scope))
    return User(user_id, name, role, scope)


def list_users(store: Store) -> list[dict[str, object]]:
    """Every account without its hash: name, role, disabled, created, last login, scope.

    ``authorities`` is the account's scope (`layers.store.scope`): ``None`` for every authority.
    """
    u, ua = schema.users, schema.user_authorities
    with store.connect() as conn:
        rows = conn.execute(sa.select(u.c.id, u.c.name, u.c.role, u.c.disabled, u.c.created_at,
                                      u.c.last_login_at).order_by(u.c.name)).all()
        codes: dict[int, list[str]] = {}
        for user_id, code in conn.execute(sa.select(ua.c.user_id, ua.c.authority_code)):
            codes.setdefault(user_id, []).append(code)
    out = []
    for r in rows:
        row = dict(r._mapping)
        row["authorities"] = from_codes(codes.get(row.pop("id"), []))
        out.append(row)
    return out


def set_authorities(store: Store, name: str, authorities: Iterable[str] | None, *,
                    actor: str, client: str | None = None) -> tuple[Scope, Scope]:
    """Change the authorities an account may see, audited with ``actor`` in one transaction.

    Takes effect at the account's next request: every request reads the scope afresh.

    Returns
    -------
    (Scope, Scope)
        The scope before and after.

    Raises
    ------
    AccountError
        For an unknown account, or a scope the account cannot have (`check_authorities`).
    """
    u, ua = schema.users, schema.user_authorities
    with store.begin() as conn:
        row = conn.execute(sa.select(u.c.id, u.c.role).where(u.c.name == name)
                           .with_for_update()).first()
        if row is None:
            msg = f"no user {name!r}; see `placerisk users list`"
            raise AccountError(msg)
        scope = check_authorities(row.role, authorities)
        before = _scope(conn, row.id)
        conn.execute(sa.delete(ua).where(ua.c.user_id == row.id))
        conn.execute(sa.insert(ua), _authority_rows(row.id, scope))
        audit.record(conn, action="users", user_name=actor, object_type="user",
                     object_ids=[name], client=client,
                     detail=f"authorities: {describe(scope)} (was {describe(before)})")
    return before, scope


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
    doubling: int = 2 ** (failures - FREE_FAILURES)  # a whole number: the power is >= 0
    return min(LOCK_BASE_S * doubling, LOCK_MAX_S)


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt came to: a user, or the reason it failed."""

    user: User | None
    reason: str  # "ok", "unknown", "password" or "disabled"


def authenticate(store: Store, name: str, password: str, *,
                 client: str | None = None) -> LoginResult:
    """Check a name and password; count the attempt and audit it, in one short transaction.

    The user's row is read and the password verified outside any transaction: argon2 takes
    a tenth of a second or more, and a write transaction held that long would stall every
    other writer (on SQLite: every audited read). Then one UPDATE of the user's row (failures
    since the last sign-in, or the sign-in time) and the ``login`` audit row commit
    together, so no attempt goes unaudited.

    An unknown name is verified against a dummy hash and gets the same UPDATE (which matches
    no row), so neither the answer nor its timing tells which names exist. Lock-out and
    throttling depend on the client's address too; the app keeps them
    (`api.security.SignInGuard`) and asks before calling this.

    Parameters
    ----------
    store
        The store.
    name, password
        What the user typed.
    client
        The client's address, for the audit row.
    """
    u = schema.users
    with store.connect() as conn:
        row = conn.execute(sa.select(u.c.id, u.c.name, u.c.role, u.c.password_hash,
                                     u.c.disabled).where(u.c.name == name)).first()
        scope = _scope(conn, row.id if row is not None else -1)  # the same work for both
    right = _verify(_DUMMY_HASH if row is None else row.password_hash, password)
    reason = ("unknown" if row is None else "password" if not right
              else "disabled" if row.disabled else "ok")
    user = (User(row.id, row.name, row.role, scope) if row is not None and reason == "ok"
            else None)
    with store.begin() as conn:
        if user is not None:
            conn.execute(sa.update(u).where(u.c.id == user.id).values(
                failed_logins=0, locked_until=None, last_login_at=utcnow()))
            audit.record(conn, action="login", user_name=user.name, role=user.role,
                         client=client)
        else:
            conn.execute(sa.update(u).where(u.c.name == name).values(
                failed_logins=u.c.failed_logins + 1))
            audit.record(conn, action="login", outcome="failed", user_name=name,
                         client=client, detail=reason)
    return LoginResult(user, reason)


def _verify(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; at most `HASH_SLOTS` at once.

    Each check takes about 64 MiB and four threads for a tenth of a second or more: left
    unbounded, a flood of sign-ins would take the server's memory and every core.
    """
    with _hashing:
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
        scope = _scope(conn, row.id)  # read at every request: a change applies at once
    if _aware(row.expires_at) <= utcnow():
        return None
    return Session(User(row.id, row.name, row.role, scope), row.kind, row.csrf_token,
                   _aware(row.expires_at))


def end_session(store: Store, token: str) -> None:
    """Revoke the session of ``token`` (logout)."""
    s = schema.sessions
    with store.begin() as conn:
        conn.execute(sa.update(s).where(s.c.token_hash == token_digest(token),
                                         s.c.revoked_at.is_(None))
                     .values(revoked_at=utcnow()))
