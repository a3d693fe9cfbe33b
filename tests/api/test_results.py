"""ResultCache and Slots: once per key, bounded in entries and bytes, failures not kept."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from api.results import Busy, ResultCache, Slots


def test_a_result_is_kept_and_the_oldest_goes_first() -> None:
    cache = ResultCache(2)
    made: list[str] = []

    def make(key: str) -> str:
        made.append(key)
        return key.upper()

    assert [cache.get(k, lambda k=k: make(k)) for k in ("a", "a", "b", "a", "c", "a", "b")] \
        == ["A", "A", "B", "A", "C", "A", "B"]
    assert made == ["a", "b", "c", "b"]  # "a" stayed (used last), "b" went for "c"


def test_the_byte_budget_bounds_what_is_kept() -> None:
    cache = ResultCache(10, max_bytes=10, weigh=len)
    made: list[str] = []
    for key in ("aaaa", "bbbb", "cccc", "bbbb", "dddddddddddddddd", "dddddddddddddddd"):
        cache.get(key, lambda key=key: made.append(key) or key)
    # 12 bytes > 10: "aaaa" went; the 16-byte result alone is kept despite the budget
    assert made == ["aaaa", "bbbb", "cccc", "dddddddddddddddd"]
    assert cache.get("bbbb", lambda: "again") == "again"


def test_a_failure_reaches_the_waiting_caller_and_is_not_kept() -> None:
    slots = Slots(1, queue=1, wait_s=30)
    cache = ResultCache(4, slots=slots)
    started, release = threading.Event(), threading.Event()
    seen: list[BaseException] = []

    def fail() -> str:
        started.set()
        release.wait(30)
        raise ValueError("bad input")

    def call(compute: Callable[[], str]) -> None:
        try:
            cache.get("k", compute)
        except ValueError as exc:
            seen.append(exc)

    leader = threading.Thread(target=call, args=(fail,))
    leader.start()
    assert started.wait(30)
    follower = threading.Thread(target=call, args=(lambda: "never made",))
    follower.start()
    gate = threading.Event()
    while slots.waiting_now < 1:  # the follower waits for the leader's result
        gate.wait(0.01)
    release.set()
    leader.join(30)
    follower.join(30)
    assert [str(e) for e in seen] == ["bad input", "bad input"]
    assert cache.get("k", lambda: "made") == "made"  # the failure was not kept


def test_a_caller_waits_for_another_only_so_long() -> None:
    cache = ResultCache(4, wait_s=0)
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(30)
        return "done"

    thread = threading.Thread(target=lambda: cache.get("k", slow))
    thread.start()
    try:
        assert started.wait(30)
        with pytest.raises(Busy) as busy:
            cache.get("k", lambda: "second")
        assert busy.value.retry_after >= 1
    finally:
        release.set()
        thread.join(30)
    assert cache.get("k", lambda: "second") == "done"


@pytest.mark.parametrize(("slots", "queue", "wait_s"), [(0, 1, 1.0), (1, -1, 1.0), (1, 0, -1)])
def test_slots_refuse_impossible_settings(slots: int, queue: int, wait_s: float) -> None:
    with pytest.raises(ValueError, match="slots must be at least 1"):
        Slots(slots, queue=queue, wait_s=wait_s)
