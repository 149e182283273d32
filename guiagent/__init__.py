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

from guiagent.desktop import Desktop, Template, expect
from guiagent.elements.locate import locate, locate_all
from guiagent.errors import (
    AbortedError,
    AmbiguousTarget,
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


def __getattr__(name: str) -> object:
    # ``guiagent.do`` is the agent layer (the command language and its loop): loaded on first use
    # so that `import guiagent` for capture, input and grounding does not pay for it.
    if name == "do":
        from guiagent.agent.loop import do

        return do
    raise AttributeError(f"module 'guiagent' has no attribute {name!r}")

__all__ = [
    "AbortedError",
    "Action",
    "ActionRecord",
    "AmbiguousTarget",
    "Box",
    "CaptureError",
    "Click",
    "Desktop",
    "DisplayError",
    "Drag",
    "Executor",
    "ExecutorSettings",
    "ExpectationError",
    "FailSafeError",
    "Frame",
    "GuiAgentError",
    "Hotkey",
    "ImageLoadError",
    "InputBackendError",
    "InvalidActionError",
    "Match",
    "ModelSpace",
    "Monitor",
    "Move",
    "OutOfBoundsError",
    "PlatformUnsupported",
    "Point",
    "PressKey",
    "Screen",
    "Scroll",
    "Size",
    "Target",
    "TargetNotFound",
    "Template",
    "Transform",
    "TypeText",
    "VirtualDisplay",
    "Wait",
    "WaitTimeout",
    "__version__",
    "crop_window",
    "do",
    "expect",
    "locate",
    "locate_all",
]
