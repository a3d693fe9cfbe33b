"""Load test: 50 signed-in users on the JSON and map endpoints of a served app, two stores.

What is measured
----------------
The app served by ``placerisk serve`` on a free loopback port in a separate process (one
uvicorn worker), over two stores in turn:

* ``demo``: the synthetic demo data (``placerisk demo-data --no-accounts`` then
  ``placerisk score``): about 7,900 reports, 1,050 activities, 430 places;
* ``476k``: the same demo with `LARGE_EXTRA` more synthetic reports imported
  (``placerisk import reports``) before scoring: about 476,000 reports, the size the
  penetration test of issue 11 loaded. The extra reports lie in the demo's real 2024 wards
  (97%) or just outside them (3%), drawn as ``bench/run.py`` draws its points
  (`synthetic.synthetic_points`), on days spread over the demo's two years, 10%
  patrol-discovered.

`USERS` virtual users, each with its own bearer token from ``POST /api/token``, repeat:
wait a think time drawn uniformly from `THINK_S`, then send one request drawn from `MIX`
(10 JSON routes and 5 map pages, equally likely; cell and ward ids drawn from the stored
ones). Every route is called once before the users start (a warm app), and after
`WARMUP_S` seconds of load the answers of `DURATION_S` seconds are recorded: latency from
send to the last byte, and an error for any status of 400 or more, a timeout or a dropped
connection.

Rows (``bench/results.json``): ``load_json_50_users_demo``, ``load_maps_50_users_demo``,
``load_json_50_users_476k`` and ``load_maps_50_users_476k``, with ``ours_s`` the 95th
percentile latency, ``p50_s``, ``p95_s``, ``max_s``, ``errors``, ``rps`` (answers per
second), ``by_path`` and ``target_p95_s`` (0.3 s for JSON, 1 s for maps, with zero errors:
the targets of issue 11). There is no baseline: ``baseline_s`` and ``ratio`` are None.

The users run in an asyncio loop (httpx2) in this process. On this 2-core machine server
and users share the CPUs with whatever else runs, so the figures are noisy: compare runs,
not single numbers. Loopback only. Building the large store takes about a minute (the
import and the scoring run); each store's load then lasts `WARMUP_S` + `DURATION_S` plus at
most `TIMEOUT_S` for requests in flight.

Run ``.venv/bin/python bench/load.py`` (``--quick``: 10 s per store and a 100k-report
large store, for trying a change), or ``make bench``, which runs every benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

USERS = 50
WARMUP_S = 4.0
DURATION_S = 20.0
THINK_S = (1.0, 5.0)  # between requests, as in Locust's example locustfile: between(1, 5)
TIMEOUT_S = 30.0
SEED = 20250630
LARGE_EXTRA = 468_000  # reports added to the demo's ~7,900: a store of about 476k
QUICK_EXTRA = 92_000
TARGET_P95_S = {"json": 0.3, "maps": 1.0}
# (kind, path template): {h3} and {ward} are filled with stored ids for each request
MIX = [
    ("json", "/api/cells?limit=100"),
    ("json", "/api/wards/ranking"),
    ("json", "/api/places?limit=100"),
    ("json", "/api/activities?limit=100"),
    ("json", "/api/cells/{h3}"),
    ("json", "/api/explain/cell/{h3}"),
    ("json", "/api/concentration"),
    ("json", "/api/patrol?ward={ward}"),
    ("json", "/api/outcomes"),
    ("json", "/api/guardian/cells"),
    ("maps", "/"),
    ("maps", "/guardian"),
    ("maps", "/wards/{ward}"),
    ("maps", "/patrol?ward={ward}"),
    ("maps", "/outcomes"),
]


@dataclass(frozen=True)
class Answer:
    """One request's outcome."""

    kind: str
    path: str
    started: float
    seconds: float
    status: int  # 0: no answer (timeout, connection error)


def _cli(db: Path, *args: str) -> None:
    from click.testing import CliRunner

    from api.cli import main

    result = CliRunner().invoke(main, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output


def _account(db: Path) -> tuple[str, str]:
    from layers.access import accounts_store as accounts
    from layers.store.engine import open_store

    password = accounts.new_password()
    store = open_store(db)
    try:
        accounts.add_user(store, "loadtest", "analyst", password)
    finally:
        store.close()
    return "loadtest", password


def demo_db(folder: Path) -> tuple[Path, str, str]:
    """Build and score the demo data in ``folder``; returns the database, a user and password."""
    db = folder / "demo.db"
    _cli(db, "demo-data", "--no-accounts")
    _cli(db, "score")
    return db, *_account(db)


def extra_reports(path: Path, n: int, *, end: dt.date, seed: int = SEED) -> Path:
    """Write ``n`` synthetic reports in the demo's wards and two years to ``path`` (CSV)."""
    from synthetic import synthetic_points

    from geo.boundaries import read_boundaries

    wards = pd.concat([read_boundaries(f).areas
                       for f in sorted((ROOT / "data" / "boundaries").glob("*.geojson"))],
                      ignore_index=True)
    points = synthetic_points(wards, n, seed=seed)
    rng = np.random.default_rng(seed)
    days = pd.Timestamp(end) - pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    pd.DataFrame({
        "report_id": [f"LOAD-{i}" for i in range(n)],
        "reported_on": days.strftime("%Y-%m-%d"),
        "latitude": points["lat"].round(5), "longitude": points["lng"].round(5),
        "mace_level": rng.choice([1, 2, 3, 4], n, p=[0.2, 0.45, 0.25, 0.1]),
        "patrol_discovered": np.where(rng.random(n) < 0.1, "true", "false"),
    }).to_csv(path, index=False)
    return path


def large_db(folder: Path, extra: int = LARGE_EXTRA) -> tuple[Path, str, str]:
    """The demo with ``extra`` more reports imported, then scored; database, user, password."""
    db = folder / "large.db"
    _cli(db, "demo-data", "--no-accounts")
    _cli(db, "import", "reports", str(extra_reports(folder / "extra.csv", extra,
                                                     end=dt.date.today())))
    _cli(db, "score")
    return db, *_account(db)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(db: Path) -> Iterator[str]:
    """Run ``placerisk serve`` over ``db`` in its own process; yields its base URL.

    A separate process, as in production: the server does not share an interpreter lock
    with the load generator.
    """
    import subprocess

    import httpx2

    port = _free_port()
    command = [sys.executable, "-c", "from api.cli import main; main()", "--db", str(db),
               "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        else:
            msg = f"placerisk serve did not answer on {base} within 30 s"
            raise RuntimeError(msg)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def sign_in(base: str, name: str, password: str, n: int
            ) -> tuple[list[str], list[str], list[str], dict[str, float]]:
    """``n`` bearer tokens of ``name``, the stored cell ids and ward codes to ask for, and
    the seconds each route's first (cold) call took.

    Each route of `MIX` is called once first, so that the run measures a warm app.
    """
    import httpx2

    with httpx2.Client(base_url=base, timeout=300) as client:
        tokens = []
        for _ in range(n):
            response = client.post("/api/token", json={"name": name, "password": password})
            response.raise_for_status()
            tokens.append(response.json()["access_token"])
        headers = {"Authorization": f"Bearer {tokens[0]}"}
        cells = client.get("/api/cells", params={"limit": 100}, headers=headers).json()
        ranking = client.get("/api/wards/ranking", headers=headers).json()
        cell_ids = [row["h3_cell"] for row in cells["data"]]
        ward_codes = [row["ward_code"] for row in ranking["data"]]
        cold = {}
        for _, template in MIX:  # fill the app's caches once, as a first visitor would
            path = template.format(h3=cell_ids[0], ward=ward_codes[0])
            started = time.perf_counter()
            client.get(path, headers=headers).raise_for_status()
            cold[template] = round(time.perf_counter() - started, 3)
    return tokens, cell_ids, ward_codes, cold


async def _user(client: Any, token: str, rng: random.Random, cells: list[str],
                wards: list[str], stop: float, out: list[Answer]) -> None:
    import httpx2

    headers = {"Authorization": f"Bearer {token}"}
    await asyncio.sleep(rng.uniform(0, THINK_S[1]))  # users arrive spread out
    while True:
        await asyncio.sleep(rng.uniform(*THINK_S))
        if time.perf_counter() >= stop:
            return
        kind, template = rng.choice(MIX)
        path = template.format(h3=rng.choice(cells), ward=rng.choice(wards))
        started = time.perf_counter()
        try:
            response = await client.get(path, headers=headers)
            await response.aread()
            status = response.status_code
        except httpx2.HTTPError:
            status = 0
        out.append(Answer(kind, template, started, time.perf_counter() - started, status))


async def drive(base: str, tokens: list[str], cells: list[str], wards: list[str], *,
                seconds: float, warmup: float) -> tuple[list[Answer], float, float]:
    """Run one user per token for ``warmup + seconds``; returns answers and the window."""
    import httpx2

    limits = httpx2.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    out: list[Answer] = []
    async with httpx2.AsyncClient(base_url=base, timeout=TIMEOUT_S, limits=limits) as client:
        begin = time.perf_counter()
        start, stop = begin + warmup, begin + warmup + seconds
        await asyncio.gather(*(
            _user(client, token, random.Random(SEED + i), cells, wards, stop, out)
            for i, token in enumerate(tokens)))
    return [a for a in out if a.started >= start], start, stop


def summarise(answers: list[Answer], kind: str, *, users: int, seconds: float, store: str,
              about: str) -> dict[str, Any]:
    """One result row for the answers of ``kind`` over the store named ``store``."""
    mine = [a for a in answers if a.kind == kind]
    times = np.array([a.seconds for a in mine]) if mine else np.array([np.nan])
    p50, p95 = (float(v) for v in np.percentile(times, [50, 95]))
    errors = sum(1 for a in mine if a.status == 0 or a.status >= 400)
    by_path = {}
    for path in sorted({a.path for a in mine}):
        t = np.array([a.seconds for a in mine if a.path == path])
        by_path[path] = {"n": len(t), "p50_s": round(float(np.median(t)), 4),
                         "p95_s": round(float(np.percentile(t, 95)), 4),
                         "errors": sum(1 for a in mine if a.path == path
                                       and (a.status == 0 or a.status >= 400))}
    target = TARGET_P95_S[kind]
    return {
        "name": f"load_{kind}_{users}_users_{store}", "n": len(mine), "ours_s": p95,
        "baseline_s": None, "ratio": None, "identical": None,
        "p50_s": p50, "p95_s": p95, "max_s": float(np.max(times)), "errors": errors,
        "rps": len(mine) / seconds, "target_p95_s": target,
        "meets_target": bool(p95 < target and errors == 0),
        "users": users, "seconds": seconds, "think_s": list(THINK_S), "store": about,
        "by_path": by_path,
        "notes": f"{users} users with their own tokens, think time U{THINK_S} s, one "
                 f"uvicorn worker over {about}; the {kind} routes of the mix",
    }


def _count_reports(db: Path) -> int:
    import sqlalchemy as sa

    from layers.store import schema
    from layers.store.engine import open_store

    store = open_store(db)
    try:
        with store.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(schema.reports))
                       .scalar_one())
    finally:
        store.close()


def load_store(name: str, db: Path, user: str, password: str, *, users: int, seconds: float,
               warmup: float) -> list[dict[str, Any]]:
    """Serve ``db`` and drive ``users`` signed-in users; one row for JSON, one for maps."""
    about = f"the scored demo data with {_count_reports(db):,} reports"
    with serve(db) as base:
        tokens, cells, wards, cold = sign_in(base, user, password, users)
        answers, start, stop = asyncio.run(
            drive(base, tokens, cells, wards, seconds=seconds, warmup=warmup))
    rows = [summarise(answers, kind, users=users, seconds=stop - start, store=name,
                      about=about) for kind in ("json", "maps")]
    for row in rows:
        row["first_call_s"] = {path: cold[path] for kind, path in MIX
                               if row["name"].startswith(f"load_{kind}_")}
    return rows


def bench_load(*, users: int = USERS, seconds: float = DURATION_S, warmup: float = WARMUP_S,
               extra: int = LARGE_EXTRA) -> list[dict[str, Any]]:
    """The load of `MIX` over the demo store and over the large one: four rows."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows += load_store("demo", *demo_db(folder), users=users, seconds=seconds,
                           warmup=warmup)
        db, user, password = large_db(folder, extra)
        rows += load_store(f"{round(_count_reports(db) / 1000)}k", db, user, password,
                           users=users, seconds=seconds, warmup=warmup)
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    """Print the load rows: latency percentiles, errors and rate against the targets."""
    for row in rows:
        verdict = "meets" if row["meets_target"] else "MISSES"
        print(f"{row['name']}: {row['n']} answers, {row['rps']:.1f}/s; p50 "
              f"{row['p50_s'] * 1000:.0f} ms, p95 {row['p95_s'] * 1000:.0f} ms, max "
              f"{row['max_s'] * 1000:.0f} ms, {row['errors']} errors; {verdict} the target "
              f"(p95 < {row['target_p95_s'] * 1000:.0f} ms, no errors)")
        for path, stats in row["by_path"].items():
            print(f"    {path:<28} n={stats['n']:>5}  p50 {stats['p50_s'] * 1000:7.1f} ms  "
                  f"p95 {stats['p95_s'] * 1000:7.1f} ms  errors {stats['errors']}")


def main() -> int:
    """Run the load benchmark on its own (``--quick`` for a short run) and print its rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="10 s of load per store and a store of 100k reports")
    args = parser.parse_args()
    if args.quick:
        rows = bench_load(seconds=10.0, warmup=2.0, extra=QUICK_EXTRA)
    else:
        rows = bench_load()
    print_rows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
