"""Need-to-know by authority: which records and aggregates an account may see.

An account may see some local authorities (`layers.access.accounts_store`). Its *scope* is the set
of their codes (``areas.authority_code``, such as ``E06000001`` for Hartlepool), or ``None``: every
authority, including any whose boundaries are loaded later. Every query function of `layers` that
returns place-level records or aggregates takes ``scope`` (``None`` by default: the CLI, run by
whoever holds the database, sees everything) and keeps only what lies in it, so the API and the CLI
share one filter:

- a place, report, activity or police.uk crime is in an authority when its ward is: its
  ``ward_code`` names a loaded ward of that authority;
- a scoring cell (``run_cells``) is in the authority of the ward holding its centre, and a
  ward's score (``run_wards``) in the ward's authority;
- a record or cell outside every loaded ward belongs to no authority, so only an
  unrestricted account sees it.

Something out of scope is answered as if it did not exist (`layers.errors.NotFoundError`,
a 404), so the answer does not tell that it exists.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from layers.store import schema

Scope = frozenset[str] | None
ALL = schema.ALL_AUTHORITIES


def from_codes(codes: Iterable[str]) -> Scope:
    """The scope of an account's stored authority codes: ``None`` if they hold `ALL`.

    Examples
    --------
    >>> sorted(from_codes(["E06000001"])), from_codes(["*"]), from_codes([])
    (['E06000001'], None, frozenset())
    """
    found = frozenset(codes)
    return None if ALL in found else found


def describe(scope: Scope) -> str:
    """The scope in words, for listings and the audit log.

    Examples
    --------
    >>> describe(None), describe(frozenset({"E06000004", "E06000001"})), describe(frozenset())
    ('all authorities', 'E06000001, E06000004', 'no authority')
    """
    if scope is None:
        return "all authorities"
    return ", ".join(sorted(scope)) or "no authority"


def ward_select(scope: frozenset[str]) -> sa.Select[str]:
    """The codes of the loaded wards of the authorities in ``scope``, as a subquery."""
    a = schema.areas
    return sa.select(a.c.code).where(a.c.authority_code.in_(sorted(scope)))


def where(ward_column: sa.ColumnElement[str], scope: Scope) -> list[sa.ColumnElement[bool]]:
    """Conditions keeping rows whose ``ward_column`` is a ward in ``scope`` (none for ``None``).

    A NULL ward (a record outside every loaded ward) is in no scope.
    """
    if scope is None:
        return []
    return [ward_column.in_(ward_select(scope))]


def authority_where(authority_column: sa.ColumnElement[str], scope: Scope
                    ) -> list[sa.ColumnElement[bool]]:
    """Conditions keeping rows whose ``authority_column`` is in ``scope`` (none for ``None``)."""
    if scope is None:
        return []
    return [authority_column.in_(sorted(scope))]


def wards(conn: sa.Connection, scope: Scope) -> frozenset[str] | None:
    """The codes of the loaded wards in ``scope``; ``None`` for every ward (no filter)."""
    if scope is None:
        return None
    return frozenset(str(code) for code in conn.scalars(ward_select(scope)))


def keep(frame: pd.DataFrame, ward_codes: frozenset[str] | None, *,
         column: str = "ward_code") -> pd.DataFrame:
    """The rows of ``frame`` whose ``column`` is one of ``ward_codes`` (all for ``None``)."""
    if ward_codes is None:
        return frame
    return frame[frame[column].isin(list(ward_codes)).to_numpy(dtype=bool)]
