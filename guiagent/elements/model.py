"""What people name on a screen: whole controls, not lines of text or pixels.

An :class:`Element` is one control (a button, a menu item, a link, a field...) with its role,
its whole label (``name``), its box and states, and where it came from: the application's own
accessibility tree (``source="a11y"``) or the pixels (``source="vision"``: a control box found
by its borders and fill, with its label read by OCR). A :class:`Snapshot` is every element seen
on one frame, each with a short ``ref`` (``e12``) that stays valid until the next snapshot.

Boxes are in **screen** coordinates (what the input backend takes); ``Snapshot.frame`` converts
to frame pixels for grounding and pictures.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from guiagent.geometry import Box
from guiagent.platform.base import AccessibleNode
from guiagent.screen.capture import Frame

ElementSource = Literal["a11y", "vision"]


@dataclass(frozen=True, slots=True)
class Element:
    """One control on the screen.

    ``ref``: short id within its snapshot (``e12``). ``role``: a role word from
    :data:`guiagent.platform.base.ROLES` (``"button"``, ``"menu item"``...). ``name``: the whole
    label. ``box``: screen coordinates. ``states``: e.g. ``{"focused", "checked", "disabled"}``.
    ``window``: the title of its top-level window. ``path``: where it sits in its
    application's tree (child indexes; empty for vision elements). ``parent``: the ref of its
    parent element, when known. ``actions``: its own accessibility actions.
    """

    ref: str
    role: str
    name: str
    box: Box
    states: frozenset[str] = frozenset()
    source: ElementSource = "vision"
    window: str = ""
    path: tuple[int, ...] = ()
    parent: str | None = None
    actions: tuple[str, ...] = ()
    description: str = ""
    value: str = ""
    score: float = 1.0  # how sure the source is of the element and its label (OCR confidence)
    handle: str = ""  # the platform's reference to an accessibility element (for its actions)

    @property
    def enabled(self) -> bool:
        return "disabled" not in self.states

    @property
    def interactive(self) -> bool:
        """A control a person acts on (not a label, panel or window)."""
        return self.role in INTERACTIVE_ROLES or bool(self.actions)

    def describe(self) -> str:
        """``[e12] button "Save" (x,y,w,h)``: the one-line form of inspect and the MCP server."""
        b = self.box
        shown = sorted(self.states & NOTABLE_STATES)
        states = f" [{', '.join(shown)}]" if shown else ""
        return (f"[{self.ref}] {self.role} {json.dumps(self.name, ensure_ascii=False)}{states} "
                f"({b.left:.0f},{b.top:.0f},{b.width:.0f},{b.height:.0f})")

    def to_json(self) -> dict[str, Any]:
        b = self.box
        return {
            "ref": self.ref, "role": self.role, "name": self.name,
            "box": [round(b.left), round(b.top), round(b.width), round(b.height)],
            "states": sorted(self.states), "source": self.source, "window": self.window,
            "path": list(self.path), "parent": self.parent, "actions": list(self.actions),
            "description": self.description, "value": self.value, "score": round(self.score, 3),
        }

    def node(self) -> AccessibleNode:
        """This element as the platform's accessibility node (to run its own actions)."""
        b = self.box
        return AccessibleNode(self.role, self.name, (round(b.left), round(b.top), round(b.width),
                                                     round(b.height)), self.states, self.path, None,
                              window=self.window, actions=self.actions, handle=self.handle)


# States worth a person's attention in a one-line listing (visible, showing... go without saying).
NOTABLE_STATES = frozenset({"focused", "checked", "selected", "disabled", "expanded", "collapsed",
                            "editable", "pressed", "indeterminate", "required", "invalid", "modal"})

INTERACTIVE_ROLES = frozenset({
    "button", "toggle button", "check box", "radio button", "menu", "menu item", "link", "tab",
    "text field", "combo box", "list item", "tree item", "cell", "slider", "spin button", "icon",
})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every element seen on one frame, in reading order, with notes on how they were found
    (which sources answered, what was cut short). ``frame`` is the frame they were found on."""

    elements: tuple[Element, ...]
    frame: Frame | None = None
    notes: tuple[str, ...] = ()
    _by_ref: dict[str, Element] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_ref.update({e.ref: e for e in self.elements})

    def __iter__(self) -> Iterator[Element]:
        return iter(self.elements)

    def __len__(self) -> int:
        return len(self.elements)

    def get(self, ref: str) -> Element | None:
        return self._by_ref.get(ref.strip().lstrip("[").rstrip("]"))

    def children(self, element: Element | None) -> list[Element]:
        """The elements whose parent is ``element`` (None: the roots)."""
        wanted = element.ref if element is not None else None
        return [e for e in self.elements if e.parent == wanted]

    def sources(self) -> set[str]:
        return {e.source for e in self.elements}

    def to_frame_box(self, element: Element) -> Box:
        """The element's box in this snapshot's frame pixels."""
        if self.frame is None:
            return element.box
        inverse = self.frame.to_screen_transform.inverse()
        return inverse.apply_box(element.box)

    def lines(self, elements: Sequence[Element] | None = None) -> list[str]:
        return [e.describe() for e in (self.elements if elements is None else elements)]

    def to_json(self) -> dict[str, Any]:
        return {"elements": [e.to_json() for e in self.elements], "notes": list(self.notes)}
