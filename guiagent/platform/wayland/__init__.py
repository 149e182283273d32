"""Wayland sessions. Nothing here drives other applications yet: Wayland gives clients no global
capture, input injection or window list, and guiagent has no portal or wlroots backend yet."""

from __future__ import annotations

from collections.abc import Callable

from guiagent.errors import PlatformUnsupported
from guiagent.platform.base import Accessibility, HotkeyListener, UnicodeTypist, WindowList

_ADVICE = (
    "on a Wayland session guiagent can ground targets in screenshots (`guiagent ground`, "
    "`guiagent.locate`) but cannot yet capture the screen, send input, list windows or record; "
    "run the application under X11 (log in to an X11 session, or use Xwayland with DISPLAY set, "
    "or a VirtualDisplay), or set GUIAGENT_PLATFORM=x11 if an X display is reachable"
)


class WaylandPlatform:
    name = "wayland"

    def unicode_typist(self, display: str | None) -> UnicodeTypist:
        raise PlatformUnsupported(f"typing text: {_ADVICE}")

    def hotkey_listener(self, keys: tuple[str, ...], callback: Callable[[], None],
                        display: str | None) -> HotkeyListener:
        raise PlatformUnsupported(f"the abort hotkey (pass abort_hotkey=None to go without): "
                                  f"{_ADVICE}")

    def windows(self, display: str | None) -> WindowList:
        raise PlatformUnsupported(f"listing windows: {_ADVICE}")

    def accessibility(self, display: str | None) -> Accessibility:
        # AT-SPI is the same D-Bus protocol under X11 and Wayland.
        from guiagent.platform.atspi import AtspiAccessibility

        return AtspiAccessibility(display)
