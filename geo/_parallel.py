"""Split large array work over threads: h3ronpy and shapely release the GIL."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

PARALLEL_MIN = 200_000
WORKERS = max(1, min(4, os.cpu_count() or 1))


def map_chunks(func: Callable[..., np.ndarray], *arrays: np.ndarray) -> np.ndarray:
    """Apply ``func`` to aligned slices of ``arrays`` in threads and concatenate the results.

    Small inputs, or a single core, run in the calling thread.

    Examples
    --------
    >>> map_chunks(lambda a, b: a + b, np.arange(3), np.arange(3)).tolist()
    [0, 2, 4]
    """
    n = len(arrays[0])
    if n < PARALLEL_MIN or WORKERS == 1:
        return func(*arrays)
    bounds = np.linspace(0, n, WORKERS + 1).astype(int)
    with ThreadPoolExecutor(WORKERS) as pool:
        parts = pool.map(lambda ab: func(*(a[ab[0]:ab[1]] for a in arrays)),
                         zip(bounds[:-1], bounds[1:], strict=True))
        return np.concatenate(list(parts))
