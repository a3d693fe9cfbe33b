"""Load test: 50 signed-in users on the JSON and map endpoints of a served app.

What is measured
----------------
The app over the synthetic demo data (``placerisk demo-data --no-accounts`` then
``placerisk score``), served by ``placerisk serve`` on a free loopback port in a separate
process (one uvicorn worker). `USERS` virtual users, each with
its own bearer token from ``POST /api/token``, repeat: wait a think time drawn uniformly
from `THINK_S`, then send one request drawn from `MIX` (JSON endpoints and map pages,
equally likely; cell and ward ids drawn from the stored ones). Every route is called once
before the users start (a warm app), and after `WARMUP_S` seconds of load the
answers of `DURATION_S` seconds are recorded: latency from send to the last byte, and an
error for any status of 400 or more, a timeout or a dropped connection.

Rows (``bench/results.json``): ``load_json_50_users`` and ``load_maps_50_users``, with
``ours_s`` the 95th percentile latency, ``p50_s``, ``p95_s``, ``max_s``, ``errors``,
``rps`` (answers per second) and ``target_p95_s`` (0.3 s for JSON, 1 s for maps; targets of
issue 5, with zero errors). There is no baseline: ``baseline_s`` and ``ratio`` are None.

The server is ``placerisk serve`` (one uvicorn worker) in a process of its own; the users
run in an asyncio loop (httpx2) in this process. On this 2-core machine both share the
CPUs with whatever else runs, so the figures are noisy: compare runs, not single numbers.
Loopback only; the run is bounded by `WARMUP_S` + `DURATION_S` plus at most `TIMEOUT_S` for
requests in flight, after the demo data is built (about 5 s).

Run ``.venv/bin/python bench/load.py`` (or ``make bench``, which runs every benchmark).
"""

from __future__ import annotations

import asyncio
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

USERS = 50
WARMUP_S = 4.0
DURATION_S = 20.0
THINK_S = (1.0, 5.0)  # between requests, as in Locust's example locustfile: between(1, 5)
TIMEOUT_S = 30.0
SEED = 20250630
TARGET_P95_S = {"json": 0.3, "maps": 1.0}
# (kind, path template): {h3} and {ward} are filled with stored ids for each request
MIX = [
    ("json", "/api/cells?limit=100"),
    ("json", "/api/wards/ranking"),
    ("json", "/api/places?limit=100"),
    ("json", "/api/cells/{h3}"),
    ("json", "/api/explain/cell/{h3}"),
    ("json", "/api/outcomes"),
    ("maps", "/"),
    ("maps", "/guardian"),
    ("maps", "/wards/{ward}"),
]


@dataclass(frozen=True)
class Answer:
    """One request's outcome."""

    kind: str
    path: str
    started: float
    seconds: float
    status: int  # 0: no answer (timeout, connection error)


def demo_db(folder: Path) -> tuple[Path, str, str]:
    """Build and score the demo data in ``folder``; returns the database, a user and password."""
    from click.testing import CliRunner

    from api.cli import main
    from layers import accounts
    from layers.store import open_store

    db = folder / "demo.db"
    for args in (["demo-data", "--no-accounts"], ["score"]):
        result = CliRunner().invoke(main, ["--db", str(db), *args])
        assert result.exit_code == 0, result.output
    password = accounts.new_password()
    store = open_store(db)
    try:
        accounts.add_user(store, "loadtest", "analyst", password)
    finally:
        store.close()
    return db, "loadtest", password


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


def sign_in(base: str, name: str, password: str, n: int) -> tuple[list[str], list[str], list[str]]:
    """``n`` bearer tokens of ``name``, and the stored cell ids and ward codes to ask for.

    Each route of `MIX` is called once first, so that the run measures a warm app.
    """
    import httpx2

    with httpx2.Client(base_url=base, timeout=TIMEOUT_S) as client:
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
        for _, template in MIX:  # fill the app's caches once, as a first visitor would
            path = template.format(h3=cell_ids[0], ward=ward_codes[0])
            client.get(path, headers=headers).raise_for_status()
    return tokens, cell_ids, ward_codes


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


def summarise(answers: list[Answer], kind: str, *, users: int, seconds: float
              ) -> dict[str, Any]:
    """One result row for the answers of ``kind``."""
    mine = [a for a in answers if a.kind == kind]
    times = np.array([a.seconds for a in mine]) if mine else np.array([np.nan])
    p50, p95 = (float(v) for v in np.percentile(times, [50, 95]))
    errors = sum(1 for a in mine if a.status == 0 or a.status >= 400)
    by_path = {}
    for path in sorted({a.path for a in mine}):
        t = np.array([a.seconds for a in mine if a.path == path])
        by_path[path] = {"n": len(t), "p50_s": round(float(np.median(t)), 4),
                         "p95_s": round(float(np.percentile(t, 95)), 4)}
    target = TARGET_P95_S[kind]
    return {
        "name": f"load_{kind}_{users}_users", "n": len(mine), "ours_s": p95,
        "baseline_s": None, "ratio": None, "identical": None,
        "p50_s": p50, "p95_s": p95, "max_s": float(np.max(times)), "errors": errors,
        "rps": len(mine) / seconds, "target_p95_s": target,
        "meets_target": bool(p95 < target and errors == 0),
        "users": users, "seconds": seconds, "think_s": list(THINK_S), "by_path": by_path,
        "notes": f"{users} users with their own tokens, think time U{THINK_S} s, one "
                 f"uvicorn worker over the scored demo data; {kind} endpoints of the mix",
    }


def bench_load(*, users: int = USERS, seconds: float = DURATION_S,
               warmup: float = WARMUP_S) -> list[dict[str, Any]]:
    """Serve the demo app, drive ``users`` signed-in users; one row for JSON, one for maps."""
    with tempfile.TemporaryDirectory() as tmp:
        db, name, password = demo_db(Path(tmp))
        with serve(db) as base:
            tokens, cells, wards = sign_in(base, name, password, users)
            answers, start, stop = asyncio.run(
                drive(base, tokens, cells, wards, seconds=seconds, warmup=warmup))
    return [summarise(answers, kind, users=users, seconds=stop - start)
            for kind in ("json", "maps")]


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
                  f"p95 {stats['p95_s'] * 1000:7.1f} ms")


if __name__ == "__main__":
    print_rows(bench_load())
