"""Wayland sessions.

Wayland gives a client no global capture, input injection, pointer position or window list;
the compositor has to provide them, so what works depends on it:

- **wlroots / sway**: everything guiagent needs. Pixels through ``grim`` (wlr-screencopy), the
  pointer, keys and Unicode text through guiagent's own virtual pointer and keyboard (the
  wlr virtual-pointer and virtual-keyboard protocols), the monitor layout, the window list and
  the abort hotkey through sway's IPC socket (``$SWAYSOCK``).
- **GNOME, KDE and other compositors**: only the xdg-desktop-portal ScreenCast and
  RemoteDesktop interfaces (PipeWire frames, a permission prompt) give capture and input:
  :mod:`guiagent.platform.portal` for the session guiagent runs in; for another display this
  module's services raise :class:`~guiagent.errors.PlatformUnsupported` saying what to do.

Accessibility (AT-SPI) is the same D-Bus protocol as under X11 and works everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from guiagent.errors import PlatformUnsupported
from guiagent.platform.base import (
    Accessibility,
    HotkeyListener,
    InputInjector,
    ScreenCapture,
    UnicodeTypist,
    WindowList,
)
from guiagent.platform.wayland.session import WaylandSession, find_session

_NOT_WLROOTS = (
    "on {what} Wayland session guiagent can ground targets in screenshots (`guiagent ground`, "
    "`guiagent.locate`) and read accessibility trees, but cannot {service}: that needs the "
    "compositor's help, which guiagent gets from sway's IPC and the wlroots protocols (grim, "
    "virtual pointer and keyboard) - on sway, set $SWAYSOCK if it is not found; on GNOME, KDE "
    "and others guiagent goes through the xdg-desktop-portal ScreenCast and RemoteDesktop "
    "interfaces, for the session it runs in ($WAYLAND_DISPLAY, or GUIAGENT_PLATFORM=portal). Or log "
    "in to an X11 session (\"GNOME on Xorg\", \"Plasma (X11)\"), or drive the application "
    "inside a VirtualDisplay (Xvfb) or a VirtualWaylandDisplay (headless sway)"
)


def _unsupported(session: WaylandSession, service: str) -> PlatformUnsupported:
    what = {"gnome": "a GNOME", "kde": "a KDE Plasma"}.get(session.compositor, "this")
    return PlatformUnsupported(_NOT_WLROOTS.format(what=what, service=service))


class WaylandPlatform:
    """Wayland services for a display (a socket name or path; None: ``$WAYLAND_DISPLAY``)."""

    name = "wayland"

    def _wlroots(self, display: str | None, service: str) -> tuple[WaylandSession, Path]:
        session = find_session(display)
        if session.swaysock is None:
            raise _unsupported(session, service)
        return session, session.swaysock

    def screen_capture(self, display: str | None) -> ScreenCapture:
        from guiagent.platform.wayland.sway import SwayIPC
        from guiagent.platform.wayland.wlroots import GrimCapture

        session, swaysock = self._wlroots(display, "capture the screen")
        return GrimCapture(session, SwayIPC(swaysock))

    def input_injector(self, display: str | None) -> InputInjector:
        from guiagent.platform.wayland.sway import SwayIPC
        from guiagent.platform.wayland.wlroots import WlrootsInput

        session, swaysock = self._wlroots(display, "send input")
        return WlrootsInput(session, SwayIPC(swaysock))

    def unicode_typist(self, display: str | None) -> UnicodeTypist:
        from guiagent.platform.wayland.wlroots import WaylandTypist

        session, _ = self._wlroots(display, "type text")
        return WaylandTypist(session)

    def hotkey_listener(self, keys: tuple[str, ...], callback: Callable[[], None],
                        display: str | None) -> HotkeyListener:
        from guiagent.platform.wayland.sway import SwayHotkeyListener

        _, swaysock = self._wlroots(display, "watch for the abort hotkey (pass abort_hotkey=None "
                                             "to go without)")
        return SwayHotkeyListener(swaysock, keys, callback)

    def windows(self, display: str | None) -> WindowList:
        from guiagent.platform.wayland.sway import SwayWindows

        _, swaysock = self._wlroots(display, "list windows")
        return SwayWindows(swaysock)

    def accessibility(self, display: str | None) -> Accessibility:
        # AT-SPI is the same D-Bus protocol under X11 and Wayland.
        from guiagent.platform.atspi import AtspiAccessibility

        return AtspiAccessibility(display)
