"""Counting overlaps of time intervals, for the tests that check a queue's concurrency."""

from __future__ import annotations

from collections.abc import Iterable


def most_at_once(spans: Iterable[tuple[float, float]]) -> int:
    """The most `(start, end)` spans open at one moment; one ending as another starts does
    not count as overlapping (an end sorts before a start at the same time)."""
    spans = list(spans)
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = running = 0
    for _, change in edges:
        running += change
        most = max(most, running)
    return most
