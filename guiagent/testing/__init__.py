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
    from guiagent.desktop.expect import (
        Expectation,
        Template,
        current_desktop,
        expect,
        using_desktop,
    )
    from guiagent.errors import ExpectationError, NoDesktopError
    from guiagent.testing.steps import RecordedDesktop, StepLog, TestStep

# Imported on first use: pytest loads the plugin module (a sibling) in every session, and a
# session without UI tests should not pay for the expectation and recording machinery.
_WHERE = {
    "Expectation": "guiagent.desktop.expect", "Template": "guiagent.desktop.expect",
    "current_desktop": "guiagent.desktop.expect", "expect": "guiagent.desktop.expect",
    "using_desktop": "guiagent.desktop.expect", "ExpectationError": "guiagent.errors",
    "NoDesktopError": "guiagent.errors", "RecordedDesktop": "guiagent.testing.steps",
    "StepLog": "guiagent.testing.steps", "TestStep": "guiagent.testing.steps",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


__all__ = [
    "Expectation",
    "ExpectationError",
    "NoDesktopError",
    "RecordedDesktop",
    "StepLog",
    "Template",
    "TestStep",
    "current_desktop",
    "expect",
    "using_desktop",
]
