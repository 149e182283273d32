"""Record a person's clicks and keys as a demo a replay can find its way through again.

A demo is a folder: ``demo.json`` (schema version :data:`SCHEMA_VERSION`) and PNG assets under
``assets/``. Every pointer step keeps what a replay needs to find its target after windows moved:
the whole frame captured just *before* the press, template crops of several sizes around the
point, the text under the point (OCR, done on the recorder's main thread, never the listener's)
and the point's offset in its window (title and geometry of the X client window under it). With
``elements`` it also keeps the UI element under the point (from the accessibility tree when the
application has one and it agrees with the frame, else from the frame's vision elements) with a
target that names it alone on that screen, and the labels that appeared since the previous
pointer step: what :mod:`guiagent.recording.codegen` writes tests from.

Input is read with our own XRecord client (:mod:`guiagent.platform.x11.xrecord`, shared with
the abort hotkey; pynput's listener is the same XRecord client, but its ``stop()`` blocks forever
once an event was seen).
Working from the raw X events avoids pynput's quirks at the source: a shifted key is read once,
from its press, with the shift level the keyboard map gives it (pynput reports ``B`` on press and
``b`` on release); notches of one wheel turn arrive as separate button 4/5 presses and are merged
into one scroll step; pointer motion is not recorded at all (a click's own duplicate moves never
appear), a drag is its press and release points.

The assertion hotkey (``check_hotkey``, like the stop hotkey never recorded as a step) keeps
"what is under the pointer now" as a :class:`~guiagent.recording.format.Check`: the newest frame,
crops around the pointer, the element under it and the text its box reads, for ``guiagent
codegen`` to write as an ``expect(...)`` line after the steps recorded so far.

The demo file is rewritten atomically after every step, so a kill loses at most the step being
recorded. Keystrokes live only in memory until written as a step; with ``redact`` a text typed
into a password-like field (its label or window title says so) is written as a secret step with
no text. Nothing here logs keys anywhere.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import queue
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from guiagent import keys as keynames
from guiagent.elements.model import Element
from guiagent.elements.query import normalize_label
from guiagent.elements.snapshot import fuse
from guiagent.errors import (
    GuiAgentError,
    PlatformUnsupported,
    RecordingError,
)
from guiagent.geometry import Box, Point, Size, crop_window
from guiagent.platform import session_type_for
from guiagent.platform.base import Accessibility
from guiagent.platform.x11.windows import WindowInfo, client_window_under_pointer
from guiagent.platform.x11.xrecord import KEY_AND_BUTTON_EVENTS, XRecordThread
from guiagent.recording.codegen import element_query, new_labels
from guiagent.recording.format import (
    _BUTTONS,
    _WHEEL,
    ASSETS,
    DEMO_FILE,
    SCHEMA_VERSION,
    Check,
    ClickStep,
    Demo,
    DragStep,
    ElementRef,
    KeyStep,
    MouseButtonName,
    PointerTarget,
    ScrollName,
    ScrollStep,
    Step,
    TemplateAsset,
    TypeStep,
    describe_step,
    step_to_json,
    write_demo,
)
from guiagent.screen.capture import Frame, Screen

PASSWORD_WORDS = re.compile(
    r"pass(word|phrase|wd|code)?|\bpin\b|secret|token|credential|kennwort|mot de passe|contrase",
    re.IGNORECASE,
)


# -- the recorder -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecorderSettings:
    """``stop_hotkey`` ends the recording (it is not recorded); ``check_hotkey`` (None: none)
    records a check of what is under the pointer (not recorded as a key either); ``redact``
    keeps text typed into password-like fields off the disk; ``frame_rate`` is how often the
    ring buffer of frames (``ring_size`` frames) is refreshed; ``template_sizes`` are the crop
    sides in frame pixels; ``ocr`` reads the text under each point; ``elements`` finds the UI
    element under it (and the labels that appeared); ``text_flush`` seconds of no typing write
    the typed text as a step (later typing extends it)."""

    stop_hotkey: str = "ctrl+alt+r"
    check_hotkey: str | None = None  # guiagent codegen: ctrl+alt+e
    redact: bool = False
    display: str | None = None
    frame_rate: float = 10.0
    ring_size: int = 6
    template_sizes: tuple[int, ...] = (48, 96, 192)
    ocr: bool = True
    elements: bool = False
    text_flush: float = 1.5
    double_click_time: float = 0.45
    double_click_distance: float = 6.0
    drag_threshold: float = 8.0
    scroll_merge_time: float = 0.6

    def __post_init__(self) -> None:
        keynames.parse_keys(self.stop_hotkey)  # raises InvalidActionError with the known names
        if self.check_hotkey is not None:
            keynames.parse_keys(self.check_hotkey)
            if set(keynames.parse_keys(self.check_hotkey)) == set(keynames.parse_keys(self.stop_hotkey)):
                raise RecordingError(f"the check hotkey and the stop hotkey are both {self.stop_hotkey}; "
                                     "pick another for one of them")
        if self.frame_rate <= 0 or self.ring_size < 1:
            raise RecordingError("frame_rate must be positive and ring_size at least 1")
        if not self.template_sizes or min(self.template_sizes) < 8:
            raise RecordingError("template_sizes needs at least one size of 8 pixels or more")


@dataclass(frozen=True, slots=True)
class _RawEvent:
    """One input event as the listener thread saw it (never logged, never written)."""

    kind: Literal["key_press", "key_release", "button_press", "button_release"]
    detail: int
    point: Point
    at: float  # time.time() when received
    keysyms: tuple[int, ...] = ()
    frame: Frame | None = None
    window: WindowInfo | None = None


@dataclass(slots=True)
class _Press:
    event: _RawEvent
    button: MouseButtonName


@dataclass(slots=True)
class _Merge:
    """The last written step that the next event may extend (double-click, scroll, key repeat)."""

    index: int
    kind: str
    point: Point | None = None
    at: float = 0.0
    key: str = ""


_MODIFIER_KEYSYMS: dict[int, str] = {
    0xFFE1: "shift", 0xFFE2: "shift", 0xFFE3: "ctrl", 0xFFE4: "ctrl", 0xFFE9: "alt",
    0xFFEA: "alt", 0xFFE7: "alt", 0xFFE8: "alt", 0xFFEB: "super", 0xFFEC: "super",
    0xFE03: "altgr",
}
_IGNORED_KEYSYMS = {0xFFE5, 0xFF7F, 0xFF14}  # Caps_Lock, Num_Lock, Scroll_Lock
_MODIFIER_ORDER = ("ctrl", "alt", "altgr", "shift", "super")
_EXTRA_KEY_NAMES = {
    "Control_R": "ctrl", "Shift_R": "shift", "Alt_R": "alt", "Super_R": "super",
    "ISO_Left_Tab": "tab", "KP_Enter": "enter", "KP_Delete": "delete", "KP_Home": "home",
    "KP_End": "end", "KP_Up": "up", "KP_Down": "down", "KP_Left": "left", "KP_Right": "right",
    "KP_Prior": "pageup", "KP_Next": "pagedown", "KP_Insert": "insert",
}


def _special_key_names() -> dict[int, str]:
    """X keysym -> canonical key name, for the keys guiagent can press again."""
    from Xlib import XK

    names = ["enter", "escape", "tab", "space", "backspace", "delete", "insert", "home", "end",
             "pageup", "pagedown", "up", "down", "left", "right", "printscreen", "menu", "pause",
             *[f"f{i}" for i in range(1, 21)]]
    by_name = dict(_EXTRA_KEY_NAMES)
    for name in names:
        spec = keynames.spec(name)
        if spec is not None:
            by_name[spec.xdotool] = name
    table = {XK.string_to_keysym(x_name): name for x_name, name in by_name.items()}
    table.pop(XK.NoSymbol, None)
    return table


def keysym_char(keysym: int) -> str | None:
    """The printable character a keysym types, or None (Latin-1 and Unicode keysyms)."""
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if 0x01000100 <= keysym <= 0x0110FFFF:
        return chr(keysym - 0x01000000)
    return None


class Recorder:
    """Records input on an X display into ``folder`` until :meth:`stop` (or the stop hotkey).

    ``with Recorder(folder) as recorder: recorder.run()`` — ``run`` blocks, writing each step as
    it completes, and returns the :class:`Demo`. ``on_ready`` is called once listening started;
    ``on_change`` (on the recorder's thread) with the demo after every write.
    """

    def __init__(self, folder: str | os.PathLike[str], settings: RecorderSettings | None = None, *,
                 on_change: Callable[[Demo], None] | None = None) -> None:
        self.folder = Path(folder)
        self.settings = settings or RecorderSettings()
        self._on_change = on_change
        self._accessibility: Accessibility | None = None
        self._last_vision: list[Element] | None = None  # vision elements of the last pointer frame
        self._appeared_at_end: tuple[str, ...] = ()
        self._checks: list[Check] = []
        self._stop = threading.Event()
        self._stopped_by = ""
        self._events: queue.Queue[_RawEvent] = queue.Queue()
        self._ring: deque[Frame] = deque(maxlen=self.settings.ring_size)
        self._ring_lock = threading.Lock()
        self._steps: list[Step] = []
        self._assets: dict[int, list[str]] = {}  # step index -> asset paths it owns
        self._started = 0.0
        self._screen_size = (0, 0)
        self._created = ""
        self._threads: list[threading.Thread] = []
        self._listener: _InputListener | None = None
        self._stop_keys = set(keynames.parse_keys(self.settings.stop_hotkey))
        self._check_keys = (set(keynames.parse_keys(self.settings.check_hotkey))
                            if self.settings.check_hotkey else set())
        self._key_names = _special_key_names()
        # keyboard state
        self._held: set[str] = set()
        self._text: list[str] = []
        self._text_index: int | None = None  # index of the step holding the text being typed
        self._text_started = 0.0
        self._text_last = 0.0
        self._text_secret = False
        self._last_context = ""  # text around the last click (for redact), memory only
        self._last_title = ""
        # pointer state
        self._pressed: dict[int, _Press] = {}
        self._merge: _Merge | None = None
        self._ocr: Any = None

    # -- lifetime ------------------------------------------------------------------------------
    def start(self) -> None:
        if (self.folder / DEMO_FILE).exists():
            raise RecordingError(
                f"{self.folder} already holds a demo ({DEMO_FILE}); record into a new folder or "
                "delete the old one first"
            )
        session = session_type_for(self.settings.display)
        if session != "x11":
            # Input is read with XRecord; Wayland gives no client other clients' input.
            raise PlatformUnsupported(
                f"recording reads the desktop's input with XRecord, which only X11 has, and this "
                f"is a {session} session: record on an X11 display (an X session, or "
                "guiagent.VirtualDisplay / Xvfb) and replay the demo here; `guiagent do`, replay, "
                "codegen --from DEMO and the MCP server work on Wayland")
        screen = Screen(self.settings.display)
        try:
            box = screen.monitor(0).box  # no display: fail before creating anything
        finally:
            screen.close()
        try:
            (self.folder / ASSETS).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordingError(f"cannot create the demo folder {self.folder}: {exc}") from exc
        self._screen_size = (int(box.width), int(box.height))
        self._created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self._started = time.time()
        self._write()
        capture = threading.Thread(target=self._capture_loop, name="guiagent-recorder-frames",
                                   daemon=True)
        capture.start()
        self._threads.append(capture)
        deadline = time.monotonic() + 5
        while not self._ring and time.monotonic() < deadline:  # a "before" frame for step 1
            time.sleep(0.01)
        self._listener = _InputListener(self.settings.display, self._events.put, self._frame_before)
        self._listener.start()

    def stop(self, reason: str = "stop()") -> None:
        """Ask :meth:`run` to finish (thread- and signal-safe)."""
        self._stopped_by = self._stopped_by or reason
        self._stop.set()

    @property
    def stopped_by(self) -> str:
        return self._stopped_by

    def run(self, on_ready: Callable[[], None] | None = None) -> Demo:
        if self._listener is None:
            self.start()
        if on_ready is not None:
            on_ready()
        try:
            while not self._stop.is_set():
                try:
                    event = self._events.get(timeout=0.1)
                except queue.Empty:
                    self._flush_idle_text()
                    continue
                self._handle(event)
        finally:
            self._finish()
        return self.demo

    def _finish(self) -> None:
        self._stop.set()  # also when run() ends by an error: the capture thread must end too
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        while True:  # events that arrived before the listener stopped
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            self._handle(event)
        self._flush_text()
        if self._stopped_by == "SIGINT":
            self._drop_trailing_ctrl_c()
        if self.settings.elements and self._last_vision is not None:
            with self._ring_lock:
                last = self._ring[-1] if self._ring else None
            if last is not None:
                self._appeared_at_end = new_labels(self._last_vision, self._vision(last))
        self._write()
        if self._accessibility is not None:
            self._accessibility.close()
            self._accessibility = None
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    @property
    def demo(self) -> Demo:
        return Demo(tuple(self._steps), self.folder, self._screen_size, self._created,
                    self.settings.redact, appeared_at_end=self._appeared_at_end,
                    checks=tuple(self._checks))

    # -- frames --------------------------------------------------------------------------------
    def _capture_loop(self) -> None:
        screen = Screen(self.settings.display)
        period = 1.0 / self.settings.frame_rate
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                with contextlib.suppress(GuiAgentError):
                    frame = screen.capture()
                    with self._ring_lock:
                        self._ring.append(frame)
                self._stop.wait(max(0.0, period - (time.monotonic() - started)))
        finally:
            screen.close()

    def _frame_before(self, at: float) -> Frame | None:
        """The newest frame whose capture finished before ``at`` (else the oldest we have)."""
        with self._ring_lock:
            frames = list(self._ring)
        before = [f for f in frames if f.timestamp <= at]
        if before:
            return before[-1]
        return frames[0] if frames else None

    # -- events --------------------------------------------------------------------------------
    def _elapsed(self, event: _RawEvent) -> float:
        return max(0.0, event.at - self._started)

    def _handle(self, event: _RawEvent) -> None:
        if event.kind == "key_press":
            self._on_key_press(event)
        elif event.kind == "key_release":
            self._on_key_release(event)
        elif event.kind == "button_press":
            self._on_button_press(event)
        else:
            self._on_button_release(event)

    def _key_name(self, keysym: int) -> str | None:
        char = keysym_char(keysym)
        if char is not None:
            return "space" if char == " " else char.lower()
        return self._key_names.get(keysym)

    def _is_stop_combo(self, event: _RawEvent) -> bool:
        return self._is_combo(event, self._stop_keys)

    def _is_combo(self, event: _RawEvent, keys: set[str]) -> bool:
        base = event.keysyms[0] if event.keysyms else 0
        name = self._key_name(base)
        return bool(keys) and name is not None and self._held | {name} == keys

    def _on_key_press(self, event: _RawEvent) -> None:
        if not event.keysyms:
            return
        base = event.keysyms[0]
        if base in _MODIFIER_KEYSYMS:
            self._held.add(_MODIFIER_KEYSYMS[base])
            return
        if base in _IGNORED_KEYSYMS or base == 0:
            return
        if self._is_stop_combo(event):
            self.stop("the stop hotkey")
            return
        if self._is_combo(event, self._check_keys):
            self._check(event)
            return
        chording = self._held & {"ctrl", "alt", "super"}
        level = 1 if "shift" in self._held else 0
        if "altgr" in self._held:
            level += 2  # third/fourth shift level (ISO_Level3_Shift) if the map has one
        keysym = event.keysyms[level] if len(event.keysyms) > level and event.keysyms[level] else base
        char = keysym_char(keysym)
        if not chording and char is not None:
            self._type_char(char, event)
            return
        name = self._key_name(base)
        if name is None:
            return  # a key guiagent cannot press again (media keys...): nothing to replay
        if name == "backspace" and not chording and self._text:
            self._text.pop()  # a typo fixed while typing: keep the text as it ended up
            self._text_last = event.at
            self._rewrite_text_step()
            return
        modifiers = [m for m in _MODIFIER_ORDER if m in self._held]
        combo = "+".join([*modifiers, name])
        self._flush_text()
        merge = self._merge
        if (merge is not None and merge.kind == "key" and merge.key == combo
                and merge.index == len(self._steps) - 1):
            step = self._steps[merge.index]
            assert isinstance(step, KeyStep)
            self._steps[merge.index] = replace(step, presses=step.presses + 1)
            self._write()
            return
        self._append(KeyStep(self._elapsed(event), combo))
        self._merge = _Merge(len(self._steps) - 1, "key", key=combo)

    def _on_key_release(self, event: _RawEvent) -> None:
        if event.keysyms and event.keysyms[0] in _MODIFIER_KEYSYMS:
            self._held.discard(_MODIFIER_KEYSYMS[event.keysyms[0]])

    def _type_char(self, char: str, event: _RawEvent) -> None:
        if not self._text and self._text_index is None:
            self._text_started = event.at
            self._text_secret = self.settings.redact and bool(
                PASSWORD_WORDS.search(self._last_context) or PASSWORD_WORDS.search(self._last_title))
        self._merge = None
        self._text.append(char)
        self._text_last = event.at
        if self._text_index is not None:
            self._rewrite_text_step()

    def _text_step(self) -> TypeStep:
        text = "".join(self._text)
        if self._text_secret:
            return TypeStep(max(0.0, self._text_started - self._started), None, secret=True)
        return TypeStep(max(0.0, self._text_started - self._started), text)

    def _rewrite_text_step(self) -> None:
        if self._text_index is None:
            return
        if self._text:
            self._steps[self._text_index] = self._text_step()
        else:  # everything typed was erased again
            del self._steps[self._text_index]
            self._text_index = None
        self._write()

    def _flush_idle_text(self) -> None:
        if self._text and self._text_index is None and \
                time.time() - self._text_last >= self.settings.text_flush:
            self._append(self._text_step())
            self._text_index = len(self._steps) - 1

    def _flush_text(self) -> None:
        """End the text being typed: write it as a step (or keep the step written already)."""
        if self._text and self._text_index is None:
            self._append(self._text_step())
        self._text = []
        self._text_index = None

    def _on_button_press(self, event: _RawEvent) -> None:
        self._flush_text()
        if event.detail in _WHEEL:
            self._on_scroll(event, _WHEEL[event.detail])
            return
        button = _BUTTONS.get(event.detail)
        if button is not None:
            self._pressed[event.detail] = _Press(event, button)

    def _on_scroll(self, event: _RawEvent, direction: ScrollName) -> None:
        merge = self._merge
        if (merge is not None and merge.kind == f"scroll-{direction}" and merge.point is not None
                and merge.index == len(self._steps) - 1
                and merge.point.distance_to(event.point) <= self.settings.drag_threshold
                and event.at - merge.at <= self.settings.scroll_merge_time):
            step = self._steps[merge.index]
            assert isinstance(step, ScrollStep)
            self._steps[merge.index] = replace(step, amount=step.amount + 1)
            merge.at = event.at
            self._write()
            return
        number = len(self._steps) + 1
        target = self._target(event, number)
        self._append(ScrollStep(self._elapsed(event), target, direction), number)
        self._merge = _Merge(len(self._steps) - 1, f"scroll-{direction}", event.point, event.at)

    def _on_button_release(self, event: _RawEvent) -> None:
        press = self._pressed.pop(event.detail, None)
        if press is None:
            return  # pressed before the recording started
        start = press.event
        modifiers = tuple(m for m in _MODIFIER_ORDER if m in self._held)
        if start.point.distance_to(event.point) > self.settings.drag_threshold:
            number = len(self._steps) + 1
            target = self._target(start, number)
            self._append(DragStep(self._elapsed(start), target, (event.point.x, event.point.y),
                                  press.button), number)
            self._merge = None
            return
        merge = self._merge
        if (merge is not None and merge.kind == f"click-{press.button}" and merge.point is not None
                and merge.index == len(self._steps) - 1
                and merge.point.distance_to(start.point) <= self.settings.double_click_distance
                and start.at - merge.at <= self.settings.double_click_time):
            step = self._steps[merge.index]
            assert isinstance(step, ClickStep)
            self._steps[merge.index] = replace(step, count=step.count + 1)
            merge.at = start.at
            self._write()
            return
        number = len(self._steps) + 1
        target = self._target(start, number)
        self._append(ClickStep(self._elapsed(start), target, press.button, 1, modifiers), number)
        self._merge = _Merge(len(self._steps) - 1, f"click-{press.button}", start.point, start.at)

    # -- steps and assets ----------------------------------------------------------------------
    def _append(self, step: Step, number: int | None = None) -> None:
        self._steps.append(step)
        if number is not None and number != len(self._steps):  # never: one main thread
            raise RecordingError("internal error: step numbers out of order")
        self._write()

    def _write(self) -> None:
        demo = self.demo
        try:
            write_demo(demo)
        except OSError as exc:
            raise RecordingError(f"cannot write {self.folder / DEMO_FILE}: {exc}") from exc
        if self._on_change is not None:
            self._on_change(demo)

    def _drop_trailing_ctrl_c(self) -> None:
        """Ctrl+C in the recorder's terminal stopped it: that key press is not part of the task."""
        if self._steps and isinstance(self._steps[-1], KeyStep) and self._steps[-1].keys == "ctrl+c" \
                and self._steps[-1].presses == 1:
            self._steps.pop()

    def _target(self, event: _RawEvent, number: int, prefix: str = "", *, now: bool = False
                ) -> PointerTarget:
        """Save the frame and crops of a pointer event and read the text under it."""
        self._last_title = event.window.title if event.window else ""
        frame = event.frame
        if frame is None:
            self._last_context = ""
            return PointerTarget((event.point.x, event.point.y), window=event.window)
        prefix = prefix or f"{ASSETS}/step-{number:04d}"
        point = frame.from_screen(event.point)
        frame_path = f"{prefix}-frame.png"
        _save_png(frame.bgr(), self.folder / frame_path)
        templates = []
        for size in self.settings.template_sizes:
            box = crop_window(point, size, frame.size)
            rows, cols = box.slices()
            crop = frame.bgr()[rows, cols]
            if crop.size == 0 or float(crop.std()) < 2.0:
                continue  # no detail: a template of a flat area would match anywhere
            path = f"{prefix}-t{size}.png"
            _save_png(crop, self.folder / path)
            templates.append(TemplateAsset(path, (point.x - box.left, point.y - box.top)))
        text, offset = self._read_text(frame, point) if self.settings.ocr else (None, None)
        if self.settings.redact:
            self._last_context = self._read_context(frame, point)
        element: ElementRef | None = None
        appeared: tuple[str, ...] = ()
        if self.settings.elements:
            element, appeared = self._element_under(frame, event.point, text, now=now)
        return PointerTarget((event.point.x, event.point.y), frame_path, tuple(templates), text,
                             offset, event.window, element=element, appeared=appeared)

    # -- checks (the assertion hotkey) ----------------------------------------------------------
    def _check(self, event: _RawEvent) -> None:
        """Keep what is under the pointer now as a check after the steps recorded so far."""
        self._flush_text()  # text typed before the hotkey is a step before the check
        self._merge = None
        deadline = time.monotonic() + 1.0
        frame: Frame | None = None
        while time.monotonic() < deadline:  # a frame captured after the key press: "now"
            with self._ring_lock:
                frame = self._ring[-1] if self._ring else None
            if frame is not None and frame.timestamp >= event.at:
                break
            time.sleep(0.02)
        number = len(self._checks) + 1
        # A check looks; it must not change what the steps around it remember (the password
        # context of the next typing, the labels the next step sees appear).
        kept = (self._last_context, self._last_title, self._last_vision)
        try:
            target = self._target(replace(event, frame=frame), number, f"{ASSETS}/check-{number:04d}",
                                  now=True)
        finally:
            self._last_context, self._last_title, self._last_vision = kept
        text = target.text
        if frame is not None and target.element is not None and target.element.box is not None:
            text = self._read_box(frame, Box(*target.element.box)) or text
        self._checks.append(Check(len(self._steps), target, text))
        self._write()

    def _read_box(self, frame: Frame, box: Box) -> str | None:
        """What OCR reads in ``box`` (screen) on ``frame``, as ``expect().to_have_text`` reads."""
        from guiagent.desktop.expect import read_text

        area = frame.to_screen_transform.inverse().apply_box(box)
        try:
            return read_text(frame, area) or None
        except GuiAgentError:
            return None

    # -- elements (on the recorder's thread) ---------------------------------------------------
    def _vision(self, frame: Frame) -> list[Element]:
        from guiagent.elements.snapshot import vision_elements

        try:
            return vision_elements(frame)[0]
        except GuiAgentError:
            return []  # no OCR engine: no vision elements; the crops still name the target

    def _tree(self, frame: Frame) -> list[Element]:
        from guiagent.elements.snapshot import read_accessibility

        if self._accessibility is None:
            from guiagent.platform import platform_for

            try:
                self._accessibility = platform_for(self.settings.display).accessibility(self.settings.display)
            except GuiAgentError:
                return []
        return read_accessibility(self._accessibility, frame)[0]  # a dead bus is a note, not an error

    def _element_under(self, frame: Frame, point: Point, text: str | None, *, now: bool = False
                       ) -> tuple[ElementRef | None, tuple[str, ...]]:
        """The element under ``point`` on the frame from just before the press, named among the
        others, and the labels new since the last pointer step.

        The accessibility tree is read now, after the press reached the application: an element
        of it under the point is trusted only when the frame agrees (the text under the point is
        its label, or, for an icon-only control, its box looks the same now as before the press;
        a menu item the click closed does not). ``now``: the frame is as recent as the tree (a
        check), which is trusted as it is."""
        vision = self._vision(frame)
        appeared = new_labels(self._last_vision, vision) if self._last_vision is not None else ()
        self._last_vision = vision
        with self._ring_lock:
            latest = self._ring[-1] if self._ring else None
        tree: list[Element] = []
        icon_only: list[Element] = []
        for element in self._tree(frame):
            if element.box.contains(point) and element.role not in _CONTAINERS:
                agrees = _reads_as(text, element.name)
                unnamed_ok = not element.name and "editable" in element.states  # an empty field
                glyph = text is not None and len(normalize_label(text)) < 3  # "B" on a Bold icon
                if not agrees and not now and ((text is not None and not glyph)
                                               or not (element.name or unnamed_ok)
                                               or not _looks_unchanged(frame, latest, element.box)):
                    continue  # the tree changed under the point since the press
                if not agrees:
                    icon_only.append(element)
            tree.append(element)
        elements = fuse(tree, vision)
        under = [e for e in elements if e.box.contains(point) and e.role not in _CONTAINERS]
        if not under:
            return None, appeared
        best = min(under, key=lambda e: (not e.interactive, e.box.area))
        visible = not (best.source == "a11y" and any(
            e.box == best.box and e.name == best.name for e in icon_only))
        box = best.box
        return ElementRef(best.role, best.name, best.source, best.path,
                          (round(box.left), round(box.top), round(box.width), round(box.height)),
                          element_query(best, elements, visible=visible), visible), appeared

    def _ocr_grounder(self) -> Any:
        if self._ocr is None:
            from guiagent.grounding import get_grounder

            self._ocr = get_grounder("ocr")
        return self._ocr

    def _read_text(self, frame: Frame, point: Point) -> tuple[str | None, tuple[float, float] | None]:
        try:
            return text_under(self._ocr_grounder(), frame, point)
        except GuiAgentError:
            return None, None  # no OCR engine: templates and window offsets still work

    def _read_context(self, frame: Frame, point: Point) -> str:
        region = crop_window(point.offset(-250, 0), Size(1200, 160), frame.size)
        try:
            lines = self._ocr_grounder().read(np.ascontiguousarray(frame.bgr()[region.slices()]))
        except GuiAgentError:
            return ""
        return " ".join(line.text for line in lines)


_CONTAINERS = frozenset({"window", "dialog", "panel", "frame", "filler", "scroll pane", "menu bar",
                         "toolbar", "table", "list", "document", "scroll bar", "page tab list"})


def _reads_as(text: str | None, name: str) -> bool:
    """Whether the text read under the point is the element's label (or a word of it)."""
    if not text or not name.strip():
        return False
    a, b = normalize_label(text), normalize_label(name)
    if not a or not b:
        return False
    # a glyph on an icon ("B" on Bold) is no reading of its name: a part must be a word or more
    return a == b or (min(len(a), len(b)) >= 3 and (a in b or b in a))


def _looks_unchanged(before: Frame, now: Frame | None, box: Box, tolerance: float = 24.0) -> bool:
    """Whether ``box`` (screen) shows about the same picture in both frames: grey levels, each
    less its crop's median, so that a pressed button or toggle whose background shades darker
    (LibreOffice's Bold: 33 grey levels apart, 5 once centred) stays the same control, while a
    closed menu or a new dialog changes it wholly."""
    if now is None or now.size != before.size:
        return False
    area = before.to_screen_transform.inverse().apply_box(box)
    rows, cols = area.slices()

    def centred(frame: Frame) -> np.ndarray:
        grey = frame.bgr()[rows, cols][..., :3].astype(np.float32).mean(axis=2)
        return grey - float(np.median(grey)) if grey.size else grey

    a, b = centred(before), centred(now)
    return a.size > 0 and float(np.abs(a - b).mean()) <= tolerance


def _save_png(pixels: np.ndarray, path: Path) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(pixels), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise RecordingError(f"cannot write {path}: check the disk space and permissions")


def text_under(ocr: Any, frame: Frame, point: Point, *, reach: float = 40.0
               ) -> tuple[str | None, tuple[float, float] | None]:
    """The words under (or nearest, within ``reach`` pixels) ``point`` and the point's offset
    from their centre. A short line (a button, a menu item) is kept whole; from a longer one
    only the word nearest the point."""
    region = crop_window(point, Size(640, 160), frame.size)
    pixels = np.ascontiguousarray(frame.bgr()[region.slices()])
    local = Point(point.x - region.left, point.y - region.top)
    best: tuple[float, str, Box] | None = None
    for line in ocr.read(pixels):
        text = line.text.strip()
        if not text:
            continue
        for words, box in _pieces(text, line.box, line.char_spans):
            distance = _distance(box, local)
            if distance <= reach and (best is None or distance < best[0]):
                best = (distance, words, box)
    if best is None:
        return None, None
    _, words, box = best
    centre = box.center
    return words, (local.x - centre.x, local.y - centre.y)


def _pieces(text: str, box: Box, spans: tuple[tuple[float, float], ...] | None
            ) -> Iterator[tuple[str, Box]]:
    words = text.split()
    if len(words) <= 3 and len(text) <= 30:
        yield text, box
        return
    position = 0
    for word in words:
        start = text.index(word, position)
        end = start + len(word)
        position = end
        if spans is not None:
            left, right = spans[start][0], spans[end - 1][1]
        else:
            step = box.width / max(1, len(text))
            left, right = box.left + start * step, box.left + end * step
        yield word, Box(left, box.top, max(1.0, right - left), box.height)


def _distance(box: Box, point: Point) -> float:
    dx = max(box.left - point.x, 0.0, point.x - box.right)
    dy = max(box.top - point.y, 0.0, point.y - box.bottom)
    return float(np.hypot(dx, dy))


# -- X input ------------------------------------------------------------------------------------


class _InputListener(XRecordThread):
    """Key and button events of the whole X server (see :mod:`guiagent.platform.x11.xrecord` for why ours).

    In the listener thread it only decodes events, looks up the keyboard map and the window
    under the pointer (both change later), and hands the frame captured just before a press
    along; everything slow happens on the recorder's thread.
    """

    def __init__(self, display: str | None, sink: Callable[[_RawEvent], None],
                 frame_before: Callable[[float], Frame | None]) -> None:
        from Xlib import display as xdisplay

        try:
            super().__init__(display, KEY_AND_BUTTON_EVENTS, name="guiagent-recorder-input")
            self._lookup = xdisplay.Display(display)
        except Exception as exc:
            raise RecordingError(f"cannot record input: {exc}") from exc
        self._sink = sink
        self._frame_before = frame_before

    def on_event(self, event: Any) -> None:
        raw = self._decode(event)
        if raw is not None:
            self._sink(raw)

    def _decode(self, event: Any) -> _RawEvent | None:
        from Xlib import X

        now = time.time()
        point = Point(float(event.root_x), float(event.root_y))
        if event.type in (X.KeyPress, X.KeyRelease):
            mapping = self._lookup.get_keyboard_mapping(event.detail, 1)
            keysyms = tuple(int(k) for k in mapping[0]) if mapping else ()
            kind: Any = "key_press" if event.type == X.KeyPress else "key_release"
            return _RawEvent(kind, int(event.detail), point, now, keysyms)
        if event.type == X.ButtonPress:
            return _RawEvent("button_press", int(event.detail), point, now,
                             frame=self._frame_before(now), window=self._window_at())
        if event.type == X.ButtonRelease:
            return _RawEvent("button_release", int(event.detail), point, now)
        return None

    def _window_at(self) -> WindowInfo | None:
        try:
            return client_window_under_pointer(self._lookup)
        except Exception:
            return None

    def stop(self) -> None:
        super().stop()
        with contextlib.suppress(Exception):
            self._lookup.close()


# -- the one-call API ---------------------------------------------------------------------------


def record(folder: str | os.PathLike[str], settings: RecorderSettings | None = None, *,
           on_ready: Callable[[], None] | None = None,
           on_change: Callable[[Demo], None] | None = None) -> Demo:
    """Record until the stop hotkey, Ctrl+C (SIGINT) or SIGTERM; the demo is saved either way.

    Signal handlers are installed only when called from the main thread (and restored after).
    ``on_change`` gets the demo after every write (``guiagent codegen`` writes its code there).
    """
    recorder = Recorder(folder, settings, on_change=on_change)
    previous: dict[signal.Signals, Any] = {}

    def stop_on(name: str) -> Callable[[int, Any], None]:
        return lambda _signum, _frame: recorder.stop(name)

    if threading.current_thread() is threading.main_thread():
        for number, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
            previous[number] = signal.signal(number, stop_on(name))
    try:
        recorder.start()
        return recorder.run(on_ready)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


__all__ = [
    "DEMO_FILE",
    "SCHEMA_VERSION",
    "ClickStep",
    "Demo",
    "DragStep",
    "KeyStep",
    "PointerTarget",
    "Recorder",
    "RecorderSettings",
    "RecordingError",
    "ScrollStep",
    "Step",
    "TemplateAsset",
    "TypeStep",
    "WindowInfo",
    "describe_step",
    "record",
    "step_to_json",
    "write_demo",
]
