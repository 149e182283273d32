"""The small interfaces every platform implements: one per operating-system service.

Everything above :mod:`guiagent.platform` talks to these, never to Xlib, XTEST or XRecord
directly, so a new platform (Wayland, Windows, macOS) is one sibling folder, not edits all over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# A key pressed again right after its release can look like auto-repeat to a client and be
# dropped (LibreOffice's X11 interface lost one "l" of "ll" typed through XTEST); backends
# pause this long between two presses of the same key.
REPEAT_GAP_S = 0.01


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """A top-level application window: its title and screen box ``(x, y, width, height)``."""

    title: str
    box: tuple[int, int, int, int]


class UnicodeTypist(Protocol):
    """Types any Unicode text where the keyboard focus is."""

    def type(self, text: str) -> None: ...

    def close(self) -> None: ...


class HotkeyListener(Protocol):
    """Calls its callback whenever a key combination is held, from any application."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class WindowList(Protocol):
    """The desktop's top-level windows (titles and boxes in screen coordinates)."""

    def all(self) -> list[WindowInfo]: ...

    def under_pointer(self) -> WindowInfo | None: ...

    def close(self) -> None: ...


class Platform(Protocol):
    """One platform's services. ``name`` is the session type (``x11``, ``wayland``...)."""

    name: str

    def unicode_typist(self, display: str | None) -> UnicodeTypist: ...

    def hotkey_listener(self, keys: tuple[str, ...], callback: Callable[[], None],
                        display: str | None) -> HotkeyListener: ...

    def windows(self, display: str | None) -> WindowList: ...


def windows_titled(windows: WindowList, words: str) -> list[WindowInfo]:
    """Windows whose title contains ``words`` (any case); windows titled exactly so win."""
    listed = windows.all()
    exact = [w for w in listed if w.title == words]
    if exact:
        return exact
    wanted = words.casefold()
    return [w for w in listed if wanted in w.title.casefold()]
