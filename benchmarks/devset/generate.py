"""Generate guiagent's grounding dev set: real application windows on a 3840x2160 Xvfb display.

Each *scene* opens one to three Chromium app windows (``--app=file://…``) showing the local
pages in ``pages/`` with a theme, a text size and a device scale factor (1-2), takes one 4K
screenshot and writes ScreenSpot-Pro annotations for the labelled elements in it.

Ground truth comes from the applications, never from a grounder:

* element boxes are the DOM's ``getBoundingClientRect`` (``collect.js``, run through the
  DevTools protocol), times ``devicePixelRatio``, plus the window's content origin on the
  screen, read from the X server (the app window has no browser toolbar);
* every box is then checked against the screen: the pixels under it must equal Chromium's own
  rendering of the viewport (``Page.captureScreenshot``). That catches a wrong origin, boxes
  hidden under another window or off the screen, and anything still painting;
* text samples whose words also appear elsewhere on the screen, and instructions used twice,
  are dropped, so every instruction names exactly one place.

Usage::

    python benchmarks/devset/generate.py                      # 40 scenes -> benchmarks/devset/data
    python benchmarks/devset/generate.py --scenes 8 --seed 3 --preview
    python benchmarks/devset/generate.py --fixture            # -> tests/fixtures/devset

Output: ``OUT/images/scene_NNN.png`` and ``OUT/annotations.json``; ``--preview`` also draws
the boxes on each screenshot in ``OUT/preview/`` for a visual check.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from cdp import Chromium, launch

from guiagent import Box, Frame, Screen, VirtualDisplay

SCREEN_W, SCREEN_H = 3840, 2160
PAGES_DIR = HERE / "pages"
COLLECT_JS = (HERE / "collect.js").read_text(encoding="utf-8")

# page -> (application, group) as ScreenSpot-Pro names them.
PAGES: dict[str, tuple[str, str]] = {
    "mail": ("chromium-mail", "Office"),
    "editor": ("chromium-editor", "Office"),
    "table": ("chromium-table", "Business"),
    "dashboard": ("chromium-dashboard", "Business"),
    "form": ("chromium-form", "Web"),
    "settings": ("chromium-settings", "OS"),
    "files": ("chromium-files", "OS"),
    "photobatch": ("tk-photobatch", "Creative"),  # tkapp.py, a Tk application
}
TK_PAGES = {"photobatch"}
TK_THEMES = {"light": "light", "warm": "light", "dark": "dark", "slate": "dark"}
THEMES = ("light", "dark", "warm", "slate")
FONTS = ("sans", "sans", "nimbus", "condensed", "serif")
SCALES = (1.0, 1.0, 1.25, 1.5, 1.5, 2.0)
FONT_PX = (11, 12, 13, 14, 14, 16, 18)
BACKGROUNDS = ("#2d3540", "#3b4252", "#1f3b4d", "#4a3f35", "#25302a", "#101418")
MIN_CSS = (900, 560)  # smallest viewport (CSS px) the pages are laid out for

# Pixel check: a box is kept when at most MAX_MISMATCH of its pixels differ by more than
# PIXEL_TOLERANCE (any channel) between the screen and Chromium's own rendering.
PIXEL_TOLERANCE = 40
MAX_MISMATCH = 0.03
MIN_BOX = 4  # pixels, both sides
MIN_ON_TOP = 0.8  # share of points inside a box where the page's hit test finds the element


@dataclass(frozen=True)
class WindowSpec:
    """One app window; position and size in screen (physical) pixels."""

    page: str
    theme: str
    font_px: int
    font: str
    scale: float
    x: int
    y: int
    width: int
    height: int

    @property
    def toolkit(self) -> str:
        return "tk" if self.page in TK_PAGES else "chromium"

    def url(self) -> str:
        query = f"theme={self.theme}&fs={self.font_px}&font={self.font}"
        return (PAGES_DIR / f"{self.page}.html").as_uri() + "?" + query


@dataclass(frozen=True)
class SceneSpec:
    name: str
    windows: tuple[WindowSpec, ...]
    background: str = "#2d3540"


@dataclass
class WindowShot:
    """What one window reported, in screen pixels, after the screenshot."""

    spec: WindowSpec
    origin: tuple[int, int]  # content (viewport) top-left on the screen
    frame: Box  # the window with its decorations
    stacking: int  # higher is nearer the viewer
    dpr: float
    viewport: Box  # on the screen
    title: str
    rendering: np.ndarray | None  # Chromium's own screenshot of the viewport (BGR)
    samples: list[dict[str, Any]] = field(default_factory=list)
    texts: list[dict[str, Any]] = field(default_factory=list)
    origin_mismatch: float = 0.0


# -- scene planning ------------------------------------------------------------------------------


def _window(rng: random.Random, page: str, x: int, y: int, w: int, h: int) -> WindowSpec:
    # The largest scale at which the page still gets a usable viewport, then maybe less.
    fitting = [s for s in SCALES if w / s >= MIN_CSS[0] and h / s >= MIN_CSS[1]] or [1.0]
    return WindowSpec(page, rng.choice(THEMES), rng.choice(FONT_PX), rng.choice(FONTS),
                      rng.choice(fitting), x, y, w, h)


def plan_scene(rng: random.Random, name: str) -> SceneSpec:
    """One to three windows: a big one, side by side, or a cascade that overlaps."""
    pages = rng.sample(sorted(PAGES), 3)
    layout = rng.choice(("single", "pair", "pair", "triple", "cascade"))
    top = 40  # room for the title bar
    wins: list[WindowSpec] = []
    if layout == "single":
        w = rng.randint(2200, SCREEN_W - 40)
        h = rng.randint(1300, SCREEN_H - top - 20)
        wins.append(_window(rng, pages[0], rng.randint(10, SCREEN_W - w - 10),
                            rng.randint(top, SCREEN_H - h - 10), w, h))
    elif layout == "pair":
        split = rng.randint(1700, 2140)
        h1, h2 = rng.randint(1400, 2080), rng.randint(1400, 2080)
        wins.append(_window(rng, pages[0], 10, top, split - 30, h1))
        wins.append(_window(rng, pages[1], split + 10, top + rng.randint(0, 60),
                            SCREEN_W - split - 20, h2))
    elif layout == "triple":
        left_w = rng.randint(1900, 2200)
        wins.append(_window(rng, pages[0], 10, top, left_w, SCREEN_H - top - 20))
        half = (SCREEN_H - top - 60) // 2
        wins.append(_window(rng, pages[1], left_w + 40, top, SCREEN_W - left_w - 50, half))
        wins.append(_window(rng, pages[2], left_w + 40, top + half + 40,
                            SCREEN_W - left_w - 50, half))
    else:  # cascade: overlapping windows; what is covered is dropped by the checks
        w, h = rng.randint(1900, 2300), rng.randint(1200, 1450)
        for i in range(3):
            wins.append(_window(rng, pages[i], 30 + i * rng.randint(600, 760),
                                top + i * rng.randint(300, 330), w, h))
    return SceneSpec(name, tuple(wins), rng.choice(BACKGROUNDS))


# The committed test fixture: a few fixed scenes covering the themes, scales and pages.
FIXTURE_SCENES: tuple[SceneSpec, ...] = (
    SceneSpec("fixture_mail_settings", (
        WindowSpec("mail", "light", 13, "sans", 1.0, 10, 40, 2140, 1500),
        WindowSpec("settings", "dark", 14, "nimbus", 1.5, 2190, 40, 1640, 2080),
    ), "#2d3540"),
    SceneSpec("fixture_editor_tk", (
        WindowSpec("editor", "warm", 12, "sans", 2.0, 20, 50, 2360, 2080),
        WindowSpec("photobatch", "dark", 12, "sans", 1.25, 2420, 420, 1400, 1200),
    ), "#1f3b4d"),
    SceneSpec("fixture_cascade", (
        WindowSpec("table", "slate", 13, "condensed", 1.0, 30, 40, 2200, 1300),
        WindowSpec("dashboard", "light", 16, "sans", 1.25, 760, 360, 2300, 1400),
        WindowSpec("files", "dark", 11, "serif", 1.0, 1500, 690, 2300, 1440),
    ), "#3b4252"),
    SceneSpec("fixture_form_large", (
        WindowSpec("form", "light", 18, "nimbus", 2.0, 10, 40, 2000, 2100),
        WindowSpec("dashboard", "dark", 12, "sans", 1.0, 2050, 300, 1780, 1200),
    ), "#25302a"),
)


# -- X window geometry ---------------------------------------------------------------------------


def x_window(display_name: str, pid: int | None = None,
             window_id: int | None = None) -> tuple[Box, Box, int]:
    """(client box, frame box with decorations, stacking index) of a mapped window.

    The window is the biggest one whose ``_NET_WM_PID`` is ``pid`` (Chromium sets it), or
    the one with X id ``window_id`` (Tk reports its own).
    """
    from Xlib import X, display

    conn = display.Display(display_name)
    try:
        root = conn.screen().root
        pid_atom = conn.intern_atom("_NET_WM_PID")
        tops = root.query_tree().children  # bottom to top
        best: tuple[int, Box, Box, int] | None = None
        for index, top in enumerate(tops):
            if top.get_attributes().map_state != X.IsViewable:
                continue
            for win in _walk(top):
                if window_id is not None:
                    if win.id != window_id:
                        continue
                else:
                    prop = win.get_full_property(pid_atom, X.AnyPropertyType)
                    if prop is None or prop.value[0] != pid:
                        continue
                geo = win.get_geometry()
                at = win.translate_coords(root, 0, 0)
                client = Box(-at.x, -at.y, geo.width, geo.height)
                fgeo = top.get_geometry()
                frame = Box(fgeo.x, fgeo.y, fgeo.width + 2 * fgeo.border_width,
                            fgeo.height + 2 * fgeo.border_width)
                if best is None or client.area > best[0]:
                    best = (int(client.area), client, frame, index)
        if best is None:
            what = f"process {pid}" if window_id is None else f"id {window_id:#x}"
            raise RuntimeError(f"no mapped X window for {what}")
        return best[1], best[2], best[3]
    finally:
        conn.close()


def _walk(win: Any) -> Iterator[Any]:
    yield win
    for child in win.query_tree().children:
        yield from _walk(child)


def wait_for_window(display_name: str, pid: int | None = None, window_id: int | None = None,
                    timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            x_window(display_name, pid, window_id)
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wait_until_still(screen: Screen, timeout: float = 15.0) -> Frame:
    """The first frame identical to the one 0.3 s before it (nothing left painting)."""
    deadline = time.monotonic() + timeout
    last = screen.capture()
    while True:
        time.sleep(0.3)
        frame = screen.capture()
        if not frame.changed_since(last):
            return frame
        if time.monotonic() > deadline:
            print("  warning: the screen never settled; using the last frame", file=sys.stderr)
            return frame
        last = frame


# -- checks --------------------------------------------------------------------------------------


def mismatch(screen: np.ndarray, rendering: np.ndarray, box: Box, origin: tuple[int, int]) -> float:
    """Fraction of pixels in ``box`` (viewport pixels) where screen and rendering differ."""
    b = box.integer()
    x1, y1 = int(b.left), int(b.top)
    x2 = min(int(b.right), rendering.shape[1], screen.shape[1] - origin[0])
    y2 = min(int(b.bottom), rendering.shape[0], screen.shape[0] - origin[1])
    x1, y1 = max(x1, -origin[0], 0), max(y1, -origin[1], 0)
    if x2 <= x1 or y2 <= y1:
        return 1.0
    ours = rendering[y1:y2, x1:x2].astype(np.int16)
    seen = screen[y1 + origin[1]:y2 + origin[1], x1 + origin[0]:x2 + origin[0]].astype(np.int16)
    differs = np.abs(ours - seen).max(axis=2) > PIXEL_TOLERANCE
    return float(differs.mean())


def find_origin(screen: np.ndarray, rendering: np.ndarray,
                guess: tuple[int, int]) -> tuple[tuple[int, int], float]:
    """The content origin near ``guess`` where the screen best equals Chromium's rendering."""
    whole = Box(0, 0, rendering.shape[1], rendering.shape[0])
    score = mismatch(screen, rendering, whole, guess)
    if score < 0.01:
        return guess, score
    best = (guess, score)
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            candidate = (guess[0] + dx, guess[1] + dy)
            score = mismatch(screen, rendering, whole, candidate)
            if score < best[1]:
                best = (candidate, score)
    return best


def _words(text: str) -> str:
    return " ".join(text.lower().split())


def _contains_phrase(haystack: str, needle: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", haystack) is not None


# -- one scene -----------------------------------------------------------------------------------


def shoot_scene(vd: VirtualDisplay, scene: SceneSpec, out_dir: Path,
                stats: dict[str, int]) -> list[dict[str, Any]]:
    """Open the scene's windows, take the screenshot, return its annotations."""
    if shutil.which("xsetroot"):
        subprocess.run(["xsetroot", "-solid", scene.background], env=vd.env, check=False)
    with ExitStack() as stack, Screen(vd.name) as screen:
        apps: list[tuple[WindowSpec, Chromium | TkApp]] = []
        for spec in scene.windows:
            app: Chromium | TkApp
            if spec.toolkit == "tk":
                app = TkApp.start(vd, spec, Path(stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="devset-tk-"))))
                stack.callback(app.close)
                wait_for_window(vd.name, window_id=app.wait_report()["window_id"])
            else:
                profile = stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="devset-chromium-"))
                app = launch(
                    vd, spec.url(), profile=profile, scale=spec.scale,
                    position=(round(spec.x / spec.scale), round(spec.y / spec.scale)),
                    size=(round(spec.width / spec.scale), round(spec.height / spec.scale)),
                )
                stack.callback(app.close)
                wait_for_window(vd.name, app.process.pid)
            apps.append((spec, app))
        _park_pointer(vd)
        frame = wait_until_still(screen)
        pixels = np.ascontiguousarray(frame.bgr())
        shots = [_tk_shot(vd, spec, app) if isinstance(app, TkApp)
                 else _window_shot(vd, spec, app, pixels) for spec, app in apps]

    image_name = f"{scene.name}.png"
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_dir / "images" / image_name), pixels, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return _annotations(scene, shots, pixels, image_name, stats)


def _park_pointer(vd: VirtualDisplay) -> None:
    """Move the pointer to the bottom-right corner so no element shows a hover state."""
    if shutil.which("xdotool"):
        subprocess.run(["xdotool", "mousemove", str(SCREEN_W - 1), str(SCREEN_H - 1)],
                       env=vd.env, check=False)


class TkApp:
    """tkapp.py running on the display; it reports its widget geometry in a JSON file."""

    def __init__(self, process: subprocess.Popen[bytes], report: Path) -> None:
        self.process = process
        self.report = report

    @classmethod
    def start(cls, vd: VirtualDisplay, spec: WindowSpec, workdir: Path) -> TkApp:
        report = workdir / "report.json"
        argv = [sys.executable, str(HERE / "tkapp.py"), str(report),
                "--geometry", f"{spec.width}x{spec.height}+{spec.x}+{spec.y}",
                "--theme", TK_THEMES[spec.theme], "--font-px", str(spec.font_px),
                "--scale", f"{spec.scale:g}"]
        return cls(vd.launch(argv, start_new_session=True), report)

    def wait_report(self, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not self.report.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"tkapp.py exited with status {self.process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("tkapp.py wrote no geometry report")
            time.sleep(0.05)
        data: dict[str, Any] = json.loads(self.report.read_text(encoding="utf-8"))
        return data

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _tk_shot(vd: VirtualDisplay, spec: WindowSpec, app: TkApp) -> WindowShot:
    info = app.wait_report()
    client, frame_box, stacking = x_window(vd.name, window_id=info["window_id"])
    # Tk reports screen pixels already (winfo_rootx/rooty): origin 0, one pixel per unit.
    return WindowShot(spec, (0, 0), frame_box, stacking, 1.0, client, info["title"], None,
                      info["samples"], info["texts"])


def _window_shot(vd: VirtualDisplay, spec: WindowSpec, browser: Chromium,
                 pixels: np.ndarray) -> WindowShot:
    info = json.loads(browser.evaluate(COLLECT_JS))
    client, frame_box, stacking = x_window(vd.name, browser.process.pid)
    dpr = float(info["dpr"])
    rendering = _decode_png(browser.screenshot())
    # An app window has no toolbar: the viewport starts below whatever the browser draws on
    # top of the page (outer minus inner height), at the client's left edge.
    top_chrome = round((info["outerHeight"] - info["innerHeight"]) * dpr)
    guess = (int(client.left), int(client.top) + top_chrome)
    origin, score = find_origin(pixels, rendering, guess)
    viewport = Box(origin[0], origin[1], rendering.shape[1], rendering.shape[0])
    return WindowShot(spec, origin, frame_box, stacking, dpr, viewport, info["title"], rendering,
                      info["samples"], info["texts"], score)


def _decode_png(data: bytes) -> np.ndarray:
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise RuntimeError("chromium returned a screenshot that is not a PNG")
    return np.asarray(pixels)


def _annotations(scene: SceneSpec, shots: list[WindowShot], pixels: np.ndarray,
                 image_name: str, stats: dict[str, int]) -> list[dict[str, Any]]:
    screen_box = Box(0, 0, pixels.shape[1], pixels.shape[0])

    def to_screen(shot: WindowShot, rect: Sequence[float]) -> Box:
        x1, y1, x2, y2 = (v * shot.dpr for v in rect)
        return Box(shot.origin[0] + x1, shot.origin[1] + y1, x2 - x1, y2 - y1)

    # Every visible text on the screen, for the ambiguity check (titles have no box).
    texts: list[tuple[str, Box | None]] = []
    for shot in shots:
        texts.append((_words(shot.title), None))
        texts.extend((_words(t["text"]), None if t["rect"] is None else to_screen(shot, t["rect"]))
                     for t in shot.texts)

    kept: list[tuple[WindowShot, dict[str, Any], Box]] = []
    for shot in shots:
        above = [s.frame for s in shots if s.stacking > shot.stacking]
        if shot.rendering is not None and not above and shot.origin_mismatch > 0.01:
            # Nothing covers this window, so the screen should show exactly what it drew.
            print(f"  warning: {shot.spec.page} differs from its own rendering by "
                  f"{shot.origin_mismatch:.1%}; its boxes are checked one by one",
                  file=sys.stderr)
        for sample in shot.samples:
            box = to_screen(shot, sample["rect"])
            reason = _reject_reason(shot, sample, box, above, pixels, screen_box)
            if reason:
                stats[reason] = stats.get(reason, 0) + 1
                continue
            kept.append((shot, sample, box))

    # One instruction, one place: drop instructions used twice and text seen elsewhere.
    counts: dict[str, int] = {}
    for _, sample, _ in kept:
        counts[_words(sample["instruction"])] = counts.get(_words(sample["instruction"]), 0) + 1
    annotations: list[dict[str, Any]] = []
    for shot, sample, box in kept:
        key = _words(sample["instruction"])
        phrase = _words(sample["text"] or sample["instruction"])
        grown = box.expanded(2)
        elsewhere = any(
            _contains_phrase(text, phrase) or _contains_phrase(text, key)
            for text, where in texts
            if where is None or not _inside(where, grown)
        )
        if counts[key] > 1 or elsewhere:
            stats["ambiguous"] = stats.get("ambiguous", 0) + 1
            continue
        application, group = PAGES[shot.spec.page]
        b = box.integer()
        entry: dict[str, Any] = {
            "id": f"{scene.name}:{len(annotations):03d}",
            "img_filename": image_name,
            "bbox": [int(b.left), int(b.top), int(b.right), int(b.bottom)],
            "instruction": sample["instruction"],
            "ui_type": sample["kind"],
            "application": application,
            "group": group,
            "platform": "linux",
            "img_size": [int(pixels.shape[1]), int(pixels.shape[0])],
        }
        if sample["kind"] == "text":
            entry["target_text"] = sample["text"]
        entry["source"] = {
            "toolkit": shot.spec.toolkit,
            "page": shot.spec.page,
            "element": sample["tag"],
            "theme": shot.spec.theme,
            "font_px": shot.spec.font_px,
            "font": shot.spec.font,
            "scale": shot.spec.scale,
            "text_px": round(shot.spec.font_px * shot.spec.scale, 1),
        }
        annotations.append(entry)
        stats["kept"] = stats.get("kept", 0) + 1
    return annotations


def _inside(inner: Box, outer: Box) -> bool:
    return (inner.left >= outer.left and inner.top >= outer.top
            and inner.right <= outer.right and inner.bottom <= outer.bottom)


def _reject_reason(shot: WindowShot, sample: dict[str, Any], box: Box, above: list[Box],
                   pixels: np.ndarray, screen_box: Box) -> str | None:
    if box.width < MIN_BOX or box.height < MIN_BOX:
        return "too_small"
    if sample["on_top"] < MIN_ON_TOP:
        return "under_other_element"
    if sample["kind"] == "text" and sample["lines"] > 1:
        return "multiline"
    if not _inside(box, shot.viewport.expanded(0.5)) or not _inside(box, screen_box):
        return "clipped"
    if any(box.intersection(frame) is not None for frame in above):
        return "covered"
    if shot.rendering is not None:  # Chromium: the screen must show what the page drew
        local = Box(box.left - shot.origin[0], box.top - shot.origin[1], box.width, box.height)
        if mismatch(pixels, shot.rendering, local, shot.origin) > MAX_MISMATCH:
            return "pixels_differ"
    return None


# -- preview -------------------------------------------------------------------------------------


def draw_preview(image: Path, annotations: list[dict[str, Any]], out: Path) -> None:
    """The screenshot with every box drawn (green text, orange icons) and numbered."""
    pixels = Frame.load(image).bgr().copy()
    for n, entry in enumerate(annotations):
        x1, y1, x2, y2 = entry["bbox"]
        color = (60, 200, 60) if entry["ui_type"] == "text" else (0, 140, 255)
        cv2.rectangle(pixels, (x1, y1), (x2, y2), color, 2)
        cv2.putText(pixels, str(n), (x1, max(12, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    color, 2, cv2.LINE_AA)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), pixels, [cv2.IMWRITE_PNG_COMPRESSION, 6])


# -- main ----------------------------------------------------------------------------------------


def generate(scenes: Sequence[SceneSpec], out_dir: Path, *, preview: bool) -> dict[str, Any]:
    """Shoot every scene on one virtual display; write images and annotations.json."""
    if shutil.which("chromium") is None:
        raise SystemExit("chromium is not installed: `apt-get install -y chromium`")
    out_dir.mkdir(parents=True, exist_ok=True)
    stats: dict[str, int] = {}
    annotations: list[dict[str, Any]] = []
    with VirtualDisplay((SCREEN_W, SCREEN_H)) as vd:
        for i, scene in enumerate(scenes, start=1):
            started = time.monotonic()
            entries = shoot_scene(vd, scene, out_dir, stats)
            annotations.extend(entries)
            print(f"[{i}/{len(scenes)}] {scene.name}: {len(entries)} samples "
                  f"({time.monotonic() - started:.1f} s)", file=sys.stderr)
            if preview:
                draw_preview(out_dir / "images" / f"{scene.name}.png", entries,
                             out_dir / "preview" / f"{scene.name}.png")
    (out_dir / "annotations.json").write_text(
        json.dumps(annotations, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    summary = _summary(annotations, stats, scenes)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _summary(annotations: list[dict[str, Any]], stats: dict[str, int],
             scenes: Sequence[SceneSpec]) -> dict[str, Any]:
    def count(key: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry in annotations:
            out[entry[key]] = out.get(entry[key], 0) + 1
        return dict(sorted(out.items()))

    return {
        "screenshots": len(scenes),
        "samples": len(annotations),
        "ui_type": count("ui_type"),
        "application": count("application"),
        "group": count("group"),
        "dropped": {k: v for k, v in sorted(stats.items()) if k != "kept"},
        "scenes": [asdict(s) for s in scenes],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="output folder (default: benchmarks/devset/data, "
                                                 "or tests/fixtures/devset with --fixture)")
    parser.add_argument("--scenes", type=int, default=40, help="screenshots to make (default 40)")
    parser.add_argument("--seed", type=int, default=2024, help="random seed (default 2024)")
    parser.add_argument("--fixture", action="store_true",
                        help="make the small committed test fixture instead of a random set")
    parser.add_argument("--preview", action="store_true",
                        help="also draw the boxes on each screenshot in OUT/preview/")
    args = parser.parse_args(argv)
    if args.fixture:
        scenes: Sequence[SceneSpec] = FIXTURE_SCENES
        out = args.out or REPO / "tests" / "fixtures" / "devset"
    else:
        rng = random.Random(args.seed)
        scenes = [plan_scene(rng, f"scene_{i:03d}") for i in range(args.scenes)]
        out = args.out or HERE / "data"
    if out.exists() and (out / "images").exists():
        shutil.rmtree(out / "images")
    summary = generate(scenes, out, preview=args.preview)
    print(json.dumps({k: v for k, v in summary.items() if k != "scenes"}, indent=2))
    print(f"wrote {summary['samples']} samples in {len(scenes)} screenshots to {out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

