"""The one polling helper every wait uses: capture, look, repeat until found or out of time.

Waiting for text to appear, an expectation, replay's search for a recorded target, the agent's
check that a click changed the screen and waiting for the screen to settle are all this loop
with a different ``look``. No fixed sleeps: each poll sleeps at most ``interval`` and never past
the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from guiagent.errors import DisplayError, WaitTimeout
from guiagent.screen.capture import Frame

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Polled(Generic[T]):
    """How a poll ended: ``value`` is what ``look`` returned (None when time ran out),
    ``frame`` the last frame looked at, ``looks`` and ``polls`` how many looks and captures."""

    value: T | None
    frame: Frame
    looks: int
    polls: int
    elapsed: float

    @property
    def found(self) -> bool:
        return self.value is not None


def poll_screen(capture: Callable[[], Frame], look: Callable[[Frame], T | None], *,
                timeout: float, interval: float = 0.1, on_change_only: bool = True,
                tolerance: int = 0, between: Callable[[], None] | None = None) -> Polled[T]:
    """Capture every ``interval`` seconds and call ``look(frame)`` until it returns something
    other than None or ``timeout`` seconds passed (``look`` always runs at least once).

    With ``on_change_only`` a frame is looked at only when its pixels differ (beyond
    ``tolerance``) from the last one looked at, so a still screen costs one capture and one
    comparison per poll. ``between`` runs before every capture (e.g. to honour an abort hotkey).
    """
    started = time.monotonic()
    deadline = started + timeout
    last: Frame | None = None
    looks = polls = 0
    while True:
        if between is not None:
            between()
        frame = capture()
        polls += 1
        if not on_change_only or last is None or frame.changed_since(last, tolerance=tolerance):
            last = frame
            looks += 1
            value = look(frame)
            if value is not None:
                return Polled(value, frame, looks, polls, time.monotonic() - started)
        now = time.monotonic()
        if now >= deadline:
            return Polled(None, last, looks, polls, now - started)
        time.sleep(min(interval, deadline - now))


def wait_until_still(capture: Callable[[], Frame], *, quiet: float = 0.3, timeout: float = 10.0,
                     tolerance: int = 8, interval: float = 0.05) -> Frame:
    """Wait until two captures ``quiet`` seconds apart are the same (differences up to
    ``tolerance`` ignored). Returns the last frame; after ``timeout`` the latest one anyway (a
    clock or a blinking cursor never stands still)."""
    settled_since = time.monotonic()
    reference = capture()

    def still(frame: Frame) -> Frame | None:
        nonlocal reference, settled_since
        if frame.changed_since(reference, tolerance=tolerance):
            reference, settled_since = frame, time.monotonic()
            return None
        return frame if time.monotonic() - settled_since >= quiet else None

    polled = poll_screen(capture, still, timeout=timeout, interval=interval, on_change_only=False)
    return polled.value if polled.value is not None else reference


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.05) -> None:
    """Poll ``condition`` until it is true; raise :class:`~guiagent.errors.WaitTimeout`
    naming ``what`` otherwise (errors raised by ``condition`` count as "not yet", except
    DisplayError)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            if condition():
                return
        except DisplayError:
            raise
        except Exception as exc:  # the thing waited for may not accept connections yet
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}{detail}")
        time.sleep(interval)
