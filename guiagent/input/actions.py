"""Typed input actions and the Executor that performs them safely.

Actions are frozen dataclasses in *screen* coordinates; nothing here is ever a code string.
The :class:`Executor` checks every point against the screen (and an optional allowed region)
before touching any device, honours dry-run, the abort hotkey and the corner fail-safe, and
keeps a history of what it did.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from guiagent.errors import (
    AbortedError,
    FailSafeError,
    InvalidActionError,
    OutOfBoundsError,
)
from guiagent.geometry import Box, Point, PointLike, as_point
from guiagent.input.backends import BACKENDS, InputBackend, MouseButton, ScrollDirection, create_backend
from guiagent.keys import canonical_key, parse_keys
from guiagent.platform import HotkeyListener, platform_for

_BUTTONS = ("left", "right", "middle")
_DIRECTIONS = ("up", "down", "left", "right")


def _check_button(button: str) -> None:
    if button not in _BUTTONS:
        raise InvalidActionError(f"unknown mouse button {button!r}; use left, right or middle")


@dataclass(frozen=True, slots=True)
class Move:
    point: Point
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class Click:
    """``count`` clicks of ``button`` at ``point`` (2 = double-click)."""

    point: Point
    button: MouseButton = "left"
    count: int = 1

    def __post_init__(self) -> None:
        _check_button(self.button)
        if self.count < 1:
            raise InvalidActionError(f"click count must be at least 1, got {self.count}")


@dataclass(frozen=True, slots=True)
class Drag:
    start: Point
    end: Point
    button: MouseButton = "left"
    duration: float = 0.3

    def __post_init__(self) -> None:
        _check_button(self.button)


@dataclass(frozen=True, slots=True)
class Scroll:
    """``amount`` wheel notches in ``direction`` with the pointer over ``point``."""

    point: Point
    direction: ScrollDirection = "down"
    amount: int = 1

    def __post_init__(self) -> None:
        if self.direction not in _DIRECTIONS:
            raise InvalidActionError(f"scroll direction must be one of {_DIRECTIONS}, got {self.direction!r}")
        if self.amount < 1:
            raise InvalidActionError(f"scroll amount must be at least 1, got {self.amount}")


@dataclass(frozen=True, slots=True)
class TypeText:
    """Type ``text`` exactly, any Unicode (newlines press Enter)."""

    text: str
    interval: float = 0.0

    def __post_init__(self) -> None:
        if not self.text:
            raise InvalidActionError("nothing to type: the text is empty")


@dataclass(frozen=True, slots=True)
class PressKey:
    """Press and release one key ``presses`` times. ``key`` is any name ``keys`` knows."""

    key: str
    presses: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", canonical_key(self.key))
        if self.presses < 1:
            raise InvalidActionError(f"presses must be at least 1, got {self.presses}")


@dataclass(frozen=True, slots=True)
class Hotkey:
    """Hold the keys down in order, then release them in reverse (``ctrl+shift+s``)."""

    keys: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise InvalidActionError("a hotkey needs at least one key")
        object.__setattr__(self, "keys", tuple(canonical_key(k) for k in self.keys))


@dataclass(frozen=True, slots=True)
class Wait:
    """Do nothing for ``seconds`` (abortable). For waiting *on* something use Desktop.wait_for."""

    seconds: float

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise InvalidActionError(f"cannot wait a negative time ({self.seconds} s)")


Action = Move | Click | Drag | Scroll | TypeText | PressKey | Hotkey | Wait


def key_action(combo: str, *, presses: int = 1) -> PressKey | Hotkey:
    """``"enter"`` -> PressKey, ``"ctrl+s"`` -> Hotkey."""
    keys = parse_keys(combo)
    if len(keys) == 1:
        return PressKey(keys[0], presses)
    if presses != 1:
        raise InvalidActionError(f"{combo!r} is a combination; repeat it with separate presses")
    return Hotkey(keys)


def action_points(action: Action) -> tuple[Point, ...]:
    if isinstance(action, (Move, Click, Scroll)):
        return (action.point,)
    if isinstance(action, Drag):
        return (action.start, action.end)
    return ()


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """What the executor did (or, in dry run, would have done)."""

    action: Action
    performed: bool
    started: float
    elapsed: float


@dataclass(slots=True)
class ExecutorSettings:
    """Per-session input settings (never module globals).

    ``pause``: seconds to wait after each action (pyautogui's ``PAUSE``, but yours to set;
    default 0). ``failsafe``: refuse to act while the pointer sits in a screen corner (move the
    mouse there to stop a runaway script). ``abort_hotkey``: a key combination that stops the
    run between and during actions (``None`` disables the listener). ``allowed_region``: refuse
    any point outside this screen box.
    """

    backend: str = "pyautogui"
    dry_run: bool = False
    pause: float = 0.0
    failsafe: bool = True
    failsafe_margin: int = 0
    abort_hotkey: str | None = "ctrl+alt+shift+q"
    allowed_region: Box | None = None
    type_chunk: int = 32  # characters typed between abort checks

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise InvalidActionError(f"unknown input backend {self.backend!r}; choose one of {BACKENDS}")
        if self.pause < 0:
            raise InvalidActionError("pause must not be negative")


class Executor:
    """Performs actions through an input backend, after the safety checks.

    ``screen_bounds`` returns the desktop's box in screen coordinates (called per action, so
    resolution changes are seen). The backend is created on first use, so a dry run never
    opens an input device.
    """

    def __init__(
        self,
        screen_bounds: Callable[[], Box],
        settings: ExecutorSettings | None = None,
        *,
        display: str | None = None,
        backend: InputBackend | None = None,
    ) -> None:
        self.settings = settings or ExecutorSettings()
        self._screen_bounds = screen_bounds
        self._display = display
        self._backend = backend
        self._abort = threading.Event()
        self._listener: HotkeyListener | None = None
        self.history: list[ActionRecord] = []
        if self.settings.abort_hotkey and not self.settings.dry_run:
            self._start_abort_listener(self.settings.abort_hotkey)

    # -- abort -------------------------------------------------------------------------
    def _start_abort_listener(self, combo: str) -> None:
        try:
            listener = platform_for(self._display).hotkey_listener(parse_keys(combo), self.abort,
                                                                   self._display)
            listener.start()
        except Exception as exc:  # no XRecord, no display: run without the hotkey, but say so
            import warnings

            warnings.warn(f"abort hotkey {combo!r} unavailable: {exc}", RuntimeWarning, stacklevel=3)
            return
        self._listener = listener

    def abort(self) -> None:
        """Stop the run: the current action ends at its next check, later ones are refused."""
        self._abort.set()

    def reset_abort(self) -> None:
        self._abort.clear()

    @property
    def aborted(self) -> bool:
        return self._abort.is_set()

    def _check_abort(self) -> None:
        if self._abort.is_set():
            raise AbortedError(
                "stopped by the abort hotkey; call reset_abort() (or start a new session) to go on"
            )

    # -- backend -----------------------------------------------------------------------
    @property
    def backend(self) -> InputBackend:
        if self._backend is None:
            self._backend = create_backend(self.settings.backend, self._display)
        return self._backend

    def position(self) -> Point:
        x, y = self.backend.position()
        return Point(x, y)

    # -- checks ------------------------------------------------------------------------
    def check_point(self, point: PointLike) -> tuple[int, int]:
        """The integer screen pixel for ``point``, or OutOfBoundsError if it may not be touched."""
        p = as_point(point)
        x, y = p.pixel()
        pixel = Point(x, y)
        bounds = self._screen_bounds()
        if not bounds.contains(pixel, inclusive=False):
            raise OutOfBoundsError(
                f"point ({p.x:g}, {p.y:g}) is outside the screen {bounds.left:g},{bounds.top:g} "
                f"{bounds.width:g}x{bounds.height:g}; nothing was done"
            )
        region = self.settings.allowed_region
        if region is not None and not region.contains(pixel, inclusive=False):
            raise OutOfBoundsError(
                f"point ({p.x:g}, {p.y:g}) is outside the allowed region {region.left:g},"
                f"{region.top:g} {region.width:g}x{region.height:g}; nothing was done"
            )
        return x, y

    def _check_failsafe(self) -> None:
        if not self.settings.failsafe:
            return
        x, y = self.backend.position()
        b = self._screen_bounds()
        m = self.settings.failsafe_margin
        near_x = x <= b.left + m or x >= b.right - 1 - m
        near_y = y <= b.top + m or y >= b.bottom - 1 - m
        if near_x and near_y:
            raise FailSafeError(
                f"fail-safe: the pointer is in a screen corner ({x}, {y}); move it away to go on, "
                "or turn the fail-safe off (ExecutorSettings(failsafe=False), --no-failsafe)"
            )

    # -- running -----------------------------------------------------------------------
    def run(self, action: Action) -> ActionRecord:
        """Check and perform one action; returns its record (also appended to ``history``)."""
        self._check_abort()
        pixels = [self.check_point(p) for p in action_points(action)]
        started = time.time()
        t0 = time.perf_counter()
        if self.settings.dry_run:
            record = ActionRecord(action, False, started, 0.0)
            self.history.append(record)
            return record
        if not isinstance(action, Wait):
            self._check_failsafe()
        self._perform(action, pixels)
        if self.settings.pause > 0:
            self._abortable_sleep(self.settings.pause)
        record = ActionRecord(action, True, started, time.perf_counter() - t0)
        self.history.append(record)
        return record

    def _perform(self, action: Action, pixels: list[tuple[int, int]]) -> None:
        backend = self.backend
        if isinstance(action, Move):
            backend.move(*pixels[0], action.duration)
        elif isinstance(action, Click):
            backend.click(*pixels[0], action.button, action.count)
        elif isinstance(action, Drag):
            backend.drag(pixels[0], pixels[1], action.button, action.duration)
        elif isinstance(action, Scroll):
            backend.scroll(action.amount, action.direction, *pixels[0])
        elif isinstance(action, TypeText):
            chunk = max(1, self.settings.type_chunk)
            for i in range(0, len(action.text), chunk):
                self._check_abort()
                backend.type_text(action.text[i : i + chunk], action.interval)
        elif isinstance(action, PressKey):
            for _ in range(action.presses):
                self._check_abort()
                backend.press(action.key, 1)
        elif isinstance(action, Hotkey):
            backend.hotkey(action.keys)
        elif isinstance(action, Wait):
            self._abortable_sleep(action.seconds)
        else:  # pragma: no cover - the Action union is closed
            raise InvalidActionError(f"unknown action {action!r}")

    def _abortable_sleep(self, seconds: float) -> None:
        if self._abort.wait(seconds):
            self._check_abort()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        if self._backend is not None:
            self._backend.close()


def describe(action: Action) -> str:
    """A one-line human description, for logs, dry runs and traces."""
    if isinstance(action, Move):
        return f"move to ({action.point.x:g}, {action.point.y:g})"
    if isinstance(action, Click):
        what = {1: "click", 2: "double-click", 3: "triple-click"}.get(action.count,
                                                                     f"{action.count}x click")
        prefix = "" if action.button == "left" else f"{action.button} "
        return f"{prefix}{what} at ({action.point.x:g}, {action.point.y:g})"
    if isinstance(action, Drag):
        return (f"drag from ({action.start.x:g}, {action.start.y:g}) to "
                f"({action.end.x:g}, {action.end.y:g})")
    if isinstance(action, Scroll):
        return f"scroll {action.direction} {action.amount} at ({action.point.x:g}, {action.point.y:g})"
    if isinstance(action, TypeText):
        return f"type {action.text!r}"
    if isinstance(action, PressKey):
        return f"press {action.key}" + (f" x{action.presses}" if action.presses > 1 else "")
    if isinstance(action, Hotkey):
        return "press " + "+".join(action.keys)
    return f"wait {action.seconds:g} s"


__all__ = [
    "Action",
    "ActionRecord",
    "Click",
    "Drag",
    "Executor",
    "ExecutorSettings",
    "Hotkey",
    "Move",
    "PressKey",
    "Scroll",
    "TypeText",
    "Wait",
    "describe",
    "key_action",
]
