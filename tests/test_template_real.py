"""Template matching on real applications on a 3840x2160 Xvfb display.

Each scene is drawn by real programs (a Tk palette, xterm, galculator): a template is cut from
one screen and looked for on another one after the windows moved, were re-drawn at another
scale or on another background, or got partly covered. Ground truth comes from the programs:
the Tk palette reports where each of its widgets is, and a moved window's displacement comes
from the window manager (xdotool). The scene helpers are shared with benchmarks/template.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from guiagent import Frame, Point, Screen, VirtualDisplay
from guiagent.geometry import Box

# A Tk window of look-alike widgets: buttons and icons of one shape in several colours, text,
# a panel. --scale re-draws everything at that scale (fonts included, not a resized picture),
# --bg sets the background behind the icons. It writes its widgets' screen boxes to --report.
PALETTE = r'''
import json, sys, tkinter as tk
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
scale = float(args.get("--scale", "1")); bg = args.get("--bg", "#f0f0f0")
def px(v): return max(1, round(v * scale))
root = tk.Tk(); root.title("palette"); root.configure(bg=bg)
root.geometry(args.get("--geometry", "+100+100"))
font = ("DejaVu Sans", -px(15)); bold = ("DejaVu Sans", -px(15), "bold")
boxes = {}
top = tk.Frame(root, bg=bg); top.pack(padx=px(10), pady=px(10), anchor="w")
for name, colour in (("red", "#d03030"), ("green", "#30a040"), ("blue", "#3050d0"),
                     ("orange", "#e08020")):
    b = tk.Label(top, text="Apply", font=bold, bg=colour, fg="white", padx=px(14), pady=px(6),
                 relief="raised", bd=px(2))
    b.pack(side="left", padx=px(8)); boxes["button_" + name] = b
canvas = tk.Canvas(root, width=px(760), height=px(150), bg=bg, highlightthickness=0)
canvas.pack(padx=px(10), anchor="w")
def icon(x, size, colour, kind):
    s = px(size); x0, y0 = px(x), px(20)
    if kind == "ring":
        canvas.create_oval(x0, y0, x0 + s, y0 + s, outline=colour, width=px(3))
        canvas.create_line(x0 + s // 2, y0 + px(3), x0 + s // 2, y0 + s - px(3), fill=colour,
                           width=px(3))
    elif kind == "star":
        pts = [(0.5, 0), (0.62, 0.38), (1, 0.38), (0.69, 0.6), (0.81, 1), (0.5, 0.75),
               (0.19, 1), (0.31, 0.6), (0, 0.38), (0.38, 0.38)]
        canvas.create_polygon(*[c for p in pts for c in (x0 + p[0] * s, y0 + p[1] * s)],
                              fill=colour, outline="#202020")
    else:
        canvas.create_rectangle(x0, y0, x0 + s, y0 + s, fill=colour, outline="#202020",
                                width=px(2))
        canvas.create_line(x0 + px(4), y0 + s // 2, x0 + s - px(4), y0 + s // 2,
                           fill="white", width=px(2))
    return (canvas, x0, y0, s, s)
x = 10
for name, colour in (("red", "#d03030"), ("green", "#30a040"), ("blue", "#3050d0")):
    boxes["ring_" + name] = icon(x, 32, colour, "ring"); x += 50
for size in (16, 24, 48):
    boxes["star_%d" % size] = icon(x, size, "#e0b000", "star"); x += size + 20
for name, colour in (("purple", "#8040a0"), ("teal", "#208080")):
    boxes["square_" + name] = icon(x, 40, colour, "square"); x += 60
boxes["mark_ring"] = icon(x + 10, 56, "#404040", "ring")
text = tk.Text(root, width=48, height=10, font=font, bg="white", fg="#202020", bd=px(1))
text.insert("1.0", "\n".join("%02d  %s" % (i, w) for i, w in enumerate(
    "Template matching finds an image on the screen: a coarse scan, then a fine look at "
    "full resolution, then a verdict in colour. Icons may be cut out with transparency, "
    "recorded at another scale, or partly covered by another window".split(" ")[:30])))
text.pack(padx=px(10), pady=px(10), anchor="w"); boxes["panel"] = text
def report():
    out = {}
    for name, widget in boxes.items():
        if isinstance(widget, tuple):
            c, x0, y0, w, h = widget
            out[name] = [c.winfo_rootx() + x0, c.winfo_rooty() + y0, w + 1, h + 1]
        else:
            out[name] = [widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(),
                         widget.winfo_height()]
    out["window"] = [root.winfo_rootx(), root.winfo_rooty(), root.winfo_width(),
                     root.winfo_height()]
    with open(args["--report"], "w") as f: json.dump(out, f)
root.after(400, report)
root.mainloop()
'''


@dataclass
class Palette:
    """A running palette window and the screen boxes of its widgets."""

    process: subprocess.Popen[bytes]
    boxes: dict[str, Box]


def launch_palette(display: VirtualDisplay, report: Path, *, x: int, y: int, scale: float = 1.0,
                   bg: str = "#f0f0f0", timeout: float = 20.0) -> Palette:
    report.unlink(missing_ok=True)
    process = display.launch([sys.executable, "-c", PALETTE, "--report", str(report),
                              "--geometry", f"+{x}+{y}", "--scale", str(scale), "--bg", bg])
    deadline = time.monotonic() + timeout
    while not report.exists() or not report.read_text().strip():
        if time.monotonic() > deadline or process.poll() is not None:
            end(process)
            raise RuntimeError(f"the palette window did not report its widgets within {timeout} s")
        time.sleep(0.05)
    boxes = {name: Box(*box) for name, box in json.loads(report.read_text()).items()}
    return Palette(process, boxes)


def end(process: subprocess.Popen[bytes]) -> None:
    """End one program we started (by its own handle) and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def settled_capture(screen: Screen, *, timeout: float = 10.0, quiet: float = 0.3) -> Frame:
    """A capture once the screen has not changed for ``quiet`` seconds (windows drawn)."""
    deadline = time.monotonic() + timeout
    frame = screen.capture()
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = screen.capture()
        if now.changed_since(frame):
            still_since = time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return now
        frame = now
    return frame


def cut(frame: Frame, box: Box) -> np.ndarray:
    rows, cols = box.integer().slices()
    return frame.bgr()[rows, cols].copy()


@contextmanager
def programs(display: VirtualDisplay, *argvs: list[str],
             env: dict[str, str] | None = None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Run programs for the duration of a block; each is ended by its own handle."""
    started = [display.launch(argv, env=env or {}) for argv in argvs]
    try:
        yield started
    finally:
        for process in started:
            end(process)


def windows_of(kind: str, timeout: float = 10.0) -> list[str]:
    """X window ids of the visible windows of a WM class (``XTerm``, ``Galculator``) or, for
    our palette, of that title (xdotool)."""
    search = ["--name", "^palette$"] if kind == "palette" else ["--class", kind]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", *search],
                               capture_output=True, text=True, check=False).stdout.split()
        if found:
            return found
        time.sleep(0.1)
    raise RuntimeError(f"no visible {kind} window")


def window_box(window: str) -> Box:
    shell = subprocess.run(["xdotool", "getwindowgeometry", "--shell", window], capture_output=True,
                           text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in shell.split())
    return Box(int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"]))


def move_window(window: str, x: int, y: int, timeout: float = 10.0) -> Box:
    """Move a window's frame to ``x, y`` and wait until the window manager has moved it; the
    client window's new box."""
    before = window_box(window)
    subprocess.run(["xdotool", "windowmove", window, str(x), str(y)], check=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        box = window_box(window)
        if box != before and box == window_box(window):
            return box
        time.sleep(0.05)
    raise RuntimeError(f"window {window} did not move to {x},{y}")


def is_unique(gray: np.ndarray, box: Box, *, near: int = 300) -> bool:
    """Whether nothing within ``near`` pixels of ``box`` looks like it (NCC < 0.9)."""
    b = box.integer()
    x, y, w, h = int(b.left), int(b.top), int(b.width), int(b.height)
    patch = gray[y : y + h, x : x + w]
    height, width = gray.shape
    x0, y0 = max(0, x - near), max(0, y - near)
    area = gray[y0 : min(height, y + h + near), x0 : min(width, x + w + near)]
    result = cv2.matchTemplate(area, patch, cv2.TM_CCOEFF_NORMED)
    result[max(0, y - y0 - h // 2) : y - y0 + h // 2 + 1, max(0, x - x0 - w // 2) : x - x0 + w // 2 + 1] = -1
    return bool(np.nan_to_num(result, nan=1.0).max() < 0.9)


def random_boxes(frame: Frame, inside: Box, count: int, rng: np.random.Generator,
                 sizes: tuple[int, int] = (16, 400),
                 accept: Callable[[Box], bool] | None = None) -> list[Box]:
    """Up to ``count`` boxes (sides log-uniform in ``sizes``) inside ``inside`` whose pixels
    have detail and appear only once nearby."""
    gray = frame.gray()
    found: list[Box] = []
    for _ in range(count * 100):
        if len(found) == count:
            break
        lo, hi = np.log(sizes[0]), np.log(sizes[1])
        w = int(np.exp(rng.uniform(lo, hi)))
        h = int(np.clip(w * np.exp(rng.uniform(-0.7, 0.7)), sizes[0], sizes[1]))
        if w >= inside.width or h >= inside.height:
            continue
        x = int(rng.integers(int(inside.left), int(inside.right) - w))
        y = int(rng.integers(int(inside.top), int(inside.bottom) - h))
        box = Box(x, y, w, h)
        if float(gray[y : y + h, x : x + w].std()) < 20 or not is_unique(gray, box):
            continue
        if not is_unique(gray, box, near=max(gray.shape)):  # nor anywhere else
            continue
        if accept is None or accept(box):
            found.append(box)
    return found


# -- tests on the session's 4K display --------------------------------------------------------
COLOURED = ("button_red", "button_green", "button_blue", "button_orange", "ring_red", "ring_green",
            "ring_blue", "square_purple", "square_teal")
ICONS = ("ring_red", "ring_green", "ring_blue", "star_16", "star_24", "star_48", "square_purple",
         "square_teal", "mark_ring")
WIDGETS = (*COLOURED, "star_16", "star_24", "star_48", "mark_ring", "panel")
# The 24 and 48 px stars are the 16 px star at other sizes: ambiguous when scaled.
SCALED = (*COLOURED, "star_16", "mark_ring", "panel")
LIGHT = (0xF0, 0xF0, 0xF0)  # the palette's default background, BGR


def cutout(frame: Frame, box: Box) -> np.ndarray:
    """BGRA pixels of ``box``, transparent where they are the palette's light background."""
    bgr = cut(frame, box)
    opaque = np.where(np.abs(bgr.astype(int) - np.array(LIGHT)).sum(axis=2) > 24, 255, 0)
    # Edge pixels are blended with the background: transparent, as in an icon's own alpha.
    return np.dstack([bgr, cv2.erode(opaque.astype(np.uint8), np.ones((3, 3), np.uint8))])


def _found(frame: Frame, template: np.ndarray) -> Point | None:
    from guiagent.errors import TargetNotFound
    from guiagent.grounding import locate

    try:
        return locate(frame, template).point
    except TargetNotFound:
        return None


@pytest.fixture()
def scene(vdisplay: VirtualDisplay, tmp_path: Path) -> Iterator[Callable[..., tuple[Frame, Palette]]]:
    """Show the palette (with options), capture the settled screen, close it again."""

    def show(**options: object) -> tuple[Frame, Palette]:
        palette = launch_palette(vdisplay, tmp_path / "palette.json", **options)  # type: ignore[arg-type]
        try:
            with Screen() as screen:
                return settled_capture(screen, quiet=0.5), palette
        finally:
            end(palette.process)

    yield show


@pytest.mark.display
def test_refinds_widgets_and_crops_after_the_window_moved(vdisplay: VirtualDisplay,
                                                          tmp_path: Path) -> None:
    palette = launch_palette(vdisplay, tmp_path / "palette.json", x=200, y=150)
    try:
        window = windows_of("palette")[0]
        with Screen() as screen:
            first = settled_capture(screen, quiet=0.5)
            before = window_box(window)
            after = move_window(window, 1900, 1200)
            second = settled_capture(screen, quiet=0.5)
    finally:
        end(palette.process)
    dx, dy = after.left - before.left, after.top - before.top
    boxes = [palette.boxes[name] for name in WIDGETS]
    boxes += random_boxes(first, before, 12, np.random.default_rng(5))
    misses = []
    for box in boxes:
        moved = Box(box.left + dx, box.top + dy, box.width, box.height)
        point = _found(second, cut(first, box))
        if point is None or not moved.contains(point):
            misses.append((box, point))
    assert not misses, f"{len(misses)} of {len(boxes)} not re-found: {misses}"


@pytest.mark.display
def test_colour_lookalikes_on_a_real_window(scene: Callable[..., tuple[Frame, Palette]]) -> None:
    frame, palette = scene(x=600, y=400)
    for name in COLOURED:
        point = _found(frame, cut(frame, palette.boxes[name]))
        assert point is not None and palette.boxes[name].contains(point), name


@pytest.mark.display
def test_transparent_icons_found_on_another_background(
        scene: Callable[..., tuple[Frame, Palette]]) -> None:
    light, palette = scene(x=200, y=150)
    dark, on_dark = scene(x=1700, y=900, bg="#203040")
    for name in ICONS:
        icon = cutout(light, palette.boxes[name])
        point = _found(dark, icon)
        assert point is not None and on_dark.boxes[name].contains(point), name
    # A mostly transparent template: the ring with a wide empty margin.
    ring = palette.boxes["mark_ring"]
    roomy = cutout(light, Box(ring.left - 40, ring.top - 20, ring.width + 100, ring.height + 60))
    assert (roomy[:, :, 3] == 0).mean() > 0.8
    point = _found(dark, roomy)
    assert point is not None and on_dark.boxes["mark_ring"].contains(point)


@pytest.mark.display
def test_widgets_recorded_at_another_scale(scene: Callable[..., tuple[Frame, Palette]]) -> None:
    """The palette drawn at scale 1 and at scale 2 (re-rendered, fonts included): widgets
    recorded on one are looked for on the other (2x and 0.5x)."""
    small, at_1 = scene(x=200, y=150)
    large, at_2 = scene(x=900, y=300, scale=2.0)
    missed = []
    for name in SCALED:
        for recorded, boxes, searched, truth in ((small, at_1, large, at_2), (large, at_2, small, at_1)):
            point = _found(searched, cut(recorded, boxes.boxes[name]))
            if point is None or not truth.boxes[name].contains(point):
                missed.append((name, "2x" if searched is large else "0.5x"))
    # The text panel's text is drawn anew at the other font size (not a resized picture):
    # found both ways.
    assert not [m for m in missed if m[0] == "panel"], missed
    # Measured 23 of 24 (benchmarks/RESULTS.md): the one miss is the 16 px star recorded at 2x,
    # which the 48 px star of the same shape matches as well at 1.5x (the scene holds the star
    # at 16, 24 and 48 px).
    assert len(missed) <= 0.1 * 2 * len(SCALED), missed


# Where an xterm covers part of the palette's text panel (and nothing else): its bottom right
# corner, and its top left corner (where its text is).
COVERS = (["40x4+420+470"], ["30x8+150+330"])


@pytest.mark.display
@pytest.mark.parametrize("cover", COVERS, ids=["bottom right", "top left"])
def test_partly_covered_widgets(vdisplay: VirtualDisplay, tmp_path: Path,
                                scene: Callable[..., tuple[Frame, Palette]],
                                cover: list[str]) -> None:
    """A widget partly hidden by another window is still found where it is (its visible part
    matches exactly), and the match says how much of it was seen."""
    from guiagent.grounding import locate

    clear, palette = scene(x=200, y=150)
    again = launch_palette(vdisplay, tmp_path / "again.json", x=200, y=150)
    try:
        with programs(vdisplay, ["xterm", "-geometry", *cover]), Screen() as screen:
            covers = [window_box(w) for w in windows_of("XTerm")]
            covered = settled_capture(screen, quiet=0.5)
    finally:
        end(again.process)
    checked = []
    for name in WIDGETS:
        box = again.boxes[name]
        hidden = sum(_area(box.intersection(c)) for c in covers) / _area(box)
        if 0.05 <= hidden <= 0.6:
            checked.append(name)
            match = locate(covered, cut(clear, palette.boxes[name]))
            assert box.contains(match.point), f"{name}, {hidden:.0%} hidden"
            # Found by its visible part (as a whole it correlates too little).
            assert match.score >= 0.8
            assert 0.4 <= match.extra["visible"] < 1.0, match.extra
    assert checked == ["panel"]


def _area(box: Box | None) -> float:
    return 0.0 if box is None else box.width * box.height


@pytest.mark.display
def test_absent_template_is_not_found(scene: Callable[..., tuple[Frame, Palette]]) -> None:
    light, palette = scene(x=200, y=150)
    dark, _ = scene(x=200, y=150, bg="#203040")
    # The light panel's text area is the same on both; a crop of light background and
    # buttons is not on the dark screen.
    button = palette.boxes["button_red"]
    template = cut(light, Box(button.left - 12, button.top - 12, button.width + 24, button.height + 24))
    assert _found(dark, template) is None
