"""Input through pyautogui, without its hidden global pauses.

pyautogui sleeps ``PAUSE`` (0.1 s) after every call and checks its ``FAILSAFE`` corner through
module globals. We pass ``_pause=False`` on every call (our Executor owns pausing and the
fail-safe as per-session settings) and leave pyautogui's globals as the user set them, except
that its own corner check is suspended for the duration of our call. pyautogui's ``write``
silently drops non-ASCII characters, so those runs go through ``backends.unicode``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from guiagent import keys as keynames
from guiagent.input.backends.base import MouseButton, ScrollDirection
from guiagent.input.backends.unicode import REPEAT_GAP_S, type_paced, unicode_typist

_GLOBALS_LOCK = threading.Lock()


class PyAutoGUIBackend:
    name = "pyautogui"

    def __init__(self, display: str | None) -> None:
        import pyautogui

        self._pg: Any = pyautogui
        self._display_name = display
        self._rebind_display(display)
        self._unicode_typist: Any = None

    def _rebind_display(self, display: str | None) -> None:
        # pyautogui opens $DISPLAY once, at import, into a module global. A later session on
        # another display (a second Xvfb, an xdist worker), or on a restarted one that reuses
        # the name, would send its events to a wrong or dead connection: reconnect then, and
        # keep a live connection to the right display. pyautogui drives one display at a time
        # per process.
        try:
            from pyautogui import _pyautogui_x11 as x11
        except ImportError:  # not on X11
            return
        if not display:
            return
        current = x11._display
        try:
            if current.get_display_name() == display:
                current.sync()  # raises if the server behind the name went away
                return
        except Exception:
            pass
        from Xlib.display import Display

        x11._display = Display(display)

    @contextmanager
    def _call(self) -> Iterator[None]:
        with _GLOBALS_LOCK:
            saved = self._pg.FAILSAFE
            self._pg.FAILSAFE = False
            try:
                yield
            finally:
                self._pg.FAILSAFE = saved

    def _key(self, key: str) -> str:
        spec = keynames.spec(key)
        return spec.pyautogui if spec else key

    def position(self) -> tuple[int, int]:
        x, y = self._pg.position()
        return int(x), int(y)

    def move(self, x: int, y: int, duration: float) -> None:
        with self._call():
            self._pg.moveTo(x, y, duration=duration, _pause=False)

    def click(self, x: int, y: int, button: MouseButton, count: int) -> None:
        with self._call():
            self._pg.click(x, y, clicks=count, interval=0.0, button=button, _pause=False)

    def drag(self, start: tuple[int, int], end: tuple[int, int], button: MouseButton,
             duration: float) -> None:
        with self._call():
            self._pg.moveTo(*start, _pause=False)
            self._pg.dragTo(*end, duration=duration, button=button, mouseDownUp=True, _pause=False)

    def scroll(self, amount: int, direction: ScrollDirection, x: int, y: int) -> None:
        with self._call():
            if direction in ("up", "down"):
                clicks = amount if direction == "up" else -amount
                self._pg.scroll(clicks, x=x, y=y, _pause=False)
            else:
                clicks = amount if direction == "right" else -amount
                self._pg.hscroll(clicks, x=x, y=y, _pause=False)

    def type_text(self, text: str, interval: float) -> None:
        for run, is_ascii in _ascii_runs(text):
            if is_ascii:
                for piece in _repeat_pieces(run):
                    if piece is None:
                        time.sleep(REPEAT_GAP_S)
                        continue
                    with self._call():
                        self._pg.write(piece, interval=interval, _pause=False)
            else:
                self._type_unicode(run, interval)

    def _type_unicode(self, text: str, interval: float) -> None:
        if self._unicode_typist is None:
            self._unicode_typist = unicode_typist(self._display_name)
        type_paced(self._unicode_typist, text, interval)

    def press(self, key: str, presses: int) -> None:
        with self._call():
            self._pg.press(self._key(key), presses=presses, interval=0.0, _pause=False)

    def hotkey(self, keys: tuple[str, ...]) -> None:
        with self._call():
            self._pg.hotkey(*(self._key(k) for k in keys), _pause=False)

    def close(self) -> None:
        if self._unicode_typist is not None:
            self._unicode_typist.close()
            self._unicode_typist = None


def _ascii_runs(text: str) -> Iterator[tuple[str, bool]]:
    """Split into maximal runs of printable ASCII (plus \\n, \\t) and everything else."""
    run = ""
    run_is_ascii = True
    for char in text:
        is_ascii = char in "\n\t" or 32 <= ord(char) < 127
        if run and is_ascii != run_is_ascii:
            yield run, run_is_ascii
            run = ""
        run_is_ascii = is_ascii
        run += char
    if run:
        yield run, run_is_ascii


def _repeat_pieces(text: str) -> Iterator[str | None]:
    """``text`` cut between doubled characters, with None where a pause belongs ("ll" -> "l",
    None, "l"): see unicode.REPEAT_GAP_S."""
    start = 0
    for i in range(1, len(text)):
        if text[i] == text[i - 1]:
            yield text[start:i]
            yield None
            start = i
    yield text[start:]
