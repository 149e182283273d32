"""guiagent: see a desktop and drive it the way a person does.

>>> import guiagent
>>> with guiagent.Desktop() as desktop:          # doctest: +SKIP
...     frame = desktop.capture()
...     desktop.click((100, 200))
...     desktop.type("héllo")
...     desktop.press("ctrl+s")
"""

from __future__ import annotations

__version__ = "0.1.0"

from guiagent.agent.loop import do
from guiagent.desktop import Desktop, Template, expect
from guiagent.errors import (
    AbortedError,
    CaptureError,
    DisplayError,
    ExpectationError,
    FailSafeError,
    GuiAgentError,
    ImageLoadError,
    InputBackendError,
    InvalidActionError,
    OutOfBoundsError,
    PlatformUnsupported,
    TargetNotFound,
    WaitTimeout,
)
from guiagent.geometry import Box, ModelSpace, Point, Size, Transform, crop_window
from guiagent.grounding import locate, locate_all
from guiagent.grounding.base import Match, Target
from guiagent.input.actions import (
    Action,
    ActionRecord,
    Click,
    Drag,
    Executor,
    ExecutorSettings,
    Hotkey,
    Move,
    PressKey,
    Scroll,
    TypeText,
    Wait,
)
from guiagent.screen import Frame, Monitor, Screen, VirtualDisplay

__all__ = [
    "locate_all",
    "locate",
    "expect",
    "do",
    "WaitTimeout",
    "Template",
    "Target",
    "PlatformUnsupported",
    "Match",
    "ExpectationError",
    "AbortedError",
    "Action",
    "ActionRecord",
    "Box",
    "CaptureError",
    "Click",
    "Desktop",
    "DisplayError",
    "Drag",
    "Executor",
    "ExecutorSettings",
    "FailSafeError",
    "Frame",
    "GuiAgentError",
    "Hotkey",
    "ImageLoadError",
    "InputBackendError",
    "InvalidActionError",
    "ModelSpace",
    "Monitor",
    "Move",
    "OutOfBoundsError",
    "Point",
    "PressKey",
    "Screen",
    "Scroll",
    "Size",
    "TargetNotFound",
    "Transform",
    "TypeText",
    "VirtualDisplay",
    "Wait",
    "__version__",
    "crop_window",
]
