"""Input on a real X client: the Tk probe reports exactly which events it received."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest

from guiagent import Desktop
from guiagent.errors import AbortedError, OutOfBoundsError

pytestmark = pytest.mark.display

BACKENDS = ["pyautogui", "pynput", "xdotool"]
UNICODE = "héllo wörld ✓ 日本 Ça va, ÀÉÎÕÜ € Ωmega"


def text_point(ready: dict[str, Any]) -> tuple[int, int]:
    return ready["text_x"] + 60, ready["text_y"] + 25


def canvas_point(ready: dict[str, Any], dx: int = 0, dy: int = 0) -> tuple[int, int]:
    return ready["canvas_x"] + ready["canvas_w"] // 2 + dx, ready["canvas_y"] + ready["canvas_h"] // 2 + dy


@pytest.mark.parametrize("backend", BACKENDS)
def test_click_and_unicode_typing_arrive_exactly(vdisplay: Any, probe: Any, backend: str) -> None:
    ready = probe.ready
    with Desktop(vdisplay, backend=backend, abort_hotkey=None, failsafe=False) as desktop:
        desktop.click(text_point(ready))
        probe.wait_for(lambda ev: any(e["event"] == "click" for e in ev), what="the click")
        desktop.type(UNICODE)
        probe.wait_for(lambda ev: probe.text() == UNICODE, what=f"the text {UNICODE!r}")
    clicks = probe.events("click")
    assert clicks == [{"event": "click", "button": 1, "count": 1, "x_root": ready["text_x"] + 60,
                       "y_root": ready["text_y"] + 25, "widget": "text"}]


@pytest.mark.parametrize("backend", BACKENDS)
def test_buttons_double_click_scroll_and_keys(vdisplay: Any, probe: Any, backend: str) -> None:
    ready = probe.ready
    x, y = canvas_point(ready)
    with Desktop(vdisplay, backend=backend, abort_hotkey=None, failsafe=False) as desktop:
        desktop.right_click((x, y))
        desktop.middle_click((x + 40, y))
        probe.wait_for(lambda ev: len([e for e in ev if e["event"] == "click"]) >= 2, what="clicks")
        desktop.double_click((x - 40, y))
        probe.wait_for(lambda ev: any(e["event"] == "click" and e["count"] == 2 for e in ev),
                       what="the double click")
        desktop.scroll("down", 3, at=(x, y + 50))
        desktop.scroll("up", 1, at=(x, y + 50))
        probe.wait_for(lambda ev: len([e for e in ev if e["event"] == "scroll"]) >= 4, what="scrolls")
        desktop.click(text_point(ready))
        desktop.type("abc")
        probe.wait_for(lambda ev: probe.text() == "abc", what="'abc'")
        desktop.press("ctrl+a")  # Tk's text widget: to the start of the line
        desktop.press("end")
        desktop.press("backspace", presses=2)
        probe.wait_for(lambda ev: probe.text() == "a", what="backspaces to leave 'a'")
    clicks = [(e["button"], e["count"], e["x_root"], e["y_root"]) for e in probe.events("click")]
    assert clicks[:4] == [(3, 1, x, y), (2, 1, x + 40, y), (1, 1, x - 40, y), (1, 2, x - 40, y)]
    scrolls = [(e["direction"], e["x_root"], e["y_root"]) for e in probe.events("scroll")]
    assert scrolls == [("down", x, y + 50)] * 3 + [("up", x, y + 50)]
    keys = [e["keysym"] for e in probe.events("key")]
    assert "BackSpace" in keys and keys.count("BackSpace") == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_drag_presses_moves_and_releases(vdisplay: Any, probe: Any, backend: str) -> None:
    ready = probe.ready
    start, end = canvas_point(ready, -200, 0), canvas_point(ready, 200, 100)
    with Desktop(vdisplay, backend=backend, abort_hotkey=None, failsafe=False) as desktop:
        desktop.drag(start, end, duration=0.2)
    events = probe.wait_for(lambda ev: any(e["event"] == "release" for e in ev), what="release")
    press = next(e for e in events if e["event"] == "click")
    release = next(e for e in events if e["event"] == "release")
    assert (press["x_root"], press["y_root"]) == start
    assert (release["x_root"], release["y_root"]) == end
    assert any(e["event"] == "motion" for e in events)


def test_out_of_bounds_click_is_refused_and_nothing_moves(vdisplay: Any, probe: Any) -> None:
    with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as desktop:
        desktop.move_to((1000, 1000))
        before = desktop.position()
        with pytest.raises(OutOfBoundsError, match="outside the screen"):
            desktop.click((3840, 100))
        with pytest.raises(OutOfBoundsError):
            desktop.click((-1, 100))
        assert desktop.position() == before
    assert probe.events("click") == []


def test_dry_run_touches_nothing(vdisplay: Any, probe: Any) -> None:
    ready = probe.ready
    with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as real:
        real.move_to((50, 50))
        before = real.position()
    with Desktop(vdisplay, dry_run=True) as dry:
        dry.click(text_point(ready))
        dry.type("should not appear")
        dry.press("enter")
        assert [r.performed for r in dry.history] == [False, False, False]
        assert dry.executor._backend is None  # no input device was even opened
    with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as real:
        assert real.position() == before
    assert probe.events("click") == [] and probe.events("key") == [] and probe.text() == ""


def test_abort_hotkey_stops_the_session(vdisplay: Any, probe: Any) -> None:
    ready = probe.ready
    with Desktop(vdisplay, abort_hotkey="ctrl+alt+shift+q", failsafe=False) as desktop:
        desktop.click(text_point(ready))
        # A person presses the hotkey (a separate X client, like a real keyboard).
        subprocess.run(["xdotool", "key", "ctrl+alt+shift+q"], env=vdisplay.env, check=True)
        import time

        deadline = time.monotonic() + 5
        while not desktop.executor.aborted and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(AbortedError, match="abort hotkey"):
            desktop.type("too late")
    assert probe.text() == ""


def test_failsafe_corner_on_real_pointer(vdisplay: Any, probe: Any) -> None:
    from guiagent.errors import FailSafeError

    with Desktop(vdisplay, abort_hotkey=None, failsafe=True) as desktop:
        desktop.executor.settings.failsafe = False
        desktop.move_to((0, 0))
        desktop.executor.settings.failsafe = True
        with pytest.raises(FailSafeError):
            desktop.click(text_point(probe.ready))
    assert probe.events("click") == []


def test_doubled_letters_survive_a_client_that_drops_key_repeats(vdisplay: Any, tmp_path: Any) -> None:
    """LibreOffice's own X11 interface takes a key pressed again right after its release for
    auto-repeat and drops it ("ll11pp00ee" arrived as "l11p0e"); every backend pauses between
    two presses of one key. Each cell is read back through Calc's own copy to the clipboard."""
    import os
    import shutil

    soffice = shutil.which("soffice")
    if soffice is None or shutil.which("xclip") is None:
        pytest.skip("needs LibreOffice Calc and xclip (bash .ci/install installs them)")
    read: dict[str, str] = {}
    expected = {backend: f"ll11pp00ee {backend}" for backend in BACKENDS}
    env = {**os.environ, "DISPLAY": vdisplay.name}
    with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as desktop:
        desktop.launch([soffice, "--calc", "--norestore", "--nologo",
                        f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}"],
                       env={"SAL_USE_VCLPLUGIN": "gen"})
        desktop.wait_for('"Sheet1"', timeout=120)
        desktop.move_to((1900, 1100))  # focus follows the mouse
        for backend in BACKENDS:
            with Desktop(vdisplay, backend=backend, abort_hotkey=None, failsafe=False) as typing:
                typing.press("ctrl+home")
                typing.type(expected[backend] + "\n")
                typing.press("up")
                typing.press("ctrl+c")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and read.get(backend) != expected[backend]:
                read[backend] = subprocess.run(["xclip", "-o", "-selection", "clipboard"],
                                               capture_output=True, text=True, env=env,
                                               timeout=5).stdout.strip()
                time.sleep(0.1)
            desktop.press("escape")
    assert read == expected
