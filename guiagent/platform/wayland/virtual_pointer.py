"""Input devices on a wlroots compositor: a small client of the Wayland wire protocol that
creates a ``zwlr_virtual_pointer_v1`` (absolute motion, buttons, wheel notches) and holds an
idle ``zwp_virtual_keyboard_v1``.

Why not sway's ``seat cursor`` commands alone: a headless sway (``WLR_LIBINPUT_NO_DEVICES``)
has no pointer device, so its seat has no pointer capability and applications never get a
``wl_pointer`` - sway moved its own cursor and focused windows, but no application received a
click, a drag or a wheel notch. A virtual pointer is a real input device of the seat: sway
hands its events to the application under it exactly as it would a mouse's. On a desktop with
a mouse it is one more pointer on the same cursor.

The idle keyboard is there for ``wtype``: a seat without a keyboard device gains the keyboard
capability only while a wtype runs, and an application creates its ``wl_keyboard`` only then,
so the first key of a call could arrive before the application listened (foot at output scale
2 lost it). With a keyboard that stays, applications keep theirs; wtype's keymap then reaches
them on it, in order, before its keys.

The wire format (little-endian 32-bit words): ``object id``, ``size << 16 | opcode``, then the
arguments; a string is its length (with the NUL) and its bytes padded to 4; ``fixed`` is a
24.8 fixed-point number. No library (libwayland, pywayland) is needed.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from pathlib import Path

from guiagent.errors import InputBackendError

_HEADER = struct.Struct("<II")
_MANAGER = "zwlr_virtual_pointer_manager_v1"
_KEYBOARD_MANAGER = "zwp_virtual_keyboard_manager_v1"
_SEAT = "wl_seat"
# Any valid keymap: the idle keyboard never presses a key.
_KEYMAP = (b'xkb_keymap { xkb_keycodes { include "evdev" }; xkb_types { include "complete" }; '
           b'xkb_compat { include "complete" }; xkb_symbols { include "pc+us" }; };\0')

# Linux input event codes (linux/input-event-codes.h) of the mouse buttons.
BUTTON_CODES = {"left": 0x110, "right": 0x111, "middle": 0x112}
# wl_pointer.axis: 0 vertical (positive: down), 1 horizontal (positive: right).
WHEEL_AXES = {"up": (0, -1), "down": (0, 1), "left": (1, -1), "right": (1, 1)}
WHEEL_STEP = 15.0  # the axis value of one notch, as libinput reports a mouse wheel's click

# Requests (opcodes).
_DISPLAY_SYNC, _DISPLAY_GET_REGISTRY = 0, 1
_REGISTRY_BIND = 0
_MANAGER_CREATE = 0
(_MOTION, _MOTION_ABSOLUTE, _BUTTON, _AXIS, _FRAME, _AXIS_SOURCE, _AXIS_STOP, _AXIS_DISCRETE,
 _POINTER_DESTROY) = range(9)
_MANAGER_DESTROY = 2
_KEYBOARD_CREATE, _KEYBOARD_KEYMAP, _KEYBOARD_DESTROY = 0, 0, 3
# Events (opcodes).
_DISPLAY_ERROR = 0
_REGISTRY_GLOBAL = 0
_DISPLAY_ID, _REGISTRY_ID = 1, 2


def _uint(value: int) -> bytes:
    return struct.pack("<I", value & 0xFFFFFFFF)


def _fixed(value: float) -> bytes:
    return struct.pack("<i", round(value * 256))


def _string(text: str) -> bytes:
    data = text.encode() + b"\0"
    return _uint(len(data)) + data + b"\0" * (-len(data) % 4)


def _read_string(body: bytes, pos: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("<I", body, pos)
    text = body[pos + 4:pos + 4 + length - 1].decode(errors="replace")
    return text, pos + 4 + length + (-length % 4)


class VirtualPointer:
    """One virtual pointer (and an idle virtual keyboard, where the compositor offers one) on
    the compositor at ``socket_path`` (a Wayland socket).

    Positions are logical pixels of the output layout whose bounding box is ``layout``
    (``x, y, width, height``); call :meth:`set_layout` when outputs change. Every method
    waits until the compositor has handled what it sent (one round trip, well under 1 ms).
    """

    def __init__(self, socket_path: Path, layout: tuple[int, int, int, int]) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(str(socket_path))
        except OSError as exc:
            self._sock.close()
            raise InputBackendError(f"cannot reach the Wayland compositor at {socket_path}: "
                                    f"{exc}") from None
        self._lock = threading.Lock()
        self._next_id = 3
        self._buffer = b""
        self.layout = layout
        self._manager = 0
        self._pointer = 0
        self._keyboard = 0
        try:
            self._create()
        except BaseException:
            self._sock.close()
            raise

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _send(self, obj: int, opcode: int, *args: bytes, fd: int | None = None) -> None:
        body = b"".join(args)
        message = _HEADER.pack(obj, (8 + len(body)) << 16 | opcode) + body
        if fd is None:
            self._sock.sendall(message)
        else:  # a file descriptor travels beside the message, not in it
            socket.send_fds(self._sock, [message], [fd])

    def _event(self) -> tuple[int, int, bytes]:
        while len(self._buffer) < 8 or len(self._buffer) < self._size():
            chunk = self._sock.recv(65536)
            if not chunk:
                raise InputBackendError("the Wayland compositor closed the connection of "
                                        "guiagent's virtual pointer (did it exit?)")
            self._buffer += chunk
        obj, word = _HEADER.unpack_from(self._buffer)
        size = word >> 16
        body, self._buffer = self._buffer[8:size], self._buffer[size:]
        return obj, word & 0xFFFF, body

    def _size(self) -> int:
        return int(_HEADER.unpack_from(self._buffer)[1] >> 16)

    def _roundtrip(self, on_global: dict[str, tuple[int, int]] | None = None) -> None:
        """Send wl_display.sync and read events until its callback is done; a protocol error
        the compositor reports on the way becomes InputBackendError."""
        callback = self._new_id()
        self._send(_DISPLAY_ID, _DISPLAY_SYNC, _uint(callback))
        while True:
            obj, opcode, body = self._event()
            if obj == callback:
                return
            if obj == _DISPLAY_ID and opcode == _DISPLAY_ERROR:
                _, code = struct.unpack_from("<II", body)
                message, _ = _read_string(body, 8)
                raise InputBackendError(f"the compositor refused guiagent's virtual pointer "
                                        f"(protocol error {code}: {message})")
            if obj == _REGISTRY_ID and opcode == _REGISTRY_GLOBAL and on_global is not None:
                (name,) = struct.unpack_from("<I", body)
                interface, pos = _read_string(body, 4)
                (version,) = struct.unpack_from("<I", body, pos)
                on_global[interface] = (name, version)

    def _create(self) -> None:
        globals_: dict[str, tuple[int, int]] = {}
        self._send(_DISPLAY_ID, _DISPLAY_GET_REGISTRY, _uint(_REGISTRY_ID))
        self._roundtrip(globals_)
        if _MANAGER not in globals_:
            raise InputBackendError(
                "this Wayland compositor offers no virtual pointer (zwlr_virtual_pointer_"
                "manager_v1): guiagent moves and clicks the pointer only on wlroots compositors "
                "(sway, Hyprland, river...)")
        name, version = globals_[_MANAGER]
        self._manager = self._new_id()
        self._send(_REGISTRY_ID, _REGISTRY_BIND, _uint(name), _string(_MANAGER),
                   _uint(min(version, 1)), _uint(self._manager))
        self._pointer = self._new_id()
        self._send(self._manager, _MANAGER_CREATE, _uint(0), _uint(self._pointer))  # default seat
        if _KEYBOARD_MANAGER in globals_ and _SEAT in globals_:
            self._hold_keyboard(globals_[_KEYBOARD_MANAGER][0], globals_[_SEAT][0])
        self._roundtrip()

    def _hold_keyboard(self, manager_name: int, seat_name: int) -> None:
        import os

        seat = self._new_id()
        self._send(_REGISTRY_ID, _REGISTRY_BIND, _uint(seat_name), _string(_SEAT), _uint(1),
                   _uint(seat))
        manager = self._new_id()
        self._send(_REGISTRY_ID, _REGISTRY_BIND, _uint(manager_name), _string(_KEYBOARD_MANAGER),
                   _uint(1), _uint(manager))
        self._keyboard = self._new_id()
        self._send(manager, _KEYBOARD_CREATE, _uint(seat), _uint(self._keyboard))
        keymap = os.memfd_create("guiagent-keymap")
        try:
            os.write(keymap, _KEYMAP)
            self._send(self._keyboard, _KEYBOARD_KEYMAP, _uint(1), _uint(len(_KEYMAP)),  # xkb v1
                       fd=keymap)
        finally:
            os.close(keymap)

    def set_layout(self, layout: tuple[int, int, int, int]) -> None:
        self.layout = layout

    @staticmethod
    def _time() -> bytes:
        return _uint(int(time.monotonic() * 1000))

    def _frame(self, *events: tuple[int, tuple[bytes, ...]]) -> None:
        with self._lock:
            for opcode, args in events:
                self._send(self._pointer, opcode, *args)
            self._send(self._pointer, _FRAME)
            self._roundtrip()

    def move(self, x: int, y: int) -> None:
        """Put the pointer on logical pixel ``(x, y)`` of the layout."""
        left, top, width, height = self.layout
        if not (left <= x < left + width and top <= y < top + height):
            raise InputBackendError(f"({x}, {y}) is outside the outputs' layout "
                                    f"{left},{top} {width}x{height}")
        # The compositor maps x / extent onto the layout box; pixel centres stay in their pixel.
        self._frame((_MOTION_ABSOLUTE, (self._time(), _uint(2 * (x - left) + 1),
                                        _uint(2 * (y - top) + 1), _uint(2 * width),
                                        _uint(2 * height))))

    def button(self, button: str, pressed: bool) -> None:
        code = BUTTON_CODES.get(button)
        if code is None:
            raise InputBackendError(f"unknown mouse button {button!r}; use left, right or middle")
        self._frame((_BUTTON, (self._time(), _uint(code), _uint(1 if pressed else 0))))

    def scroll(self, direction: str, amount: int) -> None:
        """``amount`` wheel notches, each its own frame (as a mouse wheel sends them)."""
        axis_sign = WHEEL_AXES.get(direction)
        if axis_sign is None:
            raise InputBackendError(f"unknown scroll direction {direction!r}")
        axis, sign = axis_sign
        for _ in range(amount):
            self._frame((_AXIS_SOURCE, (_uint(0),)),  # wheel
                        (_AXIS_DISCRETE, (self._time(), _uint(axis), _fixed(sign * WHEEL_STEP),
                                          struct.pack("<i", sign))))

    def close(self) -> None:
        with self._lock, contextlib.suppress(OSError, InputBackendError):
            if self._keyboard:
                self._send(self._keyboard, _KEYBOARD_DESTROY)
            if self._pointer:
                self._send(self._pointer, _POINTER_DESTROY)
                self._send(self._manager, _MANAGER_DESTROY)
                self._roundtrip()
        self._pointer = self._keyboard = 0
        self._sock.close()
