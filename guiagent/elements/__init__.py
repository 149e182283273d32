"""UI elements: whole controls from the accessibility tree where an app has one, and from the
pixels (control boxes with whole OCR labels) where not.

``take_snapshot(desktop_or_frame)`` lists them; :mod:`guiagent.elements.locate` grounds a target
to an element first and to the pixels when none fits; :mod:`guiagent.elements.query` reads what
people call a control ("the second OK button", the "Show grid" checkbox).
"""

from guiagent.elements.model import INTERACTIVE_ROLES, Element, ElementSource, Snapshot
from guiagent.elements.snapshot import take_snapshot

__all__ = ["INTERACTIVE_ROLES", "Element", "ElementSource", "Snapshot", "take_snapshot"]
