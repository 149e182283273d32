"""The recorder: its event merging (unit), and real recordings on the 4K Xvfb display driven
through the real input devices with xdotool, in-process and as the `guiagent record` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ProbeApp, start_probe

from guiagent import VirtualDisplay
from guiagent.geometry import Point
from guiagent.recording.recorder import (
    ClickStep,
    DragStep,
    KeyStep,
    Recorder,
    RecorderSettings,
    ScrollStep,
    TypeStep,
    _RawEvent,
)
from guiagent.recording.replay import load_demo

# -- unit: merging raw X events into steps -----------------------------------------------------

SHIFT, CTRL, ALT = 0xFFE1, 0xFFE3, 0xFFE9
RETURN, BACKSPACE, DOWN = 0xFF0D, 0xFF08, 0xFF54


class FakeInput:
    """Feeds raw events to a Recorder that was never started (no display, no frames)."""

    def __init__(self, folder: Path, **settings: Any) -> None:
        self.recorder = Recorder(folder, RecorderSettings(ocr=False, **settings))
        self.now = time.time() - 1000  # event times in the past: idle flushes see them as old
        self.recorder._started = self.now
        folder.mkdir(parents=True, exist_ok=True)

    def _event(self, kind: Any, detail: int, at: float | None = None, point: tuple[int, int] = (100, 100),
               keysyms: tuple[int, ...] = ()) -> None:
        self.now = at if at is not None else self.now + 0.05
        self.recorder._handle(_RawEvent(kind, detail, Point(*point), self.now, keysyms))

    def key(self, *keysyms: int) -> None:
        self._event("key_press", 10, keysyms=keysyms)
        self._event("key_release", 10, keysyms=keysyms)

    def hold(self, keysym: int) -> None:
        self._event("key_press", 50, keysyms=(keysym,))

    def release(self, keysym: int) -> None:
        self._event("key_release", 50, keysyms=(keysym,))

    def click(self, point: tuple[int, int], button: int = 1, gap: float = 0.05) -> None:
        self._event("button_press", button, self.now + gap, point)
        self._event("button_release", button, point=point)

    def drag(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        self._event("button_press", 1, point=start)
        self._event("button_release", 1, point=end)

    def finish(self) -> list[Any]:
        self.recorder._flush_text()
        self.recorder._write()
        return list(self.recorder.demo.steps)


def chars(text: str) -> list[tuple[int, int]]:
    return [(ord(c.lower()), ord(c.upper())) for c in text]


def test_keystrokes_merge_into_text_and_hotkeys(tmp_path: Path) -> None:
    fake = FakeInput(tmp_path / "demo")
    fake.hold(SHIFT)
    fake.key(ord("b"), ord("B"))  # pynput would report "B" on press and "b" on release
    fake.release(SHIFT)
    for pair in chars("ye"):
        fake.key(*pair)
    fake.key(ord("x"), ord("X"))
    fake.key(BACKSPACE)  # a typo fixed while typing
    fake.key(ord(" "), ord(" "))
    fake.key(RETURN)
    fake.hold(CTRL)
    fake.hold(SHIFT)
    fake.key(ord("s"), ord("S"))
    fake.release(SHIFT)
    fake.release(CTRL)
    fake.key(DOWN)
    fake.key(DOWN)
    fake.key(DOWN)
    steps = fake.finish()
    assert [(type(s).__name__, getattr(s, "text", None) or getattr(s, "keys", None),
             getattr(s, "presses", None)) for s in steps] == [
        ("TypeStep", "Bye ", None),
        ("KeyStep", "enter", 1),
        ("KeyStep", "ctrl+shift+s", 1),
        ("KeyStep", "down", 3),
    ]


def test_pointer_events_merge_into_double_clicks_drags_and_scrolls(tmp_path: Path) -> None:
    fake = FakeInput(tmp_path / "demo")
    fake.click((300, 300))
    fake.click((301, 300), gap=0.1)  # second click of a double-click: same place, soon after
    fake.click((301, 300), gap=2.0)  # much later: a click of its own
    fake.drag((500, 500), (900, 620))
    fake.click((700, 700), button=5)  # wheel down: two notches arrive as two button presses
    fake.click((700, 701), button=5)
    fake.click((700, 701), button=4)  # the other way: a new step
    steps = fake.finish()
    assert [type(s) for s in steps] == [ClickStep, ClickStep, DragStep, ScrollStep, ScrollStep]
    assert isinstance(steps[0], ClickStep) and steps[0].count == 2
    assert isinstance(steps[1], ClickStep) and steps[1].count == 1
    assert isinstance(steps[2], DragStep) and steps[2].end == (900, 620)
    assert isinstance(steps[3], ScrollStep) and (steps[3].direction, steps[3].amount) == ("down", 2)
    assert isinstance(steps[4], ScrollStep) and (steps[4].direction, steps[4].amount) == ("up", 1)
    on_disk = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert [s["kind"] for s in on_disk["steps"]] == ["click", "click", "drag", "scroll", "scroll"]


def test_stop_hotkey_is_not_recorded_and_stops(tmp_path: Path) -> None:
    fake = FakeInput(tmp_path / "demo", stop_hotkey="ctrl+alt+r")
    fake.key(ord("a"), ord("A"))
    fake.hold(CTRL)
    fake.hold(ALT)
    fake.key(ord("r"), ord("R"))
    steps = fake.finish()
    assert [(type(s), getattr(s, "text", None)) for s in steps] == [(TypeStep, "a")]
    assert fake.recorder.stopped_by == "the stop hotkey"


def test_typing_is_flushed_after_a_pause_and_extended_in_place(tmp_path: Path) -> None:
    fake = FakeInput(tmp_path / "demo", text_flush=0.0)
    for pair in chars("ab"):
        fake.key(*pair)
    fake.recorder._flush_idle_text()  # the recorder's idle tick
    written = json.loads((tmp_path / "demo" / "demo.json").read_text())["steps"]
    assert [(s["kind"], s["text"]) for s in written] == [("type", "ab")]
    fake.key(*chars("c")[0])
    steps = fake.finish()
    assert [(type(s), getattr(s, "text", None)) for s in steps] == [(TypeStep, "abc")]


# -- on the display -----------------------------------------------------------------------------

LABELS = "Alpha,Beta,Gamma"


def xdotool(display: VirtualDisplay, *args: str) -> None:
    subprocess.run(["xdotool", *args], env=display.env, check=True, timeout=30)


def centre(box: list[int]) -> tuple[int, int]:
    return box[0] + box[2] // 2, box[1] + box[3] // 2


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def steps_on_disk(folder: Path) -> list[dict[str, Any]]:
    try:
        return json.loads((folder / "demo.json").read_text(encoding="utf-8"))["steps"]
    except (OSError, ValueError):
        return []


@pytest.fixture()
def buttons_probe(vdisplay: VirtualDisplay, tmp_path: Path) -> Iterator[ProbeApp]:
    app = start_probe(vdisplay, tmp_path / "probe.jsonl", "--buttons", LABELS, "--font-size", "14",
                      "--title", "Login password", geometry="900x600+200+150")
    try:
        app.ready
        yield app
    finally:
        app.process.terminate()
        app.process.wait(10)


def click_at(display: VirtualDisplay, point: tuple[int, int], *extra: str) -> None:
    xdotool(display, "mousemove", str(point[0]), str(point[1]))
    xdotool(display, "click", *extra, "1")


@pytest.mark.display
def test_record_in_process_stores_frames_crops_text_and_window(
        vdisplay: VirtualDisplay, buttons_probe: ProbeApp, tmp_path: Path) -> None:
    ready = buttons_probe.ready
    folder = tmp_path / "demo"
    recorder = Recorder(folder, RecorderSettings(display=vdisplay.name))
    recorder.start()
    thread = threading.Thread(target=recorder.run)
    thread.start()
    try:
        text_point = (ready["text_x"] + 30, ready["text_y"] + 30)
        click_at(vdisplay, text_point)
        xdotool(vdisplay, "type", "--delay", "20", "Hi there")
        click_at(vdisplay, centre(ready["buttons"]["Beta"]))
        wait_until(lambda: len(steps_on_disk(folder)) == 3, "three steps on disk")
        xdotool(vdisplay, "mousemove", str(text_point[0] + 200), str(text_point[1]))
        xdotool(vdisplay, "click", "5", "click", "5")
    finally:
        wait_until(lambda: len(steps_on_disk(folder)) == 4, "the scroll step")
        recorder.stop()
        thread.join(30)
    demo = load_demo(folder)  # validates: every asset exists, is a PNG, inside the folder
    kinds = [type(s) for s in demo.steps]
    assert kinds == [ClickStep, TypeStep, ClickStep, ScrollStep]
    beta = demo.steps[2]
    assert isinstance(beta, ClickStep)
    assert beta.target.text == "Beta"
    assert beta.target.point == centre(ready["buttons"]["Beta"])
    assert beta.target.window is not None and beta.target.window.title == "Login password"
    x, y, width, height = beta.target.window.box
    assert (width, height) == (900, 600) and abs(x - 200) <= 20 and abs(y - 150) <= 40
    assert len(beta.target.templates) >= 2
    frame_path = demo.asset(beta.target.frame or "")
    assert frame_path.stat().st_size > 10_000  # the whole 4K frame
    assert isinstance(demo.steps[1], TypeStep) and demo.steps[1].text == "Hi there"
    scroll = demo.steps[3]
    assert isinstance(scroll, ScrollStep) and (scroll.direction, scroll.amount) == ("down", 2)


def start_cli_recorder(display: VirtualDisplay, folder: Path, *extra: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "guiagent", "record", str(folder), "--display", display.name, *extra],
        env=display.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    line = process.stderr.readline()  # "recording into ...": listening has started
    assert "recording into" in line, line + process.stderr.read()
    return process


@pytest.mark.display
def test_cli_recorder_stops_on_its_hotkey_and_never_prints_keystrokes(
        vdisplay: VirtualDisplay, buttons_probe: ProbeApp, tmp_path: Path) -> None:
    ready = buttons_probe.ready
    folder = tmp_path / "cli-demo"
    process = start_cli_recorder(vdisplay, folder, "--stop-hotkey", "ctrl+alt+k", "--no-ocr")
    try:
        click_at(vdisplay, (ready["text_x"] + 30, ready["text_y"] + 30))
        xdotool(vdisplay, "type", "--delay", "20", "zebra42")
        click_at(vdisplay, centre(ready["buttons"]["Gamma"]))
        wait_until(lambda: len(steps_on_disk(folder)) == 3, "three steps on disk")
        xdotool(vdisplay, "key", "ctrl+alt+k")
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "saved 3 step(s)" in out
    assert "zebra" not in out + err  # keystrokes go to demo.json only
    steps = load_demo(folder).steps
    assert [type(s) for s in steps] == [ClickStep, TypeStep, ClickStep]  # no ctrl+alt+k step
    assert isinstance(steps[1], TypeStep) and steps[1].text == "zebra42"


@pytest.mark.display
def test_sigkill_mid_recording_keeps_every_finished_step(
        vdisplay: VirtualDisplay, buttons_probe: ProbeApp, tmp_path: Path) -> None:
    ready = buttons_probe.ready
    folder = tmp_path / "killed"
    process = start_cli_recorder(vdisplay, folder, "--no-ocr")
    try:
        for label in ("Alpha", "Beta", "Gamma"):
            click_at(vdisplay, centre(ready["buttons"][label]))
        wait_until(lambda: len(steps_on_disk(folder)) == 3, "three steps on disk")
        xdotool(vdisplay, "type", "--delay", "20", "lost")  # typing still in progress: the last step
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    demo = load_demo(folder)  # a complete, valid file: every rewrite was atomic
    assert [type(s) for s in demo.steps] == [ClickStep, ClickStep, ClickStep]
    for step, label in zip(demo.steps, ("Alpha", "Beta", "Gamma"), strict=True):
        assert isinstance(step, ClickStep)
        assert step.target.point == centre(ready["buttons"][label])
        assert step.target.frame is not None and demo.asset(step.target.frame).is_file()


@pytest.mark.display
def test_sigterm_saves_and_redact_never_writes_a_password(
        vdisplay: VirtualDisplay, buttons_probe: ProbeApp, tmp_path: Path) -> None:
    ready = buttons_probe.ready  # the window is titled "Login password": a password-like field
    folder = tmp_path / "redacted"
    process = start_cli_recorder(vdisplay, folder, "--redact")
    try:
        click_at(vdisplay, (ready["text_x"] + 30, ready["text_y"] + 30))
        wait_until(lambda: len(steps_on_disk(folder)) == 1, "the click step")
        xdotool(vdisplay, "type", "--delay", "20", "hunter2secret")
        buttons_probe.wait_for(lambda ev: any(e.get("value") == "hunter2secret" for e in ev),
                               what="the typed password")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    steps = load_demo(folder).steps
    assert [type(s) for s in steps] == [ClickStep, TypeStep]  # SIGTERM saved the pending text
    assert isinstance(steps[1], TypeStep) and steps[1].secret and steps[1].text is None
    assert "1 secret text step(s) not stored" in out
    for path in folder.rglob("*"):
        if path.is_file():
            assert b"hunter2" not in path.read_bytes(), path
    assert "hunter2" not in out + err


@pytest.mark.display
def test_unicode_typed_through_rebound_keycodes_is_recorded_as_the_app_received_it(
        vdisplay: VirtualDisplay, buttons_probe: ProbeApp, tmp_path: Path) -> None:
    from guiagent import Desktop

    ready = buttons_probe.ready
    folder = tmp_path / "unicode"
    recorder = Recorder(folder, RecorderSettings(display=vdisplay.name, ocr=False))
    recorder.start()
    thread = threading.Thread(target=recorder.run)
    thread.start()
    try:
        with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as desktop:
            desktop.click((ready["text_x"] + 30, ready["text_y"] + 30))
            desktop.type("héllo wörld ✓ 日本")  # characters outside the keymap: scratch keycodes
            desktop.press("ctrl+shift+s")
        wait_until(lambda: len(steps_on_disk(folder)) == 3, "the click, the text and the combination")
    finally:
        recorder.stop()
        thread.join(30)
    steps = load_demo(folder).steps
    assert [type(s) for s in steps] == [ClickStep, TypeStep, KeyStep]
    assert isinstance(steps[1], TypeStep) and steps[1].text == buttons_probe.text() == "héllo wörld ✓ 日本"
    assert isinstance(steps[2], KeyStep) and steps[2].keys == "ctrl+shift+s"


def test_recording_on_wayland_is_refused_saying_what_works(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from guiagent.errors import PlatformUnsupported

    monkeypatch.delenv("GUIAGENT_PLATFORM", raising=False)
    recorder = Recorder(tmp_path / "demo", RecorderSettings(display="wayland-1", ocr=False))
    with pytest.raises(PlatformUnsupported, match="record on an X11 display"):
        recorder.start()
    assert not (tmp_path / "demo").exists()  # refused before creating anything
