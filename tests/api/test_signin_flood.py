"""A flood of sign-ins against a real server does not stall the analysts reading places.

Eight threads post unknown names to ``/api/token`` while an analyst reads an audited place
over and over, on one SQLite file behind a real uvicorn server. Reads must stay fast (no
request waits on a sign-in's password hash) and fail never, and every attempt must leave
exactly one audit row. Measured once with the sign-in throttle off (every attempt runs
argon2) and once with the defaults (most attempts are answered 429 without hashing).
"""

from __future__ import annotations

import math
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest
import sqlalchemy as sa
import uvicorn

from api.app import create_app
from api.settings import Settings
from layers.store import schema
from layers.store.engine import open_store

from .conftest import PASSWORD, build_store

FLOOD_THREADS = 8
FLOOD_S = 6.0
PLACE = "/api/places/P2"
# Generous bounds for a noisy shared 2-core machine: before the fix reads under this flood
# took seconds (8.4 s in the penetration test) and some failed with "database is locked".
P95_BOUND_S = 1.0
MAX_BOUND_S = 5.0


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The app served by a real uvicorn server in a thread; yields its base URL."""
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _flood(base: str, n: int, stop: threading.Event, statuses: list[int],
           errors: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        i = 0
        while not stop.is_set():
            try:
                r = client.post("/api/token", json={"name": f"flood-{n}-{i}",
                                                    "password": "not the password"})
                statuses.append(r.status_code)
                if r.status_code not in (401, 429):
                    errors.append(f"sign-in {r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(f"sign-in {exc!r}")
            i += 1


def _read(client: httpx.Client, latencies: list[float], errors: list[str]) -> None:
    start = time.perf_counter()
    try:
        r = client.get(PLACE)
    except httpx.HTTPError as exc:
        errors.append(f"read {exc!r}")
        return
    latencies.append(time.perf_counter() - start)
    if r.status_code != 200:
        errors.append(f"read {r.status_code}: {r.text[:200]}")


def _p95(values: list[float]) -> float:
    """The 95th percentile, nearest rank."""
    ranked = sorted(values)
    return ranked[math.ceil(0.95 * len(ranked)) - 1]


def _audit_counts(db: Path) -> tuple[int, int]:
    """Audit rows of the flood's sign-ins and of the analyst's place reads."""
    a = schema.audit_log
    store = open_store(db)
    try:
        with store.connect() as conn:
            logins = conn.scalar(sa.select(sa.func.count()).where(
                a.c.action == "login", a.c.user_name.like("flood-%")))
            reads = conn.scalar(sa.select(sa.func.count()).where(
                a.c.action == "read_place", a.c.user_name == "analyst"))
    finally:
        store.close()
    return int(logins or 0), int(reads or 0)


@pytest.mark.parametrize("throttle", ["off", "default"])
def test_sign_in_flood_leaves_reads_fast_and_loses_no_audit_row(tmp_path: Path,
                                                                throttle: str) -> None:
    db = build_store(tmp_path, score=False)
    knobs = {"signin_per_address": 0, "signin_per_name": 0} if throttle == "off" else {}
    settings = Settings(db=str(db), tiles="none", **knobs)  # type: ignore[arg-type]
    with served(settings) as base, httpx.Client(base_url=base, timeout=60) as analyst:
        r = analyst.post("/api/token", json={"name": "analyst", "password": PASSWORD})
        assert r.status_code == 200, r.text
        analyst.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        errors: list[str] = []
        quiet: list[float] = []
        for _ in range(20):
            _read(analyst, quiet, errors)
        stop = threading.Event()
        statuses: list[int] = []
        flooders = [threading.Thread(target=_flood, args=(base, n, stop, statuses, errors))
                    for n in range(FLOOD_THREADS)]
        for thread in flooders:
            thread.start()
        loud: list[float] = []
        deadline = time.monotonic() + FLOOD_S
        time.sleep(0.5)  # let the flood build up
        while time.monotonic() < deadline:
            _read(analyst, loud, errors)
            time.sleep(0.02)
        stop.set()
        for thread in flooders:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in flooders), "a sign-in thread hung"
    logins, reads = _audit_counts(db)
    figures = (f"throttle {throttle}: quiet p50 {statistics.median(quiet) * 1e3:.0f} ms; "
               f"under flood p50 {statistics.median(loud) * 1e3:.0f} ms, "
               f"p95 {_p95(loud) * 1e3:.0f} ms, max {max(loud) * 1e3:.0f} ms over "
               f"{len(loud)} reads; {len(statuses)} sign-ins "
               f"({statuses.count(401)} x 401, {statuses.count(429)} x 429), "
               f"{logins} audit rows; {len(errors)} errors")
    print(figures)
    assert not errors, f"{figures}: {errors[:5]}"
    assert _p95(loud) < P95_BOUND_S and max(loud) < MAX_BOUND_S, figures
    assert logins == len(statuses), figures  # one audit row per attempt, none lost
    assert reads == len(quiet) + len(loud), figures
