"""Input through pynput (XTEST on X11). Types any Unicode text."""

from __future__ import annotations

import time
from typing import Any

from guiagent import keys as keynames
from guiagent.input.backends.base import MouseButton, ScrollDirection
from guiagent.input.backends.unicode import type_paced, unicode_typist


class PynputBackend:
    name = "pynput"

    def __init__(self, display: str | None = None) -> None:
        from pynput import keyboard, mouse

        self._keyboard_mod = keyboard
        self._mouse_mod = mouse
        self._mouse = mouse.Controller()
        self._keyboard = keyboard.Controller()
        self._unicode_typist: Any = None
        self._display_name = display

    def _button(self, button: MouseButton) -> Any:
        return getattr(self._mouse_mod.Button, button)

    def _key(self, key: str) -> Any:
        spec = keynames.spec(key)
        return getattr(self._keyboard_mod.Key, spec.pynput) if spec else key

    def position(self) -> tuple[int, int]:
        x, y = self._mouse.position
        return int(x), int(y)

    def move(self, x: int, y: int, duration: float) -> None:
        if duration > 0:
            _glide(self.position(), (x, y), duration, self._set_position)
        self._set_position(x, y)

    def _set_position(self, x: int, y: int) -> None:
        self._mouse.position = (x, y)

    def click(self, x: int, y: int, button: MouseButton, count: int) -> None:
        self._set_position(x, y)
        self._mouse.click(self._button(button), count)

    def drag(self, start: tuple[int, int], end: tuple[int, int], button: MouseButton,
             duration: float) -> None:
        self._set_position(*start)
        self._mouse.press(self._button(button))
        try:
            _glide(start, end, duration, self._set_position)
            self._set_position(*end)
        finally:
            self._mouse.release(self._button(button))

    def scroll(self, amount: int, direction: ScrollDirection, x: int, y: int) -> None:
        self._set_position(x, y)
        dx, dy = {"up": (0, 1), "down": (0, -1), "left": (-1, 0), "right": (1, 0)}[direction]
        for _ in range(amount):  # one event per notch, as a wheel sends them
            self._mouse.scroll(dx, dy)

    def type_text(self, text: str, interval: float) -> None:
        # pynput rebinds one scratch keycode per missing character on X11, which clients
        # misread ("日本" arrived as "日日"); backends.unicode binds them safely.
        if self._unicode_typist is None:
            self._unicode_typist = unicode_typist(self._display_name)
        type_paced(self._unicode_typist, text, interval)

    def press(self, key: str, presses: int) -> None:
        k = self._key(key)
        for _ in range(presses):
            self._keyboard.press(k)
            self._keyboard.release(k)

    def hotkey(self, keys: tuple[str, ...]) -> None:
        pressed = []
        try:
            for key in keys:
                k = self._key(key)
                self._keyboard.press(k)
                pressed.append(k)
        finally:
            for k in reversed(pressed):
                self._keyboard.release(k)

    def close(self) -> None:
        if self._unicode_typist is not None:
            self._unicode_typist.close()
            self._unicode_typist = None
        # pynput closes its X connections in __del__, which may run after the display is gone
        # and then raises; close them now and leave __del__ nothing to do.
        for controller in (self._mouse, self._keyboard):
            display = controller.__dict__.pop("_display", None)
            if display is not None:
                display.close()


def _glide(start: tuple[int, int], end: tuple[int, int], duration: float, set_position: Any) -> None:
    """Move in small steps over ``duration`` seconds (apps that track motion need them)."""
    steps = max(2, int(duration * 60))
    t0 = time.monotonic()
    for i in range(1, steps):
        f = i / steps
        set_position(round(start[0] + (end[0] - start[0]) * f),
                     round(start[1] + (end[1] - start[1]) * f))
        target = t0 + duration * f
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
