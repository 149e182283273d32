"""The :class:`Desktop`: capture, find and act on one display through one safe executor."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .actions import (
    Action,
    ActionRecord,
    Click,
    Drag,
    Executor,
    ExecutorSettings,
    Move,
    Scroll,
    TypeText,
    Wait,
    key_action,
)
from .backends import MouseButton, ScrollDirection
from .display import VirtualDisplay
from .geometry import Box, BoxLike, Point, as_box, as_point
from .screen import Frame, Screen

if TYPE_CHECKING:
    from .grounding.base import Match

Target = Any  # a point (x, y), visible text, or an image (path / array / PIL); see _resolve


class Desktop:
    """One desktop session: ``with Desktop() as d: d.click((10, 20)); d.type("héllo")``.

    ``display`` is an X display name (default ``$DISPLAY``) or a running
    :class:`~guiagent.display.VirtualDisplay`. Every other keyword is an
    :class:`~guiagent.actions.ExecutorSettings` field (``backend``, ``dry_run``, ``pause``,
    ``failsafe``, ``abort_hotkey``, ``allowed_region``...). ``monitor`` picks what
    :meth:`capture` grabs by default (0 = all monitors).
    """

    def __init__(
        self,
        display: str | VirtualDisplay | None = None,
        *,
        monitor: int = 0,
        scale: float | None = None,
        allowed_region: BoxLike | None = None,
        **settings: Any,
    ) -> None:
        if isinstance(display, VirtualDisplay):
            display = display.name
        self.display_name: str | None = display or os.environ.get("DISPLAY")
        self.monitor = monitor
        self.screen = Screen(self.display_name, scale=scale)
        region = as_box(allowed_region) if allowed_region is not None else None
        self.settings = ExecutorSettings(allowed_region=region, **settings)
        self.executor = Executor(self._desktop_box, self.settings, display=self.display_name)

    def _desktop_box(self) -> Box:
        return self.screen.monitor(0).box

    # -- seeing --------------------------------------------------------------------------
    def capture(self, *, monitor: int | None = None, region: BoxLike | None = None) -> Frame:
        """A frame of a monitor (default: this desktop's ``monitor``) or of a screen region."""
        return self.screen.capture(monitor=self.monitor if monitor is None else monitor,
                                   region=region)

    def find(self, target: Target, **options: Any) -> Match:
        """Locate ``target`` on a fresh capture; raises TargetNotFound. Match.screen_point is
        where to click."""
        from .grounding import locate

        return locate(self.capture(), target, **options)

    def exists(self, target: Target, **options: Any) -> bool:
        from .errors import TargetNotFound

        try:
            self.find(target, **options)
        except TargetNotFound:
            return False
        return True

    def wait_for(self, target: Target, *, timeout: float = 10.0, gone: bool = False,
                 **options: Any) -> Match | None:
        """Poll the screen until ``target`` appears (or, with ``gone``, disappears)."""
        from .grounding.waiting import wait_for

        return wait_for(self, target, timeout=timeout, gone=gone, **options)

    def _resolve(self, target: Target) -> Point:
        from .grounding.base import Match

        if isinstance(target, Point):
            return target
        if isinstance(target, Match) and target.screen_point is not None:
            return target.screen_point  # a Match from find() or wait_for()
        if isinstance(target, (tuple, list)) and len(target) == 2 and all(
            isinstance(v, (int, float)) for v in target
        ):
            return as_point(target)
        match = self.find(target)
        return match.screen_point or self.capture().to_screen(match.point)

    # -- acting --------------------------------------------------------------------------
    def run(self, action: Action) -> ActionRecord:
        return self.executor.run(action)

    def click(self, target: Target, *, button: MouseButton = "left", clicks: int = 1) -> ActionRecord:
        """Click a point ``(x, y)`` in screen coordinates, visible text, an image, or a Match."""
        return self.run(Click(self._resolve(target), button, clicks))

    def double_click(self, target: Target) -> ActionRecord:
        return self.click(target, clicks=2)

    def right_click(self, target: Target) -> ActionRecord:
        return self.click(target, button="right")

    def middle_click(self, target: Target) -> ActionRecord:
        return self.click(target, button="middle")

    def move_to(self, target: Target, *, duration: float = 0.0) -> ActionRecord:
        return self.run(Move(self._resolve(target), duration))

    def drag(self, start: Target, end: Target, *, button: MouseButton = "left",
             duration: float = 0.3) -> ActionRecord:
        return self.run(Drag(self._resolve(start), self._resolve(end), button, duration))

    def scroll(self, direction: ScrollDirection = "down", amount: int = 1, *,
               at: Target | None = None) -> ActionRecord:
        """Scroll ``amount`` notches; ``at`` puts the pointer over a target first (default: the
        centre of the desktop)."""
        point = self._resolve(at) if at is not None else self._desktop_box().center
        return self.run(Scroll(point, direction, amount))

    def type(self, text: str, *, interval: float = 0.0) -> ActionRecord:
        """Type any Unicode text where the keyboard focus is."""
        return self.run(TypeText(text, interval))

    def press(self, keys: str, *, presses: int = 1) -> ActionRecord:
        """Press a key or combination: ``"enter"``, ``"ctrl+shift+s"``."""
        action = key_action(keys, presses=presses)
        return self.run(action)

    def wait(self, seconds: float) -> ActionRecord:
        return self.run(Wait(seconds))

    @property
    def history(self) -> list[ActionRecord]:
        return self.executor.history

    def position(self) -> Point:
        return self.executor.position()

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        self.executor.close()
        self.screen.close()

    def __enter__(self) -> Desktop:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
