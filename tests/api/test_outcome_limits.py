"""/api/outcomes cannot be made to burn CPU (issue 11 item 8).

Only the windows and test levels offered are accepted; the table is computed once per
change of the data; at most ``heavy_slots`` computations run at once and ``heavy_queue``
requests wait, any other is answered 503 with Retry-After. Computations are counted by
wrapping `layers.action.outcomes.table.measure`, never timed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from layers.action.outcomes import inputs as outcome_inputs
from layers.action.outcomes import table as disruptions
from layers.action.outcomes.measures import ALPHA_CHOICES, DAY_CHOICES
from layers.records.importer import import_file

from .conftest import REPORTS, _write, build_store, signed_client

ROUTES = ["/api/outcomes", "/outcomes", "/outcomes.csv"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("limits"))


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float]]:
    """Every computation of the figures, as (days, alpha)."""
    calls: list[tuple[int, float]] = []
    measure = disruptions.measure

    def counted(inputs: outcome_inputs.OutcomeInputs, **kw: Any) -> Any:
        calls.append((kw["days"], kw["alpha"]))
        return measure(inputs, **kw)

    monkeypatch.setattr(disruptions, "measure", counted)
    return calls


@pytest.fixture
def client(db: Path) -> Iterator[TestClient]:
    c = signed_client(db)  # a new app: empty caches
    yield c
    c.__exit__(None, None, None)


def _get(client: TestClient, route: str, **params: Any) -> Any:
    if route == "/outcomes.csv":
        params["purpose"] = "JAG review"
    return client.get(route, params=params)


BAD = [{"days": 45}, {"days": 7}, {"days": 730}, {"days": 91}, {"alpha": 0.2},
       {"alpha": 0.049}, {"alpha": 1e-6}, {"crime_type": "Not a crime type"}]


@pytest.mark.parametrize(("route", "query"), [
    (route, query) for route in ROUTES for query in BAD
    if not (route == "/outcomes" and "crime_type" in query)])  # the page measures no crime
def test_parameters_outside_the_offered_set_are_422(client: TestClient, computed: list,
                                                   route: str, query: dict) -> None:
    r = _get(client, route, **query)
    assert r.status_code == 422
    name = next(iter(query))
    if route == "/outcomes":
        text = r.text
        assert f"{name}:" in text
    elif name == "crime_type":
        text = r.json()["detail"]
        assert text.startswith("crime_type:") and "Not a crime type" not in text
    else:
        [error] = r.json()["detail"]
        assert error["loc"] == ["query", name]
        text = error["msg"]
    if "days" in query:
        assert "30, 60, 90, 180 or 365" in text
    if "alpha" in query:
        assert "0.01, 0.05 or 0.1" in text
    assert computed == []  # refused before any work


@pytest.mark.parametrize("days", DAY_CHOICES)
def test_each_window_offered_is_accepted(client: TestClient, days: int) -> None:
    assert client.get("/api/outcomes", params={"days": days}).json()["days"] == days


@pytest.mark.parametrize("alpha", ALPHA_CHOICES)
def test_each_test_level_offered_is_accepted(client: TestClient, alpha: float) -> None:
    assert client.get("/api/outcomes", params={"alpha": alpha}).json()["alpha"] == alpha


def test_a_second_identical_call_does_not_recompute(client: TestClient, computed: list) -> None:
    first = client.get("/api/outcomes", params={"days": 30})
    assert first.status_code == 200 and computed == [(30, 0.05)]
    assert client.get("/api/outcomes", params={"days": 30}).json() == first.json()
    # other views of the same figures reuse them too
    for params in ({"days": 30, "sort": "start", "order": "desc"},
                   {"days": 30, "as_of": "2025-07-01"}, {"days": 30, "type": "street_patrol"}):
        assert client.get("/api/outcomes", params=params).status_code == 200
    assert client.get("/outcomes", params={"days": 30}).status_code == 200
    assert _get(client, "/outcomes.csv", days=30).status_code == 200
    assert computed == [(30, 0.05)]
    assert client.get("/api/outcomes", params={"days": 60}).status_code == 200
    assert computed == [(30, 0.05), (60, 0.05)]


def test_a_data_change_recomputes(tmp_path: Path, computed: list) -> None:
    client = signed_client(build_store(tmp_path))
    try:
        store = client.app.state.store
        first = client.get("/api/outcomes").json()
        assert len(computed) == 1
        new = [{"report_id": "NEW", "reported_on": "2025-06-16", "place_id": "P2",
                "mace_level": 4}]
        assert import_file(store, "reports", _write(tmp_path / "new.csv", new)).inserted == 1
        assert client.get("/api/outcomes").status_code == 200
        assert len(computed) == 2
        # an update in place (no row added): R1 at another level
        again = [{**REPORTS[1], "mace_level": 1}]
        assert import_file(store, "reports", _write(tmp_path / "again.csv", again)).updated == 1
        assert client.get("/api/outcomes").status_code == 200
        assert len(computed) == 3
        assert client.get("/api/outcomes").json()["count"] == first["count"]
        assert len(computed) == 3
    finally:
        client.__exit__(None, None, None)


class _Gate:
    """Holds every computation until opened; says when the first has started."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.open = threading.Event()
        self.calls = 0
        measure = disruptions.measure

        def held(inputs: outcome_inputs.OutcomeInputs, **kw: Any) -> Any:
            self.calls += 1
            self.started.set()
            assert self.open.wait(60), "the test never opened the gate"
            return measure(inputs, **kw)

        monkeypatch.setattr(disruptions, "measure", held)


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def _wait_until(check: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(600):
        if check():
            return
        event.wait(0.05)
    pytest.fail("the request never got there")


def test_over_the_cap_is_503_with_retry_after(db: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    gate = _Gate(monkeypatch)
    client = signed_client(db, heavy_slots=1, heavy_queue=0)
    try:
        thread, out = _in_thread(lambda: client.get("/api/outcomes", params={"days": 30}))
        assert gate.started.wait(60)
        # another window, the same one again (nowhere to wait) and the page: all refused
        for route, params in (("/api/outcomes", {"days": 60}), ("/api/outcomes", {"days": 30}),
                              ("/outcomes", {"days": 180}), ("/wards/E05000001", {})):
            r = client.get(route, params=params)
            assert r.status_code == 503, (route, r.text)
            assert int(r.headers["Retry-After"]) >= 1
            assert "at most 1 such result" in r.text
        assert gate.calls == 1
        gate.open.set()
        thread.join(60)
        assert out[0].status_code == 200
        assert client.get("/api/outcomes", params={"days": 60}).status_code == 200
        assert gate.calls == 2
    finally:
        gate.open.set()
        client.__exit__(None, None, None)


def test_requests_within_the_queue_wait_and_share(db: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    gate = _Gate(monkeypatch)
    client = signed_client(db, heavy_slots=1, heavy_queue=2)
    slots = client.app.state.outcomes.slots
    try:
        first, first_out = _in_thread(lambda: client.get("/api/outcomes",
                                                         params={"days": 30}))
        assert gate.started.wait(60)
        same, same_out = _in_thread(lambda: client.get("/api/outcomes", params={"days": 30}))
        other, other_out = _in_thread(lambda: client.get("/api/outcomes",
                                                         params={"days": 60}))
        _wait_until(lambda: slots.waiting_now == 2)
        r = client.get("/api/outcomes", params={"days": 90})  # the queue is full
        assert r.status_code == 503 and "Retry-After" in r.headers
        gate.open.set()
        for thread in (first, same, other):
            thread.join(60)
        assert [o[0].status_code for o in (first_out, same_out, other_out)] == [200] * 3
        assert same_out[0].json() == first_out[0].json()
        assert gate.calls == 2  # days=30 once for two requests, days=60 once
    finally:
        gate.open.set()
        client.__exit__(None, None, None)
