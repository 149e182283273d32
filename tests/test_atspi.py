"""The AT-SPI reader on real applications at 4K: each test starts its own display with a private
accessibility bus, so the trees seen are exactly the applications the test launched."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import guiagent
from guiagent.platform.atspi import AtspiAccessibility, PrivateSession
from guiagent.platform.base import AccessibilityTree, AccessibleNode
from guiagent.screen.processes import end_program

pytestmark = pytest.mark.display

SIZE = (3840, 2160)
Find = Callable[[AccessibilityTree], AccessibleNode | None]


def needs(*programs: str) -> None:
    for program in programs:
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (bash .ci/install)")


@pytest.fixture
def display() -> Iterator[guiagent.VirtualDisplay]:
    needs("Xvfb", "dbus-daemon")
    with guiagent.VirtualDisplay(SIZE, accessibility=True, set_environment=False) as vd:
        yield vd


@pytest.fixture
def reader(display: guiagent.VirtualDisplay) -> Iterator[AtspiAccessibility]:
    accessibility = AtspiAccessibility(display.name)
    yield accessibility
    accessibility.close()


def named(name: str, role: str | None = None, window: str = "") -> Find:
    def find(tree: AccessibilityTree) -> AccessibleNode | None:
        return next((n for n in tree.nodes if n.name == name and (role is None or n.role == role)
                     and window in n.window), None)
    return find


def settled(reader: AtspiAccessibility, find: Find, timeout: float = 60.0,
            **options: object) -> tuple[AccessibleNode, AccessibilityTree]:
    """Read until ``find`` finds a node whose box did not change since the last read: a window
    that just appeared moves and resizes for a while."""
    deadline = time.monotonic() + timeout
    last: AccessibleNode | None = None
    tree = AccessibilityTree(())
    while time.monotonic() < deadline:
        tree = reader.snapshot(**options)  # type: ignore[arg-type]
        node = find(tree)
        if node is not None and last is not None and node.box == last.box and node.box:
            return node, tree
        last = node
        time.sleep(0.5)
    raise AssertionError(f"not found or never still in {timeout} s; last read: {len(tree.nodes)} "
                         f"nodes, notes {tree.notes}")


def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def box_has_detail(frame: guiagent.Frame, box: tuple[int, int, int, int]) -> float:
    x, y, w, h = box
    gray = frame.pixels[y:y + h, x:x + w, :3].mean(axis=2)
    return float(gray.std())


def centre(node: AccessibleNode) -> tuple[int, int]:
    assert node.box is not None
    x, y, w, h = node.box
    return (x + w // 2, y + h // 2)


def display_reads(reader: AtspiAccessibility, value: str) -> bool:
    tree = reader.snapshot(window="galculator")
    return any(n.value.strip().rstrip(".") == value for n in tree.nodes if n.role == "text")


@pytest.mark.parametrize("gdk_scale", ["1", "2"])
def test_gtk3_buttons_have_screen_boxes(display: guiagent.VirtualDisplay,
                                        reader: AtspiAccessibility, gdk_scale: str) -> None:
    """galculator's buttons, found by name, are where the pixels are: clicking the centres of
    their boxes computes 7 + 3 (also with GDK_SCALE=2, where GTK reports half-size extents)."""
    needs("galculator")
    app = display.launch(["galculator"], env={"GDK_SCALE": gdk_scale})
    try:
        seven, tree = settled(reader, named("7", window="galculator"))
        assert seven.role == "toggle button"  # galculator's buttons are GtkToggleButtons
        assert "click" in [a.casefold() for a in seven.actions]
        buttons = {n.name: n for n in tree.nodes
                   if n.window == "galculator" and n.name in ("7", "+", "3", "=")}
        assert set(buttons) == {"7", "+", "3", "="}
        assert buttons["+"].name == "+" and all(n.box for n in buttons.values())
        with guiagent.Desktop(display, accessibility=False) as desktop:
            frame = desktop.capture()
            for node in buttons.values():
                assert node.box is not None
                assert box_has_detail(frame, node.box) > 8, f"no button drawn at {node}"
            for name in "7+3=":
                desktop.click(centre(buttons[name]))
        until(lambda: display_reads(reader, "10"), 10, "the calculator to show 10")
    finally:
        end_program(app)


def test_libreoffice_bold_toggles_through_its_action(display: guiagent.VirtualDisplay,
                                                     reader: AtspiAccessibility,
                                                     tmp_path: Path) -> None:
    """Writer's Bold is a toggle button below the menu bar (LibreOffice reports its toolbars at
    the menu bar's height; the reader moves them back), and its own action toggles it."""
    needs("soffice")
    app = display.launch(["soffice", "--writer", "--norestore", "--nologo",
                          f"-env:UserInstallation=file://{tmp_path}/lo"],
                         env={"SAL_USE_VCLPLUGIN": "gtk3"})
    try:
        bold, tree = settled(reader, named("Bold", "toggle button", "Writer"), timeout=120,
                             window="Writer")
        assert "checked" not in bold.states and bold.box is not None
        menu = [n for n in tree.nodes if n.role == "menu" and n.name == "File"]
        assert menu and menu[0].box is not None
        assert bold.box[1] >= menu[0].box[1] + menu[0].box[3], "Bold overlaps the menu bar"
        with guiagent.Desktop(display, accessibility=False) as desktop:
            assert box_has_detail(desktop.capture(), bold.box) > 8
        assert reader.do_action(bold)
        until(lambda: "checked" in (named("Bold", "toggle button")(
            reader.snapshot(window="Writer")) or bold).states, 15, "Bold to read checked")
        # The old node still acts: its handle (or its path) leads to the same button.
        assert reader.do_action(bold)
        until(lambda: "checked" not in (named("Bold", "toggle button")(
            reader.snapshot(window="Writer")) or bold).states, 15, "Bold to read unchecked")
    finally:
        end_program(app)


PAGE = """<!doctype html><html><head><title>Widgets</title></head><body style="font-size:32px">
<h1>Widgets page</h1>
<button id="b" onclick="document.title='Pressed'">Press me</button>
<a href="#next">Next chapter</a>
<label><input type="checkbox" id="c" style="width:40px;height:40px"> Show grid</label>
</body></html>"""


@pytest.mark.parametrize("device_scale", ["1", "2"])
def test_chromium_page_elements(display: guiagent.VirtualDisplay, reader: AtspiAccessibility,
                                tmp_path: Path, device_scale: str) -> None:
    """Page elements at their drawn place, at device scale 1 and 2 (where Chromium reports the
    page's extents at twice their place: the reader divides them back)."""
    needs("chromium")
    page = tmp_path / "page.html"
    page.write_text(PAGE)
    app = display.launch(["chromium", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", "--force-renderer-accessibility",
                          f"--force-device-scale-factor={device_scale}",
                          "--window-position=700,300", "--window-size=900,700",
                          f"--user-data-dir={tmp_path / 'profile'}", page.as_uri()])
    try:
        check, tree = settled(reader, named("Show grid", "check box"), timeout=90,
                              window="Widgets")
        button = named("Press me", "button")(tree)
        link = named("Next chapter", "link")(tree)
        heading = named("Widgets page", "heading")(tree)
        assert button and link and heading, [(n.role, n.name) for n in tree.nodes][-30:]
        assert all(n.window.startswith("Widgets") for n in (button, link, check))
        assert button.box and link.box and check.box and heading.box
        assert heading.box[1] < button.box[1] and button.box[0] < link.box[0] < check.box[0]
        assert "checked" not in check.states
        with guiagent.Desktop(display, accessibility=False) as desktop:
            frame = desktop.capture()
            for node in (button, link, check):
                assert node.box is not None
                assert box_has_detail(frame, node.box) > 8, f"nothing drawn at {node}"
            desktop.click(centre(check))
        until(lambda: "checked" in (named("Show grid", "check box")(
            reader.snapshot(window="Widgets")) or check).states, 15, "the box to read checked")
        assert reader.do_action(button)
        until(lambda: bool(reader.snapshot(window="Pressed").nodes), 15, "the page's own handler")
    finally:
        end_program(app)


def test_no_bus_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    needs("Xvfb")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    with guiagent.VirtualDisplay((800, 600), set_environment=False) as plain:
        reader = AtspiAccessibility(plain.name)
        reason = reader.unavailable_reason()
        assert reason is not None and "no accessibility bus" in reason
        assert "VirtualDisplay(accessibility=True)" in reason and "at-spi-bus-launcher" in reason
        started = time.monotonic()
        tree = reader.snapshot(timeout=2.0)
        assert time.monotonic() - started < 1.0
        assert tree.nodes == () and "no accessibility bus" in tree.notes[0]
        assert not reader.do_action(AccessibleNode("button", "OK", None, frozenset(), (0,), None))
    dead = AtspiAccessibility(":0", bus_address="unix:path=/nonexistent/guiagent-bus")
    reason = dead.unavailable_reason()
    assert reason is not None and "does not answer" in reason and "restart" in reason


def test_switched_off_accessibility_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    needs("Xvfb", "dbus-daemon")
    with guiagent.VirtualDisplay((800, 600), set_environment=False) as plain:
        session = PrivateSession(plain.name, enable=False).start()
        try:
            monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session.env["DBUS_SESSION_BUS_ADDRESS"])
            reader = AtspiAccessibility(plain.name)
            reason = reader.unavailable_reason()
            reader.close()
            assert reason is not None and "IsEnabled is false" in reason and "busctl" in reason
        finally:
            session.stop()


def test_budget_truncates_and_stopped_app_is_skipped(display: guiagent.VirtualDisplay,
                                                     reader: AtspiAccessibility) -> None:
    needs("galculator", "mousepad")
    calculator = display.launch(["galculator"])
    editor = display.launch(["mousepad"])
    try:
        settled(reader, named("7", window="galculator"))
        settled(reader, lambda t: next((n for n in t.nodes if "Mousepad" in n.window), None))
        small = reader.snapshot(max_nodes=5)
        assert len(small.nodes) == 5 and small.truncated
        full = reader.snapshot()
        assert not full.truncated and len(full.nodes) > 40
        assert all(n.parent is None or n.parent < i for i, n in enumerate(full.nodes))

        os.kill(calculator.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            tree = reader.snapshot(timeout=2.0)
            elapsed = time.monotonic() - started
            assert elapsed < 2.5, elapsed
            assert any("did not answer" in note for note in tree.notes), tree.notes
            assert any("Mousepad" in n.window for n in tree.nodes)
            assert not any(n.window == "galculator" for n in tree.nodes)
        finally:
            os.kill(calculator.pid, signal.SIGCONT)
        settled(reader, named("7", window="galculator"))
    finally:
        end_program(calculator)
        end_program(editor)


def test_web_content_reported_at_device_scale_is_put_back_in_its_window() -> None:
    from guiagent.platform.atspi.screen import divided, overscale

    window = (1950, 40, 1880, 2080)
    assert overscale((3900, 80, 3760, 4160), window) == 2.0  # measured: Chromium at scale 2
    assert divided((4492, 234, 372, 126), 2.0) == (2246, 117, 186, 63)
    assert overscale((1950, 120, 1880, 2000), window) == 1.0  # inside already
    assert overscale((1950, 3000, 1880, 900), window) == 1.0  # scrolled away: no k fits
    assert overscale((300, 600, 1500, 1500), (200, 400, 1000, 1000)) == 1.5


@pytest.mark.parametrize(("signature", "body"), [
    (None, ()), ("s", ("org.a11y.atspi.Accessible",)), ("ii", (0, -1)), ("u", (0,)),
    ("ss", ("org.a11y.Status", "IsEnabled")), ("ssv", ("a", "b", ("b", True))),
])
def test_calls_encode_as_jeepney_does(signature: str | None, body: tuple[object, ...]) -> None:
    """The reader's own encoder for the calls it makes thousands of (jeepney's for the rest)
    writes the same bytes as jeepney."""
    from guiagent.platform.atspi.dbus import Call

    call = Call(":1.52", "/org/a11y/atspi/accessible/1234", "org.a11y.atspi.Component",
                "GetExtents", signature, body)
    assert call.encode(77) == call.message().serialise(serial=77)
