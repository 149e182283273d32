"""Every error guiagent raises on purpose derives from :class:`GuiAgentError`.

Messages are written for the person who hit them: what went wrong and what to do next.
The CLI prints them as one line on stderr with the exit status given by ``exit_code``.
"""

from __future__ import annotations


class GuiAgentError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class DisplayError(GuiAgentError):
    """No usable display (no $DISPLAY, Xvfb missing, connection refused)."""

    exit_code = 4


class CaptureError(GuiAgentError):
    """A screen capture failed or asked for a monitor/region that does not exist."""

    exit_code = 4


class OutOfBoundsError(GuiAgentError):
    """An action targeted a point outside the screen or the allowed region; nothing was done."""

    exit_code = 5


class AbortedError(GuiAgentError):
    """The user pressed the abort hotkey or the fail-safe corner was hit."""

    exit_code = 130


class FailSafeError(AbortedError):
    """The mouse was in a fail-safe corner before an action (pyautogui's corner fail-safe)."""


class InputBackendError(GuiAgentError):
    """An input backend is unavailable or failed to deliver an event."""

    exit_code = 4


class InvalidActionError(GuiAgentError, ValueError):
    """An action was malformed: unknown key name, negative count, empty text..."""

    exit_code = 2


class ImageLoadError(GuiAgentError):
    """An image file is missing, unreadable or not an image."""

    exit_code = 2


class TargetNotFound(GuiAgentError):
    """Grounding found nothing confident enough. Carries the best score seen."""

    exit_code = 3

    def __init__(self, message: str, *, best_score: float | None = None,
                 annotated_path: str | None = None) -> None:
        super().__init__(message)
        self.best_score = best_score
        self.annotated_path = annotated_path
