"""Pointer and keyboard through the RemoteDesktop portal (GNOME, KDE Plasma).

The pointer moves to absolute positions on a shared stream (``NotifyPointerMotionAbsolute``:
coordinates in that stream's logical space, so the session always includes the screens),
buttons are evdev codes, the wheel is whole notches (``NotifyPointerAxisDiscrete``), and keys
and text are X keysyms (``NotifyKeyboardKeysym``): the compositor finds the key and the
modifiers that type each one, so any Unicode character goes through as ``0x01000000 + code
point`` without a keymap of guiagent's own.
"""

from __future__ import annotations

import time

from guiagent.errors import InputBackendError, InvalidActionError
from guiagent.keys import spec
from guiagent.platform.base import REPEAT_GAP_S
from guiagent.platform.portal.portal import SESSIONS, PortalSession, Stream

# linux/input-event-codes.h
BUTTONS = {"left": 0x110, "right": 0x111, "middle": 0x112}
VERTICAL, HORIZONTAL = 0, 1

# X keysyms of guiagent's named keys (keysymdef.h), by their X name in guiagent.keys.
_NAMED = {
    "Return": 0xFF0D, "Escape": 0xFF1B, "Tab": 0xFF09, "space": 0x20, "BackSpace": 0xFF08,
    "Delete": 0xFFFF, "Insert": 0xFF63, "Home": 0xFF50, "End": 0xFF57, "Prior": 0xFF55,
    "Next": 0xFF56, "Up": 0xFF52, "Down": 0xFF54, "Left": 0xFF51, "Right": 0xFF53,
    "Control_L": 0xFFE3, "Shift_L": 0xFFE1, "Alt_L": 0xFFE9, "ISO_Level3_Shift": 0xFE03,
    "Super_L": 0xFFEB, "Caps_Lock": 0xFFE5, "Print": 0xFF61, "Menu": 0xFF67, "Pause": 0xFF13,
    **{f"F{i}": 0xFFBE + i - 1 for i in range(1, 21)},
}
_CONTROL = {"\n": 0xFF0D, "\r": 0xFF0D, "\t": 0xFF09, "\b": 0xFF08}


def keysym(key: str) -> int:
    """The X keysym of a canonical key name (``enter``, ``ctrl``, ``f5``) or one character."""
    named = spec(key)
    if named is not None:
        return _NAMED[named.xdotool]
    if len(key) != 1:
        raise InvalidActionError(f"no key named {key!r}")
    if key in _CONTROL:
        return _CONTROL[key]
    code = ord(key)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code  # Latin-1 keysyms are the code points
    if code < 0x20 or 0x7F <= code < 0xA0:
        raise InvalidActionError(f"cannot type the control character {key!r}")
    return 0x01000000 + code


class PortalInput:
    """:class:`~guiagent.platform.base.InputInjector` through the RemoteDesktop portal.

    The portal tells no client where the pointer is: :meth:`position` is where this injector
    last put it (the middle of the first screen before its first move)."""

    def __init__(self, session: PortalSession | None = None) -> None:
        self._owned = session is None
        self.session = session if session is not None else SESSIONS.acquire(devices=True)
        if not self.session.devices:
            raise InputBackendError("this portal session was started without input devices")
        self._position: tuple[int, int] | None = None

    def _stream_at(self, x: int, y: int) -> tuple[Stream, float, float]:
        for stream in self.session.streams:
            box = stream.box
            if box is not None and box[0] <= x < box[0] + box[2] and box[1] <= y < box[1] + box[3]:
                return stream, float(x - box[0]), float(y - box[1])
        if len(self.session.streams) == 1 and self.session.streams[0].box is None:
            return self.session.streams[0], float(x), float(y)
        boxes = ", ".join(str(s.box) for s in self.session.streams)
        raise InputBackendError(f"({x}, {y}) is on no screen shared with guiagent ({boxes})")

    def position(self) -> tuple[int, int]:
        if self._position is None:
            box = self.session.streams[0].box or (0, 0, 2, 2)
            return box[0] + box[2] // 2, box[1] + box[3] // 2
        return self._position

    def move(self, x: int, y: int) -> None:
        stream, sx, sy = self._stream_at(x, y)
        self.session.notify("NotifyPointerMotionAbsolute", "udd", stream.node, sx, sy)
        self._position = (x, y)

    def button(self, button: str, pressed: bool) -> None:
        if button not in BUTTONS:
            raise InvalidActionError(f"no mouse button {button!r}; use left, right or middle")
        self.session.notify("NotifyPointerButton", "iu", BUTTONS[button], int(pressed))

    def scroll(self, direction: str, amount: int) -> None:
        axis, sign = {"up": (VERTICAL, -1), "down": (VERTICAL, 1),
                      "left": (HORIZONTAL, -1), "right": (HORIZONTAL, 1)}.get(direction, (-1, 0))
        if axis < 0:
            raise InvalidActionError(f"cannot scroll {direction!r}; use up, down, left or right")
        if amount > 0:
            self.session.notify("NotifyPointerAxisDiscrete", "ui", axis, sign * amount)

    def _key(self, sym: int, pressed: bool) -> None:
        self.session.notify("NotifyKeyboardKeysym", "iu", sym, int(pressed))

    def type(self, text: str) -> None:
        syms = [keysym(char) for char in text]  # refuse a bad character before typing any
        previous = None
        for sym in syms:
            if sym == previous:
                time.sleep(REPEAT_GAP_S)
            self._key(sym, True)
            self._key(sym, False)
            previous = sym

    def keys(self, keys: tuple[str, ...]) -> None:
        syms = [keysym(key) for key in keys]
        for sym in syms:
            self._key(sym, True)
        for sym in reversed(syms):
            self._key(sym, False)

    def close(self) -> None:
        if self._owned:
            SESSIONS.release(self.session)
            self._owned = False


class PortalTypist:
    """:class:`~guiagent.platform.base.UnicodeTypist` on the RemoteDesktop portal."""

    def __init__(self) -> None:
        self._input = PortalInput()

    def type(self, text: str) -> None:
        self._input.type(text)

    def close(self) -> None:
        self._input.close()
