"""The :class:`Desktop`: capture, find and act on one display through one safe executor."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias, cast

from guiagent.desktop.expect import Expectation
from guiagent.elements import Snapshot
from guiagent.elements.locate import locate as locate_element
from guiagent.elements.locate import locate_all as locate_all_elements
from guiagent.elements.snapshot import take_snapshot
from guiagent.errors import (
    AmbiguousTarget,
    DisplayError,
    PlatformUnsupported,
    TargetNotFound,
    WaitTimeout,
)
from guiagent.geometry import Box, BoxLike, Point, as_box, as_point
from guiagent.grounding.base import Match, Target, TargetLike, ambiguity_message, equally_good
from guiagent.input.actions import (
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
from guiagent.input.backends import MouseButton, ScrollDirection
from guiagent.platform import Accessibility, WindowList, platform_for
from guiagent.screen.capture import Frame, Screen
from guiagent.screen.display import VirtualDisplay
from guiagent.screen.polling import poll_screen, wait_until_still
from guiagent.screen.processes import end_program, start_program

# What the desktop's methods accept: a screen point, a Match from find(), or anything locate()
# takes (quoted text, a description, an image path or pixels).
DesktopTarget: TypeAlias = "Point | tuple[float, float] | Match | TargetLike"


class Desktop:
    """One desktop session: ``with Desktop() as d: d.click((10, 20)); d.type("héllo")``.

    ``display`` is an X display name (default ``$DISPLAY``) or a running
    :class:`~guiagent.screen.display.VirtualDisplay`. Every other keyword is an
    :class:`~guiagent.input.actions.ExecutorSettings` field (``backend``, ``dry_run``, ``pause``,
    ``failsafe``, ``abort_hotkey``, ``allowed_region``...). ``monitor`` picks what
    :meth:`capture` grabs by default (0 = all monitors). ``accessibility`` (default on) lets
    targets resolve to the applications' own UI elements when the accessibility bus is
    reachable; without it, elements come from the pixels.
    """

    def __init__(
        self,
        display: str | VirtualDisplay | None = None,
        *,
        monitor: int = 0,
        scale: float | None = None,
        allowed_region: BoxLike | None = None,
        accessibility: bool = True,
        **settings: Any,
    ) -> None:
        # Programs started here get the virtual display's environment (its accessibility bus).
        self._display_env: dict[str, str] = {}
        if isinstance(display, VirtualDisplay):
            self._display_env = {k: v for k, v in display.env.items() if os.environ.get(k) != v}
            display = display.name
        self.display_name: str | None = display or os.environ.get("DISPLAY")
        self._use_accessibility = accessibility
        self._accessibility: Accessibility | None = None
        self._windows: WindowList | None = None
        self._windows_unsupported = False
        self.monitor = monitor
        self.screen = Screen(self.display_name, scale=scale)
        region = as_box(allowed_region) if allowed_region is not None else None
        self.settings = ExecutorSettings(allowed_region=region, **settings)
        self.executor = Executor(self._desktop_box, self.settings, display=self.display_name)
        self._launched: list[subprocess.Popen[bytes]] = []

    def _desktop_box(self) -> Box:
        return self.screen.monitor(0).box

    # -- seeing --------------------------------------------------------------------------
    def capture(self, *, monitor: int | None = None, region: BoxLike | None = None) -> Frame:
        """A frame of a monitor (default: this desktop's ``monitor``) or of a screen region."""
        return self.screen.capture(monitor=self.monitor if monitor is None else monitor,
                                   region=region)

    @property
    def accessibility(self) -> Accessibility | None:
        """The platform's accessibility reader for this display (None when turned off or the
        platform has none); whether the bus answers is checked on each use."""
        if self._use_accessibility and self._accessibility is None:
            try:
                self._accessibility = platform_for(self.display_name, self._environ()).accessibility(
                    self.display_name)
            except PlatformUnsupported:
                self._use_accessibility = False
        return self._accessibility

    @property
    def windows(self) -> WindowList | None:
        """The platform's list of top-level windows on this display (None where it has none):
        places what the pixels show in windows, for targets like "Save in the Editor window"."""
        if self._windows is None and not self._windows_unsupported:
            try:
                self._windows = platform_for(self.display_name, self._environ()).windows(
                    self.display_name)
            except PlatformUnsupported:
                self._windows_unsupported = True
        return self._windows

    def _environ(self) -> dict[str, str]:
        return {**os.environ, **self._display_env}

    def find(self, target: TargetLike, **options: Any) -> Match:
        """Locate ``target`` on a fresh capture: the application's own element when one fits
        (accessibility tree, then vision elements), else ECP grounding of the pixels. Raises
        TargetNotFound; ``Match.screen_point`` is where to click."""
        return self.find_all(target, limit=1, **options)[0]

    def find_all(self, target: TargetLike, *, limit: int = 5, **options: Any) -> list[Match]:
        """Every match for ``target`` on a fresh capture, best first (see :meth:`find`);
        equally good elements are all returned, so a caller can tell a tie."""
        return locate_all_elements(self.capture(), target, accessibility=self.accessibility,
                                   windows=self.windows, limit=limit, **options)

    def snapshot(self, *, window: str | None = None, interactive_only: bool = False,
                 budget: int = 2000) -> Snapshot:
        """Every UI element on the screen now (accessibility tree + vision elements), each with
        a ref (``e12``) valid until the next snapshot; see :mod:`guiagent.elements`."""
        return take_snapshot(self, window=window, interactive_only=interactive_only, budget=budget)

    def exists(self, target: TargetLike, **options: Any) -> bool:
        try:
            self.find(target, **options)
        except TargetNotFound:
            return False
        return True

    def wait_for(self, target: TargetLike, *, timeout: float = 10.0, gone: bool = False,
                 interval: float = 0.1, **options: Any) -> Match | None:
        """Poll the screen until ``target`` is visible (returns its Match) or, with ``gone``,
        until it is not (returns None). Grounding runs again only when the screen changed.
        Raises :class:`~guiagent.errors.WaitTimeout` naming what was waited for, with the best
        score seen."""
        parsed = Target.parse(target)
        best: float | None = None

        def look(frame: Frame) -> tuple[Match | None] | None:
            nonlocal best
            try:
                match = locate_element(frame, parsed, accessibility=self.accessibility,
                                       windows=self.windows, **options)
            except TargetNotFound as exc:
                if exc.best_score is not None:
                    best = exc.best_score if best is None else max(best, exc.best_score)
                return (None,) if gone else None
            return None if gone else (match,)

        polled = poll_screen(self.capture, look, timeout=timeout, interval=interval)
        if polled.value is None:
            seen = f"; best score seen {best:.3f}" if best is not None else ""
            state = "disappear" if gone else "appear"
            raise WaitTimeout(f"{parsed.describe()} did not {state} within {timeout:g} s{seen}",
                              best_score=best)
        return polled.value[0]

    def expect(self, target: DesktopTarget, **options: Any) -> Expectation:
        """Assertions on what is visible, polled until a timeout (Playwright style):
        ``d.expect('"Saved"').to_be_visible(timeout=5)``; see :mod:`guiagent.testing`."""
        return Expectation(target, desktop=self, **options)

    def wait_still(self, *, quiet: float = 0.3, timeout: float = 10.0, tolerance: int = 8) -> Frame:
        """Wait until the screen stops changing: two captures ``quiet`` seconds apart are the same
        (pixel differences up to ``tolerance`` ignored). Returns the last frame; after ``timeout``
        it returns the latest one anyway (a clock or a blinking cursor never stands still)."""
        return wait_until_still(self.capture, quiet=quiet, timeout=timeout, tolerance=tolerance)

    def _resolve(self, target: DesktopTarget) -> Point:
        if isinstance(target, Point):
            return target
        if isinstance(target, Match) and target.screen_point is not None:
            return target.screen_point  # a Match from find() or wait_for()
        if isinstance(target, (tuple, list)) and len(target) == 2 and all(
            isinstance(v, (int, float)) for v in target
        ):
            return as_point(target)
        # What is left is for locate() to read. Acting on a target that several places fit
        # equally well would be a guess: AmbiguousTarget says where, and how to say which.
        tied = equally_good(self.find_all(cast(TargetLike, target)))
        if len(tied) > 1:
            parsed = Target.parse(cast(TargetLike, target))
            raise AmbiguousTarget(ambiguity_message(parsed.describe(), tied, parsed.source))
        match = tied[0]
        return match.screen_point or self.capture().to_screen(match.point)

    # -- acting --------------------------------------------------------------------------
    def run(self, action: Action) -> ActionRecord:
        return self.executor.run(action)

    def click(self, target: DesktopTarget, *, button: MouseButton = "left", clicks: int = 1) -> ActionRecord:
        """Click a point ``(x, y)`` in screen coordinates, visible text, an image, or a Match."""
        return self.run(Click(self._resolve(target), button, clicks))

    def double_click(self, target: DesktopTarget) -> ActionRecord:
        return self.click(target, clicks=2)

    def right_click(self, target: DesktopTarget) -> ActionRecord:
        return self.click(target, button="right")

    def middle_click(self, target: DesktopTarget) -> ActionRecord:
        return self.click(target, button="middle")

    def move_to(self, target: DesktopTarget, *, duration: float = 0.0) -> ActionRecord:
        return self.run(Move(self._resolve(target), duration))

    def drag(self, start: DesktopTarget, end: DesktopTarget, *, button: MouseButton = "left",
             duration: float = 0.3) -> ActionRecord:
        return self.run(Drag(self._resolve(start), self._resolve(end), button, duration))

    def scroll(self, direction: ScrollDirection = "down", amount: int = 1, *,
               at: DesktopTarget | None = None) -> ActionRecord:
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

    # -- programs ------------------------------------------------------------------------
    def launch(self, command: str | Sequence[str], *, env: Mapping[str, str] | None = None,
               cwd: str | os.PathLike[str] | None = None) -> subprocess.Popen[bytes]:
        """Start a program on this desktop's display: ``d.launch("mousepad notes.txt")`` (a
        string is split like a shell would, without running one) or ``d.launch([argv...])``.

        It runs in its own process group; :meth:`end_launched` (called by :meth:`close`) ends
        that group by its id, so helpers the program forked end with it. Its output is
        discarded; ``env`` entries are added to the environment.
        """
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not argv:
            raise DisplayError("launch() needs a command, e.g. desktop.launch('xterm')")
        process = start_program(argv, display=self.display_name, env={**self._display_env, **(env or {})},
                                cwd=cwd)
        self._launched.append(process)
        return process

    @property
    def launched(self) -> list[subprocess.Popen[bytes]]:
        """The programs :meth:`launch` started that have not been ended yet."""
        return list(self._launched)

    def end_launched(self, grace: float = 5.0) -> None:
        """End every program :meth:`launch` started (SIGTERM to its process group, SIGKILL
        after ``grace`` seconds)."""
        launched, self._launched = self._launched, []
        for process in reversed(launched):
            end_program(process, grace)

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        self.end_launched()
        if self._accessibility is not None:
            self._accessibility.close()
        if self._windows is not None:
            self._windows.close()
        self.executor.close()
        self.screen.close()

    def __enter__(self) -> Desktop:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

