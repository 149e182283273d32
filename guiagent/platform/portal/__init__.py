"""Wayland desktops other than sway (GNOME, KDE Plasma) through the xdg-desktop-portal.

- **capture**: the ScreenCast portal's PipeWire streams (:mod:`.capture`, GStreamer's
  ``pipewiresrc``); one permission dialog, remembered with a restore token
  (:mod:`.portal`);
- **input**: the RemoteDesktop portal on the same session (:mod:`.input`): absolute pointer
  moves on the shared screens, buttons, wheel notches, keys and any Unicode text as keysyms;
- **accessibility**: AT-SPI, as everywhere.

The portals give no window list, no pointer position and no global key events: those
services raise :class:`~guiagent.errors.PlatformUnsupported` saying what to use instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from guiagent.errors import PlatformUnsupported
from guiagent.platform.base import (
    Accessibility,
    HotkeyListener,
    InputInjector,
    ScreenCapture,
    UnicodeTypist,
    WindowList,
)

# Desktops whose compositor guiagent drives itself (sway's IPC, the wlroots protocols).
_WLROOTS = ("sway", "wlroots", "hyprland", "river", "wayfire")


def uses_portal(display: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the Wayland session ``display`` (None: this process's) is driven through the
    portals: ``$GUIAGENT_PLATFORM=portal``, or this process's own session when it is not a
    wlroots one (no ``$SWAYSOCK``, ``$XDG_CURRENT_DESKTOP`` not sway or another wlroots
    desktop). A display other than this process's own is never: the portal on the session
    bus reaches only the desktop the user is logged in to."""
    env = os.environ if environ is None else environ
    if env.get("GUIAGENT_PLATFORM", "").strip().lower() == "portal":
        return True
    own = env.get("WAYLAND_DISPLAY", "")
    if display and display != own and os.path.basename(display) != own:
        return False
    if env.get("SWAYSOCK"):
        return False
    desktop = env.get("XDG_CURRENT_DESKTOP", "").lower()
    return not any(name in desktop for name in _WLROOTS)


_NO_WINDOW_LIST = (
    "the desktop portals give applications no list of the other windows, so guiagent cannot "
    "{service} on this Wayland desktop. What works: targets found in the screenshot "
    "(`desktop.click('\"Save\"')`), the accessibility tree (`desktop.snapshot()`, AT-SPI, "
    "window names included), capture and input through the portal. For window boxes log in "
    "to an X11 session or use a virtual display")


class PortalPlatform:
    """The portal route's services (``display`` is ignored: the portal belongs to the session
    bus, ``$DBUS_SESSION_BUS_ADDRESS``)."""

    name = "wayland"

    def screen_capture(self, display: str | None) -> ScreenCapture:
        from guiagent.platform.portal.capture import PortalCapture

        return PortalCapture()

    def input_injector(self, display: str | None) -> InputInjector:
        from guiagent.platform.portal.input import PortalInput

        return PortalInput()

    def unicode_typist(self, display: str | None) -> UnicodeTypist:
        from guiagent.platform.portal.input import PortalTypist

        return PortalTypist()

    def hotkey_listener(self, keys: tuple[str, ...], callback: Callable[[], None],
                        display: str | None) -> HotkeyListener:
        raise PlatformUnsupported(
            "the desktop portals let no application watch the keyboard of others, so the "
            "abort hotkey cannot work here: pass abort_hotkey=None and stop a run with Ctrl+C "
            "in its terminal (or by closing the portal's screen-sharing session in the "
            "desktop's panel)")

    def windows(self, display: str | None) -> WindowList:
        raise PlatformUnsupported(_NO_WINDOW_LIST.format(service="list windows"))

    def accessibility(self, display: str | None) -> Accessibility:
        from guiagent.platform.atspi import AtspiAccessibility

        return AtspiAccessibility(display)
