"""Import files into the store: read in chunks, validate, locate, index, upsert.

Every bad row gets one message naming its row, column, value and reason, and is written with
that reason to a rejects CSV beside the input; all good rows are imported together or not at
all; importing the same file again changes nothing.

The file is read, checked and compared in chunks that each commit into temporary tables of
the import's own connection (`layers.store.staging`), so the store's write lock is free while that
work runs and other users' writes (an audited read's audit row, say) go through. The write
lock is taken once, at the end, for the few set-based statements that move the staged rows in.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import os
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import sqlalchemy as sa
from tqdm import tqdm

from geo.crs import WGS84
from geo.wards import WardIndex
from layers.records import _parse as _rows
from layers.records import activities, incidents, places, postcodes, reports, spreadsheet
from layers.records._uncut import whole_text
from layers.records.locate import index_frame
from layers.store import audit, schema
from layers.store.engine import (
    Store,
    UpsertCounts,
    batched,
    begin_on,
    plan_upsert,
    records,
    resolution,
    utcnow,
)
from layers.store.engine import ward_index as load_ward_index
from layers.store.files import open_private
from layers.store.staging import Staging, StaleImport, staging

CHUNK_ROWS = 50_000
ATTEMPTS = 3  # an import whose rows another writer changed meanwhile is read again, this often
MAX_MESSAGES = 1_000
GEO_SUFFIXES = (".geojson", ".json", ".gpkg")  # places only; anything else is read as CSV


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, wrong format)."""


@dataclass
class ImportResult:
    """What one import did; `exit_code` is the CLI's exit status."""

    kind: str
    source: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    outside: int = 0
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rejects_path: Path | None = None

    @property
    def exit_code(self) -> int:
        """0 nothing rejected, 2 some rows rejected, 1 nothing could be imported."""
        if self.rejected and self.rejected == self.read:
            return 1
        return 2 if self.rejected else 0

    def add(self, counts: UpsertCounts) -> None:
        """Add one chunk's upsert counts."""
        self.inserted += counts.inserted
        self.updated += counts.updated
        self.unchanged += counts.unchanged


@dataclass(frozen=True)
class Kind:
    """How one kind of file is read and stored.

    ``stored`` are the columns written. One named like a file column comes from it; the
    others (coordinates, cell, ward, ``located_by``) come from the ``location`` columns. A
    stored record keeps its value of a column the file does not give, or whose cell is empty
    in ``keep_when_blank``, and its whole location when a row gives none.
    """

    name: str
    columns: tuple[str, ...]
    optional: tuple[str, ...]
    parse: Callable[[pd.DataFrame, pd.Series], tuple[pd.DataFrame, pd.DataFrame]]
    table: sa.Table
    key: str
    id_column: str
    stored: tuple[str, ...]
    location: tuple[str, ...]
    keep_when_blank: tuple[str, ...]


_LOCATED = ("lat", "lng", "h3_cell", "ward_code", "outside_areas")
KINDS = {
    "places": Kind(
        "places", places.COLUMNS, places.OPTIONAL_COLUMNS, places.parse_places, schema.places,
        "source_id", "place_id",
        ("name", "category", "address", "postcode", *_LOCATED, "mace_level",
         "exploitation_types", "source_agency", "assessed_on", "review_due", "status", "notes"),
        places.LOCATION, places.KEEP_WHEN_BLANK,
    ),
    "reports": Kind(
        "reports", reports.COLUMNS, (), reports.parse_reports, schema.reports, "source_id",
        "report_id",
        ("reported_on", "place_id", "postcode", "located_by", *_LOCATED, "mace_level",
         "exploitation_type", "source_agency", "patrol_discovered", "source_grade",
         "intel_grade", "handling_code", "summary"),
        reports.LOCATION, reports.KEEP_WHEN_BLANK,
    ),
    "activities": Kind(
        "activities", activities.COLUMNS, (), activities.parse_activities, schema.activities,
        "source_id", "activity_id",
        ("activity_type", "started_at", "ended_at", "place_id", "postcode", "located_by",
         *_LOCATED, "agency", "outcome", "jag_ref"),
        activities.LOCATION, activities.KEEP_WHEN_BLANK,
    ),
}
POLICE_UK_STORED = ("crime_id", "month", "reported_by", "falls_within", *_LOCATED, "location",
                    "lsoa_code", "lsoa_name", "crime_type", "last_outcome", "context")


def import_file(store: Store, kind: str, path: str | Path, *, rejects: str | Path | None = None,
                progress: bool = False, chunk_rows: int = CHUNK_ROWS,
            actor: str | None = None) -> ImportResult:
    """Import one places, reports or activities file (CSV; GeoJSON too for places).

    Raises
    ------
    ImportFileError
        When the file cannot be read or is not in the expected format; nothing is written.
    """
    spec = KINDS[kind]
    path = Path(path)
    geo = path.suffix.lower() in GEO_SUFFIXES

    def attempt() -> tuple[ImportResult, _Chunks, _Step]:
        result = ImportResult(kind, str(path))

        def step(ctx: _Context, sink: _Rejects, raw: pd.DataFrame, rows: pd.Series) -> None:
            parsed, problems = spec.parse(raw if geo else spreadsheet.restore_csv(raw), rows)
            parsed, problems = ctx.locate(spec, parsed, problems, raw, rows)
            problems = ctx.duplicates(spec, parsed, problems, rows)
            good = _accept(result, sink, raw, rows, parsed, problems)
            keep = _kept(spec, raw)[~_bad_rows(problems, len(raw))].reset_index(drop=True)
            before, changed = _store_located(ctx, result, good, spec.table, spec.key,
                                             spec.stored, keep=keep)
            if kind == "places":
                _record_levels(ctx.stage, good, before, changed, path)

        return result, _read_own_format(path, spec, result, chunk_rows), step

    return _run(store, attempt, rejects=rejects, progress=progress, actor=actor)


def import_police_uk(store: Store, path: str | Path, *, rejects: str | Path | None = None,
                     progress: bool = False, chunk_rows: int = CHUNK_ROWS,
                 actor: str | None = None) -> ImportResult:
    """Import one published police.uk street-level crime CSV, unchanged."""
    path = Path(path)

    def attempt() -> tuple[ImportResult, _Chunks, _Step]:
        result = ImportResult("police-uk", str(path))
        counter = incidents.OccurrenceCounter()

        def step(ctx: _Context, sink: _Rejects, raw: pd.DataFrame, rows: pd.Series) -> None:
            if result.read == 0:
                incidents.check_columns(list(raw.columns), source=str(path))
            parsed, problems = incidents.parse_police_uk(raw, rows, counter.keys(raw))
            good = _accept(result, sink, raw, rows, parsed, problems)
            _store_located(ctx, result, good, schema.incidents, "incident_key",
                           POLICE_UK_STORED)

        return result, _read_csv(path, chunk_rows, lower=False), step

    return _run(store, attempt, rejects=rejects, progress=progress, actor=actor)


def import_postcodes(store: Store, path: str | Path, *, rejects: str | Path | None = None,
                     progress: bool = False, chunk_rows: int = CHUNK_ROWS,
                 actor: str | None = None) -> ImportResult:
    """Load OS Code-Point Open postcodes (CSV without a header row)."""
    path = Path(path)
    table = schema.postcodes

    def attempt() -> tuple[ImportResult, _Chunks, _Step]:
        result = ImportResult("postcodes", str(path))

        def step(ctx: _Context, sink: _Rejects, raw: pd.DataFrame, rows: pd.Series) -> None:
            parsed, problems = postcodes.parse_codepoint(raw, rows)
            good = _accept(result, sink, raw, rows, parsed, problems)
            good = good.drop_duplicates("postcode", keep="last")
            keys = good["postcode"].tolist()
            existing = sum(len(ctx.conn.scalars(sa.select(table.c.postcode)
                                                .where(table.c.postcode.in_(chunk))).all())
                           for chunk in batched(keys))
            ctx.stage.replace(table, "postcode", records(good, list(good.columns)))
            result.add(UpsertCounts(len(good) - existing, 0, existing))

        chunks = _read_csv(path, chunk_rows, lower=False, names=postcodes.CODEPOINT_COLUMNS)
        return result, chunks, step

    return _run(store, attempt, rejects=rejects, progress=progress, actor=actor)


_Step = Callable[["_Context", "_Rejects", pd.DataFrame, pd.Series], None]
# (chunk, spreadsheet row numbers) pairs, as `_read_csv` and `_read_own_format` yield them
_Chunks = Generator[tuple[pd.DataFrame, pd.Series], None, None]


def _run(store: Store, attempt: Callable[[], tuple[ImportResult, _Chunks, _Step]], *,
         rejects: str | Path | None, progress: bool, actor: str | None) -> ImportResult:
    """Stage every chunk through ``step``, then apply them all in one short write transaction.

    Each chunk is its own (read) transaction that commits into the import's temporary
    tables; nothing reaches the store until `Staging.apply`, which also writes the import
    log row and the audit row (``actor`` as the user). If another writer changed rows the
    import compared, the file is read again from the start (up to `ATTEMPTS` times).
    """
    for tries in range(1, ATTEMPTS + 1):
        result, chunks, step = attempt()
        path = Path(result.source)
        own_csv = result.kind in KINDS and path.suffix.lower() not in GEO_SUFFIXES
        try:
            with closing(chunks), _Rejects(path, rejects, restore=own_csv) as sink, \
                    store.connect() as conn, staging(conn) as stage:
                with conn.begin():
                    ctx = _Context(conn, path, stage)
                with _progress(path, progress, result.kind) as bar:
                    for raw, rows in chunks:
                        with conn.begin():
                            step(ctx, sink, raw, rows)
                        bar.update(len(raw))
                with begin_on(conn):
                    stage.apply(conn)
                    _finish(conn, result, actor)
        except StaleImport:
            if tries == ATTEMPTS:
                raise ImportFileError(
                    f"{path.name}: other users changed the same records while it was read, "
                    f"{ATTEMPTS} times; nothing was imported; run the import again") from None
            continue
        result.rejects_path = sink.final
        return result
    raise AssertionError("unreachable")


def _store_located(ctx: _Context, result: ImportResult, good: pd.DataFrame, table: sa.Table,
                   key: str, stored: tuple[str, ...], *, keep: pd.DataFrame | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Index good rows to cells and wards and upsert them; return what upsert returns.

    ``keep`` marks the values a stored record keeps (see `layers.store.engine.upsert`).
    """
    good = index_frame(good, resolution=ctx.resolution, wards=ctx.wards)
    plan = plan_upsert(ctx.conn, table, good, key=key, columns=list(stored), keep=keep)
    ctx.stage.upsert(table, key, list(stored), plan.inserts, plan.updates)
    result.add(plan.counts)
    result.outside += int(good["outside_areas"].sum())
    return plan.existing, plan.changed


def _kept(spec: Kind, raw: pd.DataFrame) -> pd.DataFrame:
    """Per row and stored column: whether a stored record keeps its value.

    It does for a column the file does not have, for an empty cell of a
    ``spec.keep_when_blank`` column, and for the whole location of a row that gives none.
    """
    given = set(raw.attrs.get("source_columns") or raw.columns)
    files = set(spec.columns) | set(spec.optional)
    nowhere = np.logical_and.reduce([_rows.blank(raw[c]).to_numpy() for c in spec.location])
    keep = {}
    for column in spec.stored:
        if column not in files:  # from the location: coordinates, cell, ward, located_by
            keep[column] = nowhere
        elif column not in given:
            keep[column] = np.ones(len(raw), dtype=bool)
        elif column in spec.keep_when_blank:
            keep[column] = _rows.blank(raw[column]).to_numpy()
        else:
            keep[column] = np.zeros(len(raw), dtype=bool)
        if column in spec.location:
            keep[column] = keep[column] | nowhere
    return pd.DataFrame(keep)


# --- reading -----------------------------------------------------------------------------

def _read_csv(path: Path, chunk_rows: int, *, lower: bool, names: tuple[str, ...] | None = None
              ) -> _Chunks:
    """Yield (text chunk, spreadsheet row numbers); raise ImportFileError if unreadable."""
    if not path.is_file():
        msg = f"{path}: no such file"
        raise ImportFileError(msg)
    offset = 1 if names else 2
    try:
        with pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk_rows,
                         encoding="utf-8-sig", header=None if names else "infer",
                         names=list(names) if names else None) as reader:
            start = 0
            for chunk in reader:
                chunk.columns = [str(c).strip().lower() if lower else str(c).strip()
                                 for c in chunk.columns]
                rows = pd.Series(np.arange(start, start + len(chunk)) + offset)
                start += len(chunk)
                yield chunk.reset_index(drop=True), rows
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = f"{path}: cannot read as CSV ({exc}); save it as UTF-8 CSV with a header row"
        raise ImportFileError(msg) from exc


def _read_own_format(path: Path, spec: Kind, result: ImportResult, chunk_rows: int
                     ) -> _Chunks:
    """Yield chunks with every known column present; check the header on the first."""
    if path.suffix.lower() in GEO_SUFFIXES:
        if spec.name != "places":
            msg = (f"{path}: GeoJSON and GeoPackage are accepted for places only; give "
                   f"{spec.name} as CSV")
            raise ImportFileError(msg)
        source: _Chunks = (chunk for chunk in [_read_points(path, layer=spec.name)])
    else:
        source = _read_csv(path, chunk_rows, lower=True)
    with closing(source):
        for i, (raw, rows) in enumerate(source):
            if i == 0:
                _check_header(path, spec, list(raw.columns), result)
            raw.attrs["source_columns"] = list(raw.columns)
            for column in (*spec.columns, *spec.optional):
                if column not in raw.columns:
                    raw[column] = ""
            yield raw, rows


def _check_header(path: Path, spec: Kind, columns: list[str], result: ImportResult) -> None:
    required = _required(spec)
    missing = [c for c in spec.columns if c in required and c not in columns]
    if missing:
        msg = (
            f"{path}: not a {spec.name} file: missing column(s) {', '.join(missing)}. "
            f"Expected columns: {', '.join(spec.columns)}"
        )
        raise ImportFileError(msg)
    known = {*spec.columns, *spec.optional, *spreadsheet.DERIVED}
    unknown = [c for c in columns if c not in known]
    if unknown:
        result.warnings.append(f"{path}: ignoring unknown column(s): {', '.join(unknown)}")


def _required(spec: Kind) -> tuple[str, ...]:
    return {"places": places.REQUIRED, "reports": reports.REQUIRED,
            "activities": activities.REQUIRED}[spec.name]


def _read_points(path: Path, *, layer: str) -> tuple[pd.DataFrame, pd.Series]:
    """Read GeoJSON or a GeoPackage (its layer ``layer``, or its only one) as text columns."""
    what = "GeoPackage" if path.suffix.lower() == ".gpkg" else "GeoJSON"
    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
        chosen = layer if layer in layers else layers[0] if len(layers) == 1 else None
        frame = gpd.read_file(path, layer=chosen, fid_as_index=True)
    except Exception as exc:  # pyogrio raises several types; all mean "cannot read"
        msg = f"{path}: cannot read as {what}: {exc}"
        raise ImportFileError(msg) from exc
    if frame.crs is not None:
        frame = frame.to_crs(WGS84)
    fids = frame.index.to_numpy()
    frame = frame.reset_index(drop=True)
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name)).astype(object)
    raw = table.where(table.notna(), "").astype(str)
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    raw = whole_text(path, chosen, raw, fids)  # GDAL ends text at a NUL
    points = frame.geometry.geom_type == "Point"
    raw["latitude"] = np.where(points, frame.geometry.y.astype(str), "")
    raw["longitude"] = np.where(points, frame.geometry.x.astype(str), "")
    return raw.reset_index(drop=True), pd.Series(np.arange(len(raw)) + 1)


# --- locating, checking and recording ------------------------------------------------------

class _Context:
    """What every chunk of one import needs from the store."""

    def __init__(self, conn: sa.Connection, path: Path, stage: Staging) -> None:
        self.conn = conn
        self.stage = stage
        self.path = path
        self.resolution = resolution(conn)
        self.first_row: dict[str, int] = {}

    @functools.cached_property
    def wards(self) -> WardIndex | None:
        """The point-in-ward index over the loaded areas, built on first use."""
        return load_ward_index(self.conn)

    def locate(self, spec: Kind, parsed: pd.DataFrame, problems: pd.DataFrame,
               raw: pd.DataFrame, rows: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Fill coordinates from postcodes and places; record what cannot be located.

        ``located_by`` says where the coordinates came from: the row's own, its postcode or
        its place. Coordinates equal to those of the row's postcode (or else of its place)
        count as found from it, so that an exported row imports back as it was.
        """
        p = _rows.Problems(rows)
        out = parsed.copy()
        has_coords = out["lat"].notna().to_numpy()
        out["located_by"] = pd.Series(np.where(has_coords, "coordinates", ""),
                                      dtype=object).replace("", None)
        if "place_ref" in out:
            self._from_places(out, raw, p)
        self._from_postcodes(out, raw, p)
        self._new_need_location(spec, out, raw, p)
        if spec.name == "places":
            self._erased_places(out, raw, p)
        return out, pd.concat([problems, p.frame()], ignore_index=True)

    def _new_need_location(self, spec: Kind, out: pd.DataFrame, raw: pd.DataFrame,
                           p: _rows.Problems) -> None:
        """Refuse a new record that gives no location; a stored one keeps its own."""
        nowhere = np.logical_and.reduce([_rows.blank(raw[c]).to_numpy() for c in spec.location])
        if not nowhere.any():
            return
        keys = out["source_id"][nowhere].dropna().unique().tolist()
        t = spec.table
        stored = {r[0] for chunk in batched(keys) for r in self.conn.execute(
            sa.select(t.c.source_id).where(t.c.source_id.in_(chunk))).all()}
        ways = ("latitude and longitude, a postcode or a place_id" if "place_id" in spec.location
                else "latitude and longitude or a postcode")
        p.add(nowhere & ~out["source_id"].isin(stored).to_numpy(), "location",
              pd.Series([""] * len(raw)), f"no location: give {ways}")

    def _from_places(self, out: pd.DataFrame, raw: pd.DataFrame, p: _rows.Problems) -> None:
        refs = out["place_ref"].dropna().unique().tolist()
        t = schema.places
        found = pd.DataFrame(
            [r for chunk in batched(refs) for r in self.conn.execute(
                sa.select(t.c.source_id, t.c.id, t.c.lat, t.c.lng, t.c.erased_at)
                .where(t.c.source_id.in_(chunk))).all()],
            columns=["source_id", "id", "lat", "lng", "erased_at"]).set_index("source_id")
        erased = found.index[found["erased_at"].notna()]
        gone = out["place_ref"].isin(erased)
        p.add(gone, "place_id", raw["place_id"],
              "this place was erased; link the record to a current place or give none")
        found = found[found["erased_at"].isna()]
        known = out["place_ref"].isin(found.index)
        p.add(out["place_ref"].notna() & ~known & ~gone, "place_id", raw["place_id"],
              "unknown place_id; import the place first (placerisk import places FILE)")
        out["place_id"] = out["place_ref"].map(found["id"]).astype("Int64")
        out.loc[_at(out, known, found), "located_by"] = "place"
        use = known & out["lat"].isna() & out["postcode"].isna()
        out.loc[use, "lat"] = out.loc[use, "place_ref"].map(found["lat"])
        out.loc[use, "lng"] = out.loc[use, "place_ref"].map(found["lng"])
        out.loc[use, "located_by"] = "place"

    def _erased_places(self, out: pd.DataFrame, raw: pd.DataFrame, p: _rows.Problems) -> None:
        """Refuse places that were erased: an erasure is not undone by an import."""
        ids = out["source_id"].dropna().unique().tolist()
        t = schema.places
        erased = {r[0] for chunk in batched(ids) for r in self.conn.execute(
            sa.select(t.c.source_id).where(t.c.source_id.in_(chunk),
                                           t.c.erased_at.is_not(None))).all()}
        if erased:
            p.add(out["source_id"].isin(erased), "place_id", raw["place_id"],
                  "this place was erased and cannot be imported again; give a new place_id "
                  "if it is a new concern")

    def _from_postcodes(self, out: pd.DataFrame, raw: pd.DataFrame, p: _rows.Problems) -> None:
        coded = out["postcode"].notna().to_numpy()
        if not coded.any():
            return
        need = coded & out["lat"].isna().to_numpy()
        codes = out.loc[coded, "postcode"].unique().tolist()
        t = schema.postcodes
        found = pd.DataFrame(
            [r for chunk in batched(codes) for r in self.conn.execute(
                sa.select(t.c.postcode, t.c.lat, t.c.lng).where(t.c.postcode.in_(chunk))).all()],
            columns=["postcode", "lat", "lng"]).set_index("postcode")
        out.loc[_at(out, out["postcode"].isin(found.index), found, key="postcode"),
                "located_by"] = "postcode"
        hit = need & out["postcode"].isin(found.index).to_numpy()
        if (need & ~hit).any():
            p.add(need & ~hit, "postcode", raw["postcode"], self._unknown_postcode())
        out.loc[hit, "lat"] = out.loc[hit, "postcode"].map(found["lat"])
        out.loc[hit, "lng"] = out.loc[hit, "postcode"].map(found["lng"])
        out.loc[hit, "located_by"] = "postcode"

    def _unknown_postcode(self) -> str:
        """Why a postcode was not found: none are loaded, or it is not among those that are."""
        t = schema.postcodes
        loaded = int(self.conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0)
        if not loaded:
            return ("unknown postcode; load Code-Point Open first (placerisk postcodes load "
                    "FILE) or give latitude and longitude")
        return (f"not in the {loaded:,} loaded postcode{'s' if loaded != 1 else ''} "
                "(Code-Point Open); check it or give latitude and longitude")

    def duplicates(self, spec: Kind, parsed: pd.DataFrame, problems: pd.DataFrame,
                   rows: pd.Series) -> pd.DataFrame:
        """Reject a record id seen before in the same file, naming the first row."""
        p = _rows.Problems(rows)
        keys = parsed["source_id"]
        first = [self.first_row.get(k) if isinstance(k, str) else None for k in keys]
        for key, row in zip(keys, rows, strict=True):
            if isinstance(key, str):
                self.first_row.setdefault(key, int(row))
        first = [f if f is not None else self.first_row.get(k) for f, k in zip(first, keys,
                                                                                strict=True)]
        dup = np.array([isinstance(k, str) and f != r
                        for k, f, r in zip(keys, first, rows, strict=True)])
        reasons = pd.Series([f"appears again (first at row {f})" for f in first])
        p.add(dup, spec.id_column, keys.fillna(""), reasons)
        return pd.concat([problems, p.frame()], ignore_index=True)


def _at(out: pd.DataFrame, known: pd.Series, found: pd.DataFrame, *, key: str = "place_ref"
        ) -> npt.NDArray[np.bool_]:
    """Rows whose own coordinates are those ``found`` for their ``key`` (to about 0.1 mm)."""
    lat = out[key].map(found["lat"]).to_numpy(dtype=float)
    lng = out[key].map(found["lng"]).to_numpy(dtype=float)
    own_lat, own_lng = out["lat"].to_numpy(dtype=float), out["lng"].to_numpy(dtype=float)
    close: npt.NDArray[np.bool_] = (np.isclose(own_lat, lat, rtol=0, atol=1e-9)
                                    & np.isclose(own_lng, lng, rtol=0, atol=1e-9))
    known_rows: npt.NDArray[np.bool_] = known.to_numpy(dtype=bool)
    return known_rows & close


def _bad_rows(problems: pd.DataFrame, n: int) -> np.ndarray:
    """Boolean mask of the ``n`` rows of a chunk that have a problem."""
    bad = np.zeros(n, dtype=bool)
    if not problems.empty:
        bad[problems["position"].to_numpy(dtype=int)] = True
    return bad


def _accept(result: ImportResult, sink: _Rejects, raw: pd.DataFrame, rows: pd.Series,
            parsed: pd.DataFrame, problems: pd.DataFrame) -> pd.DataFrame:
    """Count the chunk, write its bad rows to the rejects file, return its good rows."""
    result.read += len(raw)
    bad = _bad_rows(problems, len(raw))
    if not problems.empty:
        text = _rows.messages(problems)
        room = MAX_MESSAGES - len(result.messages)
        result.messages.extend(text.tolist()[:max(room, 0)])
        sink.write(raw[bad], rows[bad], text)
        result.rejected += int(bad.sum())
    return parsed[~bad].reset_index(drop=True)


def _record_levels(stage: Staging, good: pd.DataFrame, before: pd.DataFrame,
                   changed: pd.DataFrame, path: Path) -> None:
    """Keep every change of a place's MACE level in the history."""
    if changed.empty:
        return
    now = utcnow()
    old = dict(zip(before["source_id"], before["mace_level"], strict=True))
    new = good.set_index("source_id")
    history = []
    for key in changed["source_id"]:
        level, was = int(new.at[key, "mace_level"]), old.get(key)
        if was is not None and int(was) == level:
            continue
        reason = new.at[key, "level_reason"] or (
            f"first recorded (import of {path.name})" if was is None
            else f"level changed by import of {path.name}")
        when = new.at[key, "assessed_on"] or dt.date.today()
        history.append({"place_source_id": key, "changed_on": when, "recorded_at": now,
                        "from_level": None if was is None else int(was), "to_level": level,
                        "reason": reason})
    stage.insert(schema.place_levels, history)


def _finish(conn: sa.Connection, result: ImportResult, actor: str | None) -> None:
    source = os.path.basename(result.source)
    conn.execute(sa.insert(schema.imports).values(
        kind=result.kind, source=source, finished_at=utcnow(),
        n_read=result.read, n_inserted=result.inserted, n_updated=result.updated,
        n_unchanged=result.unchanged, n_rejected=result.rejected, n_outside=result.outside))
    audit.record(conn, action="import", user_name=actor, object_type=result.kind,
                 object_ids=[source], detail=(
                     f"read {result.read}, inserted {result.inserted}, updated "
                     f"{result.updated}, rejected {result.rejected}"))


class _Rejects:
    """Writes rejected rows with their reason; the file appears only if there are any.

    The file is for fixing in a spreadsheet, so its text is defused like an export's
    (`layers.reporting.spreadsheet.neutralise_csv`): a cell such as ``=HYPERLINK(...)`` is written
    ``'=HYPERLINK(...)``. With ``restore`` (the importer's own CSV formats, which take one
    ``'`` off such a cell) the values are first read as the importer reads them, so that
    the fixed rejects file imports to exactly what the original rows meant.
    """

    def __init__(self, source: Path, path: str | Path | None, *, restore: bool = False
                 ) -> None:
        self.restore = restore
        self.target = Path(path) if path else source.with_name(source.stem + ".rejects.csv")
        self.temp = self.target.with_name(self.target.name + ".partial")
        self.final: Path | None = None
        self._file: IO[str] | None = None
        self._writer: Any = None

    def __enter__(self) -> _Rejects:
        return self

    def write(self, raw: pd.DataFrame, rows: pd.Series, text: pd.Series) -> None:
        """Append bad rows: the spreadsheet row, the reason, then the original values."""
        columns = raw.attrs.get("source_columns") or list(raw.columns)
        if self._writer is None:
            file = open_private(self.temp, newline="")  # rows of the store: 0600
            self._file = file
            self._writer = csv.writer(file)
            self._writer.writerow(["row", "reason", *columns])
        values_frame = raw[columns].reset_index(drop=True)
        if self.restore:
            values_frame = spreadsheet.restore_csv(values_frame)
        values_frame = spreadsheet.neutralise_csv(values_frame)
        for row, values in zip(rows, values_frame.itertuples(index=False), strict=True):
            reason = text.get(int(row), "")
            self._writer.writerow([int(row), reason.split(": ", 1)[-1], *values])

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self._file is not None:
            self._file.close()
            if exc_type is None:
                os.replace(self.temp, self.target)
                self.final = self.target
            else:
                self.temp.unlink(missing_ok=True)


class _progress:
    """A tqdm bar over the rows of a file, counted up front (cheap next to parsing)."""

    def __init__(self, path: Path, enabled: bool, label: str) -> None:
        self.bar = None
        if enabled and path.is_file():
            with open(path, "rb") as f:
                total = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
            self.bar = tqdm(total=total, unit=" rows", desc=f"importing {label}", leave=False)

    def __enter__(self) -> _progress:
        return self

    def update(self, n: int) -> None:
        """Advance by ``n`` rows."""
        if self.bar is not None:
            self.bar.update(n)

    def __exit__(self, *_: object) -> None:
        if self.bar is not None:
            self.bar.close()
