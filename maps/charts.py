"""Small inline SVG charts: no chart library, no request, imported text escaped."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from maps.style import escape


def sparkline_svg(values: Sequence[float] | np.ndarray, *, labels: Sequence[str] = (),
                  width: int = 480, height: int = 120, title: str = "",
                  colour: str = "#bd0026") -> str:
    """A line chart of ``values`` as an ``<svg>`` string, with the first and last labels.

    Examples
    --------
    >>> svg = sparkline_svg([0, 2, 1], labels=["2025-01-06", "", "2025-01-20"], title="Score")
    >>> svg.startswith("<svg") and "polyline" in svg and "2025-01-20" in svg
    True
    """
    y = np.asarray(values, dtype=float)
    pad, top = 4, 14
    plot_h = height - top - 16
    if len(y) == 0:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                f'role="img"><text x="4" y="14">{escape(title)}: no data</text></svg>')
    span = float(y.max() - min(y.min(), 0.0)) or 1.0
    xs = np.linspace(pad, width - pad, len(y)) if len(y) > 1 else np.array([width / 2])
    ys = top + plot_h - (y - min(y.min(), 0.0)) / span * plot_h
    points = " ".join(f"{x:.1f},{v:.1f}" for x, v in zip(xs, ys, strict=True))
    first = escape(labels[0]) if len(labels) else ""
    last = escape(labels[-1]) if len(labels) else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">'
        f'<text x="{pad}" y="11" font-size="11">{escape(title)} (max {y.max():.1f})</text>'
        f'<line x1="{pad}" y1="{top + plot_h}" x2="{width - pad}" y2="{top + plot_h}" '
        f'stroke="#999" stroke-width="1"/>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'
        f'<text x="{pad}" y="{height - 2}" font-size="10">{first}</text>'
        f'<text x="{width - pad}" y="{height - 2}" font-size="10" text-anchor="end">{last}'
        "</text></svg>"
    )
