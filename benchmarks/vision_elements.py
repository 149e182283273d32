"""Vision elements on real 4K screens: element recall and label exactness by kind, scale and
theme, and time per frame (guiagent.elements.vision).

Ground truth comes from the applications themselves, never from a grounder:

* **Tk** (benchmarks/devset/tkapp.py): widget boxes from ``winfo_rootx``/``bbox``;
* **Chromium** pages (benchmarks/devset/pages, ``--force-device-scale-factor``): DOM boxes
  (collect.js over the DevTools pipe) placed on the screen where Chromium's own rendering
  matches the screen pixels;
* **galculator** (GTK3, ``GDK_SCALE``, ``GTK_THEME=Adwaita:dark``): each expected button is
  looked up by its exact name, its centre clicked, and the calculator's own display (copied
  with ctrl+c, read from the clipboard) must show what that button does.

A ground-truth control counts as *found* when an element's centre lies inside its box and
most of the element is inside it; its label is *exact* when such an element's name equals
the control's text (case-insensitive, spaces normalised, as quoted targets match).

    python benchmarks/vision_elements.py [--quick] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "devset"))
sys.path.insert(0, str(HERE.parent))

from guiagent import Box, Desktop, Frame, Screen, VirtualDisplay  # noqa: E402
from guiagent.elements.model import Element  # noqa: E402
from guiagent.elements.vision import VisionElements  # noqa: E402

SIZE = (3840, 2160)


# -- matching ---------------------------------------------------------------------------------


def norm(text: str) -> str:
    """As quoted targets compare: NFKC ("…" is "..."), any case, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def match(truth: Box, text: str | None, elements: list[Element]) -> tuple[bool, bool]:
    """(found, label exact) for one ground-truth control (screen boxes)."""
    area = truth.expanded(3)
    hits = []
    for e in elements:
        inside = e.box.intersection(area)
        if area.contains(e.box.center) and inside is not None and inside.area >= 0.6 * e.box.area:
            hits.append(e)
    if not hits:
        return False, False
    return True, text is not None and any(norm(e.name) == norm(text) for e in hits)


def kind_of(tag: str, text: str | None, sample_kind: str) -> str:
    """A bucket for the figures, from the toolkit's own widget class or DOM tag."""
    if sample_kind == "icon":
        return "icon"
    if text is not None and len(text.strip()) <= 2:
        return "one-two-char"
    t = tag.lower()
    if "checkbutton" in t or "radiobutton" in t or "checkbox" in t or "radio" in t:
        return "check/radio"
    if ("menubutton" in t or "menuitem" in t or (t.startswith("a") and not t.startswith("aside"))
            or "tab" in t):
        return "menu/link/tab"
    if "button" in t or "summary" in t or "select" in t:
        return "button"
    if "input" in t or "entry" in t:
        return "field"
    if "cell" in t or "option" in t or t == "th" or t.startswith("td") or "li" in t:
        return "cell/row/item"
    return "label/heading"


class Tally:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0])

    def add(self, key: tuple[str, ...], found: bool, exact: bool) -> None:
        row = self.rows[key]
        row[0] += 1
        row[1] += int(found)
        row[2] += int(exact)

    def by(self, *fields: int) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for key, (n, f, e) in self.rows.items():
            k = " / ".join(key[i] for i in fields)
            out[k][0] += n
            out[k][1] += f
            out[k][2] += e
        return dict(out)


# -- display helpers --------------------------------------------------------------------------


def still(screen: Screen, timeout: float = 15.0) -> Frame:
    """The first frame identical to the one 0.3 s before it."""
    deadline = time.monotonic() + timeout
    last = screen.capture()
    while True:
        time.sleep(0.3)
        frame = screen.capture()
        if not frame.changed_since(last) or time.monotonic() > deadline:
            return frame
        last = frame


def park(vd: VirtualDisplay) -> None:
    """The pointer near the bottom-right corner (not in it: the fail-safe), so no hover
    highlight or tooltip is in the frame."""
    subprocess.run(["xdotool", "mousemove", str(SIZE[0] - 40), str(SIZE[1] - 40)], env=vd.env,
                   check=False)


def end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def timed_find(vision: VisionElements, frame: Frame,
               times: list[dict[str, float]]) -> list[Element]:
    vision.reader.clear_cache()
    vision._frames.clear()
    result = vision.find(frame)
    times.append(dict(result.timings_ms, elements=len(result.elements), labels=result.read))
    return list(result.elements)


# -- Tk ---------------------------------------------------------------------------------------


def run_tk(vd: VirtualDisplay, vision: VisionElements, tally: Tally, times: list[dict[str, float]],
           scales: list[float], themes: list[str]) -> None:
    for scale in scales:
        for theme in themes:
            with tempfile.TemporaryDirectory() as tmp:
                report = Path(tmp) / "report.json"
                w, h = (1500, 950) if scale == 1 else (2800, 1900)
                process = vd.launch([sys.executable, str(HERE / "devset" / "tkapp.py"), str(report),
                                     "--geometry", f"{w}x{h}+200+120", "--theme", theme,
                                     "--scale", f"{scale:g}", "--font-px", "13"])
                try:
                    deadline = time.monotonic() + 30
                    while not report.exists():
                        if time.monotonic() > deadline:
                            raise RuntimeError("tkapp.py wrote no report")
                        time.sleep(0.1)
                    park(vd)
                    info = json.loads(report.read_text(encoding="utf-8"))
                    with Screen(vd.name) as screen:
                        frame = still(screen)
                    elements = timed_find(vision, frame, times)
                    for s in info["samples"]:
                        x1, y1, x2, y2 = s["rect"]
                        found, exact = match(Box.from_corners(x1, y1, x2, y2), s["text"], elements)
                        kind = kind_of(s["tag"], s["text"], s["kind"])
                        tally.add(("tk", f"{scale:g}x", theme, kind), found, exact)
                finally:
                    end(process)


# -- Chromium ---------------------------------------------------------------------------------


def run_chromium(vd: VirtualDisplay, vision: VisionElements, tally: Tally,
                 times: list[dict[str, float]], scales: list[float], themes: list[str],
                 pages: list[str]) -> None:
    if shutil.which("chromium") is None:
        print("chromium is not installed: skipped", file=sys.stderr)
        return
    import generate
    from cdp import launch

    for scale in scales:
        for theme in themes:
            # Two pages side by side on one 4K frame.
            with ExitStack() as stack, Screen(vd.name) as screen:
                shots = []
                for n, page in enumerate(pages[:2]):
                    spec = generate.WindowSpec(page, theme, 13, "sans", scale, 20 + n * 1910, 40,
                                               1880, 2080)
                    profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="vis-chr-"))
                    browser = launch(vd, spec.url(), profile=profile, scale=scale,
                                     position=(round(spec.x / scale), round(spec.y / scale)),
                                     size=(round(spec.width / scale), round(spec.height / scale)))
                    stack.callback(browser.close)
                    generate.wait_for_window(vd.name, browser.process.pid)
                    shots.append((spec, browser))
                generate._park_pointer(vd)
                frame = still(screen)
                pixels = frame.bgr()
                windows = [generate._window_shot(vd, spec, browser, pixels) for spec, browser in shots]
            elements = timed_find(vision, frame, times)
            for shot in windows:
                for s in shot.samples:
                    if s.get("on_top", 1.0) < generate.MIN_ON_TOP or s.get("lines", 1) > 1:
                        continue
                    x1, y1, x2, y2 = (v * shot.dpr for v in s["rect"])
                    box = Box.from_corners(x1 + shot.origin[0], y1 + shot.origin[1],
                                           x2 + shot.origin[0], y2 + shot.origin[1])
                    inside = box.intersection(shot.viewport)
                    if inside is None or inside.area < 0.95 * box.area:
                        continue  # scrolled out of the viewport
                    found, exact = match(box, s["text"], elements)
                    kind = kind_of(s["tag"], s["text"], s["kind"])
                    tally.add(("chromium", f"{scale:g}x", theme, kind), found, exact)


# -- galculator -------------------------------------------------------------------------------

# label -> (keys typed before the click, keys typed after it, the display expected). Only
# digits and "+-*/.=" are typed: galculator ignores typed parentheses and "%".
CALC_CHECKS: dict[str, tuple[str, str, str]] = {
    **{d: ("", "", d) for d in "0123456789"},
    "+": ("12", "3=", "15"), "-": ("12", "3=", "9"), "*": ("12", "3=", "36"),
    "/": ("12", "3=", "4"), ".": ("1", "5", "1.5"), "=": ("12+3", "", "15"),
    "+/-": ("12", "", "-12"), "C": ("12", "", "0"), "<-": ("12", "", "1"),
    "sqrt": ("16", "", "4"),
}
# Buttons whose effect a typed check cannot show: counted by name only (an element with this
# exact name inside the calculator window).
CALC_NAMED = ("(", ")", "%", "AC", "MS", "MR", "M+")


@contextmanager
def calculator(vd: VirtualDisplay, scale: int, theme: str) -> Iterator[subprocess.Popen[bytes]]:
    with tempfile.TemporaryDirectory(prefix="vis-calc-") as home:
        env = dict(vd.env, HOME=home, XDG_CONFIG_HOME=home, GDK_SCALE=str(scale),
                   NO_AT_BRIDGE="1")
        if theme == "dark":
            env["GTK_THEME"] = "Adwaita:dark"
        process = subprocess.Popen(["galculator"], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            yield process
        finally:
            end(process)


def calc_display(vd: VirtualDisplay, desktop: Desktop) -> str:
    desktop.press("ctrl+c")
    time.sleep(0.15)
    out = subprocess.run(["xclip", "-o", "-selection", "clipboard"], env=vd.env,
                         capture_output=True, text=True, timeout=5, check=False)
    return out.stdout.strip()


def run_galculator(vd: VirtualDisplay, vision: VisionElements, tally: Tally,
                   times: list[dict[str, float]], scales: list[int], themes: list[str]) -> None:
    if shutil.which("galculator") is None or shutil.which("xclip") is None:
        print("galculator or xclip is not installed: skipped", file=sys.stderr)
        return
    for scale in scales:
        for theme in themes:
            with calculator(vd, scale, theme), Desktop(vd) as desktop:
                time.sleep(2.0)
                park(vd)
                with Screen(vd.name) as screen:
                    frame = still(screen)
                elements = timed_find(vision, frame, times)
                for label, (before, after, expected) in CALC_CHECKS.items():
                    named = [e for e in elements if norm(e.name) == norm(label)]
                    ok = False
                    if named:
                        desktop.press("Escape")
                        if before:
                            desktop.type(before)
                        desktop.click(named[0].box.center)
                        park(vd)
                        if after:
                            desktop.type(after)
                        ok = calc_display(vd, desktop) == expected
                    if not ok:
                        print(f"  galculator {scale}x {theme}: {label!r} "
                              f"{'clicked, display wrong' if named else 'not named'}",
                              file=sys.stderr)
                    kind = "one-char (clicked)" if len(label) == 1 else "short (clicked)"
                    # Found by name and its centre does what the button does: both at once.
                    tally.add(("galculator", f"{scale}x", theme, kind), bool(named) and ok, ok)
                for label in CALC_NAMED:
                    named = [e for e in elements if norm(e.name) == norm(label)]
                    kind = "one-char (named)" if len(label) == 1 else "short (named)"
                    tally.add(("galculator", f"{scale}x", theme, kind), bool(named), bool(named))


def table(title: str, rows: dict[str, list[int]]) -> list[str]:
    lines = [f"| {title} | n | found | label exact |", "| --- | --- | --- | --- |"]
    for key in sorted(rows):
        n, f, e = rows[key]
        exact = "-" if key.endswith("icon") or key.startswith("icon") else f"{e / n:.2f}"
        lines.append(f"| {key} | {n} | {f / n:.2f} | {exact} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1x light only")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", choices=["tk", "chromium", "galculator"], action="append")
    args = parser.parse_args(argv)
    scales = [1.0] if args.quick else [1.0, 2.0]
    themes = ["light"] if args.quick else ["light", "dark"]
    only = set(args.only or ["tk", "chromium", "galculator"])
    tally = Tally()
    times: list[dict[str, float]] = []
    vision = VisionElements()
    vision.reader.rapid.load()
    with VirtualDisplay(SIZE) as vd:
        os.environ["DISPLAY"] = vd.name
        if "tk" in only:
            run_tk(vd, vision, tally, times, scales, themes)
        if "chromium" in only:
            run_chromium(vd, vision, tally, times, scales, themes, ["form", "settings"])
        if "galculator" in only:
            run_galculator(vd, vision, tally, times, [int(s) for s in scales], themes)
    out = []
    out += table("app / scale / theme", tally.by(0, 1, 2))
    out += ["", *table("app / kind", tally.by(0, 3))]
    out += ["", *table("kind / scale", tally.by(3, 1))]
    totals = [t["total"] for t in times]
    if totals:
        out += ["", f"time per 4K frame (labels read from scratch): median "
                f"{sorted(totals)[len(totals) // 2] / 1000:.2f} s, max {max(totals) / 1000:.2f} s "
                f"over {len(totals)} frames; boxes median "
                f"{sorted(t['boxes'] for t in times)[len(times) // 2] / 1000:.2f} s; "
                f"labels read per frame median {sorted(t['labels'] for t in times)[len(times) // 2]:.0f}"]
    print("\n".join(out))
    if args.json:
        args.json.write_text(json.dumps({"rows": {" / ".join(k): v for k, v in tally.rows.items()},
                                         "times": times}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
