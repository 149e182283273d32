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

from .actions import (
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
from .desktop import Desktop
from .display import VirtualDisplay
from .errors import (
    AbortedError,
    CaptureError,
    DisplayError,
    FailSafeError,
    GuiAgentError,
    ImageLoadError,
    InputBackendError,
    InvalidActionError,
    OutOfBoundsError,
    TargetNotFound,
)
from .geometry import Box, ModelSpace, Point, Size, Transform, crop_window
from .screen import Frame, Monitor, Screen

__all__ = [
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
