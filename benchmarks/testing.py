"""UI tests with the pytest plugin: a 10-test suite serial vs ``-n 2``, and what an expectation
costs on top of a bare ``locate``.

Part 1 writes a suite of 10 UI tests (each launches a real Tk app on the worker's 3840x2160
Xvfb display, waits for its button, clicks it, waits for the new text and for the old one to go)
and runs it with ``pytest`` and with ``pytest -n 2``, taking turns, ``--rounds`` times each.

Part 2, in this process on its own virtual display with the app open: the time of
``desktop.expect('"Say hello"').to_be_visible()`` on a screen where the text already shows vs
``locate(desktop.capture(), '"Say hello"')`` (the same work without the expectation), the
extra cost of a recorded step (what ``--guiagent-report`` adds), what one poll of a still screen
costs and how much CPU a 3 s wait on a still screen burns, and how long after a click the
expectation sees the app's answer.

Run: python benchmarks/testing.py [--rounds 3] [--n 30]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results import machine_summary, write_section
from timing import Stats, measure_interleaved, ms

from guiagent import VirtualDisplay
from guiagent.grounding import locate
from guiagent.testing import RecordedDesktop, Recorder

TITLE = "UI tests with pytest (plugin)"

GREETER = """
import tkinter as tk
root = tk.Tk()
root.title("greeter")
root.geometry("900x400+300+200")
status = tk.Label(root, text="Status: waiting", font=("DejaVu Sans", 20))
status.pack(pady=30)
tk.Button(root, text="Say hello", font=("DejaVu Sans", 20),
          command=lambda: status.config(text="Status: greeted")).pack(pady=20)
root.mainloop()
"""

SUITE = """
import sys
from pathlib import Path

import pytest

from guiagent.testing import expect

APP = Path(__file__).with_name("greeter.py")


@pytest.mark.parametrize("n", range(10))
def test_greeter(desktop, n):
    desktop.launch([sys.executable, str(APP)])
    desktop.click(expect('"Say hello"').to_be_visible(timeout=30))
    expect('"greeted"').to_be_visible()
    expect('"waiting"').not_to_be_visible()
"""


def run_suite(folder: Path, extra: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (all processes) of one run of the suite, in seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra],
                            cwd=folder, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"the suite failed ({' '.join(extra) or 'serial'}):\n{result.stdout[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def suite_rows(rounds: int) -> dict[str, list[tuple[float, float]]]:
    times: dict[str, list[tuple[float, float]]] = {"serial": [], "-n 2": []}
    with tempfile.TemporaryDirectory(prefix="guiagent-bench-suite-") as tmp:
        folder = Path(tmp)
        (folder / "greeter.py").write_text(GREETER)
        (folder / "test_suite.py").write_text(SUITE)
        for _ in range(rounds):
            times["serial"].append(run_suite(folder, []))
            times["-n 2"].append(run_suite(folder, ["-n", "2"]))
    return times


def overhead_rows(n: int) -> tuple[dict[str, Stats], dict[str, str]]:
    notes: dict[str, str] = {}
    with VirtualDisplay() as display, tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "greeter.py"
        app.write_text(GREETER)
        plain = RecordedDesktop(display, abort_hotkey=None, failsafe=False)
        recorder = Recorder(Path(tmp) / "steps", thumbnails=True)
        recorded = RecordedDesktop(display, recorder=recorder, abort_hotkey=None, failsafe=False)
        try:
            plain.launch([sys.executable, str(app)])
            plain.expect('"Say hello"').to_be_visible(timeout=30)
            calls = {
                "locate(capture(), text) (no expectation)":
                    lambda: locate(plain.capture(), '"Say hello"'),
                "expect(text).to_be_visible(), already visible":
                    lambda: plain.expect('"Say hello"').to_be_visible(),
                "the same, recorded for the report (thumbnail)":
                    lambda: recorded.expect('"Say hello"').to_be_visible(),
            }
            stats = measure_interleaved(calls, n)

            # A wait on a still screen: polls are a capture and a frame comparison each.
            cpu0, t0 = os.times(), time.perf_counter()
            try:
                plain.expect('"Goodbye"').to_be_visible(timeout=3)
            except AssertionError as exc:
                first = str(exc).splitlines()[0]
                notes["still"] = first[first.rfind("(") + 1:-1]
            wall = time.perf_counter() - t0
            cpu1 = os.times()
            cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
            notes["still_cpu"] = f"{cpu / wall * 100:.0f}% of one core"

            # Click -> the expectation sees the answer (includes the app's own reaction).
            reaction: list[float] = []
            for _ in range(max(3, n // 6)):
                plain.end_launched()
                plain.launch([sys.executable, str(app)])
                button = plain.expect('"Say hello"').to_be_visible(timeout=30)
                started = time.perf_counter()
                plain.click(button)
                plain.expect('"greeted"').to_be_visible()
                reaction.append((time.perf_counter() - started) * 1000)
            stats["click, then expect(new text).to_be_visible() returns"] = Stats(tuple(reaction))
        finally:
            plain.close()
            recorded.close()
    return stats, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of the suite per mode")
    parser.add_argument("--n", type=int, default=30, help="timed calls per expectation case")
    args = parser.parse_args()

    stats, notes = overhead_rows(args.n)

    load = os.getloadavg()[0]
    times = suite_rows(args.rounds)
    wall = {mode: [w for w, _ in runs] for mode, runs in times.items()}
    cpu = {mode: statistics.median(c for _, c in runs) for mode, runs in times.items()}
    serial, parallel = statistics.median(wall["serial"]), statistics.median(wall["-n 2"])
    lines = [
        "A 10-test UI suite (each test launches a Tk app on its worker's 3840x2160 Xvfb display, "
        "clicks its button found by OCR and waits for the answer with expectations), whole "
        f"`pytest` wall time including start-up, {args.rounds} runs each, taking turns:",
        "",
        "| run | median wall s | all runs s | median CPU s (all processes) |",
        "| --- | --- | --- | --- |",
        *(f"| `pytest {mode}` | {statistics.median(v):.1f} | {', '.join(f'{x:.1f}' for x in v)} "
          f"| {cpu[mode]:.1f} |".replace("pytest serial", "pytest") for mode, v in wall.items()),
        "",
        f"- `-n 2` takes {parallel / serial:.2f}x the serial wall time on this 2-core machine "
        f"(load average {load:.1f} when it started; the machine is shared). Each worker pays "
        "its own start-up (imports, a 4K Xvfb, the OCR model): "
        f"{cpu['-n 2'] - cpu['serial']:+.1f} CPU s for the run, while a test here is mostly CPU "
        "work (Tk start-up, OCR), so with two cores and ten short tests there is little to win; "
        "workers pay off with longer suites, more cores or tests that wait on the app.",
        "",
        f"Expectation overhead (n={args.n} each, taking turns, the text already on the screen):",
        "",
        "| call | median ms | p95 ms |",
        "| --- | --- | --- |",
        *(f"| {name} | {ms(s.median)} | {ms(s.p95)} |" for name, s in stats.items()),
        "",
    ]
    bare = stats["locate(capture(), text) (no expectation)"].median
    visible = stats["expect(text).to_be_visible(), already visible"].median
    recorded = stats["the same, recorded for the report (thumbnail)"].median
    lines += [
        f"- An expectation that holds at once costs {visible - bare:+.1f} ms over the bare capture "
        f"and locate; recording the step for the report adds {recorded - visible:+.1f} ms "
        "(annotating and writing a JPEG thumbnail).",
        f"- Waiting 3 s on a still screen: {notes.get('still', '?')}; grounding runs only when "
        f"the pixels change, so the wait costs {notes.get('still_cpu', '?')} (capture + frame "
        "comparison every 0.1 s).",
    ]
    body = "\n".join(lines)
    print(body)
    write_section(TITLE, body + "\n\n" + machine_summary())


if __name__ == "__main__":
    main()
