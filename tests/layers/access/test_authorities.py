"""The authorities an account may see (issue 11, item 6), on SQLite and PostgreSQL.

Accounts store authority codes or ``*`` for every authority (`layers.store.scope`); the queries
of `layers` keep what lies in a scope. The API walk over every route is in
``tests/api/test_authority.py``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from layers import errors
from layers.access import accounts_store as accounts
from layers.access import review_store as review
from layers.action.outcomes.measures import choose_areas, outcome_table
from layers.records import read as records_read
from layers.records.importer import import_file
from layers.reporting import export_inputs
from layers.store import audit, schema
from layers.store.engine import Store, replace_areas
from layers.store.scope import describe, from_codes
from tests.layers.action.outcomes import test_measures as oc
from tests.layers.store.test_audit_chain import bare_store, migrate  # noqa: F401 (a fixture)

PASSWORD = "correct horse battery staple"
HPL, STK, NEW = "E06000001", "E06000004", "E06000047"


def _boxes(authority: str, prefix: str, west: float) -> gpd.GeoDataFrame:
    """Two box wards of one authority, side by side from ``west``."""
    return gpd.GeoDataFrame(
        {"code": [f"{prefix}1", f"{prefix}2"], "name": [f"{prefix} one", f"{prefix} two"],
         "authority_code": authority, "authority_name": authority, "vintage": "2024"},
        geometry=[shapely.box(west, 54.55, west + 0.02, 54.60),
                  shapely.box(west + 0.02, 54.55, west + 0.04, 54.60)], crs="EPSG:4326")


def _fill(store: Store, folder: Path) -> None:
    """Two authorities, a place in each ward of each, and one place outside every ward."""
    replace_areas(store, _boxes(HPL, "H", -1.25), source="test")
    replace_areas(store, _boxes(STK, "S", -1.35), source="test")
    rows = [{"place_id": pid, "name": pid, "category": "shop", "latitude": 54.57,
             "longitude": lng, "mace_level": 3, "review_due": "2025-01-01"}
            for pid, lng in (("H-a", -1.24), ("H-b", -1.22), ("S-a", -1.34), ("S-b", -1.32),
                             ("nowhere", -1.10))]
    pd.DataFrame(rows).to_csv(folder / "places.csv", index=False)
    assert import_file(store, "places", folder / "places.csv").rejected == 0


def test_an_account_sees_what_it_was_given_and_all_means_later_ones_too(store: Store) -> None:
    accounts.add_user(store, "hub", "analyst", PASSWORD)
    accounts.add_user(store, "pc-h", "police", PASSWORD, authorities=[HPL])
    with store.connect() as conn:
        rows = sorted(conn.execute(sa.select(schema.user_authorities.c.authority_code)))
    assert [r[0] for r in rows] == ["*", HPL]  # "*" is every authority, stored as such
    seen = {row["name"]: row["authorities"] for row in accounts.list_users(store)}
    assert seen == {"hub": None, "pc-h": frozenset({HPL})}
    token, _ = accounts.start_session(store, accounts.authenticate(store, "pc-h", PASSWORD)
                                      .user, kind="bearer", hours=1)
    assert accounts.find_session(store, token, kind="bearer").user.authorities == {HPL}
    # an authority loaded later is in "all", and in no restricted account
    replace_areas(store, _boxes(NEW, "N", -1.0), source="later")
    with store.connect() as conn:
        every, _ = records_read.areas(conn, scope=None)
        mine, _ = records_read.areas(conn, scope=frozenset({HPL}))
    assert NEW in set(every["authority_code"]) and NEW not in set(mine["authority_code"])


def test_restricting_an_account_is_audited_with_its_actor(store: Store) -> None:
    accounts.add_user(store, "pc-1", "police", PASSWORD)
    user = accounts.authenticate(store, "pc-1", PASSWORD).user
    token, _ = accounts.start_session(store, user, kind="bearer", hours=1)
    before, after = accounts.set_authorities(store, "pc-1", [HPL], actor="cli:ops",
                                             client="10.0.0.9")
    assert (before, after) == (None, frozenset({HPL}))
    # the live session reads the new scope at its next request
    assert accounts.find_session(store, token, kind="bearer").user.authorities == {HPL}
    accounts.set_authorities(store, "pc-1", None, actor="cli:ops")
    with store.connect() as conn:
        rows = audit.query(conn, object_id="pc-1")
    details = [(r.user_name, r.detail) for r in rows.itertuples()]
    assert ("cli:ops", f"authorities: {HPL} (was all authorities)") in details
    assert ("cli:ops", f"authorities: all authorities (was {HPL})") in details


@pytest.mark.parametrize(("role", "codes", "needle"), [
    ("admin", [HPL], "admin reads the whole audit log"),
    ("police", [], "at least one authority"),
    ("police", ["hartlepool"], "GSS code"),
    ("police", ["E0600000"], "GSS code"),
])
def test_unusable_authorities_are_refused(sqlite_store: Store, role: str, codes: list[str],
                                          needle: str) -> None:
    with pytest.raises(accounts.AccountError, match=needle):
        accounts.add_user(sqlite_store, "pc-x", role, PASSWORD, authorities=codes)
    accounts.add_user(sqlite_store, "pc-y", role, PASSWORD)
    with pytest.raises(accounts.AccountError, match=needle):
        accounts.set_authorities(sqlite_store, "pc-y", codes, actor="cli:ops")
    with pytest.raises(accounts.AccountError, match="no user"):
        accounts.set_authorities(sqlite_store, "ghost", [HPL], actor="cli:ops")


def test_an_account_without_any_authority_row_sees_nothing(sqlite_store: Store,
                                                           tmp_path: Path) -> None:
    """A lost row narrows what an account sees, never widens it."""
    _fill(sqlite_store, tmp_path)
    accounts.add_user(sqlite_store, "pc-2", "police", PASSWORD, authorities=[HPL])
    user = accounts.authenticate(sqlite_store, "pc-2", PASSWORD).user
    token, _ = accounts.start_session(sqlite_store, user, kind="bearer", hours=1)
    with sqlite_store.begin() as conn:
        conn.execute(sa.delete(schema.user_authorities))
    scope = accounts.find_session(sqlite_store, token, kind="bearer").user.authorities
    assert scope == frozenset() and describe(scope) == "no authority"
    with sqlite_store.connect() as conn:
        assert records_read.places(conn, scope=scope).total == 0


def test_queries_keep_the_scope(store: Store, tmp_path: Path) -> None:
    _fill(store, tmp_path)
    hpl = frozenset({HPL})
    with store.connect() as conn:
        assert set(records_read.places(conn).rows["source_id"]) == {"H-a", "H-b", "S-a", "S-b",
                                                               "nowhere"}
        assert set(records_read.places(conn, scope=hpl).rows["source_id"]) == {"H-a", "H-b"}
        assert records_read.places(conn, scope=frozenset({HPL, STK})).total == 4  # not "nowhere"
        assert records_read.places(conn, ward_code="S1", scope=hpl).total == 0
        assert records_read.place_detail(conn, "H-a", scope=hpl)["source_id"] == "H-a"
        for place in ("S-a", "nowhere", "missing"):  # out of scope reads as missing
            with pytest.raises(errors.NotFoundError, match=f"no place '{place}'"):
                records_read.place_detail(conn, place, scope=hpl)
            with pytest.raises(errors.NotFoundError, match=f"no place '{place}'"):
                records_read.place_notes(conn, place, scope=hpl)
        assert set(records_read.areas(conn, scope=hpl)[0]["code"]) == {"H1", "H2"}
        queue = review.review_queue(conn, today=dt.date(2025, 6, 30), scope=hpl)
        assert set(queue["source_id"]) == {"H-a", "H-b"}
        exported = export_inputs.load_export(conn, "places", scope=hpl)
        assert set(exported["place_id"]) == {"H-a", "H-b"}
    with pytest.raises(errors.NotFoundError):
        review.decide(store, "S-a", decision="retain", reason="checked", user="ana",
                      scope=hpl)
    with pytest.raises(errors.NotFoundError):
        review.erase(store, "S-a", user="ana", scope=hpl)


def test_scope_names(sqlite_store: Store) -> None:
    assert from_codes(["*", HPL]) is None
    assert describe(frozenset({STK, HPL})) == f"{HPL}, {STK}"


def test_upgrade_to_0007_gives_every_existing_account_all_authorities(
        bare_store: Store) -> None:  # noqa: F811 (the fixture)
    """Existing accounts keep seeing what they saw: ``*``."""
    migrate(bare_store, "0006")
    with bare_store.begin() as conn:
        for name, role in (("ana", "analyst"), ("pc", "police")):
            conn.execute(sa.insert(schema.users).values(
                name=name, role=role, password_hash="x", created_at=dt.datetime.now(dt.UTC)))
    migrate(bare_store, "0007")
    seen = {row["name"]: row["authorities"] for row in accounts.list_users(bare_store)}
    assert seen == {"ana": None, "pc": None}
    migrate(bare_store, "0006", down=True)
    with bare_store.connect() as conn:
        assert "user_authorities" not in sa.inspect(conn).get_table_names()


def test_a_small_wards_controls_stay_in_its_authority() -> None:
    """Controls from the whole study area were another authority's records (Victoria, a
    Hartlepool town-centre ward, took them from Stockton); the fast table agrees."""
    cand = oc.candidates()
    small = cand["h3_cell"].isin(sorted(oc.disk(3)))  # the activity's ward: no cell far enough
    sister = cand["h3_cell"].isin(sorted(oc.disk(6) - oc.disk(5)))  # its authority's other
    cand = cand.assign(ward_code=np.where(small, "SMALL", np.where(sister, "SISTER", "OTHER")),
                       authority_code=np.where(small | sister, HPL, STK))
    areas = choose_areas([oc.CENTRE], cand)
    inside = set(cand.loc[sister, "h3_cell"])
    assert set(areas.control) <= inside and set(areas.buffer_control) <= inside
    anywhere = choose_areas([oc.CENTRE], cand.drop(columns="authority_code"))  # as before
    assert not set(anywhere.buffer_control) <= inside
    acts = pd.DataFrame({"id": ["A1"], "activity_type": ["premises_closure"],
                         "h3_cell": [oc.CENTRE], "started_at": [pd.Timestamp(oc.START)],
                         "jag_ref": [None]})
    reports = oc.events({oc.CENTRE: 12, sorted(oc.ring(5))[0]: 6, sorted(oc.ring(8))[0]: 9},
                        {oc.CENTRE: 3})
    table = outcome_table(acts, reports, cand, days=oc.DAYS)
    expected = oc.reference_table(acts, reports, cand, days=oc.DAYS, weighted=False)
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=1e-12, atol=1e-12)
    alone = cand.assign(authority_code=np.where(small, HPL, STK))  # no other ward of its own
    with pytest.raises(ValueError, match="no candidate"):
        choose_areas([oc.CENTRE], alone)
