"""X client windows: their titles and where they are on the screen (python-xlib, EWMH).

Used to record where a click was inside its window, to find that window again at replay, and to
restrict `guiagent do` to one window (``--window TITLE``).
"""

from __future__ import annotations

from typing import Any

from guiagent.errors import DisplayError
from guiagent.platform.base import WindowInfo


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


def all_windows(display: Any) -> list[WindowInfo]:
    """Every client window the window manager lists, bottom to top where it says the stacking
    order (EWMH ``_NET_CLIENT_LIST_STACKING``, else ``_NET_CLIENT_LIST``); minimised ones are
    marked ``hidden``."""
    root = display.screen().root
    prop = root.get_full_property(display.intern_atom("_NET_CLIENT_LIST_STACKING"), 0)
    if prop is None or not len(prop.value):
        prop = root.get_full_property(display.intern_atom("_NET_CLIENT_LIST"), 0)
    wm_state = display.intern_atom("_NET_WM_STATE")
    hidden_atom = display.intern_atom("_NET_WM_STATE_HIDDEN")
    found = []
    for window_id in list(prop.value) if prop is not None else []:
        window = display.create_resource_object("window", int(window_id))
        try:
            info = window_info(display, window)
            states = window.get_full_property(wm_state, 0)
        except Exception:  # a window closed while we looked
            continue
        if states is not None and hidden_atom in list(states.value):
            info = WindowInfo(info.title, info.box, hidden=True)
        found.append(info)
    return found


class X11Windows:
    """:class:`~guiagent.platform.base.WindowList` over one X connection, opened on first use."""

    def __init__(self, display: str | None) -> None:
        self.display_name = display
        self._connection: Any = None

    def _display(self) -> Any:
        if self._connection is None:
            from Xlib import display as xdisplay
            from Xlib.error import DisplayError as XDisplayError

            try:
                self._connection = xdisplay.Display(self.display_name)
            except XDisplayError as exc:
                raise DisplayError(f"cannot open the X display {self.display_name or '$DISPLAY'}: "
                                   f"{exc}") from None
        return self._connection

    def all(self) -> list[WindowInfo]:
        return all_windows(self._display())

    def under_pointer(self) -> WindowInfo | None:
        return client_window_under_pointer(self._display())

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
