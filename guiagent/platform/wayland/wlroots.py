"""wlroots compositors: pixels through ``grim`` (the wlr-screencopy protocol), the pointer and
the keyboard through guiagent's own virtual devices
(:mod:`~guiagent.platform.wayland.virtual_pointer`,
:mod:`~guiagent.platform.wayland.virtual_keyboard`) on one Wayland connection.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

from guiagent.errors import CaptureError, InputBackendError
from guiagent.platform.base import OutputInfo
from guiagent.platform.wayland.session import WaylandSession
from guiagent.platform.wayland.sway import SwayIPC
from guiagent.platform.wayland.virtual_keyboard import VirtualKeyboard
from guiagent.platform.wayland.virtual_pointer import VirtualPointer
from guiagent.platform.wayland.wire import WaylandConnection

if TYPE_CHECKING:
    import numpy as np


class GrimCapture:
    """:class:`~guiagent.platform.base.ScreenCapture` through ``grim`` (raw PPM on a pipe:
    ~80 ms for a 3840x2160 output on headless sway, against ~270 ms for grim's PNG)."""

    def __init__(self, session: WaylandSession, ipc: SwayIPC | None) -> None:
        self._grim = shutil.which("grim")
        if self._grim is None:
            raise CaptureError("capturing a wlroots desktop needs grim: `sudo apt-get install grim`")
        self._session = session
        self._env = session.env
        self._ipc = ipc

    def outputs(self) -> list[OutputInfo]:
        if self._ipc is None:
            raise CaptureError(f"the monitor layout of the {self._session.compositor} compositor at "
                               f"{self._session.socket} is unknown: guiagent reads it from sway's "
                               "IPC ($SWAYSOCK)")
        return self._ipc.outputs()

    def grab(self, box: tuple[int, int, int, int]) -> np.ndarray:
        x, y, width, height = box
        argv = [str(self._grim), "-t", "ppm", "-g", f"{x},{y} {width}x{height}", "-"]
        result = subprocess.run(argv, env=self._env, capture_output=True, check=False)
        if result.returncode != 0:
            raise CaptureError(f"grim could not capture {x},{y} {width}x{height}: "
                               f"{result.stderr.decode(errors='replace').strip()}")
        return ppm_to_bgra(result.stdout)

    def close(self) -> None:
        if self._ipc is not None:
            self._ipc.close()
            self._ipc = None


def ppm_to_bgra(data: bytes) -> np.ndarray:
    """A binary PPM (P6, 8 bits) -> ``H x W x 4`` BGRA."""
    import numpy as np

    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":  # a comment runs to the end of its line
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while end < len(data) and not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    magic, width, height, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if magic != b"P6" or maxval != 255:
        raise CaptureError(f"grim sent an image guiagent cannot read ({magic!r}, max {maxval})")
    rgb = np.frombuffer(data, np.uint8, width * height * 3, pos + 1).reshape(height, width, 3)
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)


class WaylandTypist:
    """:class:`~guiagent.platform.base.UnicodeTypist`: a virtual keyboard on a connection of
    its own."""

    def __init__(self, session: WaylandSession) -> None:
        self._wl = WaylandConnection(session.socket)
        try:
            self.keyboard = VirtualKeyboard(self._wl)
        except BaseException:
            self._wl.close()
            raise

    def type(self, text: str) -> None:
        self.keyboard.type(text)

    def close(self) -> None:
        self.keyboard.close()
        self._wl.close()


class WlrootsInput:
    """:class:`~guiagent.platform.base.InputInjector` on sway: the pointer through guiagent's
    own virtual pointer (:mod:`~guiagent.platform.wayland.virtual_pointer`; sway's ``seat
    cursor`` commands reach no application on a seat without a pointer device), keys and text
    through its own virtual keyboard (one keymap whose keycodes keep their meaning), the output
    layout from sway's IPC.

    Wayland tells no client where the pointer is: :meth:`position` is where this injector last
    put it (the middle of the first output before its first move), so the corner fail-safe
    sees guiagent's own moves only; the abort hotkey is the way to stop a run on sway.
    """

    def __init__(self, session: WaylandSession, ipc: SwayIPC) -> None:
        self._ipc = ipc
        self._position: tuple[int, int] | None = None
        self._wl = WaylandConnection(session.socket)
        try:
            self._pointer = VirtualPointer(self._wl, self._layout())
            self.keyboard = VirtualKeyboard(self._wl)
        except BaseException:
            self._wl.close()
            raise

    def _layout(self) -> tuple[int, int, int, int]:
        """The bounding box of the outputs, in logical pixels."""
        outputs = self._ipc.outputs()
        if not outputs:
            raise InputBackendError("sway reports no active output to put the pointer on")
        left = min(o.box[0] for o in outputs)
        top = min(o.box[1] for o in outputs)
        right = max(o.box[0] + o.box[2] for o in outputs)
        bottom = max(o.box[1] + o.box[3] for o in outputs)
        return left, top, right - left, bottom - top

    def position(self) -> tuple[int, int]:
        if self._position is None:
            x, y, width, height = self._ipc.outputs()[0].box
            return x + width // 2, y + height // 2
        return self._position

    def move(self, x: int, y: int) -> None:
        layout = self._layout()  # outputs may have moved or been rescaled since the last move
        if layout != self._pointer.layout:
            self._pointer.set_layout(layout)
        self._pointer.move(x, y)
        self._position = (x, y)

    def button(self, button: str, pressed: bool) -> None:
        self._pointer.button(button, pressed)

    def scroll(self, direction: str, amount: int) -> None:
        self._pointer.scroll(direction, amount)

    def type(self, text: str) -> None:
        self.keyboard.type(text)

    def keys(self, keys: tuple[str, ...]) -> None:
        self.keyboard.keys(keys)

    def close(self) -> None:
        self.keyboard.close()
        self._pointer.close()
        self._wl.close()
        self._ipc.close()
