"""Results computed once per key, with a cap on how many heavy computations run at once.

The outcome table takes seconds to compute on a large store (28.8 s on 476,000 reports),
so any signed-in user could keep the server's CPUs busy by asking for it with new
parameters. A `ResultCache` keeps each result under a key that holds a data fingerprint
and the parameters (`layers.store.fingerprint`), so a result is computed once per change of the
data; callers asking for a key being computed wait for that computation rather than
starting their own. `Slots` bound the work: at most ``slots`` computations run at once and
at most ``queue`` requests wait (for a free slot or for a result under way), each for at
most ``wait_s`` seconds. Any other request is refused at once with `Busy`, which the app
answers 503 with a ``Retry-After`` header.

Cancellation
------------
The routes are synchronous, so FastAPI runs each in a worker thread: the event loop goes on
serving other requests. Python cannot stop a running thread from outside, so a computation
that has started runs to its end even if the client that asked for it has gone; its result
is kept, and the client's retry (or anyone else's request) is served from it. What the cap
buys is that such work cannot pile up: no more than ``slots`` computations run at once,
whoever disconnects, and no more than ``queue`` requests wait behind them; a client that
gives up while waiting only frees its place in the queue when its wait ends.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
DEFAULT_SLOTS = 2
DEFAULT_QUEUE = 8
DEFAULT_WAIT_S = 30.0
DEFAULT_RETRY_S = 10  # Retry-After before any computation was timed


class Busy(RuntimeError):
    """Too many heavy computations at once; ``retry_after`` seconds is a fair wait."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Slots:
    """At most ``slots`` computations at once, ``queue`` waiting, ``wait_s`` each at most."""

    def __init__(self, slots: int = DEFAULT_SLOTS, *, queue: int = DEFAULT_QUEUE,
                 wait_s: float = DEFAULT_WAIT_S) -> None:
        if slots < 1 or queue < 0 or wait_s < 0:
            msg = (f"slots must be at least 1, queue and wait_s at least 0; got slots={slots}, "
                   f"queue={queue}, wait_s={wait_s}")
            raise ValueError(msg)
        self.slots, self.queue, self.wait_s = slots, queue, wait_s
        self._running = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._waiting = 0
        self.seconds = 0.0  # how long the last computation took, for Retry-After

    @property
    def waiting_now(self) -> int:
        """How many requests wait in the queue now."""
        with self._lock:
            return self._waiting

    def retry_after(self) -> int:
        """Seconds a refused caller should wait: the last computation's length, 1 to 300."""
        if not self.seconds:
            return DEFAULT_RETRY_S
        return max(1, min(300, math.ceil(self.seconds)))

    def busy(self, what: str) -> Busy:
        """The refusal for ``what``."""
        retry = self.retry_after()
        msg = (f"{what} is being computed for other requests and the server computes at most "
               f"{self.slots} such result(s) at once; try again in {retry} s")
        return Busy(msg, retry_after=retry)

    @contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        """Take a place in the queue for the block, or raise `Busy` when it is full."""
        with self._lock:
            if self._waiting >= self.queue:
                raise self.busy(what)
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1

    @contextmanager
    def running(self, what: str) -> Iterator[None]:
        """Hold a slot for the block: at once if free, else after queueing up to ``wait_s``."""
        if not self._running.acquire(blocking=False):
            with self.waiting(what):
                if not self._running.acquire(timeout=self.wait_s):
                    raise self.busy(what)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds = time.perf_counter() - started
            self._running.release()


@dataclass
class _Flight:
    """A computation under way: its waiters block on ``done``."""

    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class ResultCache:
    """A bounded LRU of results, each computed once per key (see the module docstring).

    At most ``size`` results are kept, and, with ``max_bytes``, at most that many bytes of
    them as ``weigh`` counts them (the newest result is always kept).

    With ``slots``, every computation holds one of them and every caller waiting for
    another's computation a place in their queue; without, computations are not capped
    (cheap results, or a command-line run) but still made once per key, and a caller waits
    for another's computation up to ``wait_s`` seconds (``None``: as long as it takes).
    """

    def __init__(self, size: int, *, slots: Slots | None = None,
                 wait_s: float | None = None, max_bytes: int | None = None,
                 weigh: Callable[[Any], int] | None = None) -> None:
        self.size = size
        self.slots = slots
        self.wait_s = wait_s  # without slots: how long a caller waits for another's result
        self.max_bytes, self._weigh = max_bytes, weigh  # and at most this much in all
        self._results: OrderedDict[Hashable, Any] = OrderedDict()
        self._weights: dict[Hashable, int] = {}
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T], *, what: str = "this result") -> T:
        """The result under ``key``, computing it with ``compute()`` only when absent.

        Raises
        ------
        Busy
            When the slots and the queue are full, or a wait took longer than allowed.
        """
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                found: T = self._results[key]
                return found
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            return self._follow(flight, what)
        try:
            result = self._compute(compute, what)
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.result = result
            self._keep(key, result)
            return result
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _keep(self, key: Hashable, result: Any) -> None:
        """Store ``result``, dropping the least recently used beyond the size or bytes."""
        weight = self._weigh(result) if self._weigh is not None else 0
        with self._lock:
            self._results[key] = result
            self._weights[key] = weight
            total = sum(self._weights.values())
            while len(self._results) > 1 and (
                    len(self._results) > self.size
                    or (self.max_bytes is not None and total > self.max_bytes)):
                old, _ = self._results.popitem(last=False)
                total -= self._weights.pop(old)

    def _compute(self, compute: Callable[[], T], what: str) -> T:
        if self.slots is None:
            return compute()
        with self.slots.running(what):
            return compute()

    def _follow(self, flight: _Flight, what: str) -> Any:
        """Wait for another request's computation of the same key (a place in the queue)."""
        if self.slots is None:
            if not flight.done.wait(self.wait_s):
                msg = f"{what} is being made for another request; try again in a moment"
                raise Busy(msg, retry_after=DEFAULT_RETRY_S)
        else:
            with self.slots.waiting(what):
                if not flight.done.wait(self.slots.wait_s):
                    raise self.slots.busy(what)
        if flight.error is not None:
            raise flight.error
        return flight.result

    def clear(self) -> None:
        """Forget every result (computations under way finish and are kept)."""
        with self._lock:
            self._results.clear()
            self._weights.clear()
