"""What a rendered page shows: its HTML and how many records of each kind (for the audit)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shown:
    """A rendered page and how many records of each kind it shows (for `returned`)."""

    html: str
    counts: dict[str, int]
