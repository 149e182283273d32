"""Putting AT-SPI extents where the pixels are: per-window scale, misplaced surfaces, occlusion.

Measured on a 3840x2160 Xvfb display with openbox:

- GTK3 with ``GDK_SCALE=2`` reports extents in its logical pixels (half the screen's), so a
  window's extents are compared with the X window of the same title: their size ratio is the
  factor to multiply by.
- LibreOffice (gtk3 plugin) reports its VCL root pane (the toolbars and the document) at the
  window's top, ignoring the GTK menu bar above it: the pane has exactly its parent's size at
  another origin. Such a child is moved, with everything inside it, onto its parent.
- Chromium at a device scale factor k (``--force-device-scale-factor=2``, or the desktop's
  scale) reports its web content's extents multiplied by k, position included: the document
  of a window at (1950, 40, 1880, 2080) read (3900, 80, 3760, 4160). Its window and toolbar
  are right. A document that lies outside its window but fits it once divided by k is divided,
  with everything inside it.
- AT-SPI does not know about other windows: a control covered by a window above it in the
  stacking order is not visible in the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Box = tuple[int, int, int, int]
# GetExtents answers this for an object that has no place on the screen.
NO_PLACE = -(2**31)


@dataclass(frozen=True, slots=True)
class XWindow:
    title: str
    pid: int
    box: Box


@dataclass(frozen=True, slots=True)
class XScreen:
    """The X display's size and client windows, bottom to top."""

    size: tuple[int, int]
    stacking: tuple[XWindow, ...]

    def find(self, title: str, pid: int) -> int | None:
        """Index in ``stacking`` of the window titled ``title`` (of process ``pid`` when several)."""
        matches = [i for i, w in enumerate(self.stacking) if w.title == title]
        if len(matches) > 1 and pid:
            matches = [i for i in matches if self.stacking[i].pid == pid] or matches
        return matches[-1] if matches else None

    def covered(self, index: int, x: int, y: int) -> bool:
        """Whether point (x, y) is under a window stacked above window ``index``."""
        return any(_inside(w.box, x, y) for w in self.stacking[index + 1:])


def read_x_screen(conn: Any) -> XScreen | None:
    """The X display's windows (``conn``: an open connection), or None without one."""
    if conn is None:
        return None
    try:
        from Xlib import X
        from Xlib.error import XError

        from guiagent.platform.x11.windows import window_info
    except ImportError:
        return None
    try:
        root = conn.screen().root
        geometry = root.get_geometry()
        prop = root.get_full_property(conn.intern_atom("_NET_CLIENT_LIST_STACKING"), X.AnyPropertyType)
        pid_atom = conn.intern_atom("_NET_WM_PID")
        windows = []
        for window_id in list(prop.value) if prop is not None else []:
            window = conn.create_resource_object("window", window_id)
            try:
                info = window_info(conn, window)
                pid = window.get_full_property(pid_atom, X.AnyPropertyType)
            except XError:
                continue  # closed while we looked
            windows.append(XWindow(info.title, int(pid.value[0]) if pid is not None else 0, info.box))
        return XScreen((int(geometry.width), int(geometry.height)), tuple(windows))
    except Exception:
        return None


def window_scale(extents: Box | None, x_window: XWindow | None) -> float:
    """How many screen pixels one of the application's extent units is (1, or 2 for
    ``GDK_SCALE=2``...), from the window's extents against its X window."""
    if extents is None or x_window is None or extents[2] <= 0:
        return 1.0
    ratio = x_window.box[2] / extents[2]
    # Extents include the window manager's frame and X geometry does not: ~0.99 at scale 1.
    return round(ratio * 4) / 4 if ratio >= 1.2 else 1.0


def misplaced_offset(child: Box | None, parent: Box | None) -> tuple[int, int]:
    """The shift that puts ``child`` onto ``parent`` when it is the same surface reported from
    another origin (same size, other place, not inside the parent); (0, 0) otherwise."""
    if child is None or parent is None:
        return (0, 0)
    (cx, cy, cw, ch), (px, py, pw, ph) = child, parent
    if (cw, ch) != (pw, ph) or cw <= 0 or ch <= 0 or (cx, cy) == (px, py):
        return (0, 0)
    return (px - cx, py - cy)


# Device scale factors a desktop or browser uses; the first that fits wins.
_DEVICE_SCALES = (1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 4.0)


def _within(box: tuple[float, float, float, float], outer: Box, slack: float) -> bool:
    x, y, w, h = box
    ox, oy, ow, oh = outer
    return x >= ox - slack and y >= oy - slack and x + w <= ox + ow + slack and y + h <= oy + oh + slack


def overscale(box: Box | None, window: Box | None) -> float:
    """The factor k that puts a document reported at k times its screen place back inside its
    window (Chromium at device scale k); 1.0 when it is inside already or no k fits."""
    if box is None or window is None or box[2] <= 0 or window[2] <= 0:
        return 1.0
    if _within(box, window, 4):
        return 1.0
    for k in _DEVICE_SCALES:
        scaled = (box[0] / k, box[1] / k, box[2] / k, box[3] / k)
        if _within(scaled, window, 4) and scaled[2] >= 0.5 * window[2]:
            return k
    return 1.0


def divided(box: Box | None, factor: float) -> Box | None:
    if box is None or factor == 1.0:
        return box
    return (round(box[0] / factor), round(box[1] / factor), round(box[2] / factor),
            round(box[3] / factor))


def place(raw: Box | None, scale: float, offset: tuple[int, int]) -> Box | None:
    """Screen box of raw extents after the window's scale and any inherited shift."""
    if raw is None or raw[0] == NO_PLACE or raw[1] == NO_PLACE:
        return None
    x, y, w, h = raw
    x, y = x + offset[0], y + offset[1]
    if scale != 1.0:
        return (round(x * scale), round(y * scale), round(w * scale), round(h * scale))
    return (x, y, w, h)


def on_screen(box: Box | None, size: tuple[int, int] | None) -> bool:
    if box is None or box[2] <= 0 or box[3] <= 0:
        return False
    if size is None:
        return box[0] + box[2] > 0 and box[1] + box[3] > 0
    x, y, w, h = box
    return x < size[0] and y < size[1] and x + w > 0 and y + h > 0


def _inside(box: Box, x: int, y: int) -> bool:
    return box[0] <= x < box[0] + box[2] and box[1] <= y < box[1] + box[3]


def centre(box: Box) -> tuple[int, int]:
    return (box[0] + box[2] // 2, box[1] + box[3] // 2)
