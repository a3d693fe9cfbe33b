"""`placerisk serve` itself, in a process of its own: which client address it believes.

A client can send any ``X-Forwarded-For``. Unless ``PLACERISK_TRUSTED_PROXIES`` names the
peer, the audit log and the sign-in throttle must see the peer's real address.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest
from click.testing import CliRunner

from api.cli import main
from api.settings import Settings
from layers.store import audit
from layers.store.engine import open_store

from .conftest import ensure_accounts_in

FORGED = "203.0.113.7"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db: Path, **env: str) -> Iterator[str]:
    """`placerisk serve` on a free port of 127.0.0.1 (output to a file by ``db``)."""
    port = _free_port()
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve",
               "--db", str(db), "--port", str(port)]
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PLACERISK_", "FORWARDED_ALLOW_IPS"))}
    log = db.with_suffix(".log")
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env={**clean, "PLACERISK_TILES": "none", **env},
                                   stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/login", timeout=5)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = log.read_text(errors="replace")[-2000:]
                    pytest.fail(f"placerisk serve did not start: {output}")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _clients(db: Path) -> list[str]:
    store = open_store(db)
    try:
        with store.connect() as conn:
            rows = audit.query(conn, action="login")
    finally:
        store.close()
    return list(reversed(rows["client"].tolist()))  # oldest first


@pytest.mark.parametrize("trusted", [False, True])
def test_serve_believes_forwarded_addresses_only_from_trusted_proxies(tmp_path: Path,
                                                                     trusted: bool) -> None:
    db = tmp_path / "s.db"
    ensure_accounts_in(db)
    env = {"PLACERISK_SIGNIN_PER_ADDRESS": "2"}
    if trusted:
        env["PLACERISK_TRUSTED_PROXIES"] = "127.0.0.1"
    with serving(db, **env) as base:
        codes = []
        for i, forwarded in enumerate([FORGED, "198.51.100.1", "198.51.100.2", FORGED,
                                       FORGED]):
            r = httpx.post(f"{base}/api/token", headers={"X-Forwarded-For": forwarded},
                           json={"name": f"nobody-{i}", "password": "not the password"},
                           timeout=60)
            codes.append(r.status_code)
    clients = _clients(db)
    if trusted:  # the proxy's word is taken, by the audit log and the throttle alike
        assert clients == [FORGED, "198.51.100.1", "198.51.100.2", FORGED, FORGED]
        assert codes == [401, 401, 401, 401, 429]
    else:  # every request came from 127.0.0.1, whatever the header said
        assert clients == ["127.0.0.1"] * 5
        assert codes == [401, 401, 429, 429, 429]


def test_trusted_proxies_come_from_the_environment(monkeypatch) -> None:
    assert not Settings().proxy_headers  # none by default
    monkeypatch.setenv("PLACERISK_TRUSTED_PROXIES", "10.0.0.7, 192.168.1.9/24,")
    settings = Settings.from_env()
    assert settings.proxy_headers
    assert settings.forwarded_allow_ips == "10.0.0.7,192.168.1.0/24"


@pytest.mark.parametrize("value", ["*", "proxy.example", "10.0.0.300"])
def test_a_trusted_proxy_must_be_an_address(tmp_path: Path, monkeypatch, value: str) -> None:
    monkeypatch.setenv("PLACERISK_TRUSTED_PROXIES", value)
    with pytest.raises(ValueError, match="not an IP address or network"):
        Settings.from_env()
    r = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "s.db")])
    assert r.exit_code == 1 and "PLACERISK_TRUSTED_PROXIES" in r.output
