"""Capture and input latency on headless sway at 3840x2160 (run as root: needs an unprivileged
account for sway, made and removed here); with ``--accuracy``, click and drag accuracy against
the Tk probe's own report (Xwayland) at output scale 1 and 2, and a ``guiagent.do`` step time.

    python benchmarks/wayland.py [--runs 20] [--accuracy]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import guiagent
from guiagent import Desktop
from guiagent.screen.wayland_display import VirtualWaylandDisplay

PROBE = Path(__file__).resolve().parent.parent / "tests" / "apps" / "tk_probe.py"


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _events(report: Path, kind: str) -> list[dict[str, object]]:
    lines = report.read_text(encoding="utf-8").splitlines() if report.exists() else []
    return [e for e in map(json.loads, lines) if e["event"] == kind]


def _wait(report: Path, kind: str, count: int, timeout: float = 30.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while len(found := _events(report, kind)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"the probe reported {len(found)} of {count} {kind} events")
        time.sleep(0.05)
    return found


def accuracy(user: str | None, scale: int, clicks: int, drags: int) -> None:
    """Clicks and drags at spread-out points of the probe's canvas; each is exact when the
    probe reports the very screen point that was sent."""
    with VirtualWaylandDisplay(scale=scale, user=user, set_environment=False) as wl, \
            tempfile.TemporaryDirectory() as tmp, Desktop(wl, accessibility=False) as desktop:
        report = Path(tmp) / "probe.jsonl"
        wl.launch([sys.executable, str(PROBE), str(report), "--buttons", "Alpha,Bravo,Charlie"])
        ready = _wait(report, "ready", 1)[0]
        time.sleep(1)
        x0, y0 = int(ready["canvas_x"]) + 5, int(ready["canvas_y"]) + 5  # type: ignore[call-overload]
        w, h = int(ready["canvas_w"]) - 10, int(ready["canvas_h"]) - 10  # type: ignore[call-overload]
        points = [(x0 + (i * 613) % w, y0 + (i * 389) % h) for i in range(clicks)]
        for point in points:
            desktop.click(point)
        seen = [(e["x_root"], e["y_root"]) for e in _wait(report, "click", clicks)]
        errors = [max(abs(sx - px), abs(sy - py)) for (sx, sy), (px, py) in zip(seen, points, strict=True)]  # type: ignore[operator]
        exact = sum(e == 0 for e in errors)
        ends = [(points[i], points[(i + 7) % clicks]) for i in range(drags)]
        for start, end in ends:
            desktop.drag(start, end)
        releases = [(e["x_root"], e["y_root"]) for e in _wait(report, "release", clicks + drags)][clicks:]
        presses = [(e["x_root"], e["y_root"]) for e in _wait(report, "click", clicks + drags)][clicks:]
        drag_exact = sum(p == s and r == e for (s, e), p, r in zip(ends, presses, releases, strict=True))
        print(f"scale {scale}: clicks exact {exact}/{clicks} (max error {max(errors)} px), "
              f"drags exact at both ends {drag_exact}/{drags}")
        walls, parts = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            result = guiagent.do(desktop, 'click "Bravo"')
            walls.append((time.perf_counter() - t0) * 1000)
            parts.append(result.steps[0].timings.to_dict())
        pressed = len(_events(report, "button"))
        medians = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
        print(f"scale {scale}: do 'click Bravo' median {statistics.median(walls):.0f} ms wall, "
              f"step parts {medians}; the probe saw {pressed}/5 presses")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--accuracy", action="store_true")
    args = parser.parse_args()
    runs = args.runs
    user = None
    if os.getuid() == 0:
        user = f"guiagentbench{os.getpid()}"
        subprocess.run(["useradd", "-r", "-M", user], check=True)
    try:
        if args.accuracy:
            for scale in (1, 2):
                accuracy(user, scale, clicks=50, drags=10)
            return
        with VirtualWaylandDisplay(user=user, set_environment=False) as wl, \
                tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "typed.txt"
            wl.launch(["foot", "sh", "-c", f"stty -echo; cat > {out}"])
            time.sleep(2)
            env = wl.env
            grim = shutil.which("grim") or "grim"
            rows = [
                ("grim PNG to a file (grim's default)",
                 median_ms(lambda: subprocess.run([grim, str(Path(tmp) / "s.png")], env=env,
                                                  check=True), runs)),
                ("grim -t ppm to a pipe",
                 median_ms(lambda: subprocess.run([grim, "-t", "ppm", "-"], env=env, check=True,
                                                  capture_output=True), runs)),
            ]
            with Desktop(wl, accessibility=False, failsafe=False) as desktop:
                rows += [
                    ("Desktop.capture() full 4K frame (grim ppm + BGRA)", median_ms(desktop.capture, runs)),
                    ("Desktop.capture(region 1024x1024)",
                     median_ms(lambda: desktop.capture(region=(1000, 500, 1024, 1024)), runs)),
                    ("Desktop.move (sway IPC cursor set)",
                     median_ms(lambda: desktop.executor.backend.move(1900, 1000, 0), runs)),
                    ("Desktop.click", median_ms(lambda: desktop.click((1900, 1000)), runs)),
                    ("Desktop.type 10 characters (one wtype call)",
                     median_ms(lambda: desktop.type("héllo ✓ 12"), runs)),
                    ("Desktop.press enter (one wtype call)", median_ms(lambda: desktop.press("enter"), runs)),
                ]
        print(f"headless sway 3840x2160, pixman renderer, median of {runs} runs")
        for name, ms in rows:
            print(f"  {name:55s} {ms:8.1f} ms")
    finally:
        if user is not None:
            subprocess.run(["userdel", user], check=False)


if __name__ == "__main__":
    main()
