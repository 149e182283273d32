"""X11 (including Xvfb and Xwayland): XTEST typing, an XRecord hotkey listener, EWMH windows."""

from __future__ import annotations

from collections.abc import Callable

from guiagent.platform.base import Accessibility, HotkeyListener, UnicodeTypist, WindowList
from guiagent.platform.x11.hotkeys import XRecordHotkeyListener
from guiagent.platform.x11.typist import X11UnicodeTypist
from guiagent.platform.x11.windows import X11Windows


class X11Platform:
    name = "x11"

    def unicode_typist(self, display: str | None) -> UnicodeTypist:
        return X11UnicodeTypist(display)

    def hotkey_listener(self, keys: tuple[str, ...], callback: Callable[[], None],
                        display: str | None) -> HotkeyListener:
        return XRecordHotkeyListener(keys, callback, display)

    def windows(self, display: str | None) -> WindowList:
        return X11Windows(display)

    def accessibility(self, display: str | None) -> Accessibility:
        # AT-SPI is the same D-Bus protocol under X11 and Wayland.
        from guiagent.platform.atspi import AtspiAccessibility

        return AtspiAccessibility(display)
