"""The default weight table of the scores, and how a TOML file overrides it.

Three sources add to a cell's value at a time step:

* **concern reports**, weighted by the MACE level recorded with the report;
* **places**, weighted by the MACE level in force at the end of the step (from the level
  history), so a level-4 place keeps a cell warm between reports: each week it adds what a
  quarter of a level-4 report adds, each month about one;
* **police.uk incidents**, weighted by crime type as area-level context.

MACE levels are ordinal and kept as their own weights (each level counts twice the one below;
level 1 is "no concern", often a protective place, and never adds risk). Crime types are
weighted by harm, not count: the order follows the Cambridge Crime Harm Index and the ONS
Crime Severity Score, both of which put sexual offences, robbery and violence far above
theft, damage and disorder. The numbers are placerisk's defaults, scaled so that one violent
or sexual offence counts about half a level-3 report; they are meant to be tuned locally and
every run stores the table it used.

Bias guardrail (DOMAIN.md): records that patrols discover are kept apart and excluded from
the default risk score, so that patrolling a place cannot make its own hot spot. They are
reports with ``patrol_discovered`` true and the police.uk types in `PATROL_GENERATED` (drugs
and weapons possession are mostly found by stop and search, not reported by the public).

A TOML file overrides any part::

    half_life_days = 60
    [report_levels]
    4 = 5.0
    [crime_types]
    "Anti-social behaviour" = 0.2
    [patrol]
    include = false
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPORT_LEVELS = {4: 4.0, 3: 2.0, 2: 1.0, 1: 0.0}
PLACE_LEVELS = {4: 1.0, 3: 0.5, 2: 0.125, 1: 0.0}
CRIME_TYPES = {
    "Violence and sexual offences": 1.0,
    "Robbery": 1.0,
    "Possession of weapons": 0.6,
    "Drugs": 0.4,
    "Burglary": 0.4,
    "Public order": 0.3,
    "Criminal damage and arson": 0.25,
    "Theft from the person": 0.25,
    "Anti-social behaviour": 0.1,
    "Vehicle crime": 0.1,
    "Other crime": 0.1,
    "Other theft": 0.05,
    "Shoplifting": 0.05,
    "Bicycle theft": 0.05,
}
PATROL_GENERATED = ("Drugs", "Possession of weapons")
HALF_LIFE_DAYS = 90.0


class WeightsError(ValueError):
    """A weights file cannot be read or holds values the scores cannot use."""


@dataclass(frozen=True)
class Weights:
    """Weights of every source, the decay half-life and the patrol rule."""

    report_levels: dict[int, float] = field(default_factory=lambda: dict(REPORT_LEVELS))
    place_levels: dict[int, float] = field(default_factory=lambda: dict(PLACE_LEVELS))
    crime_types: dict[str, float] = field(default_factory=lambda: dict(CRIME_TYPES))
    other_crime_type: float = 0.05
    patrol_generated: tuple[str, ...] = PATROL_GENERATED
    include_patrol: bool = False
    half_life_days: float = HALF_LIFE_DAYS

    def crime_weight(self, crime_type: str) -> float:
        """The weight of one police.uk incident of ``crime_type``."""
        return self.crime_types.get(crime_type, self.other_crime_type)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, stored with every scoring run."""
        return {
            "report_levels": {str(k): v for k, v in sorted(self.report_levels.items())},
            "place_levels": {str(k): v for k, v in sorted(self.place_levels.items())},
            "crime_types": dict(sorted(self.crime_types.items())),
            "other_crime_type": self.other_crime_type,
            "patrol_generated": list(self.patrol_generated),
            "include_patrol": self.include_patrol,
            "half_life_days": self.half_life_days,
        }


def load_weights(path: str | Path | None = None) -> Weights:
    """The default weights, overridden by the TOML file at ``path`` if given.

    Raises
    ------
    WeightsError
        Naming the file, the key and the value that cannot be used.
    """
    weights = Weights()
    if path is None:
        return weights
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        msg = f"{path}: cannot read the weights file: {exc}"
        raise WeightsError(msg) from exc
    return _apply(weights, data, str(path))


def _apply(weights: Weights, data: dict[str, Any], source: str) -> Weights:
    known = {"report_levels", "place_levels", "crime_types", "other_crime_type", "patrol",
             "half_life_days"}
    unknown = sorted(set(data) - known)
    if unknown:
        msg = f"{source}: unknown key(s) {unknown}; expected some of {sorted(known)}"
        raise WeightsError(msg)
    changes: dict[str, Any] = {}
    for key in ("report_levels", "place_levels"):
        if key in data:
            levels = {_level(k, source, key): _number(v, source, f"{key}.{k}")
                      for k, v in data[key].items()}
            changes[key] = {**getattr(weights, key), **levels}
    if "crime_types" in data:
        changes["crime_types"] = {**weights.crime_types, **{
            str(k): _number(v, source, f"crime_types.{k}") for k, v in data["crime_types"].items()}}
    if "other_crime_type" in data:
        changes["other_crime_type"] = _number(data["other_crime_type"], source,
                                              "other_crime_type")
    if "half_life_days" in data:
        changes["half_life_days"] = _number(data["half_life_days"], source, "half_life_days",
                                            positive=True)
    patrol = data.get("patrol", {})
    if "include" in patrol:
        changes["include_patrol"] = bool(patrol["include"])
    if "generated_types" in patrol:
        changes["patrol_generated"] = tuple(str(t) for t in patrol["generated_types"])
    return replace(weights, **changes)


def _level(key: str, source: str, table: str) -> int:
    if str(key) not in {"1", "2", "3", "4"}:
        msg = f"{source}: [{table}] key {key!r} is not a MACE level 1-4"
        raise WeightsError(msg)
    return int(key)


def _number(value: Any, source: str, key: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (
            positive and value == 0):
        need = "a positive number" if positive else "a number >= 0"
        msg = f"{source}: {key} = {value!r} must be {need}"
        raise WeightsError(msg)
    return float(value)
