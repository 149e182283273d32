"""Typing any Unicode text through the platform's typist (our XTEST typist on X11; pynput,
whose SendInput / CGEvent deliver Unicode natively, on Windows and macOS)."""

from __future__ import annotations

import time

from guiagent.platform import REPEAT_GAP_S, UnicodeTypist, platform_for

__all__ = ["REPEAT_GAP_S", "UnicodeTypist", "type_paced", "unicode_typist"]


def unicode_typist(display: str | None) -> UnicodeTypist:
    return platform_for(display).unicode_typist(display)


def type_paced(typist: UnicodeTypist, text: str, interval: float) -> None:
    """Type all at once, or one character every ``interval`` seconds."""
    if interval <= 0:
        typist.type(text)
        return
    for char in text:
        typist.type(char)
        time.sleep(interval)
