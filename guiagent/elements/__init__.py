"""UI elements: whole controls from the accessibility tree where an app has one, and from the
pixels (control boxes with whole OCR labels) where not."""

from guiagent.elements.model import INTERACTIVE_ROLES, Element, ElementSource, Snapshot

__all__ = ["INTERACTIVE_ROLES", "Element", "ElementSource", "Snapshot"]
