"""The small interfaces every platform implements: one per operating-system service.

Everything above :mod:`guiagent.platform` talks to these, never to Xlib, XTEST or XRecord
directly, so a new platform (Wayland, Windows, macOS) is one sibling folder, not edits all over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

# A key pressed again right after its release can look like auto-repeat to a client and be
# dropped (LibreOffice's X11 interface lost one "l" of "ll" typed through XTEST); backends
# pause this long between two presses of the same key.
REPEAT_GAP_S = 0.01


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """A top-level application window: its title, screen box ``(x, y, width, height)`` and
    whether it is minimised (``hidden``: its box shows nothing of it)."""

    title: str
    box: tuple[int, int, int, int]
    hidden: bool = False


class UnicodeTypist(Protocol):
    """Types any Unicode text where the keyboard focus is."""

    def type(self, text: str) -> None: ...

    def close(self) -> None: ...


class HotkeyListener(Protocol):
    """Calls its callback whenever a key combination is held, from any application."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class WindowList(Protocol):
    """The desktop's top-level windows (titles and boxes in screen coordinates)."""

    def all(self) -> list[WindowInfo]:
        """Every window, bottom to top where the platform knows the stacking order."""
        ...

    def under_pointer(self) -> WindowInfo | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class AccessibleNode:
    """One node of an application's accessibility tree, as the platform reports it.

    ``role`` is normalised to guiagent's role words (:data:`ROLES`, e.g. ``"button"``,
    ``"menu item"``, ``"check box"``; an unknown platform role keeps its own name). ``box`` is
    ``(x, y, width, height)`` in screen coordinates, None when the node has no extents.
    ``path`` is the child indexes from the application's root; ``parent`` the index of the
    nearest listed ancestor in the same snapshot's list (None for a top-level window, the
    roots). ``actions`` are the node's own actions (``"click"``, ``"press"``, ``"toggle"``,
    ``"activate"``...). ``handle`` is the platform's own reference to the object (AT-SPI: bus
    name and object path), opaque to callers: ``do_action`` tries it first, then the path.
    """

    role: str
    name: str
    box: tuple[int, int, int, int] | None
    states: frozenset[str]
    path: tuple[int, ...]
    parent: int | None
    app: str = ""
    window: str = ""
    actions: tuple[str, ...] = ()
    description: str = ""
    value: str = ""
    handle: str = ""


@dataclass(frozen=True, slots=True)
class AccessibilityTree:
    """What one read of the accessibility bus gave: nodes in document order, whether a budget
    cut the read short, and notes for the trace (apps skipped, time taken, errors)."""

    nodes: tuple[AccessibleNode, ...]
    truncated: bool = False
    notes: tuple[str, ...] = ()
    elapsed_s: float = 0.0


# Role words shared by the accessibility reader, vision elements and target parsing.
ROLES = (
    "button", "toggle button", "check box", "radio button", "menu", "menu item", "menu bar",
    "link", "tab", "text field", "combo box", "list item", "tree item", "cell", "slider",
    "spin button", "toolbar", "icon", "label", "heading", "image", "window", "dialog",
    "scroll bar", "table", "list", "panel", "document", "text",
)


class Accessibility(Protocol):
    """Reads the desktop's accessibility trees (AT-SPI on Linux; UIA and AX later).

    Every call is bounded: ``snapshot`` stops at ``max_nodes`` or after ``timeout`` seconds
    (``truncated`` says so) and skips an application that does not answer in time; nothing
    here may hang on a stuck application or a dead bus.
    """

    def unavailable_reason(self) -> str | None:
        """None when the bus can be read; otherwise why not and how to turn it on."""
        ...

    def snapshot(self, *, window: str | None = None, max_nodes: int = 5000,
                 timeout: float = 2.0, visible_only: bool = True,
                 refresh: bool = True) -> AccessibilityTree:
        """Nodes of the windows whose title contains ``window`` (all when None). With
        ``refresh=False`` a window read before is returned as it was then (call it when the
        screen did not change there) and only new windows are read."""
        ...

    def do_action(self, node: AccessibleNode, action: str | None = None,
                  timeout: float = 2.0) -> bool:
        """Run the node's own action (its first when ``action`` is None); False when the node
        is gone or has no such action."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OutputInfo:
    """One monitor as the platform reports it: ``box`` is ``(x, y, width, height)`` in screen
    (logical) coordinates, ``scale`` how many physical pixels make one logical pixel."""

    name: str
    box: tuple[int, int, int, int]
    scale: float = 1.0


class ScreenCapture(Protocol):
    """Grabs the desktop's pixels where mss cannot (Wayland: the compositor has to help)."""

    def outputs(self) -> list[OutputInfo]: ...

    def grab(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """``H x W x 4`` BGRA uint8 physical pixels of ``box`` (screen coordinates)."""
        ...

    def close(self) -> None: ...


class InputInjector(Protocol):
    """Sends pointer and keyboard events where pyautogui/pynput cannot (Wayland). Coordinates
    are integer screen (logical) pixels; keys are canonical names (``guiagent.keys``)."""

    def position(self) -> tuple[int, int]: ...

    def move(self, x: int, y: int) -> None: ...

    def button(self, button: str, pressed: bool) -> None:
        """Press or release ``left``, ``right`` or ``middle`` where the pointer is."""
        ...

    def scroll(self, direction: str, amount: int) -> None:
        """``amount`` wheel notches ``up``, ``down``, ``left`` or ``right``."""
        ...

    def type(self, text: str) -> None: ...

    def keys(self, keys: tuple[str, ...]) -> None:
        """Hold ``keys`` down in order, then release them in reverse (one key: press it)."""
        ...

    def close(self) -> None: ...


class Platform(Protocol):
    """One platform's services. ``name`` is the session type (``x11``, ``wayland``...)."""

    name: str

    def unicode_typist(self, display: str | None) -> UnicodeTypist: ...

    def hotkey_listener(self, keys: tuple[str, ...], callback: Callable[[], None],
                        display: str | None) -> HotkeyListener: ...

    def windows(self, display: str | None) -> WindowList: ...

    def accessibility(self, display: str | None) -> Accessibility: ...


def windows_titled(windows: WindowList, words: str) -> list[WindowInfo]:
    """Windows whose title contains ``words`` (any case); windows titled exactly so win."""
    listed = windows.all()
    exact = [w for w in listed if w.title == words]
    if exact:
        return exact
    wanted = words.casefold()
    return [w for w in listed if wanted in w.title.casefold()]
