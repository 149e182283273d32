"""Windows and macOS through pynput: Unicode typing and a global hotkey (SendInput / CGEvent
deliver Unicode natively). Window lists have no implementation there yet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from guiagent import keys as keynames
from guiagent.errors import PlatformUnsupported
from guiagent.platform.base import Accessibility, HotkeyListener, UnicodeTypist, WindowList


class _PynputTypist:
    def __init__(self) -> None:
        from pynput import keyboard

        self._keyboard = keyboard.Controller()

    def type(self, text: str) -> None:
        self._keyboard.type(text)

    def close(self) -> None:
        pass


class _PynputHotkeys:  # pragma: no cover - exercised on Windows/macOS only
    def __init__(self, keys: tuple[str, ...], callback: Callable[[], None]) -> None:
        self._combo = keynames.pynput_hotkey_format(keys)
        self._callback = callback
        self._impl: Any = None

    def start(self) -> None:
        from pynput import keyboard

        self._impl = keyboard.GlobalHotKeys({self._combo: self._callback})
        self._impl.daemon = True
        self._impl.start()
        self._impl.wait()

    def stop(self) -> None:
        if self._impl is not None:
            self._impl.stop()
            self._impl.join(timeout=5)
            self._impl = None


class PynputPlatform:
    def __init__(self, name: str) -> None:
        self.name = name

    def unicode_typist(self, display: str | None) -> UnicodeTypist:
        return _PynputTypist()

    def hotkey_listener(self, keys: tuple[str, ...], callback: Callable[[], None],
                        display: str | None) -> HotkeyListener:
        return _PynputHotkeys(keys, callback)

    def windows(self, display: str | None) -> WindowList:
        raise PlatformUnsupported(
            f"listing windows is not implemented on {self.name} yet: capture, input, grounding "
            "and `guiagent do` work; drop --window (use --region x,y,w,h) and record/replay "
            "on X11"
        )

    def accessibility(self, display: str | None) -> Accessibility:
        raise PlatformUnsupported(
            f"reading accessibility trees is not implemented on {self.name} yet (UI Automation / "
            "AX come later): targets are found from the pixels (OCR, templates, a model)"
        )
