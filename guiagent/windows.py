"""X client windows: their titles and where they are on the screen (python-xlib, EWMH).

Used to record where a click was inside its window, to find that window again at replay, and to
restrict `guiagent do` to one window (``--window TITLE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """An X client window: its title and screen box ``(x, y, width, height)``."""

    title: str
    box: tuple[int, int, int, int]


def window_info(display: Any, window: Any) -> WindowInfo:
    root = display.screen().root
    geometry = window.get_geometry()
    origin = root.translate_coords(window, 0, 0)
    return WindowInfo(window_title(display, window),
                      (int(origin.x), int(origin.y), int(geometry.width), int(geometry.height)))


def window_title(display: Any, window: Any) -> str:
    net_name = display.intern_atom("_NET_WM_NAME")
    utf8 = display.intern_atom("UTF8_STRING")
    prop = window.get_full_property(net_name, utf8)
    if prop is not None and prop.value:
        value = prop.value
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    name = window.get_wm_name()
    if isinstance(name, bytes):
        return name.decode("latin-1")
    return name or ""


def client_window_under_pointer(display: Any) -> WindowInfo | None:
    """The top-level client window (one with WM_STATE) under the pointer, or None."""
    wm_state = display.intern_atom("WM_STATE")
    window = display.screen().root
    for _ in range(8):
        child = window.query_pointer().child
        if not child:
            return None
        window = child
        if window.get_full_property(wm_state, 0) is not None:
            return window_info(display, window)
    return None


def find_windows(display: Any, title: str) -> list[WindowInfo]:
    """Client windows titled exactly ``title``."""
    return [window for window in all_windows(display) if window.title == title]


def windows_titled(display: Any, words: str) -> list[WindowInfo]:
    """Client windows whose title contains ``words`` (any case); an exact title match wins."""
    exact = find_windows(display, words)
    if exact:
        return exact
    wanted = words.casefold()
    return [w for w in all_windows(display) if wanted in w.title.casefold()]


def all_windows(display: Any) -> list[WindowInfo]:
    """Every client window the window manager lists (EWMH ``_NET_CLIENT_LIST``)."""
    root = display.screen().root
    prop = root.get_full_property(display.intern_atom("_NET_CLIENT_LIST"), 0)
    found = []
    for window_id in list(prop.value) if prop is not None else []:
        window = display.create_resource_object("window", int(window_id))
        try:
            found.append(window_info(display, window))
        except Exception:  # a window closed while we looked
            continue
    return found
