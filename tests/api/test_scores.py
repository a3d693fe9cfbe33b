"""The scoring-run routes: runs, one cell, categories, ward ranking, concentration, explain."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from geo import h3index
from layers.hotspots.emerging import CATEGORIES
from layers.hotspots.engine import ScoreParams
from layers.hotspots.read import NO_RUN, read_run_wards
from layers.hotspots.runs import run_scoring
from layers.store import schema

FAR_CELL = "8928308280fffff"  # San Francisco: valid, far from any data
RUN_ROUTES = ["/api/categories", "/api/wards/ranking", "/api/concentration",
              "/api/cells/{cell}", "/api/explain/cell/{cell}", "/api/explain/ward/E05000001"]
DIRECTIONS = {"increasing", "decreasing", "no trend"}
REL = 1e-9


def cell_at(lat: float, lng: float) -> str:
    cells = h3index.latlng_to_cells(np.array([lat]), np.array([lng]), resolution=9)
    return str(h3index.cells_to_str(cells)[0])


def all_cells(client: TestClient) -> list[dict]:
    return client.get("/api/cells", params={"limit": 1000}).json()["data"]


# --- runs --------------------------------------------------------------------------------

def test_runs_newest_first(make_client, synthetic: SimpleNamespace) -> None:
    c = make_client(tiles="none")
    earlier = synthetic.AS_OF - dt.timedelta(days=14)
    run_scoring(c.app.state.store, ScoreParams(as_of=earlier, k=2),
                known_by=dt.datetime.now(dt.UTC))
    body = c.get("/api/runs").json()
    assert body["count"] == 2
    assert [r["id"] for r in body["data"]] == [2, 1]
    assert [r["as_of"] for r in body["data"]] == [earlier.isoformat(),
                                                 synthetic.AS_OF.isoformat()]
    newest = body["data"][0]
    assert newest["k"] == 2 and newest["params"]["k"] == 2
    assert newest["params"]["weights"]["half_life_days"] == 90.0
    # the run-based routes read the newest run unless told otherwise
    cell = all_cells(c)[0]["h3_cell"]
    assert c.get(f"/api/cells/{cell}").json()["run_id"] == 2
    assert c.get(f"/api/cells/{cell}", params={"run_id": 1}).json()["run_id"] == 1
    assert c.get("/api/categories", params={"run_id": 1}).json()["as_of"] == "2025-06-30"
    paged = c.get("/api/runs", params={"limit": 1, "offset": 1}).json()
    assert (paged["count"], [r["id"] for r in paged["data"]]) == (2, [1])


def test_run_shape(client: TestClient, synthetic: SimpleNamespace) -> None:
    (run,) = client.get("/api/runs").json()["data"]
    assert set(run) == {"id", "as_of", "known_by", "created_at", "step", "n_steps", "k",
                        "fingerprint", "resolution", "params", "n_cells", "grid_size",
                        "reused_steps", "duration_s", "covered"}
    assert (run["step"], run["n_steps"], run["k"], run["resolution"]) == ("week", 104, 1, 9)
    assert run["n_cells"] == len(all_cells(client)) and run["grid_size"] >= run["n_cells"]
    assert len(run["fingerprint"]) == 16 and run["duration_s"] > 0
    detail = client.get(f"/api/runs/{run['id']}").json()
    assert {k: v for k, v in detail.items() if k != "steps"} == run
    assert len(detail["steps"]) == 104
    assert detail["steps"][-1] == "2025-06-30"  # the Monday of the as-of week
    assert detail["steps"][0] == "2023-07-10"
    # the period the data cover, stated with the run and with every run-based answer
    assert run["covered"] == {"first": "2023-07-10", "last": "2025-07-06",
                              "sources": {"reports": {"first": "2023-07-03",
                                                      "last": "2025-06-20"}},
                              "steps_asked": 104, "steps_scored": 104,
                              "missing_months": []}
    cell = all_cells(client)[0]["h3_cell"]
    for route in ("/api/categories", "/api/wards/ranking", "/api/concentration",
                  f"/api/cells/{cell}", f"/api/explain/cell/{cell}"):
        assert client.get(route).json()["covered"] == run["covered"], route


@pytest.mark.parametrize(("run_id", "status"), [(2, 404), (999, 404), (0, 422), (-1, 422),
                                                ("abc", 422), (10**30, 422)])
def test_unknown_or_bad_run(client: TestClient, run_id: object, status: int) -> None:
    response = client.get(f"/api/runs/{run_id}")
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"detail": f"run {run_id} not found"}


@pytest.mark.parametrize("route", ["/api/categories", "/api/concentration",
                                   "/api/wards/ranking", "/api/cells/{cell}",
                                   "/api/explain/ward/E05000001"])
@pytest.mark.parametrize(("run_id", "status"), [(99, 404), (0, 422), ("x", 422),
                                                (10**30, 422)])
def test_run_id_parameter(client: TestClient, route: str, run_id: object, status: int) -> None:
    cell = all_cells(client)[0]["h3_cell"]
    response = client.get(route.format(cell=cell), params={"run_id": run_id})
    assert response.status_code == status
    if status == 404:
        assert response.json()["detail"] == f"run {run_id} not found"


@pytest.mark.parametrize("route", RUN_ROUTES)
def test_no_run_yet_is_404(unscored_client: TestClient, route: str) -> None:
    response = unscored_client.get(route.format(cell=cell_at(54.58, -1.31)))
    assert response.status_code == 404
    assert response.json() == {"detail": NO_RUN}
    assert "placerisk score" in NO_RUN


def test_no_run_yet_lists_no_runs(unscored_client: TestClient) -> None:
    assert unscored_client.get("/api/runs").json() == {"data": [], "count": 0}
    assert unscored_client.get("/api/runs/1").status_code == 404


# --- one cell ------------------------------------------------------------------------------

def test_cell_detail(rich_client: TestClient) -> None:
    listed = all_cells(rich_client)
    for row in listed:
        cell = rich_client.get(f"/api/cells/{row['h3_cell']}").json()
        assert set(cell) == {"run_id", "as_of", "covered", "h3_cell", "ward_code", "category", "label",
                             "current", "parts", "patrol_share", "trend", "steps"}
        assert (cell["current"], cell["category"], cell["label"]) == (
            row["score"], row["category"], row["label"])
        parts = cell["parts"]
        assert set(parts) == {"reports", "incidents", "places", "patrol"}
        independent = parts["reports"] + parts["incidents"] + parts["places"]
        assert independent == pytest.approx(cell["current"], rel=REL, abs=1e-12)
        assert set(cell["trend"]) == {"z", "p", "slope", "direction"}
        assert cell["trend"]["direction"] in DIRECTIONS
        assert len(cell["steps"]) == 104
        assert set(cell["steps"][0]) == {"start", "value", "z", "p", "significant"}
        assert all(isinstance(s["significant"], bool) for s in cell["steps"])
        assert cell["steps"][-1]["z"] == pytest.approx(row["z_last"])
    assert any(c["category"] != "no pattern" for c in listed)


def test_cell_values_are_the_stored_series(rich_client: TestClient) -> None:
    top = all_cells(rich_client)[0]["h3_cell"]
    cell = rich_client.get(f"/api/cells/{top}").json()
    store = rich_client.app.state.store
    c = schema.run_cells
    with store.connect() as conn:
        blob = conn.scalar(sa.select(c.c.values_series).where(c.c.h3_cell == top))
    np.testing.assert_array_equal([s["value"] for s in cell["steps"]],
                                  np.frombuffer(blob, "<f8"))


def test_cell_id_is_case_insensitive(client: TestClient) -> None:
    top = all_cells(client)[0]["h3_cell"]
    assert client.get(f"/api/cells/{top.upper()}").json()["h3_cell"] == top


@pytest.mark.parametrize("route", ["/api/cells/{}", "/api/explain/cell/{}"])
@pytest.mark.parametrize(("cell", "status"), [
    (FAR_CELL, 404), ("zzz", 422), ("89194655813fff", 422), ("0", 422),
    ("8928308280fffffff", 422), ("54.58,-1.31", 422),
])
def test_unknown_or_bad_cell(client: TestClient, route: str, cell: str, status: int) -> None:
    response = client.get(route.format(cell))
    assert response.status_code == status
    if status == 404:
        assert FAR_CELL in response.json()["detail"]


# --- categories and concentration --------------------------------------------------------

def test_categories(rich_client: TestClient) -> None:
    body = rich_client.get("/api/categories").json()
    (run,) = rich_client.get("/api/runs").json()["data"]
    assert (body["run_id"], body["as_of"], body["count"]) == (run["id"], run["as_of"], 17)
    assert [row["category"] for row in body["data"]] == list(CATEGORIES)
    for row in body["data"]:
        assert set(row) == {"category", "cells", "support_cells", "background_cells"}
        assert row["cells"] == row["support_cells"] + row["background_cells"]
    assert sum(row["support_cells"] for row in body["data"]) == run["n_cells"]
    listed = all_cells(rich_client)
    for row in body["data"]:
        assert row["support_cells"] == sum(c["category"] == row["category"] for c in listed)
    assert body["data"][-1]["background_cells"] > 0  # empty cells far from data


def test_concentration(client: TestClient) -> None:
    body = client.get("/api/concentration").json()
    assert body["count"] == len(body["data"]) == 104
    starts = [row["start"] for row in body["data"]]
    assert starts == sorted(starts) and starts[-1] == "2025-06-30"
    for row in body["data"]:
        assert set(row) == {"start", "total", "top_1pct", "top_5pct", "gini"}
        assert 0 <= row["gini"] <= 1 and 0 <= row["top_1pct"] <= row["top_5pct"] <= 1
    st = schema.run_steps
    with client.app.state.store.connect() as conn:
        stored = conn.execute(sa.select(st.c.total, st.c.gini).where(st.c.run_id == 1)
                              .order_by(st.c.step)).all()
    assert [(row["total"], row["gini"]) for row in body["data"]] == [tuple(r) for r in stored]
    by_start = {row["start"]: row["total"] for row in body["data"]}
    assert by_start["2025-06-09"] == 2.0 and by_start["2023-07-10"] == 0  # R2, level 3


# --- ward ranking ------------------------------------------------------------------------

def test_ward_ranking(rich_client: TestClient, synthetic: SimpleNamespace) -> None:
    body = rich_client.get("/api/wards/ranking").json()
    assert (body["since"], body["since_step"], body["count"]) == (None, None, 2)
    assert [w["rank"] for w in body["data"]] == [1, 2]
    scores = [w["current"] for w in body["data"]]
    assert scores == sorted(scores, reverse=True)
    for w in body["data"]:
        assert set(w) == {"ward_code", "name", "rank", "current", "trend", "patrol_share",
                          "change"}
        assert w["change"] is None and w["trend"]["direction"] in DIRECTIONS
    names = {w["ward_code"]: w["name"] for w in body["data"]}
    assert names == {"E05000001": synthetic.SCRIPT, "E05000002": "South Box"}  # JSON: as is
    assert all(0 < w["patrol_share"] < 1 for w in body["data"])


@pytest.mark.parametrize(("since", "step"), [
    ("2025-06-01", "2025-05-26"), ("2025-06-30", "2025-06-30"), ("2023-07-10", "2023-07-10"),
    ("2025-07-06", "2025-06-30"), ("2024-02-29", "2024-02-26"),
])
def test_change_since(rich_client: TestClient, since: str, step: str) -> None:
    body = rich_client.get("/api/wards/ranking", params={"since": since}).json()
    assert (body["since"], body["since_step"]) == (since, step)
    with rich_client.app.state.store.connect() as conn:
        stored = read_run_wards(conn, body["run_id"]).set_index("ward_code")
    starts = rich_client.get(f"/api/runs/{body['run_id']}").json()["steps"]
    t = starts.index(step)
    for w in body["data"]:
        series = stored.loc[w["ward_code"], "score_series"]
        assert w["change"] == pytest.approx(w["current"] - series[t], rel=REL, abs=1e-12)


def test_change_since_matches_an_explanation_at_that_date(rich_client: TestClient) -> None:
    """The score at the end of a step is the explanation's total as of that day."""
    ranking = rich_client.get("/api/wards/ranking", params={"since": "2025-06-01"}).json()
    for w in ranking["data"]:
        then = rich_client.get(f"/api/explain/ward/{w['ward_code']}",
                               params={"as_of": "2025-06-01"}).json()
        assert w["current"] - then["total"] == pytest.approx(w["change"], rel=REL, abs=1e-12)


@pytest.mark.parametrize("since", ["2023-07-09", "2025-07-07", "2020-01-01", "2030-01-01"])
def test_since_outside_the_steps_is_422(client: TestClient, since: str) -> None:
    response = client.get("/api/wards/ranking", params={"since": since})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        f"since: {since} is outside the steps of run 1; expected a date from 2023-07-10 to "
        "2025-07-06")


@pytest.mark.parametrize("since", ["2025-13-01", "yesterday", "2025-02-30", "", "2025/06/01"])
def test_bad_since_is_422(client: TestClient, since: str) -> None:
    assert client.get("/api/wards/ranking", params={"since": since}).status_code == 422


# --- explanations --------------------------------------------------------------------------

EXPLANATION_KEYS = {"kind", "key", "run_id", "as_of", "covered", "known_by", "half_life_days", "total",
                    "by_source", "patrol", "patrol_share", "include_patrol", "score",
                    "records", "top"}


def test_cell_explanations_sum_to_the_stored_scores(rich_client: TestClient) -> None:
    explained = 0
    for row in all_cells(rich_client):
        cell = rich_client.get(f"/api/cells/{row['h3_cell']}").json()
        e = rich_client.get(f"/api/explain/cell/{row['h3_cell']}").json()
        assert set(e) == EXPLANATION_KEYS
        assert (e["kind"], e["key"], e["as_of"]) == ("cell", row["h3_cell"], cell["as_of"])
        assert e["total"] == pytest.approx(cell["current"], rel=REL, abs=1e-12)
        assert e["score"] == e["total"] and e["include_patrol"] is False
        for source in ("reports", "incidents", "places"):
            assert e["by_source"][source] == pytest.approx(cell["parts"][source], rel=REL,
                                                           abs=1e-12)
        assert e["patrol"] == pytest.approx(cell["parts"]["patrol"], rel=REL, abs=1e-12)
        explained += e["total"] + e["patrol"] > 0
    assert explained == 4  # P6's cell, P2's, R3's and the patrol-only one


def test_explanation_lists_records(rich_client: TestClient) -> None:
    hot = cell_at(54.58, -1.31)  # P2: its reports, a patrol report and police.uk crime
    e = rich_client.get(f"/api/explain/cell/{hot}").json()
    records = {(r["kind"], r["record"]): r for r in e["top"]}
    assert set(records) == {("report", "R1"), ("report", "R2"), ("report", "R5"),
                            ("incident", "c0"), ("incident", "c1"), ("incident", "c2")}
    assert records["report", "R5"]["source"] == "patrol"  # patrol_discovered
    assert records["incident", "c1"]["source"] == "patrol"  # Drugs: found by stop and search
    assert records["incident", "c0"]["source"] == "incidents"
    r1 = records["report", "R1"]
    assert r1 == {"kind": "report", "record": "R1", "source": "reports", "date": "2025-06-01",
                  "weight": 4.0, "decay": pytest.approx(r1["contribution"] / 4.0),
                  "contribution": pytest.approx(r1["contribution"]), "events": 1}
    contributions = [r["contribution"] for r in e["top"]]
    assert contributions == sorted(contributions, reverse=True)
    assert sum(contributions) == pytest.approx(e["total"] + e["patrol"], rel=REL)
    assert e["records"] == 6
    assert 0 < e["patrol_share"] < 1
    one = rich_client.get(f"/api/explain/cell/{hot}", params={"top": 1}).json()
    assert one["top"] == e["top"][:1] and one["records"] == 6


def test_place_level_explained(rich_client: TestClient) -> None:
    e = rich_client.get(f"/api/explain/cell/{cell_at(54.555, -1.31)}").json()
    (place,) = e["top"]
    assert (place["kind"], place["record"], place["source"]) == ("place", "P6", "places")
    assert place["events"] == 25  # weeks ending on or after 2025-01-15, the level's date
    assert e["total"] == pytest.approx(place["contribution"], rel=REL)


def test_patrol_only_cell(rich_client: TestClient, synthetic: SimpleNamespace) -> None:
    cell_id = cell_at(*synthetic.PATROL_AT)
    cell = rich_client.get(f"/api/cells/{cell_id}").json()
    assert cell["current"] == 0.0 and cell["parts"]["patrol"] > 0
    assert cell["patrol_share"] == 1.0
    e = rich_client.get(f"/api/explain/cell/{cell_id}").json()
    assert (e["total"], e["score"], e["patrol_share"]) == (0.0, 0.0, 1.0)
    assert e["by_source"] == {"reports": 0.0, "incidents": 0.0, "places": 0.0}
    assert e["patrol"] == pytest.approx(cell["parts"]["patrol"], rel=REL)
    assert [(r["kind"], r["source"]) for r in e["top"]] == [("report", "patrol")] * 3


def test_ward_explanations_sum_to_the_ranking(rich_client: TestClient) -> None:
    ranking = rich_client.get("/api/wards/ranking").json()["data"]
    for w in ranking:
        e = rich_client.get(f"/api/explain/ward/{w['ward_code']}").json()
        assert set(e) == EXPLANATION_KEYS
        assert (e["kind"], e["key"]) == ("ward", w["ward_code"])
        assert e["total"] == pytest.approx(w["current"], rel=REL)
        assert sum(e["by_source"].values()) == pytest.approx(e["total"], rel=REL)
        assert e["patrol_share"] == pytest.approx(w["patrol_share"], rel=REL)


def test_explain_as_of(rich_client: TestClient) -> None:
    hot = cell_at(54.58, -1.31)
    now = rich_client.get(f"/api/explain/cell/{hot}").json()
    same = rich_client.get(f"/api/explain/cell/{hot}", params={"as_of": now["as_of"]}).json()
    assert same == now
    before = rich_client.get(f"/api/explain/cell/{hot}", params={"as_of": "2025-06-05"}).json()
    assert before["as_of"] == "2025-06-05" and before["known_by"] == now["known_by"]
    # police.uk gives months only: June's crime counts from June 1st, as in the engine
    assert {r["record"] for r in before["top"]} == {"R1", "c0", "c1", "c2"}
    assert before["total"] < now["total"]


def test_explain_a_cell_next_to_data(client: TestClient) -> None:
    quiet = next(c for c in all_cells(client) if c["score"] == 0)["h3_cell"]
    e = client.get(f"/api/explain/cell/{quiet}").json()
    assert (e["total"], e["patrol"], e["records"], e["top"]) == (0.0, 0.0, 0, [])


@pytest.mark.parametrize(("params", "status"), [
    ({"top": 0}, 422), ({"top": 101}, 422), ({"top": "many"}, 422), ({"as_of": "June"}, 422),
    ({"as_of": "2025-02-30"}, 422), ({"as_of": "2025-01-01"}, 200),
    # outside the run's steps: the run cannot say what its score was then
    ({"as_of": "0001-01-01"}, 422), ({"as_of": "9999-12-31"}, 422), ({"top": 100}, 200),
])
def test_explain_parameters(client: TestClient, params: dict, status: int) -> None:
    for route in ("/api/explain/ward/E05000002",
                  f"/api/explain/cell/{cell_at(54.58, -1.31)}"):
        assert client.get(route, params=params).status_code == status, route


@pytest.mark.parametrize(("ward", "status"), [("E09999999", 404), ("E" * 17, 422),
                                              ("<b>", 404)])
def test_unknown_or_bad_ward(client: TestClient, ward: str, status: int) -> None:
    response = client.get(f"/api/explain/ward/{ward}")
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"detail": f"ward {ward} is not a loaded area"}


# --- every new route -----------------------------------------------------------------------

def new_routes(client: TestClient) -> list[str]:
    cell = cell_at(54.58, -1.31)
    return ["/api/runs", "/api/runs/1", f"/api/cells/{cell}", "/api/categories",
            "/api/wards/ranking?since=2025-06-01", "/api/concentration",
            f"/api/explain/cell/{cell}", "/api/explain/ward/E05000002"]


def test_no_notes_or_free_text(rich_client: TestClient, synthetic: SimpleNamespace) -> None:
    for route in new_routes(rich_client):
        response = rich_client.get(route)
        assert response.status_code == 200, route
        assert synthetic.NOTE not in response.text, route
        for word in ("note", "summary", "message", "comment"):
            assert f'"{word}' not in response.text, (route, word)


def test_openapi_documents_the_new_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/runs", "/api/runs/{run_id}", "/api/cells/{h3_cell}", "/api/categories",
                 "/api/wards/ranking", "/api/concentration", "/api/explain/cell/{h3_cell}",
                 "/api/explain/ward/{ward_code}"):
        get = paths[path]["get"]
        assert get["summary"] and "\n" not in get["description"], path
        assert "200" in get["responses"] and "$ref" in str(get["responses"]["200"]), path
