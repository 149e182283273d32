"""Template grounding on real 4K screens: guiagent vs pyscreeze (and Airtest), in one run.

Starts a 3840x2160 Xvfb display with real applications (a Tk palette of look-alike widgets,
xterm with text, galculator), and builds cases in the categories of issue 15:

- moved: random crops (16-400 px) of each window, looked for after the windows were moved
  (xdotool); truth = the crop's box moved with its window (only crops whose pixels are the same
  there are kept);
- colour: the palette's same-shaped buttons and icons in different colours, looked for after
  the move; only the one of the right colour is correct;
- masked: the palette's icons cut out with transparency (alpha = where they differ from the
  light background), looked for on a dark background; one template is mostly transparent;
- scaled 2x / 0.5x: widgets recorded on the palette drawn at scale 1 looked for on the palette
  drawn at scale 2 (fonts re-rendered, not a resized picture), and the other way round;
- scaled crops 2x / 0.5x: the same with random crops (32-500 px at scale 2) inside one widget
  of the palette at scale 2 and the same places at scale 1 (inside one widget: Tk pads in
  fixed pixels, so a crop across widgets has no scaled copy); truth = the crop's box mapped
  through the box of its widget at each scale;
- covered: widgets looked for while another window covers part of them (two scenes);
- absent: crops of galculator and xterm looked for on a screen where neither runs.

Every tool sees the same frames and templates; each case runs every tool back to back.
guiagent "before" is the template grounder of the last commit (git show HEAD:...), loaded in
this process. pyscreeze gets numpy arrays (its fastest path). Airtest's ``Template.match_in``
runs in its own virtual environment (``--airtest-python``), on the same PNG files.

Run: python benchmarks/template.py [--airtest-python /path/to/venv/bin/python]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from guiagent import Frame, Screen, VirtualDisplay
from guiagent.errors import GuiAgentError
from guiagent.geometry import Box, Point
from guiagent.grounding import Grounder, locate
from guiagent.grounding.base import Target

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))
from results import machine_summary, write_section  # noqa: E402
from test_template_real import (  # noqa: E402
    COLOURED,
    ICONS,
    SCALED,
    WIDGETS,
    cut,
    cutout,
    end,
    launch_palette,
    move_window,
    random_boxes,
    settled_capture,
    window_box,
    windows_of,
)

CATEGORIES = ("moved", "colour", "masked", "scaled 2x", "scaled 0.5x", "scaled crops 2x",
              "scaled crops 0.5x", "covered", "absent")
DARK_BG = "#203040"
XTERM = ["xterm", "-fa", "DejaVu Sans Mono", "-fs", "11", "-e", "bash", "-c",
         "ls -la /usr/bin | head -45; sleep 600"]


@dataclass
class Case:
    category: str
    name: str
    frame: str  # key of the frame to search
    template: np.ndarray  # BGR, or BGRA with transparency
    truth: Box | None  # None: the template is not on that screen


def xterm(geometry: str) -> list[str]:
    return [XTERM[0], "-geometry", geometry, *XTERM[1:]]


def build_cases(rng: np.random.Generator, moved_per_window: int, crops_per_scale: int,
                tmp: Path) -> tuple[dict[str, Frame], list[Case]]:
    frames: dict[str, Frame] = {}
    cases: list[Case] = []
    report = tmp / "palette.json"
    with VirtualDisplay((3840, 2160)) as display, Screen() as screen:
        # Scene 1 -> 2: three windows, then each moved.
        palette = launch_palette(display, report, x=200, y=150)
        others = [display.launch(xterm("100x45+1500+100")), display.launch(["galculator"])]
        try:
            windows = [windows_of(kind)[0] for kind in ("palette", "XTerm", "Galculator")]
            before = [window_box(w) for w in windows]
            frames["1"] = settled_capture(screen, quiet=0.6)
            targets = [(900, 1100), (2300, 1000), (1300, 200)]
            after = [move_window(w, x, y) for w, (x, y) in zip(windows, targets, strict=True)]
            frames["2"] = settled_capture(screen, quiet=0.6)
        finally:
            for process in (palette.process, *others):
                end(process)
        shifts = [(a.left - b.left, a.top - b.top) for a, b in zip(after, before, strict=True)]
        for index, (box, (dx, dy)) in enumerate(zip(before, shifts, strict=True)):
            for crop in random_boxes(frames["1"], box, moved_per_window, rng):
                moved = Box(crop.left + dx, crop.top + dy, crop.width, crop.height)
                if np.array_equal(cut(frames["1"], crop), cut(frames["2"], moved)):
                    cases.append(Case("moved", f"w{index} {int(crop.width)}x{int(crop.height)}", "2",
                                      cut(frames["1"], crop), moved))
        dx, dy = shifts[0]
        for name in COLOURED:
            box = palette.boxes[name]
            cases.append(Case("colour", name, "2", cut(frames["1"], box),
                              Box(box.left + dx, box.top + dy, box.width, box.height)))
        absent_from = [(before[1], "xterm"), (before[2], "galculator")]

        # Scene 3: the palette drawn at scale 2 (and nothing else: galculator and xterm absent).
        big = launch_palette(display, report, x=300, y=200, scale=2.0)
        try:
            frames["3"] = settled_capture(screen, quiet=0.6)
        finally:
            end(big.process)
        for name in SCALED:
            cases.append(Case("scaled 2x", name, "3", cut(frames["1"], palette.boxes[name]),
                              big.boxes[name]))
            cases.append(Case("scaled 0.5x", name, "1", cut(frames["3"], big.boxes[name]),
                              palette.boxes[name]))
        gray_1 = frames["1"].gray()
        for crop in random_boxes(frames["3"], big.boxes["window"], crops_per_scale, rng,
                                 sizes=(32, 500), accept=lambda b: _widget_of(b, big.boxes) != ""):
            name = _widget_of(crop, big.boxes)
            small = _mapped(crop, big.boxes[name], palette.boxes[name]).integer()
            size = f"{int(crop.width)}x{int(crop.height)}"
            cases.append(Case("scaled crops 0.5x", f"{name} {size}", "1", cut(frames["3"], crop),
                              small))
            patch = gray_1[int(small.top) : int(small.bottom), int(small.left) : int(small.right)]
            if min(small.width, small.height) >= 16 and float(patch.std()) >= 20:
                cases.append(Case("scaled crops 2x", f"{name} {size}", "3",
                                  cut(frames["1"], small), crop))
        for box, app in absent_from:
            for crop in random_boxes(frames["1"], box, 6, rng):
                cases.append(Case("absent", f"{app} {int(crop.width)}x{int(crop.height)}", "3",
                                  cut(frames["1"], crop), None))

        # Scene 4: the palette on a dark background: icons cut out with transparency.
        dark = launch_palette(display, report, x=1500, y=800, bg=DARK_BG)
        try:
            frames["4"] = settled_capture(screen, quiet=0.6)
        finally:
            end(dark.process)
        for name in ICONS:
            cases.append(Case("masked", name, "4", cutout(frames["1"], palette.boxes[name]),
                              dark.boxes[name]))
        ring = palette.boxes["mark_ring"]
        roomy = Box(ring.left - 40, ring.top - 20, ring.width + 100, ring.height + 60)
        icon = cutout(frames["1"], roomy)
        clear = float((icon[:, :, 3] == 0).mean())
        cases.append(Case("masked", f"mark_ring, {clear:.0%} transparent", "4", icon,
                          dark.boxes["mark_ring"]))

        # Scene 5: the palette where it was first, partly covered by two xterms.
        covered = launch_palette(display, report, x=200, y=150)
        covers = [display.launch(xterm("30x6+560+175")), display.launch(xterm("40x4+420+470"))]
        try:
            while len(windows_of("XTerm")) < len(covers):
                time.sleep(0.05)
            cover_boxes = [window_box(w) for w in windows_of("XTerm")]
            frames["5"] = settled_capture(screen, quiet=0.6)
        finally:
            for process in (covered.process, *covers):
                end(process)
        for name in WIDGETS:
            box = covered.boxes[name]
            hidden = sum(_area(box.intersection(c)) for c in cover_boxes) / _area(box)
            if 0.05 <= hidden <= 0.6:
                cases.append(Case("covered", f"{name} {hidden:.0%} hidden", "5",
                                  cut(frames["1"], palette.boxes[name]), box))

        # Scene 6: the same, an xterm over the top left corner of the text panel (its text).
        again = launch_palette(display, report, x=200, y=150)
        cover = display.launch(xterm("30x8+150+330"))
        try:
            cover_box = window_box(windows_of("XTerm")[0])
            frames["6"] = settled_capture(screen, quiet=0.6)
        finally:
            for process in (again.process, cover):
                end(process)
        for name in WIDGETS:
            box = again.boxes[name]
            hidden = _area(box.intersection(cover_box)) / _area(box)
            if 0.05 <= hidden <= 0.6:
                cases.append(Case("covered", f"{name} {hidden:.0%} hidden (top left)", "6",
                                  cut(frames["1"], palette.boxes[name]), box))
    return frames, cases


def _area(box: Box | None) -> float:
    return 0.0 if box is None else box.width * box.height


def _widget_of(box: Box, widgets: dict[str, Box]) -> str:
    """The palette widget that holds at least 90% of ``box`` ("" if none does)."""
    for name, widget in widgets.items():
        if name != "window" and _area(box.intersection(widget)) >= 0.9 * _area(box):
            return name
    return ""


def _mapped(box: Box, source: Box, target: Box) -> Box:
    """``box`` inside the widget box ``source``, moved and scaled to where the same widget is
    at ``target``."""
    sx, sy = target.width / source.width, target.height / source.height
    return Box(target.left + (box.left - source.left) * sx, target.top + (box.top - source.top) * sy,
               box.width * sx, box.height * sy)


# -- the tools -------------------------------------------------------------------------------
def old_grounder() -> Grounder | None:
    """The template grounder of the last commit, for 'before' figures in the same run."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", "HEAD:guiagent/grounding/template.py"],
                            capture_output=True, text=True, check=False).stdout
    if not source:
        return None
    path = Path(tempfile.mkdtemp()) / "template_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("template_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["template_before"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    grounder: Grounder = module.TemplateGrounder()
    return grounder


def _pyscreeze(template: np.ndarray, frame: np.ndarray, grayscale: bool) -> Point | None:
    import pyscreeze

    try:
        box = pyscreeze.locate(template[:, :, :3], frame, confidence=0.9, grayscale=grayscale)
    except pyscreeze.ImageNotFoundException:
        return None
    if box is None:
        return None
    return Point(box.left + box.width / 2, box.top + box.height / 2)


AIRTEST_WORKER = r'''
import json, sys, time
import cv2
from airtest.core.cv import Template
jobs = json.load(open(sys.argv[1]))
screens = {}
out = []
for job in jobs:
    if job["frame"] not in screens:
        screens[job["frame"]] = cv2.imread(job["frame"])
    screen = screens[job["frame"]]
    start = time.perf_counter()
    try:
        point = Template(job["template"]).match_in(screen)
    except Exception as exc:
        point = None
    out.append({"point": list(point) if point else None, "ms": (time.perf_counter() - start) * 1000})
json.dump(out, open(sys.argv[2], "w"))
'''


def run_airtest(python: str, frames: dict[str, Frame], cases: list[Case],
                tmp: Path) -> list[tuple[Point | None, float]] | None:
    frame_paths = {key: str(frame.save(tmp / f"frame{key}.png")) for key, frame in frames.items()}
    jobs = []
    for index, case in enumerate(cases):
        path = tmp / f"template{index}.png"
        cv2.imwrite(str(path), case.template[:, :, :3])  # Airtest has no transparency
        jobs.append({"frame": frame_paths[case.frame], "template": str(path)})
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    done = subprocess.run([python, "-c", AIRTEST_WORKER, str(tmp / "jobs.json"), str(tmp / "out.json")],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"Airtest worker failed: {done.stderr[-2000:]}", file=sys.stderr)
        return None
    results = json.loads((tmp / "out.json").read_text())
    return [(Point(*r["point"]) if r["point"] else None, r["ms"]) for r in results]


def _guiagent(grounder: Grounder | str, frame: Frame, case: Case) -> Point | None:
    target = Target.from_pixels(case.template, "case")
    try:
        return locate(frame, target, grounder=grounder).point
    except GuiAgentError:
        return None


def _right(case: Case, point: Point | None) -> bool:
    if case.truth is None:
        return point is None
    return point is not None and case.truth.contains(point)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moved-per-window", type=int, default=20)
    parser.add_argument("--crops-per-scale", type=int, default=30)
    parser.add_argument("--airtest-python", default="",
                        help="python of a virtual environment with airtest installed")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--cases", type=Path, help="keep the scenes in this pickle and reuse them")
    parser.add_argument("--only", default="", help="run only the tools whose name starts so")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    tmp = Path(tempfile.mkdtemp(prefix="template-bench-"))
    before = old_grounder()
    if args.cases is not None and args.cases.exists():
        frames, cases = pickle.loads(args.cases.read_bytes())
    else:
        frames, cases = build_cases(rng, args.moved_per_window, args.crops_per_scale, tmp)
        if args.cases is not None:
            args.cases.write_bytes(pickle.dumps((frames, cases)))
    bgr = {key: frame.bgr() for key, frame in frames.items()}
    tools: dict[str, Callable[[Case], Point | None]] = {
        "guiagent": lambda c: _guiagent("template", frames[c.frame], c),
    }
    if before is not None:
        tools["guiagent before (last commit)"] = lambda c: _guiagent(before, frames[c.frame], c)
    tools["pyscreeze gray conf=0.9"] = lambda c: _pyscreeze(c.template, bgr[c.frame], True)
    tools["pyscreeze colour conf=0.9"] = lambda c: _pyscreeze(c.template, bgr[c.frame], False)
    tools = {name: tool for name, tool in tools.items() if name.startswith(args.only)}
    results: dict[str, list[tuple[Point | None, float]]] = {name: [] for name in tools}
    _guiagent("template", frames["1"], cases[0])  # warm-up (imports, first allocations)
    for case in cases:
        for name, tool in tools.items():
            start = time.perf_counter()
            point = tool(case)
            results[name].append((point, (time.perf_counter() - start) * 1000))
    airtest_note = "Airtest: not run (pass --airtest-python)."
    if args.airtest_python:
        airtest = run_airtest(args.airtest_python, frames, cases, tmp)
        if airtest is not None:
            results["Airtest Template.match_in"] = airtest
            airtest_note = ("Airtest 1.4.3 `Template(png).match_in(screen)` with its defaults "
                            "(threshold 0.7, strategies mstpl/tpl/sift/brisk), in its own venv; "
                            "timed inside that process, template file read included.")
    print(report(cases, results, airtest_note))
    if not args.no_write:
        write_section("Template grounding vs pyscreeze",
                      report(cases, results, airtest_note) + "\n\n" + machine_summary())


def report(cases: list[Case], results: dict[str, list[tuple[Point | None, float]]], airtest_note: str) -> str:
    counts = {c: sum(case.category == c for case in cases) for c in CATEGORIES}
    header = "| tool | " + " | ".join(f"{c} ({counts[c]})" for c in CATEGORIES) + " | all, median ms |"
    lines = [header, "| --- " * (len(CATEGORIES) + 2) + "|"]
    for name, rows in results.items():
        cells = []
        for category in CATEGORIES:
            picked = [(case, row) for case, row in zip(cases, rows, strict=True) if case.category == category]
            right = sum(_right(case, row[0]) for case, row in picked)
            ms = statistics.median(row[1] for _, row in picked) if picked else 0.0
            cells.append(f"{right}, {ms:.0f} ms")
        overall = statistics.median(row[1] for row in rows)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {overall:.1f} |")
    # Speed by template size on the moved cases (the re-find that every replay does).
    sizes = [("16-31 px", 16, 32), ("32-99 px", 32, 100), ("100-400 px", 100, 401)]
    size_lines = ["| tool | " + " | ".join(f"{label} (n)" for label, _, _ in sizes) + " |",
                  "| --- " * (len(sizes) + 1) + "|"]
    ours = results.get("guiagent") or next(iter(results.values()))
    ratio_cells = []
    for name, rows in results.items():
        cells = []
        for _label, lo, hi in sizes:
            times = [row[1] for case, row in zip(cases, rows, strict=True)
                     if case.category == "moved" and lo <= min(case.template.shape[:2]) < hi]
            cells.append(f"{statistics.median(times):.1f} ms ({len(times)})" if times else "-")
        size_lines.append(f"| {name} | " + " | ".join(cells) + " |")
    moved = [i for i, case in enumerate(cases) if case.category == "moved"]
    ours_ms = statistics.median(ours[i][1] for i in moved)
    for name, rows in results.items():
        if name == "guiagent":
            continue
        theirs = statistics.median(rows[i][1] for i in moved)
        ratio_cells.append(f"{name} {theirs / ours_ms:.1f}x")
    absent = [ours[i][1] for i, case in enumerate(cases) if case.category == "absent"]
    return "\n".join([
        "Real applications on a 3840x2160 Xvfb display (a Tk palette of look-alike widgets, xterm, "
        "galculator); cases built as described in `benchmarks/template.py`. Cells: right answers "
        "(found inside the true box; for absent: reported as not found), median ms.",
        "",
        *lines,
        "",
        "Median ms on the moved cases by the template's shorter side:",
        "",
        *size_lines,
        "",
        f"- Speed-up of guiagent on the moved cases (medians): {', '.join(ratio_cells)} "
        "(goal >= 15x pyscreeze with no accuracy loss).",
        f"- Absent template: guiagent median {statistics.median(absent):.0f} ms, max "
        f"{max(absent):.0f} ms (goal <= 300 ms).",
        f"- {airtest_note}",
    ])


if __name__ == "__main__":
    main()
