"""Input backends behind one interface, imported only when chosen.

``pyautogui`` (default): XTEST on X11, SendInput on Windows, Quartz on macOS; its text typing
drops non-ASCII characters, so ours sends those through pynput. ``pynput``: everything through
pynput. ``xdotool``: the xdotool command (X11 only), handy when Python's X bindings misbehave.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from guiagent.errors import InputBackendError
from guiagent.input.backends.base import InputBackend, MouseButton, ScrollDirection

BACKENDS = ("pyautogui", "pynput", "xdotool")

__all__ = ["BACKENDS", "InputBackend", "MouseButton", "ScrollDirection", "create_backend"]


def create_backend(name: str, display: str | None = None) -> InputBackend:
    """Create the named backend bound to ``display`` (default ``$DISPLAY``)."""
    if name not in BACKENDS:
        raise InputBackendError(f"unknown input backend {name!r}; choose one of {', '.join(BACKENDS)}")
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
