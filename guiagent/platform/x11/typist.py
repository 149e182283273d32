"""Reliable Unicode typing on X11 through XTEST.

Characters the keyboard map lacks must be bound to a spare keycode before they can be typed.
Clients look a key event up in their copy of the keyboard map when they *process* the event,
which can be well after the server sent it; a keycode rebound in the meantime reads as the new
symbol or as nothing. Measured on Xvfb with a Tk client: pynput typed "日本" as "日日", xdotool
dropped the first "é", and unbinding right after typing lost every non-ASCII character.

So bindings here are lazy and sticky: a missing character gets a spare keycode of its own and
keeps it (later text, and later sessions, reuse it for free). Only when the spare keycodes run
out (a long CJK text) are the keycodes bound in this session rebound, after no key of ours was
sent for ``QUIET_S``. Each binding is one keysym per keycode: binding the symbol on two levels
made rebound keycodes read stale in Tk (measured: 三 arrived as ö).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from guiagent.platform.base import REPEAT_GAP_S

QUIET_S = 0.5  # how long a client may lag behind the server before a rebind is safe
SETTLE_S = 0.05  # time for clients to take in new bindings before their keys arrive
_LOCK = threading.Lock()  # the keyboard map is global to the X server


def keysym_for(char: str) -> int:
    """The X keysym of a character (Latin-1 keysyms equal code points; others 0x1000000+cp)."""
    code = ord(char)
    if char == "\n":
        return 0xFF0D  # Return
    if char == "\t":
        return 0xFF09  # Tab
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 | code


class X11UnicodeTypist:
    """Types any text with XTEST on the given display (default ``$DISPLAY``)."""

    def __init__(self, display: str | None = None) -> None:
        from Xlib import XK
        from Xlib import display as xdisplay

        self._display: Any = xdisplay.Display(display)
        info = self._display.display.info
        self._min, self._max = info.min_keycode, info.max_keycode
        self._shift = self._display.keysym_to_keycode(XK.XK_Shift_L)
        self._bound_here: list[int] = []  # keycodes bound during this session, oldest first
        self._last_key = 0.0  # when a key we bound was last sent

    def _keymap(self) -> tuple[dict[int, tuple[int, bool]], list[int]]:
        """Keysym -> (keycode, needs shift) for levels 1-2, and the unused keycodes."""
        mapping = self._display.get_keyboard_mapping(self._min, self._max - self._min + 1)
        known: dict[int, tuple[int, bool]] = {}
        spare: list[int] = []
        for offset, syms in enumerate(mapping):
            keycode = self._min + offset
            if not any(syms):
                spare.append(keycode)
                continue
            for level, sym in enumerate(syms[:2]):
                if sym and sym not in known:
                    known[sym] = (keycode, level == 1)
        return known, spare

    def type(self, text: str) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        with _LOCK:
            known, spare = self._keymap()
            # Bind what this text needs up front: a key pressed right after its keycode was
            # bound was sometimes read with the old (empty) mapping ("Ω" arrived as "??").
            self._bind_missing(text, known, spare)
            previous = -1
            for position, char in enumerate(text):
                sym = keysym_for(char)
                if sym not in known:  # more distinct characters than spare keycodes
                    self._bind_missing(text[position:], known, spare)
                keycode, shifted = known[sym]
                if keycode == previous:  # see unicode.REPEAT_GAP_S
                    self._display.sync()
                    time.sleep(REPEAT_GAP_S)
                previous = keycode
                if shifted:
                    xtest.fake_input(self._display, X.KeyPress, self._shift)
                xtest.fake_input(self._display, X.KeyPress, keycode)
                xtest.fake_input(self._display, X.KeyRelease, keycode)
                if shifted:
                    xtest.fake_input(self._display, X.KeyRelease, self._shift)
                if keycode in self._bound_here:
                    self._last_key = time.monotonic()
            self._display.sync()

    def _bind_missing(self, text: str, known: dict[int, tuple[int, bool]], spare: list[int]) -> None:
        bound = False
        for char in text:
            sym = keysym_for(char)
            if sym in known:
                continue
            if not spare and bound:
                break  # the rest is bound once these keycodes are free again
            lower = char.lower()
            if 0xC0 <= sym <= 0xDE and lower != char and len(lower) == 1:
                # An uppercase Latin-1 letter: X reads a lone "Ccedilla" as "ccedilla" unshifted
                # (it pairs a lone letter keysym into lower/upper levels; measured: "Ça" arrived
                # as "ça"), so bind the lowercase letter and type this one with shift.
                keycode = self._bind(ord(lower), known, spare)
                known[ord(lower)] = (keycode, False)
                known[sym] = (keycode, True)
            else:
                known[sym] = (self._bind(sym, known, spare), False)
            bound = True
        if bound:
            self._display.sync()
            time.sleep(SETTLE_S)

    def _bind(self, sym: int, known: dict[int, tuple[int, bool]], spare: list[int]) -> int:
        if not spare:
            # Out of spare keycodes (a long CJK text): once every key we sent had time to be
            # read, reuse the keycodes bound earlier, least recently bound first.
            reusable = [k for k, s in known.values() if not s and k in self._bound_here]
            if not reusable:
                from guiagent.errors import InputBackendError

                raise InputBackendError(
                    f"no spare keycode in the keyboard map to type {chr(sym & 0xFFFFFF)!r}"
                )
            self._display.sync()
            self._wait_quiet()
            for keycode in self._bound_here:
                spare.append(keycode)
                for old_sym, (k, _) in list(known.items()):
                    if k == keycode:
                        del known[old_sym]
            self._bound_here.clear()
        keycode = spare.pop(0)
        self._display.change_keyboard_mapping(keycode, [(sym,)])
        self._bound_here.append(keycode)
        return keycode

    def _wait_quiet(self) -> None:
        remaining = QUIET_S - (time.monotonic() - self._last_key)
        if remaining > 0:
            time.sleep(remaining)

    def close(self) -> None:
        # Bindings stay: they sit on keycodes no physical key sends, and undoing them proved
        # harmful (a keycode reset to NoSymbol and bound again later read as "??" in new clients).
        self._display.close()
