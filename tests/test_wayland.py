"""Wayland: real applications on a headless 3840x2160 sway session, driven through Desktop.

foot and mousepad (native Wayland), xterm and the Tk probe (X11 through Xwayland) run on sway;
guiagent captures them with grim, moves and clicks through its virtual pointer, types through
its virtual keyboard (one keymap whose keycodes keep their meaning), and each test checks what
the application itself received (the text it wrote to a file, the events the Tk probe logged
with their screen coordinates). ``do``, replay, the MCP session and the pytest plugin's
``desktop`` fixture run on sway too, and the pointer's accuracy is checked at output scale 1
and 2.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import APPS, ProbeApp, start_probe

import guiagent
from guiagent import Desktop
from guiagent.errors import PlatformUnsupported
from guiagent.platform import WindowInfo, platform_for, session_type_for
from guiagent.platform.wayland.virtual_keyboard import MAX_CODE, NAMED_CODES, Keymap
from guiagent.platform.wayland.wlroots import ppm_to_bgra
from guiagent.screen.processes import end_program
from guiagent.screen.wayland_display import VirtualWaylandDisplay

UNICODE = "héllo wörld ✓ 日本 Ça va, ÀÉÎÕÜ € Ωmega"  # the text the X11 input test types
FOOT_BLUE = "3060c0"

_MISSING = [tool for tool in ("sway", "grim", "foot") if shutil.which(tool) is None]
needs_sway = pytest.mark.skipif(
    bool(_MISSING), reason=f"{', '.join(_MISSING)} not installed (`apt-get install sway grim "
                           "foot xwayland`; .ci/install does it)")


# -- without a compositor ----------------------------------------------------------------------
def test_display_names_pick_the_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUIAGENT_PLATFORM", raising=False)
    assert session_type_for(":99") == "x11"
    assert session_type_for("/run/user/1000/wayland-1") == "wayland"
    assert session_type_for("wayland-0") == "wayland"
    monkeypatch.setenv("GUIAGENT_PLATFORM", "x11")  # the override wins over the name
    assert session_type_for("wayland-0") == "x11"


def test_ppm_from_grim_becomes_bgra() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]], np.uint8)
    pixels = ppm_to_bgra(b"P6\n# grim\n2 2\n255\n" + rgb.tobytes())
    assert pixels.shape == (2, 2, 4)
    assert pixels[0, 0].tolist() == [0, 0, 255, 255] and pixels[1, 1].tolist() == [30, 20, 10, 255]


@pytest.mark.parametrize("desktop", ["GNOME", "KDE"])
def test_gnome_and_kde_say_what_works_instead_of_failing_later(
        desktop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tmp_path / "wayland-0"))  # a compositor without sway's IPC
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", desktop)
    monkeypatch.delenv("SWAYSOCK", raising=False)
    monkeypatch.delenv("GUIAGENT_PLATFORM", raising=False)
    platform = platform_for("wayland-0")
    try:
        for call in (lambda: platform.windows("wayland-0"),
                     lambda: platform.unicode_typist("wayland-0")):
            with pytest.raises(PlatformUnsupported, match="xdg-desktop-portal ScreenCast") as info:
                call()
            assert "X11 session" in str(info.value) and "ground targets" in str(info.value)
        with pytest.raises(PlatformUnsupported, match="cannot capture the screen"):
            Desktop("wayland-0", accessibility=False, abort_hotkey=None).capture()
    finally:
        listener.close()


def test_keymap_grows_without_changing_the_keys_it_has(tmp_path: Path) -> None:
    keymap = Keymap()
    assert keymap.key("\n") == (NAMED_CODES["enter"], False) and keymap.key("A") == (30, True)
    before = dict(keymap.symbols)
    assert keymap.missing("héllo É ✓ ✓") == ["é", "É", "✓"]
    assert keymap.add(["é", "É", "✓"]) == []
    assert keymap.key("é")[0] == keymap.key("É")[0] and keymap.key("É")[1]  # one key, shift
    grown = dict(keymap.symbols)
    assert {code: grown[code] for code in before} == before
    assert keymap.add(["日", "本"]) == []
    assert {code: keymap.symbols[code] for code in grown} == grown
    assert f"<K{keymap.key('日')[0] + 8}>" in keymap.text().decode()
    # A lone upper-case letter sits on both levels (X would read a lone one as a lower case).
    keymap.add(["ß", "ẞ"])
    assert keymap.symbols[keymap.key("ẞ")[0]] == ("U1E9E", "U1E9E") and not keymap.key("ẞ")[1]
    # Past the last keycode Xwayland's clients can see, what does not fit is handed back.
    many = [chr(0x4E00 + i) for i in range(400)]
    left = keymap.add(many)
    assert left and max(keymap.symbols) <= MAX_CODE and len(left) < 400
    xkbcomp = shutil.which("xkbcomp")
    if xkbcomp is not None:  # the X server's compiler reads the map without a complaint
        result = subprocess.run([xkbcomp, "-w", "1", "-", "-o", str(tmp_path / "keymap.xkm")],
                                input=keymap.text()[:-1], capture_output=True, check=False)
        assert result.returncode == 0 and b"arning" not in result.stderr, result.stderr


# -- on headless sway --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wayland(sway_user: str | None) -> Iterator[VirtualWaylandDisplay]:
    if _MISSING:
        pytest.skip(f"{', '.join(_MISSING)} not installed")
    with VirtualWaylandDisplay(user=sway_user, set_environment=False) as display:
        yield display


@pytest.fixture()
def desktop(wayland: VirtualWaylandDisplay) -> Iterator[Desktop]:
    with Desktop(wayland, accessibility=False) as desktop:
        yield desktop
    for process in list(wayland._launched):  # this test's windows, by the PIDs we started
        end_program(process)
    wait_for(lambda: not _windows(wayland), "the test's windows to close")


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _windows(wayland: VirtualWaylandDisplay) -> list[WindowInfo]:
    windows = platform_for(wayland.name).windows(wayland.name)
    try:
        return windows.all()
    finally:
        windows.close()


SWAY_BACKGROUND_BGR = [0x5F, 0x3A, 0x1E]  # VirtualWaylandDisplay's #1e3a5f


def _window(wayland: VirtualWaylandDisplay, title: str) -> WindowInfo:
    """The window whose title ends with ``title``, once it has drawn itself at its centre."""
    window = wait_for(lambda: next((w for w in _windows(wayland) if w.title.endswith(title)), None),
                      f"a window titled {title!r}")
    x, y = _centre(window)
    with Desktop(wayland, accessibility=False, abort_hotkey=None) as look:
        wait_for(lambda: look.capture(region=(x, y, 1, 1)).pixels[0, 0, :3].tolist()
                 != SWAY_BACKGROUND_BGR, f"{title!r} to draw itself")
    return next(w for w in _windows(wayland) if w.title.endswith(title))


def _sink(wayland: VirtualWaylandDisplay, title: str, out: Path, *, xterm: bool = False) -> WindowInfo:
    """A terminal titled ``title`` whose input is written, as typed, to ``out``."""
    command = f"stty -echo; cat > {out}"
    if xterm:
        argv = ["xterm", "-T", title, "-e", "sh", "-c", command]
    else:
        argv = ["foot", "-T", title, "-o", f"colors.background={FOOT_BLUE}", "sh", "-c", command]
    wayland.launch(argv)
    window = _window(wayland, title)
    # The shell opens ``out`` when cat starts: only then is the terminal reading what we type.
    wait_for(out.exists, f"the terminal {title!r} to start reading")
    return window


def _centre(window: WindowInfo) -> tuple[int, int]:
    x, y, width, height = window.box
    return x + width // 2, y + height // 2


def _lines(path: Path, count: int) -> list[str]:
    return wait_for(lambda: path.exists() and path.read_text().count("\n") >= count
                    and path.read_text().split("\n")[:count], f"{count} lines in {path}")


@needs_sway
def test_capture_is_4k_and_shows_the_native_window(wayland: VirtualWaylandDisplay,
                                                    desktop: Desktop, tmp_path: Path) -> None:
    window = _sink(wayland, "blue", tmp_path / "out.txt")
    x, y = _centre(window)
    frame = wait_for(lambda: (f := desktop.capture()).pixels[y, x, :3].tolist() == [0xC0, 0x60, 0x30]
                     and f, "foot's blue background in the capture")
    assert (frame.width, frame.height, frame.scale) == (3840, 2160, 1.0)
    assert desktop.screen.monitors[0].box.width == 3840
    region = desktop.capture(region=(x - 50, y - 40, 100, 80))
    assert region.pixels.shape == (80, 100, 4) and tuple(region.to_screen((0, 0))) == (x - 50, y - 40)
    assert (region.pixels[:, :, :3] == [0xC0, 0x60, 0x30]).all()


@needs_sway
def test_clicks_choose_the_window_and_unicode_arrives_10_of_10(
        wayland: VirtualWaylandDisplay, desktop: Desktop, tmp_path: Path) -> None:
    left_out, right_out = tmp_path / "left.txt", tmp_path / "right.txt"
    left = _sink(wayland, "left", left_out)
    right = _sink(wayland, "right", right_out)  # sway tiles them side by side
    left = _window(wayland, "left")
    assert left.box[0] < right.box[0]
    for i in range(10):  # wtype, used before, lost the first key of some calls
        desktop.click(_centre(right if i % 2 else left))
        desktop.type(f"{i} {UNICODE}")
        desktop.press("enter")
    assert _lines(left_out, 5) == [f"{i} {UNICODE}" for i in range(0, 10, 2)]
    assert _lines(right_out, 5) == [f"{i} {UNICODE}" for i in range(1, 10, 2)]


@needs_sway
def test_keys_and_hotkeys_reach_the_application(wayland: VirtualWaylandDisplay, desktop: Desktop,
                                                tmp_path: Path) -> None:
    out = tmp_path / "keys.txt"
    desktop.click(_centre(_sink(wayland, "keys", out)))
    desktop.type("-dash abc")  # text that starts like a command-line option
    desktop.press("backspace", presses=2)  # the terminal's line editing erases "bc"
    desktop.press("tab")
    desktop.press("ctrl+e")  # plain cat: ctrl+e arrives as the control character ^E
    desktop.press("A")  # a character key that needs shift gets it
    desktop.press("up")  # the terminal sends ESC [ A
    desktop.press("enter")
    assert _lines(out, 1) == ["-dash a\t\x05A\x1b[A"]


@needs_sway
def test_xwayland_xterm_receives_click_and_typing(wayland: VirtualWaylandDisplay, desktop: Desktop,
                                                  tmp_path: Path) -> None:
    if not wayland.x_display:
        pytest.skip("Xwayland not installed (`apt-get install xwayland`)")
    if shutil.which("xterm") is None:
        pytest.skip("xterm not installed")
    out = tmp_path / "xterm.txt"
    other = _sink(wayland, "native", tmp_path / "native.txt")
    xterm = _sink(wayland, "x11", out, xterm=True)
    desktop.click(_centre(other))
    desktop.click(_centre(xterm))
    desktop.type(UNICODE)
    desktop.press("enter")
    # Each line brings characters the keyboard's map lacks: it grows (and is uploaded) while
    # xterm still reads the keys before; those keep their meaning.
    lines = [f"{i} {chr(0x3B1 + i)}{chr(0x4E00 + i)}{chr(0x2600 + i)} ctrl+a" for i in range(7)]
    lines.append("ß ẞ ctrl+a")
    for line in lines:
        desktop.type(line.removesuffix("ctrl+a"))
        desktop.press("ctrl+a")
        desktop.press("enter")
    assert _lines(out, 9) == [UNICODE, *(line.replace("ctrl+a", "\x01") for line in lines)]


@needs_sway
def test_abort_hotkey_works_through_a_sway_binding(wayland: VirtualWaylandDisplay,
                                                   desktop: Desktop, tmp_path: Path) -> None:
    desktop.click(_centre(_sink(wayland, "abort", tmp_path / "abort.txt")))
    assert not desktop.executor.aborted
    desktop.press("ctrl+alt+shift+q")  # as a person would, through the keyboard
    wait_for(lambda: desktop.executor.aborted, "the abort hotkey to stop the run")


@needs_sway
def test_output_scale_2_maps_frame_pixels_to_logical_clicks(sway_user: str | None,
                                                              tmp_path: Path) -> None:
    with VirtualWaylandDisplay(scale=2, user=sway_user, set_environment=False) as wayland, \
            Desktop(wayland, accessibility=False) as desktop:
        assert desktop.screen.monitors[0].box.width == 1920  # logical
        left_out, right_out = tmp_path / "l.txt", tmp_path / "r.txt"
        _sink(wayland, "left", left_out)
        right = _sink(wayland, "right", right_out)
        frame = desktop.capture()
        assert (frame.width, frame.height, frame.scale) == (3840, 2160, 2.0)
        # Right window's centre found in frame pixels, clicked in screen (logical) pixels.
        cx, cy = _centre(right)
        pixel = frame.from_screen((cx, cy))
        assert (round(pixel.x), round(pixel.y)) == (cx * 2, cy * 2)
        desktop.click(frame.to_screen(pixel))
        desktop.type("scaled ✓")
        desktop.press("enter")
        assert _lines(right_out, 1) == ["scaled ✓"]
        assert not left_out.exists() or left_out.read_text() == ""


# -- the Tk probe (an X11 client of Xwayland that logs what it receives) ------------------------
def _probe(wayland: VirtualWaylandDisplay, report: Path, *extra: str) -> tuple[ProbeApp, WindowInfo]:
    """tests/apps/tk_probe.py on Xwayland, ready and drawn; its window as sway places it."""
    if not wayland.x_display:
        pytest.skip("Xwayland not installed (`apt-get install xwayland`)")
    app = start_probe(wayland, report, "--title", report.stem, *extra)
    app.wait_for(lambda ev: any(e["event"] == "ready" for e in ev), what="the probe window")
    return app, _window(wayland, report.stem)


def _pressed(app: ProbeApp) -> list[str]:
    return [e["label"] for e in app.events("button")]


def _typed(app: ProbeApp) -> str:
    return "".join(e["char"] for e in app.events("key"))


@needs_sway
def test_do_clicks_a_labelled_button_and_types(wayland: VirtualWaylandDisplay, desktop: Desktop,
                                               tmp_path: Path) -> None:
    app, _ = _probe(wayland, tmp_path / "buttons.jsonl", "--buttons", "Alpha,Bravo,Charlie,Delta",
                    "--font-size", "14")
    text = "héllo wörld ✓"
    report = guiagent.do(desktop, f'click "Charlie", type "{text}", then click "Alpha"',
                         trace_dir=tmp_path / "trace")
    assert report.ok and [s.status for s in report.steps] == ["done"] * 3
    app.wait_for(lambda ev: _pressed(app) == ["Charlie", "Alpha"] and _typed(app) == text,
                 what="the probe to report both buttons and the text")
    steps = json.loads((tmp_path / "trace" / "trace.json").read_text(encoding="utf-8"))["steps"]
    assert steps[0]["matches"][0]["text"] == "Charlie"


@needs_sway
def test_cli_do_types_and_saves_through_the_menu_of_a_native_gtk_editor(wayland: VirtualWaylandDisplay,
                                                         tmp_path: Path) -> None:
    if shutil.which("mousepad") is None:
        pytest.skip("mousepad not installed")
    note = tmp_path / "note.txt"
    note.write_bytes(b"")
    text = "héllo wörld ✓ 日本 ça"
    wayland.launch(["mousepad", str(note)], env={"GDK_BACKEND": "wayland", "NO_AT_BRIDGE": "1"})
    try:
        with Desktop(wayland, accessibility=False, abort_hotkey=None) as look:
            look.wait_for('"Document"', timeout=30)  # its menu bar (sway draws no title bar)
        result = subprocess.run(
            [sys.executable, "-m", "guiagent", "do",
             # sway focused the new window; the menu is clicked (ctrl+s from wtype did not save)
             f'type "{text}", click "File", then click the first "Save"',
             "--display", wayland.name, "--no-failsafe", "--trace", str(tmp_path / "trace")],
            capture_output=True, text=True, timeout=120, env=wayland.env)
        assert result.returncode == 0, result.stderr
        wait_for(lambda: note.read_bytes() == text.encode(), "mousepad (native Wayland) to save the file")
    finally:
        for process in list(wayland._launched):
            end_program(process)
        wait_for(lambda: not _windows(wayland), "mousepad to close")


@needs_sway
def test_replay_of_a_demo_finds_moved_buttons_on_sway(wayland: VirtualWaylandDisplay,
                                                      desktop: Desktop, tmp_path: Path) -> None:
    from guiagent.recording.format import ClickStep, Demo, KeyStep, PointerTarget, TypeStep, write_demo
    from guiagent.recording.replay import ReplayOptions, replay

    app, window = _probe(wayland, tmp_path / "replay.jsonl", "--buttons", "Alpha,Bravo,Charlie,Delta",
                         "--font-size", "14")
    # A demo as the X11 recorder writes it, recorded where the buttons were elsewhere: the points
    # are 300 px off, so only the words read under them find the buttons again.
    far = (window.box[0] + 1500, window.box[1] + 900)
    demo = Demo(steps=(ClickStep(0.0, PointerTarget(point=far, text="Delta")),
                       TypeStep(1.0, "démo ✓"),
                       ClickStep(2.0, PointerTarget(point=far, text="Bravo")),
                       KeyStep(3.0, "enter")),
                folder=tmp_path / "demo", screen=(3840, 2160), created="2026-12-06T00:00:00Z")
    demo.folder.mkdir()
    write_demo(demo)
    result = replay(tmp_path / "demo", desktop, ReplayOptions(speed=10))
    assert [o.performed for o in result.outcomes] == [True] * 4
    assert [o.method for o in result.outcomes[::2]] == ["text", "text"], result.outcomes
    app.wait_for(lambda ev: _pressed(app) == ["Delta", "Bravo"] and _typed(app).startswith("démo ✓"),
                 what="the replayed clicks and text")
    assert app.events("key")[-1]["keysym"] == "Return"


@needs_sway
def test_mcp_screenshot_and_click_on_sway(wayland: VirtualWaylandDisplay, tmp_path: Path) -> None:
    from guiagent.mcp.session import DesktopSession, ServerOptions

    app, window = _probe(wayland, tmp_path / "mcp.jsonl", "--buttons", "Alpha,Bravo,Charlie,Delta",
                         "--font-size", "14")
    session = DesktopSession(ServerOptions(display=wayland.name, abort_hotkey=None, failsafe=False))
    try:
        shot = session.screenshot()
        assert shot.image is not None and shot.image.size.width <= session.options.image_size
        assert (session.screen_size().width, session.screen_size().height) == (3840, 2160)
        clicked = session.click(target='"Bravo"')
        assert clicked.data["performed"], clicked.text
        # A click by image coordinates of the screenshot: the canvas, 100 px above its bottom.
        mapping = session.mapping()
        x, y = window.box[0] + 700, window.box[1] + window.box[3] - 100
        at = mapping.from_screen(guiagent.Point(x, y))
        session.click(x=at.x, y=at.y)
        app.wait_for(lambda ev: _pressed(app) == ["Bravo"] and app.events("click")[-1:] != [],
                     what="the MCP clicks")
        canvas = app.events("click")[-1]
        scale = 3840 / shot.image.size.width  # one image pixel covers this many screen pixels
        assert abs(canvas["x_root"] - x) <= scale and abs(canvas["y_root"] - y) <= scale
    finally:
        session.close()
        end_program(app.process)


PLUGIN_TEST = """
import json, sys, time
from pathlib import Path

def test_on_sway(desktop, tmp_path):
    report = tmp_path / "probe.jsonl"
    desktop.launch([sys.executable, {probe!r}, str(report), "--buttons", "Alpha,Bravo"])
    desktop.expect('"Bravo"').to_be_visible(timeout=30)
    desktop.click('"Bravo"')
    deadline = time.monotonic() + 10
    while '"Bravo"' not in (report.read_text() if report.exists() else ""):
        assert time.monotonic() < deadline, "the probe never reported the click"
        time.sleep(0.05)
    assert desktop.capture().width == 3840
"""


@needs_sway
def test_pytest_plugin_desktop_fixture_runs_on_sway(wayland: VirtualWaylandDisplay,
                                                    tmp_path: Path) -> None:
    """The plugin starts only Xvfb itself; ``--guiagent-display SOCKET`` runs its ``desktop``
    fixture on a Wayland session."""
    if not wayland.x_display:
        pytest.skip("Xwayland not installed (`apt-get install xwayland`)")
    (tmp_path / "test_sway_ui.py").write_text(
        PLUGIN_TEST.replace("{probe!r}", repr(str(APPS / "tk_probe.py"))), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--guiagent-display",
         wayland.name, str(tmp_path / "test_sway_ui.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
        env={**wayland.env, "PYTHONPATH": str(APPS.parent.parent)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


# -- pointer accuracy against the application's own report, at output scale 1 and 2 -----------
def _grid(box: tuple[int, int, int, int], count: int) -> list[tuple[int, int]]:
    """``count`` points spread over ``box`` (odd offsets, so no point sits on a round number)."""
    x, y, width, height = box
    return [(x + 7 + (i * 613) % (width - 14), y + 5 + (i * 389) % (height - 10)) for i in range(count)]


@needs_sway
@pytest.mark.parametrize("scale", [1, 2])
def test_click_drag_and_scroll_land_where_sent(sway_user: str | None, tmp_path: Path,
                                               scale: int) -> None:
    with VirtualWaylandDisplay(scale=scale, user=sway_user, set_environment=False) as wayland, \
            Desktop(wayland, accessibility=False) as desktop:
        app, _ = _probe(wayland, tmp_path / "accuracy.jsonl")
        ready = app.ready
        canvas = (ready["canvas_x"], ready["canvas_y"], ready["canvas_w"], ready["canvas_h"])
        assert desktop.screen.monitors[0].box.width == 3840 // scale
        # The canvas seen in the frame (physical pixels) is where Tk says it is (logical).
        frame = desktop.capture()
        assert frame.scale == scale and frame.width == 3840
        inside = frame.from_screen((canvas[0] + 20, canvas[1] + 20))
        assert frame.pixels[round(inside.y), round(inside.x), :3].tolist() == [0xC0, 0x60, 0x30]
        region = desktop.capture(region=(canvas[0], canvas[1], 40, 30))
        assert (region.width, region.height, region.scale) == (40 * scale, 30 * scale, scale)
        assert tuple(region.to_screen((0, 0))) == (canvas[0], canvas[1])

        points = _grid(canvas, 20)
        for point in points:  # clicks given in frame pixels, as a grounder finds them
            desktop.click(frame.to_screen(frame.from_screen(point)))
        app.wait_for(lambda ev: len([e for e in ev if e["event"] == "click"]) >= len(points),
                     what="20 clicks")
        seen = [(e["x_root"], e["y_root"]) for e in app.events("click")]
        assert seen == points

        start, end = points[3], points[11]
        desktop.drag(start, end)
        app.wait_for(lambda ev: ev[-1]["event"] == "release", what="the drag's release")
        press = app.events("click")[-1]
        assert (press["x_root"], press["y_root"]) == start
        assert len(app.events("motion")) >= 2
        assert (app.events("release")[-1]["x_root"], app.events("release")[-1]["y_root"]) == end

        desktop.scroll("down", 3, at=points[5])
        desktop.scroll("up", 2, at=points[6])
        app.wait_for(lambda ev: len([e for e in ev if e["event"] == "scroll"]) >= 5, what="5 notches")
        scrolls = [(e["direction"], e["x_root"], e["y_root"]) for e in app.events("scroll")]
        assert scrolls == [("down", *points[5])] * 3 + [("up", *points[6])] * 2
