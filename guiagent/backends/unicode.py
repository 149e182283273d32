"""Typing any Unicode text: our XTEST typist on X11, pynput elsewhere (SendInput / CGEvent
deliver Unicode natively there)."""

from __future__ import annotations

import sys
import time
from typing import Protocol

# A key pressed again right after its release can look like auto-repeat to a client and be
# dropped (LibreOffice's X11 interface lost one "l" of "ll" typed through XTEST); backends
# pause this long between two presses of the same key.
REPEAT_GAP_S = 0.01


class UnicodeTypist(Protocol):
    def type(self, text: str) -> None: ...

    def close(self) -> None: ...


class _PynputTypist:
    def __init__(self) -> None:
        from pynput import keyboard

        self._keyboard = keyboard.Controller()

    def type(self, text: str) -> None:
        self._keyboard.type(text)

    def close(self) -> None:
        pass


def unicode_typist(display: str | None) -> UnicodeTypist:
    if sys.platform.startswith("linux"):
        from ._x11_unicode import X11UnicodeTypist

        return X11UnicodeTypist(display)
    return _PynputTypist()


def type_paced(typist: UnicodeTypist, text: str, interval: float) -> None:
    """Type all at once, or one character every ``interval`` seconds."""
    if interval <= 0:
        typist.type(text)
        return
    for char in text:
        typist.type(char)
        time.sleep(interval)
