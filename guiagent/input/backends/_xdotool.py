"""Input through the ``xdotool`` command (X11). Types any Unicode text."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Any

from guiagent import keys as keynames
from guiagent.errors import InputBackendError
from guiagent.input.backends.base import MouseButton, ScrollDirection
from guiagent.input.backends.unicode import type_paced, unicode_typist

_BUTTONS = {"left": "1", "middle": "2", "right": "3"}
_WHEEL = {"up": "4", "down": "5", "left": "6", "right": "7"}


class XdotoolBackend:
    name = "xdotool"

    def __init__(self, display: str | None) -> None:
        if shutil.which("xdotool") is None:
            raise InputBackendError("xdotool is not installed: `sudo apt-get install xdotool`")
        self._env = dict(os.environ)
        if display:
            self._env["DISPLAY"] = display
        self._unicode_typist: Any = None

    def _run(self, *args: str) -> str:
        result = subprocess.run(["xdotool", *args], env=self._env, capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise InputBackendError(f"xdotool {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def _key(self, key: str) -> str:
        spec = keynames.spec(key)
        return spec.xdotool if spec else key

    def position(self) -> tuple[int, int]:
        values = dict(
            line.split("=", 1) for line in self._run("getmouselocation", "--shell").split()
        )
        return int(values["X"]), int(values["Y"])

    def move(self, x: int, y: int, duration: float) -> None:
        if duration > 0:
            x0, y0 = self.position()
            steps = max(2, int(duration * 30))
            for i in range(1, steps):
                f = i / steps
                self._run("mousemove", str(round(x0 + (x - x0) * f)), str(round(y0 + (y - y0) * f)))
                time.sleep(duration / steps)
        self._run("mousemove", str(x), str(y))

    def click(self, x: int, y: int, button: MouseButton, count: int) -> None:
        # xdotool waits --delay (default 100 ms) after every click, the last one too.
        delay = "40" if count > 1 else "0"
        self._run("mousemove", str(x), str(y), "click", "--repeat", str(count), "--delay", delay,
                  _BUTTONS[button])

    def drag(self, start: tuple[int, int], end: tuple[int, int], button: MouseButton,
             duration: float) -> None:
        self._run("mousemove", str(start[0]), str(start[1]), "mousedown", _BUTTONS[button])
        try:
            self.move(end[0], end[1], duration)
        finally:
            self._run("mouseup", _BUTTONS[button])

    def scroll(self, amount: int, direction: ScrollDirection, x: int, y: int) -> None:
        self._run("mousemove", str(x), str(y), "click", "--repeat", str(amount), "--delay", "10",
                  _WHEEL[direction])

    def type_text(self, text: str, interval: float) -> None:
        # `xdotool type` rebinds one scratch keycode per character and clients drop or misread
        # some (the first "é" of "héllo" was lost on Xvfb); backends.unicode binds them safely.
        if self._unicode_typist is None:
            self._unicode_typist = unicode_typist(self._env.get("DISPLAY"))
        type_paced(self._unicode_typist, text, interval)

    def press(self, key: str, presses: int) -> None:
        self._run("key", "--repeat", str(presses), "--delay", "10", self._key(key))

    def hotkey(self, keys: tuple[str, ...]) -> None:
        self._run("key", "+".join(self._key(k) for k in keys))

    def close(self) -> None:
        if self._unicode_typist is not None:
            self._unicode_typist.close()
            self._unicode_typist = None
