"""Small timing helpers shared by the benchmarks: repeat a call, summarise the samples."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stats:
    """Latency samples in milliseconds."""

    samples: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)


def percentile(samples: tuple[float, ...] | list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), without numpy."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure(call: Callable[[], Any], n: int, warmup: int = 3) -> Stats:
    """Time ``n`` calls (after ``warmup`` untimed ones); each result is dropped before the next."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - start) * 1000)
        del result
    return Stats(tuple(samples))


def measure_interleaved(calls: dict[str, Callable[[], Any]], n: int,
                        warmup: int = 3) -> dict[str, Stats]:
    """Like :func:`measure` for several calls, taking turns each round so that load spikes on a
    shared machine hit every contender alike."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            start = time.perf_counter()
            result = call()
            samples[name].append((time.perf_counter() - start) * 1000)
            del result
    return {name: Stats(tuple(values)) for name, values in samples.items()}


def ms(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"
