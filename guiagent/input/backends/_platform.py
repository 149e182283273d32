"""An input backend over the platform's own input injection (Wayland: guiagent's virtual
pointer and keyboard), for sessions where pyautogui, pynput and xdotool cannot reach
other applications."""

from __future__ import annotations

import time

from guiagent.input.backends.base import MouseButton, ScrollDirection
from guiagent.platform import REPEAT_GAP_S, InputInjector

_DOUBLE_CLICK_GAP_S = 0.04  # well inside every toolkit's double-click time
_MOVE_STEPS_PER_S = 60


class PlatformInputBackend:
    """:class:`~guiagent.input.backends.base.InputBackend` composed from the platform's
    primitive events (move, button, scroll, keys, text)."""

    name = "wayland"

    def __init__(self, injector: InputInjector) -> None:
        self._injector = injector

    def position(self) -> tuple[int, int]:
        return self._injector.position()

    def move(self, x: int, y: int, duration: float) -> None:
        if duration > 0:
            x0, y0 = self._injector.position()
            steps = max(2, int(duration * _MOVE_STEPS_PER_S))
            for i in range(1, steps):
                f = i / steps
                self._injector.move(round(x0 + (x - x0) * f), round(y0 + (y - y0) * f))
                time.sleep(duration / steps)
        self._injector.move(x, y)

    def click(self, x: int, y: int, button: MouseButton, count: int) -> None:
        self._injector.move(x, y)
        for i in range(count):
            if i:
                time.sleep(_DOUBLE_CLICK_GAP_S)
            self._injector.button(button, True)
            self._injector.button(button, False)

    def drag(self, start: tuple[int, int], end: tuple[int, int], button: MouseButton,
             duration: float) -> None:
        self._injector.move(*start)
        self._injector.button(button, True)
        try:
            self.move(end[0], end[1], max(duration, 0.05))  # toolkits need motion to drag
        finally:
            self._injector.button(button, False)

    def scroll(self, amount: int, direction: ScrollDirection, x: int, y: int) -> None:
        self._injector.move(x, y)
        self._injector.scroll(direction, amount)

    def type_text(self, text: str, interval: float) -> None:
        if interval <= 0:
            self._injector.type(text)
            return
        for char in text:
            self._injector.type(char)
            time.sleep(interval)

    def press(self, key: str, presses: int) -> None:
        for i in range(presses):
            if i:
                time.sleep(REPEAT_GAP_S)
            self._injector.keys((key,))

    def hotkey(self, keys: tuple[str, ...]) -> None:
        self._injector.keys(keys)

    def close(self) -> None:
        self._injector.close()
