"""OCR for text grounding on 4K screens: which engine, which strategy, how fast, how right.

Starts a 3840x2160 Xvfb display with real X applications whose text positions are known
without OCR: two Tk windows (toolbar buttons, menu and form labels, a Text widget with prose
at 10-20 px, a dark panel with a Listbox; truth from Tk's widget geometry and ``Text.bbox``)
and three xterms (a build log and a journal at ~11 px, a listing at ~19 px; truth from the
character cell grid, computed from the window size that ``xwininfo`` reports). Then, for 28
targets (and 3 that are not on the screen):

* stage 1 (the whole 4K frame, cold caches): guiagent's OcrGrounder.candidates (morphology
  boxes + RapidOCR recognition, with and without early exit), RapidOCR's stock pipeline, the
  DB detector on a downsampled frame + recognition, Tesseract on the whole frame;
* stage 2 (a 1024x1024 crop around the target, cold): guiagent's locate, the DB detector on
  the crop, RapidOCR's stock pipeline, Tesseract (plain and 2x upscaled);
* end to end: ECP (``ecp_locate`` with a fresh OcrGrounder per target, models loaded);
* warm: a second target on the unchanged screen; targets that are not there.

A target counts as found when the top point lies inside its true box. Times are wall-clock
on this machine; the load average is printed with them because the 2 cores may be shared.

Run: python benchmarks/ocr_engines.py [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from guiagent import Frame, Screen, VirtualDisplay, crop_window
from guiagent.geometry import Box, Point
from guiagent.grounding.base import Match, Target
from guiagent.grounding.ecp import ecp_locate
from guiagent.grounding.ocr import (
    OcrGrounder,
    RapidOcrEngine,
    TesseractEngine,
    _load_recognizer,
)
from guiagent.grounding.textmatch import TextLine, find_text, query_text
from guiagent.screen.display import wait_until

sys.path.insert(0, str(Path(__file__).parent))
from results import machine_summary, write_section
from timing import percentile

# -- the scene ----------------------------------------------------------------------------------

PROSE = [
    (-12, "The quick brown fox jumps over the lazy dog while the build server restarts."),
    (-12, "Export selection as PDF document before closing the window to keep your changes."),
    (-10, "WARNING disk almost full on /dev/sda1 (97% used) - consider removing old snapshots"),
    (-16, "Connection timeout after 30 seconds, retrying in 5 seconds"),
    (-12, "Invoices are archived monthly; the quarterly report is generated on the first Monday."),
    (-20, "Weekly Summary"),
    (-12, "Open tickets: 14 assigned to you, 3 waiting for review, 2 blocked by infrastructure."),
    (-10, "Last synchronised 2 minutes ago from the central repository mirror in Frankfurt."),
]
_WORDS = ["alpha", "beta", "gamma", "delta", "kernel", "socket", "buffer", "parser", "vector",
          "matrix", "sample", "thread", "cursor", "widget", "canvas", "layout", "render",
          "shader", "mirror", "bucket", "signal", "filter", "channel", "packet", "stream",
          "border", "margin", "anchor"]


def _filler(n: int, seed: int, words: int) -> list[str]:
    """Unique, target-free lines of text (screens are full of text that is not the target)."""
    rng = np.random.default_rng(seed)
    return [f"{i + 1:03d} " + " ".join(rng.choice(_WORDS, words)) for i in range(n)]


PROSE += [(-12 if i % 3 else -10, line) for i, line in enumerate(_filler(24, 1, 11))]
PHRASES = {  # phrase -> (prose line index, first word); truth from Text.bbox
    "lazy dog": (0, "lazy"),
    "PDF document": (1, "PDF"),
    "almost full": (2, "almost"),
    "retrying": (3, "retrying"),
    "quarterly report": (4, "quarterly"),
    "Weekly Summary": (5, "Weekly"),
    "waiting for review": (6, "waiting"),
    "Frankfurt": (7, "Frankfurt"),
}
LIST_ITEMS = ["invoice_2024.pdf", "holiday photos", "budget-forecast.xlsx", "README.md",
              "meeting notes 03-14.txt", "archive.tar.gz"]
BUILD_LOG = [f"[{i:02d}:41:{(7 * i) % 60:02d}] compiling module_{i} ... ok" for i in range(30)]
BUILD_LOG[17] = "[17:41:59] compiling module_17 ... FAILED (exit status 2)"
BUILD_LOG[23] = "[23:41:01] warning: unused variable 'retry_count'"
LISTING = ["Desktop    Documents    Downloads    Music    Pictures",
           "Public     Templates    Videos       src      notes.txt",
           "requirements.txt   setup.py   pyproject.toml   LICENSE",
           "$ git status --short",
           " M guiagent/grounding/ocr.py",
           "?? benchmarks/ocr_engines.py"]
XTERMS = [  # title, font size, columns x rows, position, lines
    ("buildlog", 8, (64, 32), (40, 60), BUILD_LOG),
    ("listing", 14, (64, 12), (40, 1300), LISTING),
    ("journal", 8, (84, 62), (760, 60), _filler(60, 2, 9)),
]
XTERM_TARGETS = {  # text -> (xterm title, row); the column is where the text is in that row
    "module_9": ("buildlog", 9),
    "FAILED": ("buildlog", 17),
    "unused variable": ("buildlog", 23),
    "requirements.txt": ("listing", 2),
    "Downloads": ("listing", 0),
    "git status": ("listing", 3),
}


def run_app(report: str) -> None:
    """The Tk side of the scene: two windows that report where their text is."""
    import tkinter as tk

    root = tk.Tk()
    root.title("editor")
    root.geometry("1500x1050+1750+200")
    truth: dict[str, Any] = {}
    menu = tk.Frame(root)
    menu.pack(fill="x")
    for name in ("File", "Edit", "View", "Tools", "Help"):
        label = tk.Label(menu, text=name, font=("DejaVu Sans", -13))
        label.pack(side="left", padx=8)
        truth[name] = label
    bar = tk.Frame(root)
    bar.pack(fill="x", pady=8)
    for name in ("Save", "Save As…", "Open Recent", "Preferences", "Cancel"):
        button = tk.Button(bar, text=name, font=("DejaVu Sans", -12))
        button.pack(side="left", padx=8)
        truth[name] = button
    form = tk.Frame(root)
    form.pack(fill="x", pady=8)
    for i, name in enumerate(("Username:", "Password:", "Server address:")):
        label = tk.Label(form, text=name, font=("Liberation Sans", -11))
        label.grid(row=i, column=0, sticky="w", padx=8)
        tk.Entry(form, width=40).grid(row=i, column=1)
        truth[name] = label
    text = tk.Text(root, height=40, width=150, borderwidth=0, wrap="none")
    for n, (size, line) in enumerate(PROSE):
        text.tag_configure(f"s{n}", font=("DejaVu Sans", size))
        text.insert("end", line + "\n", f"s{n}")
    text.pack(fill="both", expand=True, padx=8, pady=8)

    dark = tk.Toplevel(root, background="#23272e")
    dark.title("files")
    dark.geometry("1500x600+1750+1400")
    fg, bg = "#e3e7ee", "#23272e"
    status = tk.Label(dark, text="Connected to server", fg=fg, bg=bg, font=("DejaVu Sans", -12))
    status.pack(anchor="w", padx=10, pady=6)
    truth["Connected to server"] = status
    sync = tk.Button(dark, text="Sync now", fg=fg, bg="#2d4a73", font=("DejaVu Sans", -12))
    sync.pack(anchor="w", padx=10)
    truth["Sync now"] = sync
    listbox = tk.Listbox(dark, fg=fg, bg="#15181d", font=("DejaVu Sans", -13), height=10,
                         borderwidth=0, highlightthickness=0)
    for item in LIST_ITEMS:
        listbox.insert("end", item)
    listbox.pack(fill="both", expand=True, padx=10, pady=10)

    def ready() -> None:
        root.update_idletasks()
        out: dict[str, list[float]] = {}
        for name, widget in truth.items():
            out[name] = [widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(),
                         widget.winfo_height()]
        for phrase, (index, first) in PHRASES.items():
            line = PROSE[index][1]
            start = line.index(first)
            end = start + len(phrase) - 1
            first_box = text.bbox(f"{index + 1}.{start}")
            last_box = text.bbox(f"{index + 1}.{end}")
            assert first_box is not None and last_box is not None, f"{phrase!r} is not visible"
            x0, y0, _w, h0 = first_box
            x1, _y, w1, _h = last_box
            out[phrase] = [text.winfo_rootx() + x0, text.winfo_rooty() + y0, x1 + w1 - x0, h0]
        for i, item in enumerate(LIST_ITEMS):
            item_box = listbox.bbox(i)
            assert item_box is not None, f"{item!r} is not visible"
            x, y, w, h = item_box
            out[item] = [listbox.winfo_rootx() + x, listbox.winfo_rooty() + y, w, h]
        Path(report).write_text(json.dumps(out), encoding="utf-8")

    root.after(600, ready)
    root.mainloop()


def xterm_truth(display: VirtualDisplay) -> dict[str, Box]:
    truth = {}
    for title, _size, (cols, rows), _pos, lines in XTERMS:
        info = subprocess.run(["xwininfo", "-name", title], env=display.env, capture_output=True,
                              text=True, check=True).stdout
        fields = {k.strip(): v.strip() for k, _, v in
                  (ln.partition(":") for ln in info.splitlines() if ":" in ln)}
        x, y = int(fields["Absolute upper-left X"]), int(fields["Absolute upper-left Y"])
        w, h = int(fields["Width"]), int(fields["Height"])
        border = 2  # xterm's default internalBorder
        cw, ch = (w - 2 * border) / cols, (h - 2 * border) / rows
        for text, (where, row) in XTERM_TARGETS.items():
            if where == title:
                col = lines[row].index(text)
                truth[text] = Box(x + border + col * cw, y + border + row * ch, len(text) * cw, ch)
    return truth


def build_scene() -> tuple[Frame, dict[str, Box]]:
    with tempfile.TemporaryDirectory() as tmp, VirtualDisplay() as display:
        processes = []
        try:
            for title, size, (cols, rows), (x, y), lines in XTERMS:
                path = Path(tmp) / f"{title}.txt"
                path.write_text("\n".join(lines), encoding="utf-8")
                processes.append(display.launch([
                    "xterm", "-T", title, "-fa", "DejaVu Sans Mono", "-fs", str(size),
                    "-geometry", f"{cols}x{rows}+{x}+{y}", "-hold", "-e", "cat", str(path)]))
            report = Path(tmp) / "truth.json"
            processes.append(display.launch([sys.executable, __file__, "--app", str(report)]))
            wait_until(report.exists, 30, "the Tk windows to report their geometry")
            truth = {k: Box(*v) for k, v in json.loads(report.read_text()).items()}
            wait_until(lambda: _xterms_mapped(display), 30, "the xterms to map")
            truth.update(xterm_truth(display))
            with Screen() as screen:
                previous: list[np.ndarray] = []

                def settled() -> bool:
                    pixels = screen.capture().pixels.copy()
                    same = bool(previous) and np.array_equal(previous[0], pixels)
                    previous[:] = [pixels]
                    return same

                wait_until(settled, 30, "the screen to stop changing", interval=0.5)
                frame = screen.capture()
                frame = Frame(frame.pixels.copy(), frame.origin, frame.scale)
        finally:
            for process in processes:
                process.terminate()
                process.wait(5)
    return frame, truth


def _xterms_mapped(display: VirtualDisplay) -> bool:
    for title, *_rest in XTERMS:
        done = subprocess.run(["xwininfo", "-name", title], env=display.env,
                              capture_output=True, check=False)
        if done.returncode != 0 or b"IsViewable" not in done.stdout:
            return False
    return True


# -- targets and scoring ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    target: Target
    truth: Box
    kind: str  # "label" (a widget's own text) or "words" (words inside longer text)


def cases(truth: dict[str, Box]) -> list[Case]:
    out = []
    for label in ("Save", "Save As…", "Cancel", "Server address:"):
        out.append(Case(Target.from_text(label, exact=True), truth[label], "label"))
    for label in ("Open Recent", "Preferences", "Tools", "Help", "Username", "Sync now",
                  "Connected to server", "holiday photos", "budget-forecast.xlsx", "README.md"):
        key = label if label in truth else label + ":"
        out.append(Case(Target.parse(label), truth[key], "label"))
    for phrase in PHRASES:
        out.append(Case(Target.parse(phrase), truth[phrase], "words"))
    for text in XTERM_TARGETS:
        out.append(Case(Target.parse(text), truth[text], "words"))
    return out


def hit(point: Point | None, box: Box) -> bool:
    return point is not None and box.expanded(1).contains(point)


def lines_point(lines: list[TextLine], target: Target) -> Point | None:
    query, exact = query_text(target.text, description=target.kind == "description")
    found = find_text(query, lines, exact=exact or target.exact, limit=1)
    return found[0].point if found else None


# -- the contenders -----------------------------------------------------------------------------


def stock_rapidocr(image: np.ndarray) -> list[TextLine]:
    """RapidOCR's own pipeline (DB detection on the image shrunk to 2000 px, angle classifier,
    recognition), as a user would call it; line boxes, characters spread evenly."""
    # RapidOCR treats 4 channels as RGBA and composites on the alpha, which X captures leave
    # at 0: give it BGR, as a user with a screenshot file would.
    bgr = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR) if image.shape[2] == 4 else image
    result, _ = _stock()(bgr)
    lines = []
    for quad, text, score in result or []:
        q = np.asarray(quad, dtype=np.float32)
        x0, y0 = q.min(axis=0)
        x1, y1 = q.max(axis=0)
        lines.append(TextLine(text, Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
                              float(score)))
    return lines


_STOCK: list[Any] = []


def _stock() -> Any:
    if not _STOCK:
        from rapidocr_onnxruntime import RapidOCR

        _STOCK.append(RapidOCR())
    return _STOCK[0]


def db_downsampled(image: np.ndarray, side: int) -> list[TextLine]:
    """The DB detector on the frame shrunk to ``side`` px wide, boxes scaled back, then
    guiagent's recogniser at full resolution."""
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    det = _stock().text_det
    bgr = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    factor = image.shape[1] / side
    small = cv2.resize(bgr, (side, round(image.shape[0] / factor)), interpolation=cv2.INTER_AREA)
    original = det.get_preprocess
    det.get_preprocess = lambda _max: DetPreProcess(side, "max", det.mean, det.std)
    try:
        quads, _ = det(small)
    finally:
        det.get_preprocess = original
    boxes = []
    for quad in np.asarray(quads if quads is not None else [], dtype=np.float32):
        x0, y0 = quad.min(axis=0) * factor
        x1, y1 = quad.max(axis=0) * factor
        boxes.append(Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0)))
    engine = RapidOcrEngine()
    return [ln for group in engine.recognize(image, boxes) for ln in group]


def tesseract(image: np.ndarray, psm: int, upscale: float = 1.0) -> list[TextLine]:
    engine = TesseractEngine(psm=psm, upscale=upscale)
    h, w = image.shape[:2]
    return engine.recognize(image, [Box(0, 0, w, h)])[0]


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - start) * 1000


@dataclass
class Row:
    name: str
    times: list[float]
    hits: int
    total: int
    note: str = ""

    def cells(self) -> str:
        return (f"| {self.name} | {self.hits}/{self.total} | {statistics.median(self.times):.0f} "
                f"| {percentile(self.times, 90):.0f} | {self.note} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer contenders, one run each")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    if args.app:
        run_app(args.app)
        return

    frame, truth = build_scene()
    all_cases = cases(truth)
    pixels = np.ascontiguousarray(frame.pixels)
    load_start = time.perf_counter()
    _load_recognizer(RapidOcrEngine().threads, False)
    load_ms = (time.perf_counter() - load_start) * 1000
    load_avg = [os.getloadavg()[0]]
    n = len(all_cases)
    rows1: list[Row] = []
    by_kind: dict[str, dict[str, list[float]]] = {}

    def per_target(name: str, run: Callable[[Case], Point | None], note: str = "") -> Row:
        times: list[float] = []
        hits = 0
        for case in all_cases:
            point, ms = timed(functools.partial(run, case))
            times.append(ms)
            hits += hit(point, case.truth)
            by_kind.setdefault(name, {}).setdefault(case.kind, []).append(ms)
        return Row(name, times, hits, n, note)

    def per_frame(name: str, read: Callable[[], list[TextLine]], runs: int, note: str) -> Row:
        times: list[float] = []
        lines: list[TextLine] = []
        for _ in range(runs):
            lines, ms = timed(read)
            times.append(ms)
        hits = sum(hit(lines_point(lines, c.target), c.truth) for c in all_cases)
        return Row(name, times, hits, n, note + f" (one read serves every target; {runs} runs)")

    # Stage 1: the whole 4K frame.
    def ours_candidates(case: Case, early: bool = True) -> Point | None:
        found = OcrGrounder(RapidOcrEngine(), early_exit=early).candidates(frame, case.target,
                                                                           limit=5).candidates
        return found[0].point if found else None

    rows1.append(per_target("guiagent candidates (morph boxes + RapidOCR rec, early exit)",
                            ours_candidates, "cold caches per target"))
    rows1.append(per_target("guiagent candidates, no early exit",
                            lambda c: ours_candidates(c, False), "reads every box"))
    runs = 1 if args.quick else 2
    rows1.append(per_frame("RapidOCR stock pipeline", lambda: stock_rapidocr(pixels), runs,
                           "DB det on 2000 px + cls + rec"))
    if not args.quick:
        rows1.append(per_frame("DB det on 1920 px + guiagent rec",
                               lambda: db_downsampled(pixels, 1920), runs, ""))
        rows1.append(per_frame("DB det on 2560 px + guiagent rec",
                               lambda: db_downsampled(pixels, 2560), runs, ""))
    rows1.append(per_frame("Tesseract 5, whole frame, psm 3", lambda: tesseract(pixels, 3), runs,
                           "OMP_THREAD_LIMIT=1"))
    rows1.append(per_frame("Tesseract 5, whole frame, psm 11", lambda: tesseract(pixels, 11),
                           runs, "OMP_THREAD_LIMIT=1"))
    load_avg.append(os.getloadavg()[0])

    # Stage 2: a 1024 crop around the target (off-centre, as a stage-1 candidate would put it).
    rows2: list[Row] = []

    def crop_of(case: Case) -> tuple[Frame, Box]:
        centre = case.truth.center.offset(137, -91)
        window = crop_window(centre, 1024, frame.size)
        return frame.crop(window), window

    def on_crop(read: Callable[[np.ndarray], list[TextLine]]) -> Callable[[Case], Point | None]:
        def run(case: Case) -> Point | None:
            crop, window = crop_of(case)
            point = lines_point(read(np.ascontiguousarray(crop.pixels)), case.target)
            return point.offset(window.left, window.top) if point else None
        return run

    def ours_locate(case: Case) -> Point | None:
        crop, window = crop_of(case)
        found = OcrGrounder(RapidOcrEngine()).locate(crop, case.target, limit=1)
        return found[0].point.offset(window.left, window.top) if found else None

    def thorough(image: np.ndarray) -> list[TextLine]:
        engine = RapidOcrEngine()
        boxes = engine.detect(image, thorough=True)
        return [ln for group in engine.recognize(image, boxes) for ln in group]

    rows2.append(per_target("guiagent locate on the crop (morph + rec, early exit)", ours_locate,
                            "cold caches"))
    rows2.append(per_target("DB det on the crop + guiagent rec", on_crop(thorough),
                            "guiagent's thorough fallback"))
    rows2.append(per_target("RapidOCR stock pipeline on the crop", on_crop(stock_rapidocr), ""))
    rows2.append(per_target("Tesseract 5 psm 11 on the crop",
                            on_crop(lambda im: tesseract(im, 11)), ""))
    if not args.quick:
        rows2.append(per_target("Tesseract 5 psm 11 on the crop, 2x upscaled",
                                on_crop(lambda im: tesseract(im, 11, 2.0)), ""))
    load_avg.append(os.getloadavg()[0])

    # End to end and warm.
    rows3: list[Row] = []

    def ecp(case: Case, grounder: OcrGrounder | None = None) -> Point | None:
        found = ecp_locate(frame, case.target, grounder or OcrGrounder(RapidOcrEngine()),
                           limit=1)
        return found[0].point if found else None

    rows3.append(per_target("ECP end to end (ecp_locate), cold", ecp, "fresh grounder per target"))
    primed = OcrGrounder(RapidOcrEngine())
    primed.read(frame)
    rows3.append(per_target("ECP, screen already read once", lambda c: ecp(c, primed),
                            "every box read before; no recognition"))
    chained = OcrGrounder(RapidOcrEngine())
    rows3.append(per_target("ECP, one grounder for all targets in turn",
                            lambda c: ecp(c, chained),
                            "early exit leaves boxes unread for later targets"))
    absent = [Target.parse(t) for t in ('"Zebra crossing"', "Quantum flux", '"Deploy"')]

    def find_absent(target: Target, grounder: OcrGrounder | None = None) -> list[Match]:
        return ecp_locate(frame, target, grounder or OcrGrounder(RapidOcrEngine()), limit=1)

    cold_absent = [timed(functools.partial(find_absent, t)) for t in absent]
    warm_absent = [timed(functools.partial(find_absent, t, primed)) for t in absent]
    for name, runs_ in (("ECP, target not on screen, cold", cold_absent),
                        ("ECP, target not on screen, screen read before", warm_absent)):
        rows3.append(Row(name, [ms for _r, ms in runs_], sum(not r for r, _ms in runs_),
                         len(runs_), "found = correctly nothing"))
    load_avg.append(os.getloadavg()[0])

    header = ["| contender | found | median ms | p90 ms | note |", "| --- | --- | --- | --- | --- |"]

    def kinds(name: str) -> str:
        parts = by_kind.get(name, {})
        return ", ".join(f"{k} {statistics.median(v):.0f} ms" for k, v in sorted(parts.items()))

    labels = sum(c.kind == "label" for c in all_cases)
    body = "\n".join([
        f"{n} text targets ({labels} widget labels, {n - labels} words inside longer text; "
        "10-20 px fonts, light and dark) on one 3840x2160 frame of real X apps: two Tk windows "
        "(truth from widget geometry, Text.bbox, Listbox.bbox) and three xterms (truth from "
        "the character grid). Found = top point inside the true box. Cold = the OCR models are "
        f"loaded (once per process: {load_ms:.0f} ms) but no cache holds anything of this "
        "screen.",
        "",
        "**Stage 1, whole 4K frame**",
        "",
        *header,
        *(r.cells() for r in rows1),
        "",
        f"guiagent candidates by target kind (median): "
        f"{kinds(rows1[0].name)}; without early exit {kinds(rows1[1].name)}.",
        "",
        "**Stage 2, 1024x1024 crop at full resolution**",
        "",
        *header,
        *(r.cells() for r in rows2),
        "",
        "**End to end and warm**",
        "",
        *header,
        *(r.cells() for r in rows3),
        "",
        f"ECP cold by target kind (median): {kinds(rows3[0].name)}.",
        "",
        "**Goals** (ECP end to end): median cold "
        f"{statistics.median(rows3[0].times):.0f} ms (goal <= 1500 ms: "
        f"{'met' if statistics.median(rows3[0].times) <= 1500 else 'not met'}; p90 "
        f"{percentile(rows3[0].times, 90):.0f} ms, the targets inside long text "
        "read most of the screen); second target on an unchanged screen median "
        f"{statistics.median(rows3[2].times):.0f} ms, p90 "
        f"{percentile(rows3[2].times, 90):.0f} ms (goal <= 200 ms: "
        f"{'met' if statistics.median(rows3[2].times) <= 200 else 'not met'} at the median).",
        "",
        "Load average (1 min) at start / after stage 1 / after stage 2 / at the end: "
        + " / ".join(f"{v:.2f}" for v in load_avg)
        + " (2 cores; the benchmark itself accounts for about 1-1.5).",
    ])
    print(body)
    if not args.no_write:
        write_section("OCR engine choice", CHOICE + "\n\n" + body + "\n\n" + machine_summary())


CHOICE = """\
Choice: **RapidOCR's recognition model on text boxes found by image morphology**, in both
ECP stages (guiagent.grounding.ocr, engine="rapidocr"); Tesseract stays available as
engine="tesseract". Why, from the figures below:

- A learned detector does not fit stage 1 on 2 cores: RapidOCR's stock pipeline shrinks a
  4K frame to 2000 px and loses the small text (and misreads what is left as whole lines);
  its DB detector on a 1920/2560 px frame still misses or merges 10-12 px text, and on the
  full frame takes seconds. Screen text is crisp on flat backgrounds, so a morphological
  gradient, cleared of long rules and closed horizontally, gives one box per line in
  ~0.1 s, touching lines are split at the emptiest row; recognition then runs at full
  resolution on just those boxes, with each character's position from the CTC columns (the
  click goes on the words, not the middle of the line).
- Tesseract (single-threaded: with OpenMP threads it is several times slower) is the
  faster of the two on a whole frame only because it reads less: its page layout analysis
  merges the columns of a multi-window screen and it loses small text; on crops it is good
  but slower than RapidOCR on morphology boxes.
- Recognition is the cost (~12 ms per 320 px of 48-px-high line on 2 cores; a dense 4K screen
  holds ~140k px of it, ~4 s). So the boxes about as long as the target are read first and
  reading stops at a box reading exactly the target, or, once those are read, at the exact
  words inside longer text. Lines are cached by pixel hash and whole readings by frame hash;
  an ECP crop (or tile) of a frame already read reuses that frame's reading, so stage 2 and
  later targets cost a text search."""


if __name__ == "__main__":
    main()
