"""guiagent's pointer on a wlroots compositor: a ``zwlr_virtual_pointer_v1`` (absolute motion,
buttons, wheel notches) on a :class:`~guiagent.platform.wayland.wire.WaylandConnection`.

Why not sway's ``seat cursor`` commands alone: a headless sway (``WLR_LIBINPUT_NO_DEVICES``)
has no pointer device, so its seat has no pointer capability and applications never get a
``wl_pointer`` - sway moved its own cursor and focused windows, but no application received a
click, a drag or a wheel notch. A virtual pointer is a real input device of the seat: sway
hands its events to the application under it exactly as it would a mouse's. On a desktop with
a mouse it is one more pointer on the same cursor.
"""

from __future__ import annotations

import contextlib
import struct
import time

from guiagent.errors import InputBackendError
from guiagent.platform.wayland.wire import WaylandConnection, fixed, uint

_MANAGER = "zwlr_virtual_pointer_manager_v1"

# Linux input event codes (linux/input-event-codes.h) of the mouse buttons.
BUTTON_CODES = {"left": 0x110, "right": 0x111, "middle": 0x112}
# wl_pointer.axis: 0 vertical (positive: down), 1 horizontal (positive: right).
WHEEL_AXES = {"up": (0, -1), "down": (0, 1), "left": (1, -1), "right": (1, 1)}
WHEEL_STEP = 15.0  # the axis value of one notch, as libinput reports a mouse wheel's click

# Requests (opcodes).
_MANAGER_CREATE, _MANAGER_DESTROY = 0, 2
(_MOTION, _MOTION_ABSOLUTE, _BUTTON, _AXIS, _FRAME, _AXIS_SOURCE, _AXIS_STOP, _AXIS_DISCRETE,
 _POINTER_DESTROY) = range(9)


class VirtualPointer:
    """One virtual pointer on ``connection`` (which its owner closes).

    Positions are logical pixels of the output layout whose bounding box is ``layout``
    (``x, y, width, height``); call :meth:`set_layout` when outputs change. Every method
    waits until the compositor has handled what it sent (one round trip, well under 1 ms).
    """

    def __init__(self, connection: WaylandConnection, layout: tuple[int, int, int, int]) -> None:
        if _MANAGER not in connection.globals:
            raise InputBackendError(
                "this Wayland compositor offers no virtual pointer (zwlr_virtual_pointer_"
                "manager_v1): guiagent moves and clicks the pointer only on wlroots compositors "
                "(sway, Hyprland, river...)")
        self._wl = connection
        self.layout = layout
        with connection.lock:
            self._manager = connection.bind(_MANAGER, 1)
            self._pointer = connection.new_id()
            connection.send(self._manager, _MANAGER_CREATE, uint(0), uint(self._pointer))  # default seat
            connection.roundtrip()

    def set_layout(self, layout: tuple[int, int, int, int]) -> None:
        self.layout = layout

    @staticmethod
    def _time() -> bytes:
        return uint(int(time.monotonic() * 1000))

    def _frame(self, *events: tuple[int, tuple[bytes, ...]]) -> None:
        with self._wl.lock:
            for opcode, args in events:
                self._wl.send(self._pointer, opcode, *args)
            self._wl.send(self._pointer, _FRAME)
            self._wl.roundtrip()

    def move(self, x: int, y: int) -> None:
        """Put the pointer on logical pixel ``(x, y)`` of the layout."""
        left, top, width, height = self.layout
        if not (left <= x < left + width and top <= y < top + height):
            raise InputBackendError(f"({x}, {y}) is outside the outputs' layout "
                                    f"{left},{top} {width}x{height}")
        # The compositor maps x / extent onto the layout box; pixel centres stay in their pixel.
        self._frame((_MOTION_ABSOLUTE, (self._time(), uint(2 * (x - left) + 1),
                                        uint(2 * (y - top) + 1), uint(2 * width),
                                        uint(2 * height))))

    def button(self, button: str, pressed: bool) -> None:
        code = BUTTON_CODES.get(button)
        if code is None:
            raise InputBackendError(f"unknown mouse button {button!r}; use left, right or middle")
        self._frame((_BUTTON, (self._time(), uint(code), uint(1 if pressed else 0))))

    def scroll(self, direction: str, amount: int) -> None:
        """``amount`` wheel notches, each its own frame (as a mouse wheel sends them)."""
        axis_sign = WHEEL_AXES.get(direction)
        if axis_sign is None:
            raise InputBackendError(f"unknown scroll direction {direction!r}")
        axis, sign = axis_sign
        for _ in range(amount):
            self._frame((_AXIS_SOURCE, (uint(0),)),  # wheel
                        (_AXIS_DISCRETE, (self._time(), uint(axis), fixed(sign * WHEEL_STEP),
                                          struct.pack("<i", sign))))

    def close(self) -> None:
        with self._wl.lock, contextlib.suppress(InputBackendError):
            if self._pointer:
                self._wl.send(self._pointer, _POINTER_DESTROY)
                self._wl.send(self._manager, _MANAGER_DESTROY)
                self._wl.roundtrip()
        self._pointer = 0
