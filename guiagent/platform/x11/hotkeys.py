"""A global hotkey listener (the abort hotkey) that starts and stops cleanly.

On X11 it is our own small XRecord client (:mod:`guiagent.platform.x11.xrecord`): pynput 1.8's listener asks
its *blocked* record connection to stop, which never happens once any input event has been seen
(measured: after a single click its thread was still alive 5 s after stop(), then died with a
traceback when the display went away). Here a second connection disables the context, which
always unblocks it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from guiagent import keys as keynames
from guiagent.platform.x11.xrecord import KEY_EVENTS, XRecordThread


class XRecordHotkeyListener:
    """Calls ``callback`` whenever all ``keys`` (canonical names, e.g. from
    :func:`guiagent.keys.parse_keys`) are held, in any application on the X display."""

    def __init__(self, keys: tuple[str, ...], callback: Callable[[], None],
                 display: str | None = None) -> None:
        self.keys = keys
        self.callback = callback
        self.display = display
        self._impl: _XRecordListener | None = None

    def start(self) -> None:
        self._impl = _XRecordListener(self.keys, self.callback, self.display)
        self._impl.start()

    def stop(self) -> None:
        if self._impl is not None:
            self._impl.stop()
            self._impl.join(timeout=5)
            self._impl = None


def _keysyms(key: str) -> set[int]:
    """X keysyms that count as pressing the canonical ``key`` (either Ctrl, either Shift...)."""
    from Xlib import XK

    spec = keynames.spec(key)
    if spec is None:
        names = {key.lower(), key.upper()}
    elif key == "alt":
        names = {"Alt_L", "Alt_R", "Meta_L", "Meta_R"}
    elif spec.xdotool.endswith("_L"):
        names = {spec.xdotool, spec.xdotool[:-2] + "_R"}
    else:
        names = {spec.xdotool}
    return {XK.string_to_keysym(n) for n in names} - {XK.NoSymbol}


class _XRecordListener(XRecordThread):
    def __init__(self, keys: tuple[str, ...], callback: Callable[[], None],
                 display: str | None) -> None:
        super().__init__(display, KEY_EVENTS, name="guiagent-abort-hotkey")
        self._callback = callback
        self._wanted = [_keysyms(k) for k in keys]
        self._held: set[int] = set()

    def on_event(self, event: Any) -> None:
        from Xlib import X

        if event.type not in (X.KeyPress, X.KeyRelease):
            return
        keysym = self._record.keycode_to_keysym(event.detail, 0)
        if event.type == X.KeyRelease:
            self._held.discard(keysym)
            return
        self._held.add(keysym)
        if all(wanted & self._held for wanted in self._wanted):
            self._callback()
