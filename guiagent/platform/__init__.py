"""The platform seam: which operating-system services guiagent uses, chosen by session type.

``current_platform()`` picks the implementation from the session (``$GUIAGENT_PLATFORM``
overrides: ``x11``, ``wayland``, ``windows``, ``macos``). X11 is complete; on the others each
service that has no implementation yet raises :class:`~guiagent.errors.PlatformUnsupported`
naming what works there and what to do instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

from guiagent.errors import PlatformUnsupported
from guiagent.platform.base import (
    REPEAT_GAP_S,
    ROLES,
    Accessibility,
    AccessibilityTree,
    AccessibleNode,
    HotkeyListener,
    Platform,
    UnicodeTypist,
    WindowInfo,
    WindowList,
    windows_titled,
)

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
    "Platform",
    "UnicodeTypist",
    "WindowInfo",
    "WindowList",
    "current_platform",
    "session_type",
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
    if override:
        if override not in SESSION_TYPES:
            raise PlatformUnsupported(f"{PLATFORM_ENV}={override!r} is not a platform guiagent "
                                      f"knows; use one of {', '.join(SESSION_TYPES)}")
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


def _wayland() -> Platform:
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


def current_platform(environ: Mapping[str, str] | None = None) -> Platform:
    """The platform implementation for this session (see :func:`session_type`)."""
    return _FACTORIES[session_type(environ)]()
