"""The platform seam: which operating-system services guiagent uses, chosen by session type.

``platform_for(display)`` picks the implementation from the display and session (``$GUIAGENT_PLATFORM``
overrides: ``x11``, ``wayland``, ``windows``, ``macos``, ``portal``: Wayland through the desktop
portals, which a Wayland session that is not sway gets by default). X11 is complete; on the others each
service that has no implementation yet raises :class:`~guiagent.errors.PlatformUnsupported`
naming what works there and what to do instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from guiagent.errors import PlatformUnsupported
from guiagent.platform.base import (
    REPEAT_GAP_S,
    ROLES,
    Accessibility,
    AccessibilityTree,
    AccessibleNode,
    HotkeyListener,
    InputInjector,
    OutputInfo,
    Platform,
    ScreenCapture,
    UnicodeTypist,
    WindowInfo,
    WindowList,
    windows_titled,
)

if TYPE_CHECKING:
    from guiagent.platform.portal import PortalPlatform
    from guiagent.platform.wayland import WaylandPlatform

SESSION_TYPES = ("x11", "wayland", "windows", "macos")
PLATFORM_ENV = "GUIAGENT_PLATFORM"

__all__ = [
    "PLATFORM_ENV",
    "REPEAT_GAP_S",
    "ROLES",
    "SESSION_TYPES",
    "Accessibility",
    "AccessibilityTree",
    "AccessibleNode",
    "HotkeyListener",
    "InputInjector",
    "OutputInfo",
    "Platform",
    "ScreenCapture",
    "UnicodeTypist",
    "WindowInfo",
    "WindowList",
    "input_injector",
    "platform_for",
    "screen_capture",
    "session_display",
    "session_type",
    "session_type_for",
    "windows_titled",
]


def session_type(environ: Mapping[str, str] | None = None, system: str | None = None) -> str:
    """The kind of desktop session this process runs in.

    ``$GUIAGENT_PLATFORM`` wins; on Linux an X display (``$DISPLAY``, including Xwayland and
    Xvfb) means X11 unless the session says it is Wayland and no X display is set.
    """
    env = os.environ if environ is None else environ
    system = sys.platform if system is None else system
    override = env.get(PLATFORM_ENV, "").strip().lower()
    if override == "portal":
        return "wayland"  # a Wayland session, driven through the desktop portals
    if override:
        if override not in SESSION_TYPES:
            raise PlatformUnsupported(f"{PLATFORM_ENV}={override!r} is not a platform guiagent "
                                      f"knows; use one of {', '.join(SESSION_TYPES)}, portal")
        return override
    if system == "win32":
        return "windows"
    if system == "darwin":
        return "macos"
    if env.get("DISPLAY"):
        return "x11"  # Xvfb, a plain X session, or Xwayland apps under a Wayland compositor
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        return "wayland"
    return "x11"  # headless Linux: an X display given later (Desktop(":99"), VirtualDisplay)


def _x11() -> Platform:
    from guiagent.platform.x11 import X11Platform

    return X11Platform()


def _wayland(display: str | None = None,
             environ: Mapping[str, str] | None = None) -> WaylandPlatform | PortalPlatform:
    """sway's own services, or the desktop portals on GNOME, KDE and other non-wlroots
    sessions (see :func:`guiagent.platform.portal.uses_portal`)."""
    from guiagent.platform.portal import PortalPlatform, uses_portal

    if uses_portal(display, environ):
        return PortalPlatform()
    from guiagent.platform.wayland import WaylandPlatform

    return WaylandPlatform()


def _pynput_based(name: str) -> Callable[[], Platform]:
    def make() -> Platform:
        from guiagent.platform.pynput_platform import PynputPlatform

        return PynputPlatform(name)

    return make


_FACTORIES: dict[str, Callable[[], Platform]] = {
    "x11": _x11,
    "wayland": _wayland,
    "windows": _pynput_based("windows"),
    "macos": _pynput_based("macos"),
}


def session_type_for(display: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The session type of ``display``: ``$GUIAGENT_PLATFORM`` wins; then an X display name
    (``:99``, ``host:0``) is X11 and a name without a colon (``wayland-1``, a socket path) is
    Wayland; None means this process's session (:func:`session_type`)."""
    env = os.environ if environ is None else environ
    if display and not env.get(PLATFORM_ENV, "").strip() and sys.platform.startswith("linux"):
        return "x11" if ":" in display else "wayland"
    return session_type(env)


def session_display(environ: Mapping[str, str] | None = None) -> str | None:
    """The display this process's session names: ``$DISPLAY`` on X11 (and on Wayland desktops
    with Xwayland, see :func:`session_type`), ``$WAYLAND_DISPLAY`` on Wayland; None if neither."""
    env = os.environ if environ is None else environ
    if session_type(env) == "wayland":
        return env.get("WAYLAND_DISPLAY") or None
    return env.get("DISPLAY") or None


def platform_for(display: str | None, environ: Mapping[str, str] | None = None) -> Platform:
    """The platform implementation that drives ``display`` (see :func:`session_type_for`)."""
    kind = session_type_for(display, environ)
    return _wayland(display, environ) if kind == "wayland" else _FACTORIES[kind]()


def screen_capture(display: str | None) -> ScreenCapture | None:
    """The platform's own screen capture for ``display``, or None where mss captures (X11,
    Windows, macOS). Raises PlatformUnsupported where nothing can capture."""
    if session_type_for(display) != "wayland":
        return None
    return _wayland(display).screen_capture(display)


def input_injector(display: str | None) -> InputInjector | None:
    """The platform's own input injection for ``display``, or None where the pyautogui,
    pynput and xdotool backends work (X11, Windows, macOS). Raises PlatformUnsupported where
    nothing can send input."""
    if session_type_for(display) != "wayland":
        return None
    return _wayland(display).input_injector(display)
