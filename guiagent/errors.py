"""Every error guiagent raises on purpose, in one place; all derive from :class:`GuiAgentError`
(except :class:`ExpectationError`, an ``AssertionError`` so that pytest reports it as a failure).

Messages are written for the person who hit them: what went wrong and what to do next.
The CLI prints them as one line on stderr and exits with the error's ``exit_code``:

====  ==========================================================================================
code  meaning
====  ==========================================================================================
1     a step or wait failed (:class:`StepFailed` takes its cause's code), :class:`WaitTimeout`
2     bad input: a command, target, file, skill, demo, annotation or model folder is malformed
3     the target was not found, or matched several places equally well
4     display, capture, input device, OCR engine, model server or platform service problem
5     a point outside the screen or the allowed region; nothing was done
70    a bug in guiagent (an unexpected exception); please report it
130   aborted: the abort hotkey, the fail-safe corner or Ctrl+C
====  ==========================================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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


class WaitTimeout(GuiAgentError, TimeoutError):
    """A wait (for a target, for the screen to change or settle) passed its timeout. The message
    says what was waited for and the best score seen; also a builtin ``TimeoutError``."""

    exit_code = 1

    def __init__(self, message: str, *, best_score: float | None = None) -> None:
        super().__init__(message)
        self.best_score = best_score


class PlatformUnsupported(GuiAgentError):
    """This session's platform (e.g. Wayland) lacks a service guiagent needs; says what works."""

    exit_code = 4


class ExpectationError(AssertionError):
    """An expectation did not hold within its timeout. ``screenshot`` is the annotated last
    frame (None when it could not be written), ``best_score`` the best candidate's score."""

    def __init__(self, message: str, *, best_score: float | None = None,
                 screenshot: Any = None) -> None:
        super().__init__(message)
        self.best_score = best_score
        self.screenshot = screenshot


class NoDesktopError(GuiAgentError):
    """``expect(target)`` was used where no desktop is current."""

    exit_code = 2


class AnnotationError(GuiAgentError, ValueError):
    """An annotation file is malformed or names images that are not there."""

    exit_code = 2


class XRecordUnavailable(GuiAgentError):
    """The X display cannot be opened or has no RECORD extension."""

    exit_code = 4


class OcrUnavailableError(GuiAgentError):
    """The OCR engine asked for is not installed."""

    exit_code = 4


class EmptyTargetError(GuiAgentError, ValueError):
    """A target that names nothing: an empty string, an empty quote."""

    exit_code = 2


class GrounderUnavailable(GuiAgentError):
    """The target needs a grounder that is not installed or not configured."""

    exit_code = 2


class TemplateError(GuiAgentError, ValueError):
    """A template image that cannot be matched: empty, larger than the screen, all one colour."""

    exit_code = 2


class ModelOutputError(GuiAgentError):
    """A model answered something that is not a usable point; ``raw`` is what it said."""

    exit_code = 3

    def __init__(self, message: str, *, raw: str) -> None:
        shown = raw if len(raw) <= 200 else raw[:200] + "…"
        super().__init__(f"{message}; the model said: {shown!r}")
        self.raw = raw


class ModelLoadError(GuiAgentError):
    """A checkpoint is missing, partial or of an unknown family; says the path and what is missing."""

    exit_code = 2


class ModelServerError(GuiAgentError):
    """An OpenAI-compatible server could not be reached or answered with an error."""

    exit_code = 4


class UnsupportedImageSizeError(GuiAgentError, ValueError):
    """An image a model's processor cannot take: empty, or too elongated."""

    exit_code = 2


class AmbiguousTarget(GuiAgentError):
    """Several places match a target equally well and the command did not say which."""

    exit_code = 3


class SkillsUnavailable(GuiAgentError):
    """A command runs a skill but no skill could be loaded."""

    exit_code = 2


class StepFailed(GuiAgentError):
    """A step of a command failed; ``report`` says what ran, what failed and where the trace is."""

    def __init__(self, message: str, report: Any, cause: BaseException | None) -> None:
        super().__init__(message)
        self.report = report
        self.cause = cause
        self.exit_code = getattr(cause, "exit_code", 1)


class CommandError(GuiAgentError, ValueError):
    """A command that could not be read completely; nothing was done.

    ``understood`` holds the steps that did parse, ``failed`` the clauses that did not (with the
    reason), so a caller can show both.
    """

    exit_code = 2

    def __init__(self, message: str, *, understood: Sequence[tuple[int, Any]] = (),
                 failed: Sequence[tuple[int, str, str]] = ()) -> None:
        super().__init__(message)
        self.understood = list(understood)
        self.failed = list(failed)


class SkillError(GuiAgentError, ValueError):
    """A skill is missing, malformed, or was given the wrong parameters; nothing was done."""

    exit_code = 2


class SkillConditionFailed(GuiAgentError):
    """A skill's precondition was not visible before it ran, or a postcondition not after."""

    exit_code = 3


class PlanRefused(CommandError):
    """The model's plan was not accepted; nothing was done. ``raw`` is what the model said."""

    def __init__(self, message: str, *, raw: str, failed: Sequence[tuple[int, str, str]] = ()) -> None:
        shown = raw if len(raw) <= 400 else raw[:400] + "…"
        super().__init__(f"{message}; nothing was done | the model said: {shown!r}", failed=failed)
        self.reason = message
        self.raw = raw


class DemoError(GuiAgentError, ValueError):
    """A demo folder or file is missing, malformed or unsafe; nothing was replayed."""

    exit_code = 2


class ReplayError(TargetNotFound):
    """A step's target could not be found confidently; carries an annotated screenshot path."""


class RecordingError(GuiAgentError):
    """The recorder could not start or write the demo."""

    exit_code = 4


class CodegenError(GuiAgentError):
    """A recording cannot be written in the asked format (says which step and why)."""

    exit_code = 2
