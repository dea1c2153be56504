"""Keeping the winners among overlapping spans in O(n log n), for messages with thousands of hits."""

from __future__ import annotations

from bisect import bisect_right


class DisjointSpans:
    """A set of non-overlapping [start, end) spans; `add` refuses a span that overlaps one already in."""

    __slots__ = ("_starts", "_ends")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, start: int, end: int) -> bool:
        i = bisect_right(self._starts, start)
        # Only the neighbours can overlap, because the spans already kept are disjoint and sorted.
        if i > 0 and self._ends[i - 1] > start:
            return False
        if i < len(self._starts) and self._starts[i] < end:
            return False
        self._starts.insert(i, start)
        self._ends.insert(i, end)
        return True
