"""A synthetic demo dataset for the joint MACE hub's area: Stockton-on-Tees and Hartlepool.

Everything made here is invented: places, concern reports and disruption activities are
random draws around eight real town centres (six in Stockton-on-Tees, two in Hartlepool) and
other localities of both boroughs, so that maps, hot spot statistics and outcome
measures have something realistic to find. No real place, report or person is in it, and
names, addresses and notes say so ("Synthetic ...", "Demo ...").

The module does no I/O: `make_demo_data` returns frames whose columns are exactly those of
the import CSVs (text blanks are ``""``, missing numbers are NaN/<NA>), so
``frame.to_csv(path, index=False)`` writes a file the importers accept.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import BNG, WGS84
from layers.records import activities, places, reports

DEMO_NOTICE = "SYNTHETIC DEMO DATA - not real places, reports or people"
WINDOW_DAYS = 730  # every event date lies in the 730 days ending at (and including) ``end``

# The demo speaks the importers' own vocabularies and column layouts.
PLACE_COLUMNS = places.COLUMNS
REPORT_COLUMNS = reports.COLUMNS
ACTIVITY_COLUMNS = activities.COLUMNS
CATEGORIES = places.CATEGORIES
EXPLOITATION_TYPES = places.EXPLOITATION_TYPES
ACTIVITY_TYPES = activities.ACTIVITY_TYPES


@dataclass(frozen=True)
class HotSpot:
    """A synthetic hot spot centred on a real town centre (jitter ``sigma_m`` metres)."""

    name: str
    area: str
    lat: float
    lng: float
    sigma_m: float
    pattern: str
    scale: float  # reports per day where the pattern's rate is 1


# Centres checked against police.uk snap points and the 2024 ward polygons: each lies in
# its town's shopping streets (Stockton High Street, Thornaby Town Centre, Billingham
# Queensway, Norton High Street, Yarm High Street, Ingleby Barwick's shops; in Hartlepool,
# Middleton Grange and York Road in Victoria ward, and Seaton Carew's front in Seaton ward).
HOT_SPOTS = (
    HotSpot("Stockton High Street", "Stockton Town Centre", 54.5670, -1.3140, 300.0,
            "persisting", 1.5),
    HotSpot("Thornaby", "Thornaby", 54.5400, -1.2930, 300.0, "emerging", 1.0),
    HotSpot("Billingham", "Billingham", 54.6065, -1.2900, 350.0, "persisting", 1.0),
    HotSpot("Norton", "Norton", 54.5890, -1.3150, 300.0, "fading", 1.0),
    HotSpot("Yarm", "Yarm", 54.5075, -1.3540, 250.0, "emerging", 0.7),
    HotSpot("Ingleby Barwick", "Ingleby Barwick", 54.5225, -1.3200, 350.0, "fading", 0.8),
    HotSpot("Hartlepool town centre", "Hartlepool Town Centre", 54.6855, -1.2145, 300.0,
            "persisting", 1.2),
    HotSpot("Seaton Carew", "Seaton Carew", 54.6620, -1.1860, 250.0, "emerging", 0.7),
)
# Which temporal pattern each hot spot got. emerging: 0.25 x scale a day until the last
# 90 days, then a sharp rise to 3 x scale within a month; persisting: scale every day;
# fading: 1.6 x scale in the first year, falling to 0.25 x scale over the next 90 days.
# On top: a background of 1.8 reports a day at places elsewhere, patrol-discovered records
# where street patrols went, and a local rise-then-drop around each effective intervention.
CLUSTER_PATTERNS: dict[str, str] = {h.name: h.pattern for h in HOT_SPOTS}
BACKGROUND_PER_DAY = 1.8
EFFECT_RADIUS_M = 300.0  # reports this close to an effective closure drop after it

# Further seeds for background places and the approximate areas: (locality, lat, lng).
OTHER_SEEDS = (
    ("Hardwick and Roseworth", 54.5870, -1.3480),
    ("Fairfield and Hartburn", 54.5630, -1.3600),
    ("Eaglescliffe", 54.5300, -1.3550),
    ("Portrack and Tilery", 54.5760, -1.2880),
    ("Wolviston and Northern Parishes", 54.6250, -1.3500),
    ("Southern Villages", 54.4850, -1.3050),
    ("Headland and Harbour", 54.6950, -1.1830),
    ("Owton Manor", 54.6700, -1.2370),
    ("Throston and De Bruce", 54.7020, -1.2250),
)
STOCKTON = ("E06000004", "Stockton-on-Tees")
HARTLEPOOL = ("E06000001", "Hartlepool")
_HARTLEPOOL_SEEDS = {"Hartlepool Town Centre", "Seaton Carew", "Headland and Harbour",
                     "Owton Manor", "Throston and De Bruce"}
_HULL = (-1.46, 54.46, -1.15, 54.73)  # lng_min, lat_min, lng_max, lat_max: both boroughs' box
_M_PER_DEG_LAT = 111_320.0
_M_PER_DEG_LNG = _M_PER_DEG_LAT * float(np.cos(np.radians(54.56)))
_SEED_LAT = np.array([h.lat for h in HOT_SPOTS] + [s[1] for s in OTHER_SEEDS])
_SEED_LNG = np.array([h.lng for h in HOT_SPOTS] + [s[2] for s in OTHER_SEEDS])
_SEED_NAME = np.array([h.name for h in HOT_SPOTS] + [s[0] for s in OTHER_SEEDS])
_SEED_AREA = np.array([h.area for h in HOT_SPOTS] + [s[0] for s in OTHER_SEEDS])
_N_HOT = len(HOT_SPOTS)  # also the group number of background places
_LEVEL_WEIGHT = np.array([0.0, 0.1, 1.0, 3.0, 6.0])  # how often a place of level i is chosen
_AGENCIES = np.array(["Cleveland Police", "Stockton Council", "Youth service", "Thirteen Group",
                      "Licensing"])
_AGENCY_P = [0.35, 0.25, 0.2, 0.12, 0.08]
_TYPE_P = np.array([0.3, 0.45, 0.25, 0.08, 0.07, 0.04])  # chance a place has each type
_HOT_CAT_P = [0.16, 0.14, 0.07, 0.14, 0.08, 0.06, 0.10, 0.07, 0.04, 0.07, 0.07]
_BG_CAT_P = [0.08, 0.06, 0.14, 0.10, 0.06, 0.04, 0.20, 0.06, 0.08, 0.09, 0.09]
_LABELS = np.array([
    "Synthetic takeaway", "Synthetic bar", "Demo park", "Synthetic shop", "Synthetic empty unit",
    "Demo bus stop", "Synthetic flats", "Demo car park", "Demo school approach",
    "Synthetic leisure venue", "Synthetic site",
])
_PROTECTIVE_LABELS = np.array(["Demo library", "Demo sports ground", "Demo community centre"])
_CLOSABLE = ("takeaway", "licensed_premises", "shop", "residential", "empty_property")
_NOTES = {
    1: ("protective space, staffed evenings", "youth workers on site", "safe space after school"),
    2: ("mentioned in a young person's context", "busy after school", "poorly lit at night"),
    3: ("reported gathering after dark", "adults seen offering lifts", "repeat missing sightings",
        "young people seen with new phones", "suspected drug running"),
}
_SUMMARIES = np.array([f"Synthetic report: {s}" for s in (
    "young people seen gathering late at night", "adults seen offering lifts to young people",
    "suspected drug running from premises", "young person found here after going missing",
    "staff concerned about older visitors", "groups seen with cash and new phones",
    "flat used by non-residents", "anti-social behaviour with younger children present",
)])


@dataclass(frozen=True)
class DemoData:
    """The synthetic demo dataset; see `make_demo_data`."""

    places: pd.DataFrame
    reports: pd.DataFrame
    activities: pd.DataFrame
    areas: gpd.GeoDataFrame


@dataclass(frozen=True)
class _ActivitySpec:
    n: int
    categories: tuple[str, ...]
    min_level: int
    agencies: tuple[str, ...]  # drawn uniformly: repeat one to weight it
    outcomes: tuple[str, ...]
    hours: tuple[int, int]  # first and last starting hour
    minutes: tuple[int, int]  # shortest and longest duration
    blank_end: float


_SPECS = {
    "licensing_visit": _ActivitySpec(
        220, ("takeaway", "licensed_premises", "shop"), 2,
        ("Licensing", "Licensing", "Cleveland Police"),
        ("Premises visited, advice given", "Licence conditions reviewed with manager",
         "Warning issued for breach of licence conditions", "Staff given safeguarding briefing",
         "No issues found"), (10, 22), (30, 90), 0.05),
    "premises_closure": _ActivitySpec(
        25, ("takeaway", "licensed_premises", "shop", "residential"), 3,
        ("Cleveland Police", "Cleveland Police", "Stockton Council"),
        ("Closure order granted", "Closure notice served", "Closure order extended"),
        (9, 15), (60, 180), 0.05),
    "empty_property_secured": _ActivitySpec(
        25, ("empty_property",), 2, ("Stockton Council", "Thirteen Group"),
        ("Property boarded and secured", "Locks changed and alarm fitted",
         "Owner contacted, property secured"), (8, 16), (60, 240), 0.05),
    "street_patrol": _ActivitySpec(
        480, (), 1, ("Cleveland Police",),
        ("Patrol completed, no issues", "Group dispersed, advice given",
         "Young people engaged and signposted to youth service", "Intelligence submitted"),
        (16, 23), (15, 120), 0.1),
    "housing_provider_visit": _ActivitySpec(
        160, ("residential", "empty_property"), 1, ("Thirteen Group",),
        ("Tenancy visit completed", "Tenancy warning issued", "Communal door entry repaired",
         "Concerns passed to MACE"), (9, 17), (20, 60), 0.05),
    "other": _ActivitySpec(
        130, ("park_open_space", "youth_leisure_venue", "car_park", "transport_hub",
              "school_vicinity", "other"), 1,
        ("Youth service", "Stockton Council", "Cleveland Police"),
        ("CCTV camera installed", "Youth outreach session delivered",
         "Community guardian presence", "Street lighting improved"), (10, 20), (60, 180), 0.2),
}


def approximate_areas() -> gpd.GeoDataFrame:
    """Build clearly approximate demo areas covering Stockton-on-Tees and Hartlepool.

    For a demo without the real wards of ``data/boundaries/`` (``--no-real-boundaries``, or
    the files missing): Voronoi cells (computed in British National Grid) around the eight
    town centres and nine other seeds, clipped to a box around both boroughs. They are not
    wards.

    Returns
    -------
    gpd.GeoDataFrame
        Seventeen Polygons in EPSG:4326 with columns code (``DEMO0001`` ...), name,
        authority_code, authority_name, vintage (``"demo"``) and geometry.

    Examples
    --------
    >>> areas = approximate_areas()
    >>> len(areas), areas["code"].iloc[0], bool(areas.is_valid.all())
    (17, 'DEMO0001', True)
    """
    seeds = gpd.GeoSeries(gpd.points_from_xy(_SEED_LNG, _SEED_LAT), crs=WGS84).to_crs(BNG)
    hull = gpd.GeoSeries([shapely.box(*_HULL)], crs=WGS84).segmentize(0.01).to_crs(BNG).iloc[0]
    cells = shapely.get_parts(shapely.voronoi_polygons(
        shapely.MultiPoint(shapely.get_coordinates(seeds.values)), extend_to=hull, ordered=True))
    clipped = gpd.GeoSeries(shapely.intersection(cells, hull), crs=BNG).to_crs(WGS84)
    names = list(_SEED_AREA)
    authority = [HARTLEPOOL if n in _HARTLEPOOL_SEEDS else STOCKTON for n in names]
    return gpd.GeoDataFrame({
        "code": [f"DEMO{i:04d}" for i in range(1, len(names) + 1)],
        "name": [f"{n} (approximate demo area)" for n in names],
        "authority_code": [code for code, _ in authority],
        "authority_name": [name for _, name in authority],
        "vintage": "demo",
    }, geometry=clipped.make_valid().values, crs=WGS84)


def make_demo_data(*, seed: int = 42, end: datetime.date | None = None,
                   areas: gpd.GeoDataFrame | None = None) -> DemoData:
    """Generate the synthetic demo dataset, deterministically for a seed and end date.

    Parameters
    ----------
    seed
        Seed of the random generator; the same seed and ``end`` give identical frames.
    end
        Last day of the two-year window (default: today). Report, assessment and activity
        dates lie in the `WINDOW_DAYS` days ending here; a place's review_due may be later.
    areas
        Polygons (any CRS, e.g. real wards with code, name, geometry) used to keep points
        inside; default `approximate_areas`. Hot spots stay at the town centres either way;
        town centres and other seeds outside the areas are left out (real wards of one
        borough give that borough's part of the demo).

    Returns
    -------
    DemoData
        places (432 rows), reports (about 7,000), activities (about 1,050) with the import
        CSV columns, and the areas the points were kept inside (EPSG:4326).
    """
    if isinstance(end, datetime.datetime):
        end = end.date()
    end = datetime.date.today() if end is None else end
    start = end - datetime.timedelta(days=WINDOW_DAYS - 1)
    areas = approximate_areas() if areas is None else _checked_areas(areas)
    union = areas.union_all()
    shapely.prepare(union)
    seeds = _seeds_in(union)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    pl = _make_places(rngs[0], seeds, union, start)
    plan = _plan_interventions(rngs[0], seeds, pl)
    patrols = _plan_patrols(rngs[1], seeds, pl, union)
    drawn = _make_reports(rngs[2], seeds, pl, plan, patrols, union)
    return DemoData(
        places=pl[list(PLACE_COLUMNS)].copy(),
        reports=_reports_frame(rngs[2], drawn, pl, start),
        activities=_make_activities(rngs[3], pl, plan, patrols, start),
        areas=areas,
    )


@dataclass(frozen=True)
class _Seeds:
    """The hot spots and other seeds that lie inside the demo's areas."""

    hot: tuple[HotSpot, ...]
    lat: np.ndarray
    lng: np.ndarray
    name: np.ndarray
    area: np.ndarray

    @property
    def n_hot(self) -> int:
        """The number of hot spots, also the group number of background places."""
        return len(self.hot)


def _seeds_in(union: shapely.Geometry) -> _Seeds:
    """Keep the seeds inside ``union``: real wards of one borough get that borough's demo."""
    inside = shapely.contains_xy(union, _SEED_LNG, _SEED_LAT)
    hot = tuple(h for h, keep in zip(HOT_SPOTS, inside[:_N_HOT], strict=True) if keep)
    if not hot:
        msg = ("areas: none of the demo's town centres lies inside them; the demo covers "
               "Stockton-on-Tees and Hartlepool")
        raise ValueError(msg)
    return _Seeds(hot, _SEED_LAT[inside], _SEED_LNG[inside], _SEED_NAME[inside],
                  _SEED_AREA[inside])


def _checked_areas(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if areas.crs is None or len(areas) == 0:
        msg = f"areas: expected polygons with a CRS, got {len(areas)} rows with CRS {areas.crs}"
        raise ValueError(msg)
    return areas.to_crs(WGS84)


def _jitter(rng: np.random.Generator, lat: np.ndarray, lng: np.ndarray, sigma_m: np.ndarray | float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian jitter of ``sigma_m`` metres around each point."""
    dy = rng.normal(size=len(lat)) * sigma_m / _M_PER_DEG_LAT
    dx = rng.normal(size=len(lat)) * sigma_m / _M_PER_DEG_LNG
    return lat + dy, lng + dx


def _keep_inside(lat: np.ndarray, lng: np.ndarray, anchor_lat: np.ndarray, anchor_lng: np.ndarray,
                 union: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Pull points outside ``union`` halfway to their anchor, a few times over."""
    lat, lng = lat.copy(), lng.copy()
    for _ in range(8):
        out = ~shapely.contains_xy(union, lng, lat)
        if not out.any():
            break
        lat[out] = (lat[out] + anchor_lat[out]) / 2
        lng[out] = (lng[out] + anchor_lng[out]) / 2
    return lat, lng


def _distance_m(lat: np.ndarray, lng: np.ndarray, lat0: float, lng0: float) -> np.ndarray:
    return np.hypot((lat - lat0) * _M_PER_DEG_LAT, (lng - lng0) * _M_PER_DEG_LNG)


def _iso_days(start: datetime.date, days: np.ndarray) -> np.ndarray:
    return (np.datetime64(start, "D") + days.astype("timedelta64[D]")).astype(str)


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def _make_places(rng: np.random.Generator, seeds: _Seeds, union: shapely.Geometry,
                 start: datetime.date) -> pd.DataFrame:
    """Places: 36 around each hot spot, 144 around any seed; internal columns kept."""
    group = np.concatenate([np.repeat(np.arange(seeds.n_hot), 36), np.full(144, seeds.n_hot)])
    seed_ix = np.where(group < seeds.n_hot, group, rng.integers(len(seeds.lat), size=len(group)))
    hot_sigma = np.array([h.sigma_m for h in seeds.hot])
    sigma = np.where(group < seeds.n_hot, hot_sigma[np.minimum(group, seeds.n_hot - 1)], 1000.0)
    lat, lng = _jitter(rng, seeds.lat[seed_ix], seeds.lng[seed_ix], sigma)
    lat, lng = _keep_inside(lat, lng, seeds.lat[seed_ix], seeds.lng[seed_ix], union)
    n, hot = len(group), group < seeds.n_hot
    cat = np.where(hot, rng.choice(len(CATEGORIES), n, p=_HOT_CAT_P),
                   rng.choice(len(CATEGORIES), n, p=_BG_CAT_P))
    u = rng.random(n)
    protective = ((cat == CATEGORIES.index("youth_leisure_venue")) & (u < 0.85)) | (
        (cat == CATEGORIES.index("other")) & (u < 0.7))
    level = np.where(protective, 1, np.where(
        hot, rng.choice([1, 2, 3, 4], n, p=[0.02, 0.53, 0.33, 0.12]),
        rng.choice([1, 2, 3, 4], n, p=[0.05, 0.72, 0.18, 0.05])))
    has = (rng.random((n, len(EXPLOITATION_TYPES))) < _TYPE_P) & (level[:, None] > 1)
    fallback = rng.choice(len(EXPLOITATION_TYPES), n, p=_TYPE_P / _TYPE_P.sum())
    has[np.arange(n), fallback] |= (level > 1) & ~has.any(axis=1)
    primary = np.where(has.any(axis=1), np.argmax(has * rng.random(has.shape), axis=1), -1)
    label = np.where(protective & (cat == CATEGORIES.index("other")),
                     _PROTECTIVE_LABELS[rng.integers(3, size=n)],
                     np.where(protective, "Demo youth club", _LABELS[cat]))
    number = pd.Series(label).groupby(label).cumcount().to_numpy() + 1
    locality = seeds.name[seed_ix]
    assessed = rng.integers(0, WINDOW_DAYS, size=n)
    street = np.array(["Demo Street", "Demo Road", "Demo Lane", "Demo Court", "Demo Terrace"])
    return pd.DataFrame({
        "place_id": _ids("DEMO-P", n, 4),
        "name": [f"{a} {b} ({c})" for a, b, c in zip(label, number, locality, strict=True)],
        "category": np.array(CATEGORIES)[cat],
        "address": [f"{a} {b}, {c}" for a, b, c in zip(
            rng.integers(1, 200, size=n), street[rng.integers(5, size=n)], seeds.area[seed_ix],
            strict=True)],
        "postcode": "",
        "latitude": lat.round(6),
        "longitude": lng.round(6),
        "mace_level": level,
        "exploitation_types": [";".join(np.array(EXPLOITATION_TYPES)[row]) for row in has],
        "source_agency": _AGENCIES[rng.choice(len(_AGENCIES), n, p=_AGENCY_P)],
        "assessed_on": _iso_days(start, assessed),
        "review_due": _iso_days(start, assessed + np.array([0, 365, 365, 180, 90])[level]),
        "notes": _place_notes(rng, level),
        "group": group,
        "primary": primary,
    })


def _place_notes(rng: np.random.Generator, level: np.ndarray) -> np.ndarray:
    key = np.minimum(level, 3)
    notes = np.empty(len(level), dtype=object)
    for k, texts in _NOTES.items():
        pick = np.array([f"Synthetic note: {t}" for t in texts])[rng.integers(len(texts),
                                                                               size=len(level))]
        notes[key == k] = pick[key == k]
    return notes.astype(str)


def _pick_places(rng: np.random.Generator, groups: np.ndarray, pl: pd.DataFrame,
                 mask: np.ndarray | None = None) -> np.ndarray:
    """For each item, a place of the item's group, weighted by level (within ``mask``)."""
    weight = _LEVEL_WEIGHT[pl["mace_level"].to_numpy()] * (1.0 if mask is None else mask)
    place_group = pl["group"].to_numpy()
    u = rng.random(len(groups))
    out = np.zeros(len(groups), dtype=int)
    for g in np.unique(groups):
        cand = np.flatnonzero(place_group == g)
        cw = np.cumsum(weight[cand] + 1e-9)
        out[groups == g] = cand[np.searchsorted(cw / cw[-1], u[groups == g], side="right")]
    return out


def _pattern_rate(pattern: str, n_days: int = WINDOW_DAYS) -> np.ndarray:
    t = np.arange(n_days, dtype=float)
    if pattern == "persisting":
        return np.ones(n_days)
    if pattern == "emerging":
        return 0.25 + 2.75 * np.clip((t - (n_days - 90)) / 30.0, 0.0, 1.0)
    if pattern == "fading":
        return 0.25 + 1.35 * np.clip(1.0 - (t - 365) / 90.0, 0.0, 1.0)
    msg = f"pattern {pattern!r}: expected emerging, persisting or fading"
    raise ValueError(msg)


def _hot_spot_rates(seeds: _Seeds) -> np.ndarray:
    """Return expected reports per day, one row per hot spot."""
    return np.stack([h.scale * _pattern_rate(h.pattern) for h in seeds.hot])


def _from_rates(rng: np.random.Generator, rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts per (row, day); returns the row and day of every event."""
    idx = np.repeat(np.arange(rates.size), rng.poisson(rates).ravel())
    return idx // rates.shape[1], idx % rates.shape[1]


def _plan_interventions(rng: np.random.Generator, seeds: _Seeds, pl: pd.DataFrame
                        ) -> pd.DataFrame:
    """Effective closures: 3 in each fading hot spot's first year, 6 at background places."""
    ok = (pl["mace_level"] >= 3).to_numpy() & pl["category"].isin(_CLOSABLE).to_numpy()
    rows = []
    for g in range(seeds.n_hot + 1):
        if g < seeds.n_hot and seeds.hot[g].pattern != "fading":
            continue
        cand = np.flatnonzero(ok & (pl["group"].to_numpy() == g))
        chosen = rng.choice(cand, size=min(3 if g < seeds.n_hot else 6, len(cand)), replace=False)
        high = 330 if g < seeds.n_hot else WINDOW_DAYS - 130
        rows.append(pd.DataFrame({"place": chosen, "day": rng.integers(150, high, len(chosen))}))
    plan = pd.concat(rows, ignore_index=True)
    plan["lat"] = pl["latitude"].to_numpy()[plan["place"]]
    plan["lng"] = pl["longitude"].to_numpy()[plan["place"]]
    return plan


def _plan_patrols(rng: np.random.Generator, seeds: _Seeds, pl: pd.DataFrame,
                  union: shapely.Geometry) -> pd.DataFrame:
    """Street patrols go where and when the hot spots are hot (so they follow concern)."""
    rates = _hot_spot_rates(seeds)
    n = _SPECS["street_patrol"].n
    idx = rng.choice(rates.size, size=n, p=rates.ravel() / rates.sum())
    hot, day = idx // WINDOW_DAYS, np.minimum(idx % WINDOW_DAYS, WINDOW_DAYS - 2)
    place = _pick_places(rng, hot, pl, (pl["mace_level"] >= 3).to_numpy())
    at_place = rng.random(n) < 0.4
    sigma = 0.6 * np.array([h.sigma_m for h in seeds.hot])[hot]
    lat, lng = _jitter(rng, seeds.lat[hot], seeds.lng[hot], sigma)
    lat, lng = _keep_inside(lat, lng, seeds.lat[hot], seeds.lng[hot], union)
    return pd.DataFrame({
        "day": day,
        "place": np.where(at_place, place, -1),
        "lat": np.where(at_place, pl["latitude"].to_numpy()[place], lat),
        "lng": np.where(at_place, pl["longitude"].to_numpy()[place], lng),
    })


def _located(rng: np.random.Generator, day: np.ndarray, place: np.ndarray, linked: np.ndarray,
             anchor: tuple[np.ndarray, np.ndarray], sigma_m: np.ndarray | float,
             union: shapely.Geometry, pl: pd.DataFrame, **extra: object) -> pd.DataFrame:
    """Place reports at their place (where linked) or jittered around an anchor point."""
    lat, lng = _jitter(rng, anchor[0], anchor[1], sigma_m)
    lat, lng = _keep_inside(lat, lng, anchor[0], anchor[1], union)
    return pd.DataFrame({
        "day": day,
        "place": np.where(linked, place, -1),
        "lat": np.where(linked, pl["latitude"].to_numpy()[place], lat),
        "lng": np.where(linked, pl["longitude"].to_numpy()[place], lng),
        **extra,
    })


def _make_reports(rng: np.random.Generator, seeds: _Seeds, pl: pd.DataFrame,
                  plan: pd.DataFrame, patrols: pd.DataFrame, union: shapely.Geometry
                  ) -> pd.DataFrame:
    """Make internal report rows: day, place (-1), located lat/lng, patrol, stream."""
    plat, plng = pl["latitude"].to_numpy(), pl["longitude"].to_numpy()
    hot, day = _from_rates(rng, _hot_spot_rates(seeds))
    place = _pick_places(rng, hot, pl)
    sigma = np.array([h.sigma_m for h in seeds.hot])[hot]
    parts = [_located(rng, day, place, rng.random(len(day)) < 0.75, (seeds.lat[hot],
                      seeds.lng[hot]), sigma, union, pl, stream=-1)]
    n_bg = rng.poisson(BACKGROUND_PER_DAY * WINDOW_DAYS)
    place = _pick_places(rng, np.full(n_bg, seeds.n_hot), pl)
    parts.append(_located(rng, rng.integers(0, WINDOW_DAYS, n_bg), place,
                          rng.random(n_bg) < 0.75, (plat[place], plng[place]), 400.0, union, pl,
                          stream=-1))
    t = np.arange(WINDOW_DAYS)
    d = plan["day"].to_numpy()[:, None]
    rates = np.where(t < d - 180, 0.04, np.where(t < d, 0.25, 0.02))
    k, day = _from_rates(rng, rates)
    place = plan["place"].to_numpy()[k]
    parts.append(_located(rng, day, place, rng.random(len(day)) < 0.75,
                          (plat[place], plng[place]), 60.0, union, pl, stream=k))
    reports = pd.concat(parts, ignore_index=True).assign(patrol=False)
    n_pd = round(0.18 * len(reports))
    j = rng.integers(len(patrols), size=n_pd)
    pat = patrols.iloc[j]
    found = _located(rng, pat["day"].to_numpy(), pat["place"].clip(lower=0).to_numpy(),
                     (pat["place"] >= 0).to_numpy(), (pat["lat"].to_numpy(),
                     pat["lng"].to_numpy()), 80.0, union, pl, stream=-1, patrol=True)
    reports = pd.concat([reports, found], ignore_index=True)
    return reports[~_thinned(rng, reports, plan)].reset_index(drop=True)


def _thinned(rng: np.random.Generator, reports: pd.DataFrame, plan: pd.DataFrame) -> np.ndarray:
    """Half the reports near an effective intervention, after its date, are not made."""
    lat, lng = reports["lat"].to_numpy(), reports["lng"].to_numpy()
    day, stream = reports["day"].to_numpy(), reports["stream"].to_numpy()
    near_after = np.zeros(len(reports), dtype=bool)
    for k, row in enumerate(plan.itertuples()):
        near_after |= ((_distance_m(lat, lng, row.lat, row.lng) <= EFFECT_RADIUS_M)
                       & (day >= row.day) & (stream != k))
    return near_after & (rng.random(len(reports)) < 0.5)


def _reports_frame(rng: np.random.Generator, rep: pd.DataFrame, pl: pd.DataFrame,
                   start: datetime.date) -> pd.DataFrame:
    """Build the reports import columns, sorted by date."""
    rep = rep.iloc[np.argsort(rep["day"].to_numpy(), kind="stable")].reset_index(drop=True)
    n, place = len(rep), rep["place"].to_numpy()
    linked, patrol = place >= 0, rep["patrol"].to_numpy(dtype=bool)
    show = ~linked | (rng.random(n) < 0.35)
    level = np.where(linked, pl["mace_level"].to_numpy()[place], 0)
    level = np.where(linked, np.clip(level + rng.choice([-1, 0, 1], n, p=[0.1, 0.8, 0.1]), 2, 4),
                     rng.choice([2, 3, 4], n, p=[0.5, 0.35, 0.15]))
    primary = np.where(linked, pl["primary"].to_numpy()[place], -1)
    etype = rng.choice(len(EXPLOITATION_TYPES), n, p=_TYPE_P / _TYPE_P.sum())
    etype = np.where((primary >= 0) & (rng.random(n) < 0.7), primary, etype)
    graded = rng.random(n) < 0.5
    return pd.DataFrame({
        "report_id": _ids("DEMO-R", n, 6),
        "reported_on": _iso_days(start, rep["day"].to_numpy()),
        "place_id": np.where(linked, pl["place_id"].to_numpy()[place], ""),
        "latitude": np.where(show, rep["lat"].to_numpy(), np.nan).round(6),
        "longitude": np.where(show, rep["lng"].to_numpy(), np.nan).round(6),
        "postcode": "",
        "mace_level": level,
        "exploitation_type": np.array(EXPLOITATION_TYPES)[etype],
        "source_agency": np.where(patrol, "Cleveland Police",
                                  _AGENCIES[rng.choice(len(_AGENCIES), n, p=_AGENCY_P)]),
        "patrol_discovered": np.where(patrol, "true", "false"),
        "source_grade": pd.Series(rng.choice([1, 2, 3], n, p=[0.4, 0.45, 0.15]),
                                  dtype="Int64").where(graded),
        "intel_grade": np.where(graded, rng.choice(list("ABCDE"), n,
                                                   p=[0.25, 0.3, 0.25, 0.15, 0.05]), ""),
        "handling_code": np.where(graded, rng.choice(["P", "C"], n, p=[0.8, 0.2]), ""),
        "summary": _SUMMARIES[rng.integers(len(_SUMMARIES), size=n)],
    })


def _spec_rows(rng: np.random.Generator, kind: str, place: np.ndarray, day: np.ndarray,
               lat: np.ndarray, lng: np.ndarray, outcome: np.ndarray | None = None
               ) -> pd.DataFrame:
    """Activities of one type: times, agency and outcome drawn from its spec."""
    spec, n = _SPECS[kind], len(day)
    start = day * 1440 + rng.integers(spec.hours[0], spec.hours[1] + 1, n) * 60 + rng.choice(
        [0, 15, 30, 45], n)
    length = rng.integers(spec.minutes[0], spec.minutes[1] + 1, n)
    return pd.DataFrame({
        "activity_type": kind, "start": start,
        "end": np.where(rng.random(n) < spec.blank_end, -1, start + length),
        "place": place, "lat": lat, "lng": lng,
        "agency": np.array(spec.agencies)[rng.integers(len(spec.agencies), size=n)],
        "outcome": (np.array(spec.outcomes)[rng.integers(len(spec.outcomes), size=n)]
                    if outcome is None else outcome),
    })


def _at_places(rng: np.random.Generator, pl: pd.DataFrame, kind: str) -> pd.DataFrame:
    spec = _SPECS[kind]
    ok = pl["category"].isin(spec.categories).to_numpy() & (pl["mace_level"] >= spec.min_level
                                                            ).to_numpy()
    place = _pick_places(rng, np.zeros(spec.n, dtype=int), pl.assign(group=0), ok)
    nan = np.full(spec.n, np.nan)
    return _spec_rows(rng, kind, place, rng.integers(0, WINDOW_DAYS - 1, spec.n), nan, nan)


def _make_activities(rng: np.random.Generator, pl: pd.DataFrame, plan: pd.DataFrame,
                     patrols: pd.DataFrame, start: datetime.date) -> pd.DataFrame:
    """Make activities: street patrols, the effective closures and the rest."""
    place = patrols["place"].to_numpy()
    coords = place < 0
    parts = [_spec_rows(rng, "street_patrol", place, patrols["day"].to_numpy(),
                        np.where(coords, patrols["lat"], np.nan),
                        np.where(coords, patrols["lng"], np.nan))]
    empty = (pl["category"].to_numpy()[plan["place"]] == "empty_property")
    for kind, mask in (("empty_property_secured", empty), ("premises_closure", ~empty)):
        eff = plan[mask]
        nan = np.full(len(eff), np.nan)
        parts.append(_spec_rows(rng, kind, eff["place"].to_numpy(), eff["day"].to_numpy(), nan,
                                nan, np.full(len(eff), _SPECS[kind].outcomes[0])))
    parts += [_at_places(rng, pl, kind) for kind in ACTIVITY_TYPES if kind != "street_patrol"]
    act = pd.concat(parts, ignore_index=True)
    act = act.iloc[np.lexsort((act["activity_type"], act["start"]))].reset_index(drop=True)
    return _activities_frame(rng, act, pl, start)


def _activities_frame(rng: np.random.Generator, act: pd.DataFrame, pl: pd.DataFrame,
                      start: datetime.date) -> pd.DataFrame:
    n, place = len(act), act["place"].to_numpy()
    base = np.datetime64(start, "m")
    started = base + act["start"].to_numpy().astype("timedelta64[m]")
    ended = (base + act["end"].to_numpy().astype("timedelta64[m]")).astype(str)
    day_of_year = (started.astype("datetime64[D]") - started.astype("datetime64[Y]")).astype(int)
    seq = day_of_year // 14 * 5 + rng.integers(1, 6, n)
    jag = np.char.add(np.char.add("JAG-", started.astype("datetime64[Y]").astype(str)),
                      np.char.add("-", np.char.zfill(seq.astype(str), 3)))
    return pd.DataFrame({
        "activity_id": _ids("DEMO-A", n, 5),
        "activity_type": act["activity_type"].to_numpy(),
        "started_at": started.astype(str),
        "ended_at": np.where(act["end"].to_numpy() < 0, "", ended),
        "place_id": np.where(place >= 0, pl["place_id"].to_numpy()[np.maximum(place, 0)], ""),
        "latitude": act["lat"].to_numpy().round(6),
        "longitude": act["lng"].to_numpy().round(6),
        "postcode": "",
        "agency": act["agency"].to_numpy(),
        "outcome": act["outcome"].to_numpy(),
        "jag_ref": np.where(rng.random(n) < 0.2, "", jag),
    })
