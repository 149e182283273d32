"""Input backends behind one interface, imported only when chosen.

``pyautogui`` (default): XTEST on X11, SendInput on Windows, Quartz on macOS; its text typing
drops non-ASCII characters, so ours sends those through pynput. ``pynput``: everything through
pynput. ``xdotool``: the xdotool command (X11 only), handy when Python's X bindings misbehave.
On Wayland (``display`` a Wayland socket, or a Wayland session) pyautogui and pynput cannot
reach other applications: the default backend, or ``wayland``, uses the platform's own input
injection instead (sway: guiagent's virtual pointer and keyboard).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from guiagent.errors import InputBackendError
from guiagent.input.backends.base import InputBackend, MouseButton, ScrollDirection
from guiagent.platform import input_injector, session_type_for

BACKENDS = ("pyautogui", "pynput", "xdotool", "wayland")

__all__ = ["BACKENDS", "InputBackend", "MouseButton", "ScrollDirection", "create_backend"]


def create_backend(name: str, display: str | None = None) -> InputBackend:
    """Create the named backend bound to ``display`` (default ``$DISPLAY``)."""
    if name not in BACKENDS:
        raise InputBackendError(f"unknown input backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "wayland" or session_type_for(display) == "wayland":
        return _platform_backend(name, display)
    display = display or os.environ.get("DISPLAY")
    try:
        with _display_env(display):
            if name == "pyautogui":
                from guiagent.input.backends._pyautogui import PyAutoGUIBackend

                return PyAutoGUIBackend(display)
            if name == "pynput":
                from guiagent.input.backends._pynput import PynputBackend

                return PynputBackend(display)
            from guiagent.input.backends._xdotool import XdotoolBackend

            return XdotoolBackend(display)
    except InputBackendError:
        raise
    except Exception as exc:
        hint = " (is $DISPLAY set and the X server running?)" if not display else ""
        raise InputBackendError(f"the {name} input backend could not start{hint}: {exc}") from exc


def _platform_backend(name: str, display: str | None) -> InputBackend:
    if name not in ("pyautogui", "wayland"):
        raise InputBackendError(f"the {name} input backend drives X11 only and cannot reach Wayland "
                                "applications: use the default backend (or `wayland`)")
    injector = input_injector(display) if session_type_for(display) == "wayland" else None
    if injector is None:
        raise InputBackendError("the wayland input backend needs a Wayland session: set "
                                "$WAYLAND_DISPLAY (or GUIAGENT_PLATFORM=wayland), or pass the socket")
    from guiagent.input.backends._platform import PlatformInputBackend

    return PlatformInputBackend(injector)


@contextmanager
def _display_env(display: str | None) -> Iterator[None]:
    """pyautogui and pynput open the display named by $DISPLAY when created."""
    old = os.environ.get("DISPLAY")
    if display:
        os.environ["DISPLAY"] = display
    try:
        yield
    finally:
        if display:
            if old is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = old
