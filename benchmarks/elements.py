"""UI elements on real 4K screens, before and after, side by side in one run: text targets by
phrasing kind and ui type, one-character buttons, icon-only controls named in words, snapshot
and command-step times.

Arms (each target goes through all of them on the same frame):

* **before**: the pixel grounders alone, ``guiagent.grounding.locate_all(frame, target)`` (what
  guiagent did before elements: OCR for text, "unsupported" for what needs a model);
* **after, no a11y**: ``guiagent.elements.locate_all(frame, target, accessibility=None)``
  (vision elements, then ECP grounding);
* **after, a11y**: the same with the display's AT-SPI reader (accessibility tree first).

Every arm gets the target the command language extracts from the instruction as written
(``guiagent.agent.language.plan``: "open the Format menu" -> "the Format menu"), and one match
is chosen exactly as ``guiagent do`` chooses (``agent.loop._pick``: equally good matches are an
error, "ambiguous", unless the command said which). Right = the click point lies inside the
true box (edges inclusive).

Ground truth comes from the applications, never from a grounder:

* **Chromium** (benchmarks/elements_pages, two windows at once, ``--force-device-scale-factor``
  1 and 2, light and dark): DOM ``getBoundingClientRect`` over the DevTools pipe, times
  ``devicePixelRatio``, placed where Chromium's own rendering matches the screen pixels
  (benchmarks/devset/generate.py's ``find_origin``);
* **Tk** (benchmarks/devset/tkapp.py, ``--scale`` 1 and 2, light and dark): widget geometry
  (``winfo_rootx``...);
* **LibreOffice Writer** (GTK3 VCL, ``GDK_SCALE`` 1 and 2, light and ``Adwaita:dark``): the
  accessibility boxes of its menus -- used only to score predictions that did NOT come from
  the accessibility tree; a prediction taken from the tree is counted apart ("self").
* **galculator** (one-character buttons, GTK3, 1x light and 2x dark): the found point is
  clicked and the calculator's own display (ctrl+c, X clipboard) must show what that button
  does.
* **Writer toolbar icons** (accessibility on): ``guiagent.do(desktop, "click the Bold button")``
  and the control's own "checked" state (read from AT-SPI before and after) must flip; the
  other arms are scored against the control's accessibility box without clicking.

Times: take_snapshot / the reader's snapshot of Writer and Chromium at 4K against a plain
pyatspi walk (benchmarks/atspi_snapshot.py, Debian's /usr/bin/python3), and per ``do`` step.

    python benchmarks/elements.py [--quick] [--only chromium|tk|writer|calc|icons|snapshot]
                                  [--json OUT.json] [--no-write]
    python benchmarks/elements.py --only none --merge OUT.json   # report an earlier run
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "devset"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from results import machine_summary, write_section  # noqa: E402

import guiagent  # noqa: E402
from guiagent import Box, Desktop, Frame, Point, Screen, VirtualDisplay  # noqa: E402
from guiagent.agent.language import ClickStep, TargetRef, plan  # noqa: E402
from guiagent.agent.loop import _pick  # noqa: E402
from guiagent.elements import locate as elements_locate  # noqa: E402
from guiagent.elements.snapshot import take_snapshot  # noqa: E402
from guiagent.errors import AmbiguousTarget, TargetNotFound  # noqa: E402
from guiagent.grounding import locate_all as pixels_locate_all  # noqa: E402
from guiagent.platform.atspi import AtspiAccessibility  # noqa: E402
from guiagent.platform.x11.windows import X11Windows  # noqa: E402

SIZE = (3840, 2160)
PAGES = HERE / "elements_pages"
ARMS = ("before", "after, no a11y", "after, a11y")
GTK_ENV = {"GSETTINGS_BACKEND": "memory"}

# -- results ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    app: str
    scale: str
    theme: str
    kind: str
    ui: str  # text | icon
    instruction: str
    arm: str
    status: str  # right | wrong | not found | ambiguous | unsupported | error | self
    source: str = ""
    ms: float = 0.0
    detail: str = ""


RESULTS: list[Outcome] = []


def record(outcome: Outcome) -> None:
    RESULTS.append(outcome)
    if outcome.status not in ("right", "self"):
        print(f"  [{outcome.app} {outcome.scale} {outcome.theme}] {outcome.arm}: "
              f"{outcome.instruction!r} -> {outcome.status} {outcome.source} {outcome.detail}",
              file=sys.stderr, flush=True)


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
    subprocess.run(["xdotool", "mousemove", str(SIZE[0] - 40), str(SIZE[1] - 40)], env=vd.env,
                   check=False)


def end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_tree(reader: AtspiAccessibility, window: str, name: str, timeout: float = 90) -> bool:
    """Until a node called ``name`` shows in ``window`` and the node count stops changing."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        try:
            tree = reader.snapshot(window=window, timeout=10, max_nodes=20000)
        except Exception:
            time.sleep(1.0)
            continue
        if any(n.name == name for n in tree.nodes) and len(tree.nodes) == last:
            return True
        last = len(tree.nodes)
        time.sleep(1.0)
    return False


# -- one target, every arm --------------------------------------------------------------------


def target_of(instruction: str) -> TargetRef:
    steps, _ = plan(instruction)
    step = steps[0]
    assert isinstance(step, ClickStep), instruction
    return step.target


# The display's window list, as a Desktop passes it: places vision elements and OCR in windows
# for "... in the Y window" (the "after" arms; "before" is the pixel grounders alone).
WINDOW_LIST: X11Windows | None = None


def predict(arm: str, frame: Frame, ref: TargetRef,
            reader: AtspiAccessibility | None) -> tuple[str, Point | None, str, float, str]:
    """(status, screen point, source, ms, detail) of one arm on one target."""
    started = time.perf_counter()
    try:
        if arm == "before":
            matches = pixels_locate_all(frame, ref.spec, limit=5)
        else:
            matches = elements_locate.locate_all(
                frame, ref.spec, accessibility=reader if arm == "after, a11y" else None,
                windows=WINDOW_LIST, limit=5)
        match = _pick(ref, matches)
    except AmbiguousTarget as exc:
        return "ambiguous", None, "", (time.perf_counter() - started) * 1000, str(exc)[:160]
    except TargetNotFound as exc:
        return "not found", None, "", (time.perf_counter() - started) * 1000, str(exc)[:120]
    except Exception as exc:
        name = type(exc).__name__
        status = "unsupported" if name in ("GrounderUnavailable", "ModelLoadError",
                                           "ModelServerError") else "error"
        return status, None, "", (time.perf_counter() - started) * 1000, f"{name}: {exc}"[:160]
    ms = (time.perf_counter() - started) * 1000
    point = match.screen_point or frame.to_screen(match.point)
    return "hit", point, match.grounder, ms, repr(match.text)


def score_target(frame: Frame, instruction: str, truth: Box, meta: dict[str, str],
                 reader: AtspiAccessibility | None, *, a11y_truth: bool = False,
                 arms: tuple[str, ...] = ARMS) -> None:
    ref = target_of(instruction)
    for arm in arms:
        status, point, source, ms, detail = predict(arm, frame, ref, reader)
        if status == "hit":
            assert point is not None
            if a11y_truth and source == "elements:a11y":
                status = "self"  # the truth is the tree itself: not scored against it
            else:
                status = "right" if truth.expanded(0.5).contains(point) else "wrong"
            detail = f"{detail} at ({point.x:.0f},{point.y:.0f}), truth {truth}"
        record(Outcome(meta["app"], meta["scale"], meta["theme"], meta["kind"], meta["ui"],
                       instruction, arm, status, source, ms, detail))


# -- Chromium: two windows at once ------------------------------------------------------------

COLLECT_GT = """JSON.stringify({dpr: devicePixelRatio, outerHeight: outerHeight,
  innerHeight: innerHeight, boxes: Object.fromEntries([...document.querySelectorAll('[data-gt]')]
  .map(e => { const r = e.getBoundingClientRect();
              return [e.dataset.gt, [r.left, r.top, r.right, r.bottom]]; }))})"""

# (phrasing kind, instruction, window title, data-gt key)
CHROMIUM_TARGETS: list[tuple[str, str, str, str]] = [
    ("quoted label", 'click "Duplicate"', "Invoices", "button:Duplicate"),
    ("quoted label", 'click "Print preview"', "Invoices", "button:Print preview"),
    ("quoted label", 'click "Reset all"', "Settings", "button:Reset all"),
    ("quoted label", 'click "Wrap long lines"', "Invoices", "check:Wrap long lines"),
    ("the X button", "click the Archive button", "Invoices", "button:Archive"),
    ("the X button", "click the Send reminder button", "Invoices", "button:Send reminder"),
    ("the X button", "press the Reset all button", "Settings", "button:Reset all"),
    ("the X button", "click the Duplicate button", "Invoices", "button:Duplicate"),
    ('the "X" checkbox', 'toggle the "Show grid" checkbox', "Invoices", "check:Show grid"),
    ('the "X" checkbox', 'check the "Snap to guides" checkbox', "Invoices", "check:Snap to guides"),
    ('the "X" checkbox', 'uncheck the "Autosave" checkbox', "Invoices", "check:Autosave"),
    ('the "X" checkbox', 'toggle the "Email receipts" checkbox', "Invoices", "check:Email receipts"),
    ('the "X" checkbox', 'check the "Dark mode" checkbox', "Settings", "check:Dark mode"),
    ('the "X" checkbox', 'toggle the "Compact rows" checkbox', "Settings", "check:Compact rows"),
    ("open the X menu", "open the File menu", "Invoices", "menu:File"),
    ("open the X menu", "open the Edit menu", "Invoices", "menu:Edit"),
    ("open the X menu", "open the View menu", "Invoices", "menu:View"),
    ("open the X menu", "open the Format menu", "Invoices", "menu:Format"),
    ("open the X menu", "open the Tools menu", "Invoices", "menu:Tools"),
    ("open the X menu", "open the Help menu", "Invoices", "menu:Help"),
    ("second/rightmost X", "click the second Apply button", "Invoices", "apply:2"),
    ("second/rightmost X", "click the rightmost Apply button", "Invoices", "apply:3"),
    ("second/rightmost X", "click the first Apply button", "Invoices", "apply:1"),
    ("second/rightmost X", "click the third Remove button", "Invoices", "remove:3"),
    ("second/rightmost X", "click the last Remove button", "Invoices", "remove:4"),
    ("second/rightmost X", "click the second Remove button", "Invoices", "remove:2"),
    ("X in the Y window", "click Save in the Settings window", "Settings", "button:Save"),
    ("X in the Y window", "click Save in the Invoices window", "Invoices", "button:Save"),
    ("X in the Y window", "click Export in the Settings window", "Settings", "button:Export"),
    ("X in the Y window", "click Export in the Invoices window", "Invoices", "button:Export"),
    ("the field below X", 'click the field below "Name"', "Invoices", "field:Name"),
    ("the field below X", "click the field below Email address", "Invoices", "field:Email address"),
    ("the field below X", 'click the field below "Project code"', "Invoices", "field:Project code"),
    ("the field below X", "click the field below Due date", "Invoices", "field:Due date"),
    ("the field below X", 'click the field below "Display name"', "Settings", "field:Display name"),
    ("the field below X", "click the field below Time zone", "Settings", "field:Time zone"),
    ("open the link <dash>", "open the link Release notes – version 2.4 – what changed",
     "Invoices", "link:Release notes – version 2.4 – what changed"),
    ("open the link <dash>", "open the link Getting started - a ten-minute tour",
     "Invoices", "link:Getting started - a ten-minute tour"),
    ("open the link <dash>", "open the link Billing FAQ — refunds and credits",
     "Invoices", "link:Billing FAQ — refunds and credits"),
]


def run_chromium(vd: VirtualDisplay, reader: AtspiAccessibility, scales: list[float],
                 themes: list[str]) -> None:
    import generate
    from cdp import launch

    for scale in scales:
        for theme in themes:
            meta = {"app": "chromium", "scale": f"{scale:g}x", "theme": theme, "ui": "text"}
            with ExitStack() as stack, Screen(vd.name) as screen:
                browsers = {}
                for n, title in enumerate(("Invoices", "Settings")):
                    x, y, w, h = 20 + n * 1910, 40, 1880, 2080
                    url = (PAGES / f"{title.lower()}.html").as_uri() + f"?theme={theme}&fs=14"
                    profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="el-chr-"))
                    browser = launch(vd, url, profile=profile, scale=scale,
                                     position=(round(x / scale), round(y / scale)),
                                     size=(round(w / scale), round(h / scale)),
                                     extra_args=["--force-renderer-accessibility"])
                    stack.callback(browser.close)
                    generate.wait_for_window(vd.name, browser.process.pid)
                    browsers[title] = browser
                for title, name in (("Invoices", "Send reminder"), ("Settings", "Reset all")):
                    if not wait_tree(reader, title, name, timeout=60):
                        print(f"  chromium {title}: accessibility tree not ready", file=sys.stderr)
                park(vd)
                frame = still(screen)
                truth: dict[tuple[str, str], Box] = {}
                for title, browser in browsers.items():
                    info = json.loads(browser.evaluate(COLLECT_GT))
                    client, _frame_box, _stacking = generate.x_window(vd.name, browser.process.pid)
                    dpr = float(info["dpr"])
                    rendering = generate._decode_png(browser.screenshot())
                    top = round((info["outerHeight"] - info["innerHeight"]) * dpr)
                    origin, _ = generate.find_origin(frame.bgr(), rendering,
                                                     (int(client.left), int(client.top) + top))
                    for key, (x1, y1, x2, y2) in info["boxes"].items():
                        truth[(title, key)] = Box.from_corners(
                            x1 * dpr + origin[0], y1 * dpr + origin[1],
                            x2 * dpr + origin[0], y2 * dpr + origin[1])
                _clear_caches()
                for kind, instruction, title, key in CHROMIUM_TARGETS:
                    score_target(frame, instruction, truth[(title, key)],
                                 dict(meta, kind=kind), reader)


# -- Tk ---------------------------------------------------------------------------------------


def tk_targets(samples: list[dict[str, Any]]) -> Iterator[tuple[str, str, Box]]:
    for s in samples:
        if s["kind"] != "text" or not s.get("text"):
            continue
        text, tag = s["text"], s["tag"]
        box = Box.from_corners(*s["rect"])
        label = text.rstrip(":").replace("…", "")
        if tag == "Menubutton":
            yield "open the X menu", f"open the {label} menu", box
        elif tag == "TButton":
            yield "the X button", f"click the {label} button", box
            yield "quoted label", f'click "{text}"', box
        elif tag == "TCheckbutton":
            yield 'the "X" checkbox', f'toggle the "{text}" checkbox', box
        elif tag == "TRadiobutton":
            yield "quoted label", f'select "{text}"', box
        elif tag in ("TLabel", "Treeview.cell"):
            yield "quoted label", f'click "{text}"', box


def run_tk(vd: VirtualDisplay, reader: AtspiAccessibility, scales: list[float],
           themes: list[str]) -> None:
    for scale in scales:
        for theme in themes:
            meta = {"app": "tk", "scale": f"{scale:g}x", "theme": theme, "ui": "text"}
            with tempfile.TemporaryDirectory(prefix="el-tk-") as tmp:
                report = Path(tmp) / "report.json"
                w, h = (1500, 950) if scale == 1 else (2800, 1900)
                process = vd.launch([sys.executable, str(HERE / "devset" / "tkapp.py"),
                                     str(report), "--geometry", f"{w}x{h}+200+120", "--theme",
                                     theme, "--scale", f"{scale:g}", "--font-px", "13"])
                try:
                    deadline = time.monotonic() + 30
                    while not report.exists():
                        if time.monotonic() > deadline:
                            raise RuntimeError("tkapp.py wrote no report")
                        time.sleep(0.1)
                    time.sleep(0.3)
                    park(vd)
                    info = json.loads(report.read_text(encoding="utf-8"))
                    with Screen(vd.name) as screen:
                        frame = still(screen)
                    _clear_caches()
                    for kind, instruction, box in tk_targets(info["samples"]):
                        score_target(frame, instruction, box, dict(meta, kind=kind), reader)
                finally:
                    end(process)


# -- LibreOffice Writer -----------------------------------------------------------------------

WRITER = "LibreOffice Writer"
WRITER_MENUS = ("File", "Edit", "View", "Insert", "Format", "Styles", "Table", "Form", "Tools",
                "Window", "Help")


@contextmanager
def writer(vd: VirtualDisplay, reader: AtspiAccessibility, scale: int,
           theme: str) -> Iterator[subprocess.Popen[bytes]]:
    with tempfile.TemporaryDirectory(prefix="el-lo-") as tmp:
        env = dict(GTK_ENV, SAL_USE_VCLPLUGIN="gtk3", HOME=tmp, XDG_CONFIG_HOME=f"{tmp}/config",
                   GDK_SCALE=str(scale))
        if theme == "dark":
            env["GTK_THEME"] = "Adwaita:dark"
        process = vd.launch(["soffice", "--writer", "--norestore", "--nologo",
                             f"-env:UserInstallation=file://{tmp}/lo"], env=env,
                            start_new_session=True)
        try:
            if not wait_tree(reader, WRITER, "Bold", timeout=120):
                raise RuntimeError("Writer's accessibility tree did not show Bold")
            yield process
        finally:
            _end_group(process)


def _end_group(process: subprocess.Popen[bytes]) -> None:
    import os
    import signal

    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def a11y_boxes(reader: AtspiAccessibility, window: str) -> list[tuple[str, str, Box, frozenset[str]]]:
    tree = reader.snapshot(window=window, timeout=10, max_nodes=20000)
    return [(n.role, n.name, Box(*n.box), frozenset(n.states)) for n in tree.nodes
            if n.box is not None and n.box[2] > 0 and n.box[3] > 0 and "showing" in n.states]


def run_writer_menus(vd: VirtualDisplay, reader: AtspiAccessibility,
                     configs: list[tuple[int, str]]) -> None:
    for scale, theme in configs:
        meta = {"app": "writer (gtk3)", "scale": f"{scale}x", "theme": theme, "ui": "text",
                "kind": "open the X menu"}
        with writer(vd, reader, scale, theme), Screen(vd.name) as screen:
            park(vd)
            frame = still(screen)
            nodes = a11y_boxes(reader, WRITER)
            _clear_caches()
            for name in WRITER_MENUS:
                # The first "menu" node of that name in tree order: the menu bar people see
                # (Writer's tree also lists a second, overlapping copy lower down).
                boxes = [b for role, n, b, _ in nodes if role == "menu" and n == name]
                if not boxes:
                    print(f"  writer: no menu {name!r} in the tree", file=sys.stderr)
                    continue
                score_target(frame, f"open the {name} menu", boxes[0], meta, reader,
                             a11y_truth=True)


# -- Writer toolbar icons (accessibility on) --------------------------------------------------

# (what a person calls it, the accessible name whose "checked" state must flip)
ICONS: list[tuple[str, str]] = [
    ("the Bold button", "Bold"), ("the Italic button", "Italic"),
    ("the Underline button", "Underline"), ("the Strikethrough button", "Strikethrough"),
    ("the Superscript button", "Superscript"), ("the Subscript button", "Subscript"),
    ("the Center button", "Center"), ("the Right button", "Right"),
    ("the Justified button", "Justified"), ("the Left button", "Left"),
    ("the Unordered List button", "Unordered List"), ("the Ordered List button", "Ordered List"),
    ("the Formatting Marks button", "Formatting Marks"),
]


def checked(reader: AtspiAccessibility, name: str) -> bool | None:
    for role, n, _box, states in a11y_boxes(reader, WRITER):
        if n == name and role in ("toggle button", "button"):
            return "checked" in states or "pressed" in states
    return None


def toolbar_box(reader: AtspiAccessibility, name: str) -> Box | None:
    for role, n, box, _ in a11y_boxes(reader, WRITER):
        if n == name and role in ("toggle button", "button") and box.top < 400:
            return box
    return None


STEP_TIMES: list[dict[str, Any]] = []


def run_icons(vd: VirtualDisplay, reader: AtspiAccessibility) -> None:
    meta = {"app": "writer (gtk3)", "scale": "1x", "theme": "light", "ui": "icon",
            "kind": "icon named in words"}
    with writer(vd, reader, 1, "light"), Screen(vd.name) as screen, \
            Desktop(vd, abort_hotkey=None, failsafe=False) as desktop:
        desktop.type("Elements benchmark")
        desktop.press("ctrl+a")
        time.sleep(0.5)
        park(vd)
        frame = still(screen)
        _clear_caches()
        # Before / vision: scored against the control's accessibility box, nothing clicked.
        for phrase, name in ICONS:
            box = toolbar_box(reader, name)
            if box is None:
                print(f"  writer: no toolbar control {name!r}", file=sys.stderr)
                continue
            score_target(frame, f"click {phrase}", box, meta, reader,
                         arms=("before", "after, no a11y"))
        # Accessibility: click through `do` and read the control's own state.
        for phrase, name in ICONS:
            was = checked(reader, name)
            started = time.perf_counter()
            report = guiagent.do(desktop, f"click {phrase}")
            wall = (time.perf_counter() - started) * 1000
            step = report.steps[0] if report.steps else None
            now = None
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                now = checked(reader, name)
                if now is not None and now != was:
                    break
                time.sleep(0.1)
            ok = report.ok and was is not None and now is not None and now != was
            source = step.matches[0].get("grounder", "") if step and step.matches else ""
            detail = f"checked {was} -> {now}" + (f"; {step.error}" if step and step.error else "")
            record(Outcome(meta["app"], "1x", "light", meta["kind"], "icon", f"click {phrase}",
                           "after, a11y", "right" if ok else ("wrong" if report.ok else
                                                               "not found"), source, wall, detail))
            if step is not None:
                STEP_TIMES.append({"app": "writer", "command": f"click {phrase}",
                                   "a11y": True, "wall_ms": wall, **step.timings.to_dict()})
            desktop.press("Escape")


# -- galculator: one-character buttons --------------------------------------------------------

# label -> (keys typed before the click, keys typed after it, the display expected).
CALC_CHECKS: dict[str, tuple[str, str, str]] = {
    **{d: ("", "", d) for d in "0123456789"},
    "+": ("12", "3=", "15"), "-": ("12", "3=", "9"), "*": ("12", "3=", "36"),
    "/": ("12", "3=", "4"), ".": ("1", "5", "1.5"), "=": ("12+3", "", "15"),
    "C": ("12", "", "0"),
}


def clipboard(vd: VirtualDisplay) -> str:
    out = subprocess.run(["xclip", "-o", "-selection", "clipboard"], env=vd.env,
                         capture_output=True, text=True, timeout=5, check=False)
    return out.stdout.strip()


def calc_display(vd: VirtualDisplay, desktop: Desktop) -> str:
    desktop.press("ctrl+c")
    time.sleep(0.2)
    return clipboard(vd)


def run_calc(vd: VirtualDisplay, reader: AtspiAccessibility, configs: list[tuple[int, str]],
             command_runs: int) -> None:
    for scale, theme in configs:
        meta = {"app": "galculator", "scale": f"{scale}x", "theme": theme, "ui": "text",
                "kind": "one-character button"}
        with tempfile.TemporaryDirectory(prefix="el-calc-") as home:
            env = dict(GTK_ENV, HOME=home, XDG_CONFIG_HOME=home, GDK_SCALE=str(scale))
            if theme == "dark":
                env["GTK_THEME"] = "Adwaita:dark"
            process = vd.launch(["galculator"], env=env)
            try:
                with Desktop(vd, abort_hotkey=None, failsafe=False) as desktop, \
                        Screen(vd.name) as screen:
                    wait_tree(reader, "galculator", "AC", timeout=30)
                    for label, (before, after, expected) in CALC_CHECKS.items():
                        instruction = f'click "{label}"'
                        ref = target_of(instruction)
                        for arm in ARMS:
                            desktop.press("Escape")
                            if before:
                                desktop.type(before)
                            park(vd)
                            frame = still(screen, timeout=3)
                            status, point, source, ms, detail = predict(arm, frame, ref, reader)
                            if status == "hit":
                                assert point is not None
                                desktop.click(point)
                                park(vd)
                                if after:
                                    desktop.type(after)
                                shown = calc_display(vd, desktop)
                                status = "right" if shown == expected else "wrong"
                                detail = f"display {shown!r}, expected {expected!r}; {detail}"
                            record(Outcome(meta["app"], meta["scale"], theme, meta["kind"],
                                           "text", instruction, arm, status, source, ms, detail))
                    if command_runs:
                        calc_command(vd, desktop, reader, command_runs)
            finally:
                end(process)


CALC_COMMAND = 'click "1", click "2", click "+", click "3", click "0", click "="'


def calc_command(vd: VirtualDisplay, desktop: Desktop, reader: AtspiAccessibility,
                 runs: int) -> None:
    """The issue's calculator command through `do`, with and without accessibility."""
    for use_a11y in (True, False):
        with Desktop(vd, abort_hotkey=None, failsafe=False, accessibility=use_a11y) as d:
            for _ in range(runs):
                d.press("Escape")
                started = time.perf_counter()
                report = guiagent.do(d, CALC_COMMAND)
                wall = (time.perf_counter() - started) * 1000
                result = calc_display(vd, d)
                STEP_TIMES.append({"app": "galculator", "command": CALC_COMMAND, "a11y": use_a11y,
                                   "wall_ms": wall, "steps": len(report.steps),
                                   "ok": report.ok and result == "42", "result": result,
                                   "step_timings": [s.timings.to_dict() for s in report.steps]})
                print(f"  calculator command (a11y={use_a11y}): {result!r} in {wall:.0f} ms",
                      file=sys.stderr, flush=True)


# -- snapshot times ---------------------------------------------------------------------------

SNAPSHOT_TIMES: list[dict[str, Any]] = []


def run_snapshot(vd: VirtualDisplay, reader: AtspiAccessibility, runs: int) -> None:
    import atspi_snapshot

    apps: list[tuple[str, Callable[[ExitStack], None]]] = []

    def start_writer(stack: ExitStack) -> None:
        stack.enter_context(writer(vd, reader, 1, "light"))

    def start_chromium(stack: ExitStack) -> None:
        from cdp import launch

        profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="el-chr-"))
        url = (PAGES / "invoices.html").as_uri() + "?theme=light&fs=14"
        browser = launch(vd, url, profile=profile, scale=1.0, position=(0, 0), size=(3840, 2100),
                         extra_args=["--force-renderer-accessibility"])
        stack.callback(browser.close)
        wait_tree(reader, "Invoices", "Send reminder", timeout=60)

    apps = [(WRITER, start_writer), ("Invoices", start_chromium)]
    for title, start in apps:
        with ExitStack() as stack, Desktop(vd, abort_hotkey=None, failsafe=False) as desktop:
            start(stack)
            park(vd)
            time.sleep(1.0)
            row: dict[str, Any] = {"app": title}
            times, counts = [], 0
            for _ in range(runs + 1):
                started = time.perf_counter()
                tree = reader.snapshot(window=title, max_nodes=100_000, timeout=30.0)
                times.append(time.perf_counter() - started)
                counts = len(tree.nodes)
            row["reader_s"], row["reader_nodes"] = statistics.median(times[1:]), counts
            for vision in (False, True):
                times = []
                n = 0
                for _ in range(runs + 1 if not vision else max(2, runs // 2)):
                    _clear_caches()
                    started = time.perf_counter()
                    snap = take_snapshot(desktop, window=title, vision=vision)
                    times.append(time.perf_counter() - started)
                    n = len(snap.elements)
                key = "take_snapshot_vision" if vision else "take_snapshot"
                row[f"{key}_s"], row[f"{key}_elements"] = statistics.median(times[1:]), n
            walk = atspi_snapshot.pyatspi_walk(vd, title, runs)
            row["pyatspi_s"] = walk["median_s"] if walk else None
            row["pyatspi_nodes"] = walk["nodes"] if walk else None
            SNAPSHOT_TIMES.append(row)
            print(f"  snapshot {row}", file=sys.stderr, flush=True)


# -- the report -------------------------------------------------------------------------------


def _clear_caches() -> None:
    from guiagent.grounding import get_grounder

    try:
        clear = getattr(get_grounder("ocr"), "clear_cache", None)
        if clear is not None:
            clear()
    except Exception:
        pass


def _rate(rows: list[Outcome]) -> str:
    scored = [r for r in rows if r.status != "self"]
    if not scored:
        return "-"
    right = sum(r.status == "right" for r in scored)
    return f"{right / len(scored):.2f} ({right}/{len(scored)})"


def accuracy_table(rows: list[Outcome], key: Callable[[Outcome], str], title: str) -> list[str]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    lines = [f"| {title} | before | after, no a11y | after, a11y |", "| --- | --- | --- | --- |"]
    for name in sorted(groups):
        by_arm = {arm: [r for r in groups[name] if r.arm == arm] for arm in ARMS}
        cells = []
        for arm in ARMS:
            cell = _rate(by_arm[arm])
            selfs = sum(r.status == "self" for r in by_arm[arm])
            if selfs:
                cell += f" +{selfs} self"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    total = {arm: [r for r in rows if r.arm == arm] for arm in ARMS}
    lines.append("| **all** | " + " | ".join(_rate(total[a]) for a in ARMS) + " |")
    return lines


def misses_table(rows: list[Outcome]) -> list[str]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        if r.status not in ("right", "self"):
            counts[(r.arm, r.status)] += 1
    if not counts:
        return []
    return ["Misses by arm: " + "; ".join(f"{arm}: {n} {status}" for (arm, status), n in
                                          sorted(counts.items()))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(sections: set[str]) -> str:
    text_rows = [r for r in RESULTS if r.ui == "text" and r.kind != "one-character button"]
    calc_rows = [r for r in RESULTS if r.kind == "one-character button"]
    icon_rows = [r for r in RESULTS if r.ui == "icon"]
    out: list[str] = []
    if text_rows:
        out += ["Text targets, right = click point inside the application's own box "
                "(\"self\" = taken from the accessibility tree where the tree is also the truth: "
                "not scored):", ""]
        out += accuracy_table(text_rows, lambda r: r.kind, "phrasing kind")
        out += [""]
        out += accuracy_table(text_rows, lambda r: r.app, "ui type (application)")
        out += [""]
        out += accuracy_table(text_rows, lambda r: f"{r.scale} {r.theme}", "scale / theme")
        out += ["", *misses_table(text_rows)]
        by_arm = {arm: [r.ms for r in text_rows if r.arm == arm] for arm in ARMS}
        out += ["", "Median ms per text target (same frame; OCR readings cached per frame): "
                + ", ".join(f"{a} {median(v):.0f}" for a, v in by_arm.items())]
    if calc_rows:
        out += ["", "One-character buttons on galculator (clicked; right = the calculator's own "
                "display, copied to the clipboard, shows what the button does):", ""]
        out += accuracy_table(calc_rows, lambda r: f"{r.scale} {r.theme}", "scale / theme")
        out += ["", *misses_table(calc_rows)]
    if icon_rows:
        out += ["", "Icon-only controls named in words, LibreOffice Writer toolbar (after, a11y: "
                "clicked through `guiagent.do`, right = the control's own checked state flipped; "
                "before / no a11y: click point inside the control's accessibility box, not "
                "clicked):", ""]
        out += accuracy_table(icon_rows, lambda r: r.kind, "target")
    if SNAPSHOT_TIMES:
        out += ["", "Snapshot times at 3840x2160 (median s; the first run warms up):", "",
                "| application | reader.snapshot (nodes) | take_snapshot, a11y only (elements) | "
                "take_snapshot + vision (elements) | pyatspi walk (nodes) | pyatspi / reader |",
                "| --- | --- | --- | --- | --- | --- |"]
        for row in SNAPSHOT_TIMES:
            walk = (f"{row['pyatspi_s']:.3f} ({row['pyatspi_nodes']})"
                    if row.get("pyatspi_s") is not None else "n/a")
            ratio = (f"{row['pyatspi_s'] / row['reader_s']:.1f}x"
                     if row.get("pyatspi_s") else "-")
            out.append(f"| {row['app']} | {row['reader_s']:.3f} ({row['reader_nodes']}) | "
                       f"{row['take_snapshot_s']:.3f} ({row['take_snapshot_elements']}) | "
                       f"{row['take_snapshot_vision_s']:.3f} "
                       f"({row['take_snapshot_vision_elements']}) | {walk} | {ratio} |")
    if STEP_TIMES:
        out += ["", "Time per `guiagent.do` command step (median ms):", "",
                "| command | accessibility | steps | ok | wall per step | ground | capture | act "
                "| verify |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        groups: dict[tuple[str, bool], list[dict[str, Any]]] = defaultdict(list)
        for row in STEP_TIMES:
            key = ("click the X button (Writer icons)" if row["app"] == "writer"
                   else row["command"])
            groups[(key, row["a11y"])].append(row)
        for (command, a11y), rows in groups.items():
            steps = []
            walls = []
            for row in rows:
                if "step_timings" in row:
                    steps += row["step_timings"]
                    walls.append(row["wall_ms"] / max(1, row["steps"]))
                else:
                    steps.append({k: v for k, v in row.items() if k.endswith("_ms")})
                    walls.append(row["wall_ms"])
            ok = sum(bool(r.get("ok", True)) for r in rows)

            def med(name: str, steps: list[dict[str, Any]] = steps) -> str:
                values = [s[name] for s in steps if name in s]
                return f"{median(values):.0f}" if values else "-"

            out.append(f"| `{command}` | {'on' if a11y else 'off'} | {len(steps)} | "
                       f"{ok}/{len(rows)} | {median(walls):.0f} | {med('ground_ms')} | "
                       f"{med('capture_ms')} | {med('act_ms')} | {med('verify_ms')} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1x light only, fewer runs")
    parser.add_argument("--only", action="append",
                        choices=["chromium", "tk", "writer", "calc", "icons", "snapshot", "none"],
                        help="parts to run (none: only report --merge results)")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    parser.add_argument("--merge", type=Path, action="append", default=[],
                        help="add the outcomes of earlier --json runs to the report")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    scales = [1.0] if args.quick else [1.0, 2.0]
    themes = ["light"] if args.quick else ["light", "dark"]
    pairs = [(1, "light")] if args.quick else [(1, "light"), (2, "dark")]
    only = set(args.only or ["chromium", "tk", "writer", "calc", "icons", "snapshot"])
    for program in ("chromium", "soffice", "galculator", "xclip", "xdotool"):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is not installed (bash .ci/install)")
    for path in args.merge:
        data = json.loads(path.read_text(encoding="utf-8"))
        RESULTS.extend(Outcome(**r) for r in data["outcomes"])
        SNAPSHOT_TIMES.extend(data.get("snapshot", []))
        STEP_TIMES.extend(data.get("steps", []))
    started = time.monotonic()
    if only - {"none"}:
        with VirtualDisplay(SIZE, accessibility=True) as vd:
            global WINDOW_LIST
            reader = AtspiAccessibility(vd.name)
            WINDOW_LIST = X11Windows(vd.name)
            try:
                for name, run in (
                    ("chromium", lambda: run_chromium(vd, reader, scales, themes)),
                    ("tk", lambda: run_tk(vd, reader, scales, themes)),
                    ("writer", lambda: run_writer_menus(vd, reader, pairs)),
                    ("icons", lambda: run_icons(vd, reader)),
                    ("calc", lambda: run_calc(vd, reader, pairs, 1 if args.quick else 3)),
                    ("snapshot", lambda: run_snapshot(vd, reader, 3 if args.quick else args.runs)),
                ):
                    if name in only:
                        t = time.monotonic()
                        try:
                            run()
                        except Exception:
                            traceback.print_exc()
                        print(f"{name}: {time.monotonic() - t:.0f} s", file=sys.stderr,
                              flush=True)
            finally:
                reader.close()
                WINDOW_LIST.close()
    if args.json:
        args.json.write_text(json.dumps({"outcomes": [vars(r) for r in RESULTS],
                                         "snapshot": SNAPSHOT_TIMES, "steps": STEP_TIMES},
                                        indent=1, ensure_ascii=False), encoding="utf-8")
    body = report(only)
    print(body)
    print(f"elapsed {time.monotonic() - started:.0f} s", file=sys.stderr)
    if not args.no_write:
        intro = ("`benchmarks/elements.py`: before = pixel grounders alone "
                 "(`guiagent.grounding.locate_all`), after = elements first "
                 "(`guiagent.elements.locate_all`) without and with the AT-SPI reader, on the "
                 "same 3840x2160 frames (Xvfb, private accessibility bus). Targets come from the "
                 "instruction through the command language; one match is chosen as `do` chooses "
                 "(equally good matches = ambiguous = wrong). Ground truth: DOM boxes (CDP) for "
                 "two Chromium windows at once, Tk widget geometry, Writer's accessibility boxes "
                 "(only for predictions not taken from the tree), galculator's own display, "
                 "Writer's own toggle states.")
        write_section("UI elements: before and after, by phrasing kind (issue 13)",
                      intro + "\n\n" + body + "\n\n" + machine_summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
