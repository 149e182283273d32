"""Waiting for a target to appear or disappear: poll the screen, ground only when it changed."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..errors import TargetNotFound
from .base import Match, Target

if TYPE_CHECKING:
    from ..desktop import Desktop
    from ..screen import Frame


def wait_for(desktop: Desktop, target: Any, *, timeout: float = 10.0, gone: bool = False,
             interval: float = 0.1, **options: Any) -> Match | None:
    """Poll until ``target`` is visible (returns its Match) or, with ``gone``, until it is not
    (returns None). Grounding runs again only when the screen changed since the last look.
    Raises TimeoutError naming what was waited for, with the best score seen."""
    from . import locate

    parsed = Target.parse(target)
    deadline = time.monotonic() + timeout
    last: Frame | None = None
    best: float | None = None
    while True:
        frame = desktop.capture()
        if last is None or frame.changed_since(last):
            last = frame
            try:
                match = locate(frame, parsed, **options)
            except TargetNotFound as exc:
                if exc.best_score is not None:
                    best = exc.best_score if best is None else max(best, exc.best_score)
                if gone:
                    return None
            else:
                if not gone:
                    return match
        if time.monotonic() >= deadline:
            seen = f"; best score seen {best:.3f}" if best is not None else ""
            state = "disappear" if gone else "appear"
            raise TimeoutError(
                f"{parsed.describe()} did not {state} within {timeout:g} s{seen}"
            )
        time.sleep(interval)
