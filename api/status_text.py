"""Plain-text tables for ``placerisk status``."""

from __future__ import annotations

from typing import Any

from layers.records.places import LEVELS

_KINDS = ("places", "reports", "activities", "incidents")


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers, *[[str(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in
                       enumerate(zip(r, widths, strict=True))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_status(s: dict[str, Any]) -> str:
    """Render the dict of `layers.store.summary.status` for a terminal."""
    totals, outside, nowhere = s["totals"], s["outside_every_boundary"], s["without_location"]
    parts = [
        f"database: {s['database']}  (H3 resolution {s['h3_resolution']})",
        _table(["records", "total", "outside every boundary", "no location"],
               [[k, totals[k], outside[k], nowhere[k]] for k in _KINDS]),
        _table(["places by MACE level", "count"],
               [[f"{lvl} {LEVELS[int(lvl)]}", n] for lvl, n in
                sorted(s["places_by_level"].items(), reverse=True)]),
    ]
    if s["activities_by_type"]:
        parts.append(_table(["activities by type", "count"],
                            [[k, v] for k, v in s["activities_by_type"].items()]))
    if s["incidents_by_crime_type"]:
        parts.append(_table(["police.uk incidents by crime type", "count"],
                            [[k, v] for k, v in s["incidents_by_crime_type"].items()]))
    if s["boundaries"]:
        parts.append(_table(["boundaries: authority", "code", "vintage", "wards", "source"],
                            [[b["authority_name"], b["authority_code"], b["vintage"],
                              b["wards"], b["source"]] for b in s["boundaries"]]))
        parts.append(_table(["authority", *_KINDS],
                            [[a["authority"], *[a[k] for k in _KINDS]]
                             for a in s["by_authority"]]))
        parts.append(_table(["ward", "code", *_KINDS],
                            [[w["name"], w["code"], *[w[k] for k in _KINDS]]
                             for w in s["by_ward"]]))
    else:
        parts.append("no boundaries loaded: run `placerisk boundaries load FILE`")
    parts.append(f"postcodes loaded: {s['postcodes']}")
    if s["last_imports"]:
        parts.append(_table(["last import", "file", "finished (UTC)", "read", "inserted",
                             "updated", "rejected"],
                            [[k, v["source"], v["finished_at"][:19], v["n_read"],
                              v["n_inserted"], v["n_updated"], v["n_rejected"]]
                             for k, v in sorted(s["last_imports"].items())]))
    return "\n\n".join(parts)
