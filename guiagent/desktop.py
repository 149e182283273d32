"""The :class:`Desktop`: capture, find and act on one display through one safe executor."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
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
from .errors import DisplayError
from .geometry import Box, BoxLike, Point, as_box, as_point
from .screen import Frame, Screen

if TYPE_CHECKING:
    from .agent import RunReport
    from .grounding.base import Match
    from .testing.expectations import Expectation

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
        self._launched: list[subprocess.Popen[bytes]] = []

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

    def expect(self, target: Target, **options: Any) -> Expectation:
        """Assertions on what is visible, polled until a timeout (Playwright style):
        ``d.expect('"Saved"').to_be_visible(timeout=5)``; see :mod:`guiagent.testing`."""
        from .testing.expectations import Expectation

        return Expectation(target, desktop=self, **options)

    def wait_still(self, *, quiet: float = 0.3, timeout: float = 10.0, tolerance: int = 8) -> Frame:
        """Wait until the screen stops changing: two captures ``quiet`` seconds apart are the same
        (pixel differences up to ``tolerance`` ignored). Returns the last frame; after ``timeout``
        it returns the latest one anyway (a clock or a blinking cursor never stands still)."""
        deadline = time.monotonic() + timeout
        last = self.capture()
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            frame = self.capture()
            if frame.changed_since(last, tolerance=tolerance):
                quiet_since = time.monotonic()
                last = frame
            elif time.monotonic() - quiet_since >= quiet:
                return frame
        return last

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

    def do(self, command: Any, **options: Any) -> RunReport:
        """Run a plain-English command: ``d.do('click "File", then click "Save As…"')``.

        ``options``: :class:`~guiagent.agent.AgentOptions` fields (``dry_run``, ``timeout``,
        ``region``, ``trace_dir``, ``annotate``...). Returns the RunReport; raises
        :class:`~guiagent.agent.StepFailed` at the first failed step (trace kept) and
        :class:`~guiagent.commands.CommandError` for a command it cannot read.
        """
        from .agent import do

        return do(self, command, **options)

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
        full_env = dict(os.environ)
        if self.display_name:
            full_env["DISPLAY"] = self.display_name
        full_env.update(env or {})
        try:
            process = subprocess.Popen(argv, env=full_env, cwd=cwd, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
        except FileNotFoundError:
            raise DisplayError(f"{argv[0]} is not installed (or not on PATH): install it or "
                               "pass the program's full path") from None
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
            _end_process_group(process, grace)

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        self.end_launched()
        self.executor.close()
        self.screen.close()

    def __enter__(self) -> Desktop:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _end_process_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group ``process`` leads, wait up to ``grace`` s, then SIGKILL it."""

    def signal_group(sig: int) -> bool:
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False  # the group is gone
        return True

    if not signal_group(signal.SIGTERM):
        process.poll()
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process.poll() is not None and not signal_group(0):
            return
        time.sleep(0.02)
    signal_group(signal.SIGKILL)
    process.wait()
