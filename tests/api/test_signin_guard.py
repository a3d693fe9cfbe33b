"""The sign-in guard on a fake clock: lock-out per name and address, throttles, memory bounds."""

from __future__ import annotations

import pytest

from api import security
from api.security import SignInGuard, TokenBuckets
from api.settings import Settings
from layers.access.accounts_store import FREE_FAILURES, LOCK_BASE_S, LOCK_MAX_S


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _guard(clock: Clock, *, per_address: float = 0, per_name: float = 0) -> SignInGuard:
    return SignInGuard(per_address=per_address, per_name=per_name, clock=clock)


def test_lock_out_doubles_per_name_and_address_and_passes() -> None:
    clock = Clock()
    guard = _guard(clock)
    assert [guard.admit("ana", "10.0.0.1") for _ in range(FREE_FAILURES)] == [(0, "")] * 5
    assert guard.admit("ana", "10.0.0.1") == (LOCK_BASE_S, "locked")
    assert guard.admit("ana", "10.0.0.2") == (0, "")  # another address: not locked
    assert guard.admit("bob", "10.0.0.1") == (0, "")  # another name: not locked
    clock.now += LOCK_BASE_S
    assert guard.admit("ana", "10.0.0.1") == (0, "")  # the sixth failure
    assert guard.admit("ana", "10.0.0.1") == (2 * LOCK_BASE_S, "locked")
    for _ in range(10):
        clock.now += LOCK_MAX_S
        guard.admit("ana", "10.0.0.1")
    assert guard.admit("ana", "10.0.0.1") == (LOCK_MAX_S, "locked")


def test_a_success_forgets_the_failures_even_on_the_last_free_attempt() -> None:
    guard = _guard(Clock())
    for _ in range(FREE_FAILURES):
        assert guard.admit("ana", "10.0.0.1") == (0, "")
    guard.succeeded("ana", "10.0.0.1")  # the fifth attempt was right after all
    assert guard.admit("ana", "10.0.0.1") == (0, "")


def test_old_failures_are_forgotten() -> None:
    clock = Clock()
    guard = _guard(clock)
    for _ in range(FREE_FAILURES - 1):
        guard.admit("ana", "10.0.0.1")
    clock.now += security.FORGET_S + 1
    assert [guard.admit("ana", "10.0.0.1") for _ in range(FREE_FAILURES)] == [(0, "")] * 5


def test_throttles_refill_and_known_addresses_skip_the_name_throttle() -> None:
    clock = Clock()
    guard = _guard(clock, per_address=60, per_name=2)
    assert guard.admit("ana", "10.0.0.1") == (0, "")
    guard.succeeded("ana", "10.0.0.1")  # gives its tokens back; 10.0.0.1 is now known
    assert [guard.admit("ana", f"198.51.100.{i}")[0] for i in range(3)] == [0, 0, 30]
    assert guard.admit("ana", "198.51.100.9")[1] == "throttled: name"
    assert guard.admit("ana", "10.0.0.1") == (0, "")  # the owner's address
    clock.now += 30
    assert guard.admit("ana", "198.51.100.9") == (0, "")


def test_a_name_refusal_gives_the_address_token_back() -> None:
    guard = _guard(Clock(), per_address=2, per_name=1)
    assert guard.admit("ana", "10.0.0.1") == (0, "")
    assert guard.admit("ana", "10.0.0.1")[1] == "throttled: name"
    assert guard.admit("bob", "10.0.0.1") == (0, "")  # the address had one token left
    assert guard.admit("cyd", "10.0.0.1")[1] == "throttled: address"


def test_buckets_forget_the_least_recent_key_past_their_bound() -> None:
    buckets = TokenBuckets(1, clock=Clock(), max_keys=2)
    assert [buckets.take(k) for k in ("a", "b", "a", "c")] == [0, 0, 60, 0]
    assert buckets.take("b") == 0  # forgotten: full again
    assert buckets.take("a") == 0  # forgotten after "c" and "b"


def test_a_negative_throttle_is_refused() -> None:
    with pytest.raises(ValueError, match="use 0"):
        SignInGuard.from_settings(Settings(signin_per_address=-1))


def test_throttles_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("PLACERISK_SIGNIN_PER_ADDRESS", "12")
    monkeypatch.setenv("PLACERISK_SIGNIN_PER_NAME", "0")
    settings = Settings.from_env()
    assert (settings.signin_per_address, settings.signin_per_name) == (12, 0)
