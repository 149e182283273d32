"""guiagent's keyboard on a wlroots compositor: a ``zwp_virtual_keyboard_v1`` whose keycodes
never change meaning while it lives.

Why not ``wtype``: it uploads a new keymap for every call, numbering that call's characters
from the first keycode up, so the same keycode means "h" in one call and Return in the next.
Native Wayland clients read each keymap in order with the keys, but X11 clients of Xwayland
look keys up in their own copy of the map, which can lag behind: Enter arrived in xterm as the
first character of another call's keymap, or letters went missing (0 to 15 of 20 lines, at
output scale 1 and 2; ``benchmarks/wayland.py --typing``).

So this keyboard has one keymap (:class:`Keymap`): a US layout at the keys' real evdev codes
(letters, digits, punctuation, Return, Tab, arrows, F1-F20, the modifiers...) plus every other
character guiagent has typed, each on a spare keycode of its own. A character not yet in the
map is appended to it (the keycodes already given keep their symbols), the map is uploaded, and
its keys are sent only after a round trip and :data:`KEYMAP_SETTLE_S` (the compositor has
passed the map on, Xwayland has compiled it and its clients have had time to re-read it; 20/20
lines also arrived without the settle, which is a margin). Only when the spare keycodes run
out (more than ~140 distinct extra characters in one session) is the map rebuilt, after
:data:`QUIET_S` without a key sent. On a desktop where a person types too, sway hands clients
the map of whichever keyboard typed last; guiagent's keycodes keep their meaning in its own.

A seat that had no keyboard before this one (a headless compositor) gains the keyboard
capability with it, and applications create their ``wl_keyboard`` only then: keys sent before
an application did are lost (foot at output scale 2, busy drawing, lost the start of the first
line in 2 of 6 tries). The first keys then wait :data:`NEW_CAPABILITY_S`.
:class:`~guiagent.screen.wayland_display.VirtualWaylandDisplay` holds a keyboard from its start
so that its applications have theirs from their start.

Modifiers are sent as a keyboard does: the modifier's key, then the ``modifiers`` request with
the new state (a virtual keyboard's keys do not change the compositor's modifier state).
"""

from __future__ import annotations

import contextlib
import os
import struct
import time
import unicodedata
from dataclasses import dataclass, field

from guiagent import keys as keynames
from guiagent.errors import InputBackendError
from guiagent.platform.base import REPEAT_GAP_S
from guiagent.platform.wayland.wire import WaylandConnection, uint

KEYMAP_SETTLE_S = 0.05  # after an upload's round trip, before the new keycodes are used
QUIET_S = 0.5  # how long clients may lag behind before keycodes can be given new symbols
NEW_CAPABILITY_S = 0.5  # for applications to take a seat's new keyboard capability
CHUNK = 64  # characters sent between two round trips (bounds what the compositor buffers)

_MANAGER = "zwp_virtual_keyboard_manager_v1"
_SEAT = "wl_seat"
_CREATE = 0  # manager request
_KEYMAP, _KEY, _MODIFIERS, _DESTROY = 0, 1, 2, 3  # keyboard requests
_SEAT_CAPABILITIES = 0  # wl_seat event
_KEYBOARD_CAPABILITY = 2
_XKB_V1 = 1  # wl_keyboard.keymap_format.xkb_v1
_PRESSED, _RELEASED = 1, 0

# Evdev codes (linux/input-event-codes.h) and X keysym names of guiagent's named keys.
NAMED_CODES: dict[str, int] = {
    "escape": 1, "backspace": 14, "tab": 15, "enter": 28, "ctrl": 29, "shift": 42, "alt": 56,
    "space": 57, "capslock": 58, "printscreen": 99, "altgr": 100, "home": 102, "up": 103,
    "pageup": 104, "left": 105, "right": 106, "end": 107, "down": 108, "pagedown": 109,
    "insert": 110, "delete": 111, "pause": 119, "super": 125, "menu": 127,
    **{f"f{i}": 58 + i for i in range(1, 11)}, "f11": 87, "f12": 88,
    **{f"f{i}": 170 + i for i in range(13, 21)},
}
# The printable keys of a US keyboard: evdev code -> (unshifted, shifted) character.
US_KEYS: dict[int, str] = {
    **{2 + i: pair for i, pair in enumerate(("1!", "2@", "3#", "4$", "5%", "6^", "7&", "8*",
                                             "9(", "0)", "-_", "=+"))},
    **{16 + i: c + c.upper() for i, c in enumerate("qwertyuiop")}, 26: "[{", 27: "]}",
    **{30 + i: c + c.upper() for i, c in enumerate("asdfghjkl")}, 39: ";:", 40: "'\"", 41: "`~",
    43: "\\|", **{44 + i: c + c.upper() for i, c in enumerate("zxcvbnm")}, 51: ",<", 52: ".>",
    53: "/?",
}
# Real modifier bits (xkb's fixed order: Shift, Lock, Control, Mod1 ... Mod5) and the named key
# that holds each; capslock locks its bit, the others hold theirs while pressed.
MODIFIER_BITS = {"shift": 1 << 0, "capslock": 1 << 1, "ctrl": 1 << 2, "alt": 1 << 3,
                 "super": 1 << 6, "altgr": 1 << 7}
_MODIFIER_MAP = {"shift": "Shift", "capslock": "Lock", "ctrl": "Control", "alt": "Mod1",
                 "super": "Mod4", "altgr": "Mod5"}
# Control characters in text that are keys.
_TEXT_KEYS = {"\n": "enter", "\r": "enter", "\t": "tab", "\b": "backspace", "\x1b": "escape",
              "\x7f": "delete"}
MAX_CODE = 247  # X keycodes end at 255 (evdev + 8): Xwayland's clients see no higher key


def keysym_name(char: str) -> str:
    """xkb's name of the keysym that types ``char`` (``U00E9``: libxkbcommon and xkbcomp both
    read Latin-1 code points as Latin-1 keysyms and others as 0x1000000 + code point)."""
    return f"U{ord(char):04X}"


def _case_pair(char: str) -> tuple[str, str] | None:
    """(lower, upper) when ``char`` is one of a pair of single-character cases, else None."""
    lower, upper = char.lower(), char.upper()
    if len(lower) == 1 and len(upper) == 1 and lower != upper:
        return lower, upper
    return None


@dataclass
class Keymap:
    """The keyboard's xkb keymap: the named keys and a US layout at their evdev codes, plus
    the characters added with :meth:`add`. Keycodes once given never change symbols (until
    :meth:`reset`)."""

    symbols: dict[int, tuple[str, ...]] = field(default_factory=dict)  # evdev code -> chars/names
    chars: dict[str, tuple[int, bool]] = field(default_factory=dict)  # char -> (code, shifted)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the named keys and the US layout alone."""
        self.symbols.clear()
        self.chars.clear()
        for name, code in NAMED_CODES.items():
            spec = keynames.spec(name)
            assert spec is not None
            self.symbols[code] = (spec.xdotool,)
        self.chars[" "] = (NAMED_CODES["space"], False)
        for code, pair in US_KEYS.items():
            plain, shifted = pair[0], pair[1]
            self.symbols[code] = (keysym_name(plain), keysym_name(shifted))
            self.chars[plain] = (code, False)
            self.chars[shifted] = (code, True)

    def spare(self) -> list[int]:
        return [code for code in range(1, MAX_CODE + 1) if code not in self.symbols]

    def missing(self, text: str) -> list[str]:
        """The characters of ``text`` (not control keys) the map lacks, in order, once each."""
        found: list[str] = []
        for char in text:
            if char not in self.chars and char not in _TEXT_KEYS and char not in found:
                found.append(char)
        return found

    def add(self, chars: list[str]) -> list[str]:
        """Give each character a spare keycode (a case pair shares one, the upper case on
        shift); the characters that did not fit, when the spare keycodes ran out."""
        spare = self.spare()
        for position, char in enumerate(chars):
            if char in self.chars:
                continue
            if unicodedata.category(char) in ("Cc", "Cs"):
                raise InputBackendError(f"cannot type the control character {char!r} on Wayland")
            if not spare:
                return chars[position:]
            code = spare.pop(0)
            pair = _case_pair(char)
            if pair is not None and pair[0] not in self.chars and pair[1] not in self.chars:
                self.symbols[code] = (keysym_name(pair[0]), keysym_name(pair[1]))
                self.chars[pair[0]] = (code, False)
                self.chars[pair[1]] = (code, True)
            else:
                # The symbol on both levels: X reads a key with one letter symbol as a
                # lower/upper pair, and would type "ẞ" unshifted as "ß".
                self.symbols[code] = (keysym_name(char), keysym_name(char))
                self.chars[char] = (code, False)
        return []

    def key(self, char: str) -> tuple[int, bool]:
        """(evdev code, needs shift) of a character of text (``\\n`` is Return)."""
        named = _TEXT_KEYS.get(char)
        if named is not None:
            return NAMED_CODES[named], False
        return self.chars[char]

    def text(self) -> bytes:
        """The keymap in xkb's text format (v1), NUL-terminated."""
        lines = ["xkb_keymap {", 'xkb_keycodes "guiagent" {', "minimum = 8;", "maximum = 255;"]
        lines += [f"<K{code + 8}> = {code + 8};" for code in sorted(self.symbols)]
        lines += ["};", 'xkb_types "guiagent" { include "complete" };',
                  'xkb_compatibility "guiagent" { include "complete" };',
                  'xkb_symbols "guiagent" {']
        for code in sorted(self.symbols):
            syms = self.symbols[code]
            kind = "TWO_LEVEL" if len(syms) == 2 else "ONE_LEVEL"
            lines.append(f'key <K{code + 8}> {{ type = "{kind}", '
                         f'symbols[Group1] = [ {", ".join(syms)} ] }};')
        for name, modifier in _MODIFIER_MAP.items():
            lines.append(f"modifier_map {modifier} {{ <K{NAMED_CODES[name] + 8}> }};")
        lines += ["};", "};", ""]
        return "\n".join(lines).encode() + b"\0"


class VirtualKeyboard:
    """One virtual keyboard of the default seat on ``connection`` (which its owner closes).

    :meth:`type` and :meth:`keys` return once the compositor has handled every key (a round
    trip); the application reads them after that.
    """

    def __init__(self, connection: WaylandConnection, settle_s: float | None = None) -> None:
        if _MANAGER not in connection.globals or _SEAT not in connection.globals:
            raise InputBackendError(
                "this Wayland compositor offers no virtual keyboard (zwp_virtual_keyboard_"
                "manager_v1): guiagent types only on wlroots compositors (sway, Hyprland, "
                "river...)")
        self._wl = connection
        self.settle_s = KEYMAP_SETTLE_S if settle_s is None else settle_s
        self.keymap = Keymap()
        self.upload_times: list[float] = []  # seconds from sending a keymap to its round trip
        self._usable_at = 0.0  # when the last keymap upload has settled
        self._last_key = 0.0
        self._depressed = 0
        self._locked = 0
        with connection.lock:
            seat = connection.bind(_SEAT, 1)
            connection.listen(seat)
            manager = connection.bind(_MANAGER, 1)
            self._keyboard = connection.new_id()
            connection.send(manager, _CREATE, uint(seat), uint(self._keyboard))
            self._upload()
            # The seat's capabilities as they were before this keyboard (sent on binding it).
            first = next((body for opcode, body in connection.events.get(seat, [])
                          if opcode == _SEAT_CAPABILITIES), None)
            if first is not None and not struct.unpack_from("<I", first)[0] & _KEYBOARD_CAPABILITY:
                self._usable_at = max(self._usable_at, time.monotonic() + NEW_CAPABILITY_S)

    def _upload(self) -> None:
        """Send the keymap and wait until the compositor has taken it; its keys may be used
        :attr:`settle_s` later."""
        data = self.keymap.text()
        started = time.monotonic()
        fd = os.memfd_create("guiagent-keymap", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            self._wl.send(self._keyboard, _KEYMAP, uint(_XKB_V1), uint(len(data)), fd=fd)
        finally:
            os.close(fd)
        self._wl.roundtrip()
        self.upload_times.append(time.monotonic() - started)
        self._usable_at = time.monotonic() + self.settle_s

    def _prepare(self, text: str) -> None:
        """Make every character of ``text`` typeable, uploading a longer keymap if needed."""
        missing = self.keymap.missing(text)
        if not missing:
            return
        left = self.keymap.add(missing)
        if left:
            # Out of spare keycodes: give them new symbols once clients had time to read every
            # key sent with the old ones (a client looking a key up late would read the new one).
            delay = self._last_key + QUIET_S - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.keymap.reset()
            left = self.keymap.add(self.keymap.missing(text))
            if left:
                raise InputBackendError(
                    f"{len(self.keymap.missing(text))} distinct characters do not fit the "
                    f"keyboard's spare keycodes at once: type this text in shorter parts")
        self._upload()

    def _wait_settled(self) -> None:
        delay = self._usable_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _key(self, code: int, pressed: bool) -> None:
        self._wl.send(self._keyboard, _KEY, uint(int(time.monotonic() * 1000)), uint(code),
                      uint(_PRESSED if pressed else _RELEASED))

    def _modifiers(self) -> None:
        self._wl.send(self._keyboard, _MODIFIERS, uint(self._depressed), uint(0),
                      uint(self._locked), uint(0))

    def _tap(self, code: int, shifted: bool) -> None:
        if shifted:
            self._key(NAMED_CODES["shift"], True)
            self._depressed |= MODIFIER_BITS["shift"]
            self._modifiers()
        self._key(code, True)
        self._key(code, False)
        if shifted:
            self._key(NAMED_CODES["shift"], False)
            self._depressed &= ~MODIFIER_BITS["shift"]
            self._modifiers()

    def type(self, text: str) -> None:
        """Type ``text`` (any Unicode; ``\\n`` is Return, ``\\t`` Tab) where the focus is."""
        if not text:
            return
        with self._wl.lock:
            for start in range(0, len(text), CHUNK):
                part = text[start:start + CHUNK]
                self._prepare(part)
                self._wait_settled()
                previous = -1
                for char in part:
                    code, shifted = self.keymap.key(char)
                    if code == previous:  # see REPEAT_GAP_S
                        self._wl.roundtrip()
                        time.sleep(REPEAT_GAP_S)
                    previous = code
                    self._tap(code, shifted)
                self._wl.roundtrip()
                self._last_key = time.monotonic()

    def keys(self, keys: tuple[str, ...]) -> None:
        """Hold canonical ``keys`` (``guiagent.keys`` names or single characters) down in
        order, then release them in reverse; a character that needs shift adds shift."""
        with self._wl.lock:
            self._prepare("".join(k for k in keys if len(k) == 1))
            self._wait_settled()
            held: list[tuple[int, int]] = []  # (code, modifier bits it set)
            try:
                for code, bits, lock in self._steps(keys):
                    self._key(code, True)
                    if lock:
                        self._locked ^= lock
                    self._depressed |= bits
                    if bits or lock:
                        self._modifiers()
                    held.append((code, bits))
            finally:
                for code, bits in reversed(held):
                    self._key(code, False)
                    if bits:
                        self._depressed &= ~bits
                        self._modifiers()
                self._wl.roundtrip()
                self._last_key = time.monotonic()

    def _steps(self, keys: tuple[str, ...]) -> list[tuple[int, int, int]]:
        """(evdev code, modifier bits it holds, lock bits it toggles) for each key to press in
        turn; a character that needs shift gets shift pressed before it."""
        steps: list[tuple[int, int, int]] = []
        shift = MODIFIER_BITS["shift"]
        holding = 0
        for key in keys:
            if key == "capslock":
                steps.append((NAMED_CODES[key], 0, MODIFIER_BITS[key]))
            elif key in NAMED_CODES:
                bits = MODIFIER_BITS.get(key, 0)
                steps.append((NAMED_CODES[key], bits, 0))
                holding |= bits
            elif len(key) == 1:
                code, shifted = self.keymap.key(key)
                if shifted and not holding & shift:
                    steps.append((NAMED_CODES["shift"], shift, 0))
                    holding |= shift
                steps.append((code, 0, 0))
            else:
                raise InputBackendError(f"unknown key {key!r}")
        return steps

    def close(self) -> None:
        with self._wl.lock, contextlib.suppress(InputBackendError):
            if self._keyboard:
                self._wl.send(self._keyboard, _DESTROY)
                self._wl.roundtrip()
        self._keyboard = 0
