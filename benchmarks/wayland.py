"""Capture and input latency on headless sway at 3840x2160 (run as root: needs an unprivileged
account for sway, made and removed here).

    python benchmarks/wayland.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from guiagent import Desktop
from guiagent.screen.wayland_display import VirtualWaylandDisplay


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    user = None
    if os.getuid() == 0:
        user = f"guiagentbench{os.getpid()}"
        subprocess.run(["useradd", "-r", "-M", user], check=True)
    try:
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
