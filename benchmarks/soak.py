"""Memory soak: many full 4K captures in a loop with guiagent.Screen, watching the process RSS.

Starts a 3840x2160 Xvfb display with two xterms showing text, captures full frames in a tight
loop (each frame is dropped when the next arrives, as an agent's observe loop does) and samples
VmRSS from /proc/self/status every ``--every`` captures.

Run: python benchmarks/soak.py [--count 10000] [--every 500]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from guiagent import Screen, VirtualDisplay

sys.path.insert(0, str(Path(__file__).parent))
from capture import APPS, running
from results import machine_summary, write_section
from timing import Stats, ms

TITLE = "Capture soak (memory)"
GOAL_GROWTH_MB = 50.0
WARMUP = 20


def proc_status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM...) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # the kernel reports kB
    raise KeyError(field)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="captures after warm-up")
    parser.add_argument("--every", type=int, default=500, help="sample RSS every N captures")
    args = parser.parse_args()

    samples: list[tuple[int, float, float]] = []  # (captures done, RSS MiB, seconds)
    # Preallocated, so that recording latencies does not itself grow the RSS being watched.
    latencies = np.zeros(args.count, dtype=np.float64)
    with VirtualDisplay() as display, running(display, APPS):
        time.sleep(2.5)  # let the xterms draw: benchmark set-up, not product code
        with Screen() as screen:
            before_first = proc_status_mb("VmRSS")
            size = screen.capture().size
            for _ in range(WARMUP):  # the same body as the loop: capture, drop
                frame = screen.capture()
                del frame
            started = time.perf_counter()
            samples.append((0, proc_status_mb("VmRSS"), 0.0))
            for i in range(1, args.count + 1):
                t0 = time.perf_counter()
                frame = screen.capture()
                latencies[i - 1] = (time.perf_counter() - t0) * 1000
                del frame
                if i % args.every == 0 or i == args.count:
                    samples.append((i, proc_status_mb("VmRSS"), time.perf_counter() - started))
                    print(f"{i:>6} captures  RSS {samples[-1][1]:7.1f} MiB  {samples[-1][2]:6.1f} s",
                          file=sys.stderr)
            elapsed = time.perf_counter() - started
        peak = proc_status_mb("VmHWM")

    start_rss, end_rss = samples[0][1], samples[-1][1]
    max_rss = max(rss for _, rss, _ in samples)
    growth = end_rss - start_rss
    stats = Stats(tuple(latencies.tolist()))
    met = growth < GOAL_GROWTH_MB
    lines = [
        "'peak VmHWM' is the kernel's high-water mark for the whole process (it lags the sampled "
        "VmRSS by up to a few hundred kB).",
        "",
        "| captures | RSS start MiB | RSS end MiB | RSS max MiB (sampled) | growth MiB | peak VmHWM MiB "
        "| capture median ms | p95 ms | captures/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {args.count} | {start_rss:.1f} | {end_rss:.1f} | {max_rss:.1f} | {growth:+.1f} | {peak:.1f} "
        f"| {ms(stats.median)} | {ms(stats.p95)} | {args.count / elapsed:.0f} |",
        "",
        f"- Growth over the soak {growth:+.1f} MiB: goal < {GOAL_GROWTH_MB:g} MB "
        f"{'met' if met else 'NOT met'}.",
        f"- RSS before the first capture {before_first:.1f} MiB; 'start' is after {WARMUP} warm-up "
        f"captures (mss's XShm segment is mapped and malloc has settled on how it recycles the "
        "33 MB frame buffers by then).",
        "- RSS samples (captures: MiB): "
        + ", ".join(f"{i}: {rss:.1f}" for i, rss, _ in samples) + ".",
    ]
    body = "\n".join([
        f"{args.count} full-frame {size.width}x{size.height} captures with one `guiagent.Screen` in "
        "a tight loop (each frame dropped when the next arrives) on Xvfb with two xterms; VmRSS "
        f"sampled every {args.every} captures.",
        "",
        *lines,
    ])
    print(body)
    write_section(TITLE, body + "\n\n" + machine_summary())


if __name__ == "__main__":
    main()
