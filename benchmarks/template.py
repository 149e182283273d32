"""Template grounding on real 4K screens: guiagent (ECP) vs pyscreeze.locate, in one run.

Starts a 3840x2160 Xvfb display with real X applications (xterms with text, xcalc, xclock,
xlogo, the Tk probe), captures frames, cuts templates of widgets out of them (ground truth =
where each was cut) and times both tools on the same frames and templates. Only templates that
occur once on the screen are kept, so "correct" is unambiguous.

Run: python benchmarks/template.py [--templates 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from guiagent import Screen, VirtualDisplay
from guiagent.geometry import Box, Point
from guiagent.grounding import locate
from guiagent.grounding.template import TemplateGrounder

sys.path.insert(0, str(Path(__file__).parent))
from results import machine_summary, write_section

APPS = [
    ["xterm", "-geometry", "120x40+100+100", "-e", "bash", "-c", "ls -la /usr/bin | head -60; sleep 600"],
    ["xterm", "-fa", "DejaVu Sans Mono", "-fs", "14", "-geometry", "80x30+1900+150", "-e",
     "bash", "-c", "python3 -c 'import this'; sleep 600"],
    ["xcalc", "-geometry", "+2600+1300"],
    ["xclock", "-geometry", "300x300+1200+1500"],
    ["xlogo", "-geometry", "200x200+3300+200"],
]


def unique_templates(gray: np.ndarray, count: int, rng: np.random.Generator) -> list[Box]:
    """Random template boxes with detail that match only at their own place."""
    boxes: list[Box] = []
    height, width = gray.shape
    tries = 0
    while len(boxes) < count and tries < count * 200:
        tries += 1
        w, h = int(rng.integers(24, 160)), int(rng.integers(18, 90))
        x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        patch = gray[y : y + h, x : x + w]
        if patch.std() < 30:
            continue
        margin = 200
        x0, y0 = max(0, x - margin), max(0, y - margin)
        area = gray[y0 : min(height, y + h + margin), x0 : min(width, x + w + margin)]
        result = cv2.matchTemplate(area, patch, cv2.TM_CCOEFF_NORMED)
        result[max(0, y - y0 - h // 2) : y - y0 + h // 2 + 1,
               max(0, x - x0 - w // 2) : x - x0 + w // 2 + 1] = -1
        if result.max() > 0.9:
            continue  # a near-duplicate nearby: ambiguous ground truth
        boxes.append(Box(x, y, w, h))
    return boxes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--templates", type=int, default=40)
    args = parser.parse_args()
    import pyscreeze
    from PIL import Image

    rng = np.random.default_rng(7)
    with VirtualDisplay() as display:
        processes = [display.launch(argv) for argv in APPS]
        try:
            time.sleep(3)  # let the apps draw; this is a benchmark set-up, not product code
            with Screen() as screen:
                frame = screen.capture()
        finally:
            for process in processes:
                process.terminate()
    bgr = frame.bgr()
    gray = frame.gray()
    pil_frame = Image.fromarray(frame.rgb())
    boxes = unique_templates(gray, args.templates, rng)
    grounder = TemplateGrounder()
    rows = {"guiagent ECP (gray)": [], "guiagent single stage": [],
            "pyscreeze gray conf=0.9": [], "pyscreeze colour conf=0.9": []}
    correct = {k: 0 for k in rows}
    for box in boxes:
        rs, cs = box.slices()
        template = bgr[rs, cs].copy()
        pil_template = Image.fromarray(cv2.cvtColor(template, cv2.COLOR_BGR2RGB))
        runs = {
            "guiagent ECP (gray)": lambda t=template: locate(frame, t, grounder="template").point,
            "guiagent single stage": lambda t=template: locate(frame, t, grounder="template",
                                                               ecp=False).point,
            "pyscreeze gray conf=0.9": lambda t=pil_template: _pyscreeze(pyscreeze, t, pil_frame,
                                                                         True),
            "pyscreeze colour conf=0.9": lambda t=pil_template: _pyscreeze(pyscreeze, t, pil_frame,
                                                                           False),
        }
        for name, run in runs.items():
            start = time.perf_counter()
            try:
                point = run()
            except Exception:
                point = None
            rows[name].append((time.perf_counter() - start) * 1000)
            if point is not None and box.contains(point):
                correct[name] += 1
    del grounder
    lines = ["| tool | correct | median ms | p95 ms |", "| --- | --- | --- | --- |"]
    for name, times in rows.items():
        p95 = sorted(times)[int(0.95 * (len(times) - 1))]
        lines.append(f"| {name} | {correct[name]}/{len(boxes)} | {statistics.median(times):.1f} "
                     f"| {p95:.1f} |")
    ours = statistics.median(rows["guiagent ECP (gray)"])
    theirs = statistics.median(rows["pyscreeze gray conf=0.9"])
    lines.append("")
    lines.append(f"Speed-up of guiagent ECP over pyscreeze (grayscale), medians: {theirs / ours:.1f}x "
                 f"(goal >= 15x with no accuracy loss).")
    body = "\n".join([
        f"{len(boxes)} templates (24-160 x 18-90 px, unique on screen) cut from one 3840x2160 "
        "frame of real X apps (2 xterms with text, xcalc, xclock, xlogo); same frame and templates "
        "for every tool; correct = returned point inside the template's true box.",
        "",
        *lines,
    ])
    print(body)
    write_section("Template grounding vs pyscreeze", body + "\n\n" + machine_summary())


def _pyscreeze(pyscreeze: object, template: object, frame: object, grayscale: bool) -> Point | None:
    box = pyscreeze.locate(template, frame, confidence=0.9, grayscale=grayscale)  # type: ignore[attr-defined]
    if box is None:
        return None
    return Point(box.left + box.width / 2, box.top + box.height / 2)


if __name__ == "__main__":
    main()
