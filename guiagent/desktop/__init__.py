"""The :class:`Desktop` facade (capture, grounding and one safe executor on one display) and
visual expectations (``expect(target).to_be_visible()``)."""

from guiagent.desktop.core import Desktop
from guiagent.desktop.expect import Expectation, Template, expect, using_desktop

__all__ = ["Desktop", "Expectation", "Template", "expect", "using_desktop"]
