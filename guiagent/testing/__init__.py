"""UI test automation: visual expectations, image templates beside tests, and the pytest plugin.

```python
from guiagent.testing import Template, expect

def test_save(desktop):                       # the `desktop` fixture of the guiagent plugin
    desktop.launch("mousepad")
    desktop.click('"File"')
    expect('"Save As…"').to_be_visible(timeout=5)
    desktop.click(Template("save.png"))       # save.png is stored beside this test file
```

The plugin (:mod:`guiagent.testing.plugin`) is registered through the ``pytest11`` entry
point; it starts a virtual display per session (per pytest-xdist worker) only when a test
uses it, writes annotated screenshots of failures and, with ``--guiagent-report``, an HTML
report of the run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .expectations import (
        Expectation,
        ExpectationError,
        NoDesktopError,
        Template,
        current_desktop,
        expect,
        using_desktop,
    )
    from .recorder import RecordedDesktop, Recorder, Step

# Imported on first use: pytest loads the plugin module (a sibling) in every session, and a
# session without UI tests should not pay for the expectation and recording machinery.
_WHERE = {
    "Expectation": "expectations", "ExpectationError": "expectations", "NoDesktopError": "expectations",
    "Template": "expectations", "current_desktop": "expectations", "expect": "expectations",
    "using_desktop": "expectations", "RecordedDesktop": "recorder", "Recorder": "recorder",
    "Step": "recorder",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)


__all__ = [
    "Expectation",
    "ExpectationError",
    "NoDesktopError",
    "RecordedDesktop",
    "Recorder",
    "Step",
    "Template",
    "current_desktop",
    "expect",
    "using_desktop",
]
