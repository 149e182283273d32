"""One picture of the UI: the accessibility tree's elements, plus vision elements where the tree
has none, on one frame.

Accessibility elements come first (their names and roles are the application's own); a vision
element is added only where no accessibility element already covers it. Elements outside the
frame (off-screen, in another monitor's part of the desktop, hidden) are dropped. Every
element gets a ref (``e1``, ``e2``...) in reading order, valid until the next snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from guiagent.elements.model import Element, Snapshot
from guiagent.errors import GuiAgentError
from guiagent.geometry import Box
from guiagent.platform.base import Accessibility, AccessibilityTree, WindowInfo, WindowList
from guiagent.screen.capture import Frame

A11Y_TIMEOUT_S = 2.0
A11Y_MAX_NODES = 5000
# Accessibility roles that are containers or decoration: kept in the tree, not in flat lists.
_STRUCTURE = frozenset({"panel", "window", "dialog", "table", "list", "document", "scroll bar",
                        "menu bar", "toolbar", "image"})


class DesktopLike(Protocol):
    """What :func:`take_snapshot` needs from a desktop (a :class:`guiagent.Desktop`)."""

    def capture(self) -> Frame: ...

    @property
    def accessibility(self) -> Accessibility | None: ...

    @property
    def windows(self) -> WindowList | None: ...


def elements_from_tree(tree: AccessibilityTree, frame: Frame | None = None) -> list[Element]:
    """The tree's nodes as elements (refs ``a1``...), dropped where they lie outside ``frame``
    or have no extents; a node's parent is its nearest kept ancestor."""
    visible = frame.screen_box if frame is not None else None
    kept: dict[int, Element] = {}
    roots: dict[int, Box | None] = {}  # node index -> the box of its top-level window
    for index, node in enumerate(tree.nodes):
        parent_root = roots.get(node.parent) if node.parent is not None else None
        own = Box(*node.box) if node.box is not None and node.box[2] > 0 and node.box[3] > 0 else None
        roots[index] = own if node.parent is None else parent_root
        if own is None:
            continue
        box = own
        window_box = roots[index]
        if node.parent is not None and window_box is not None and not window_box.contains(box.center):
            continue  # placed outside its own window: the application reported it wrong
        if visible is not None:
            inside = box.intersection(visible)
            if inside is None or inside.area < 0.5 * box.area:
                continue
            box = inside
        parent = node.parent
        while parent is not None and parent not in kept:
            parent = tree.nodes[parent].parent
        kept[index] = Element(
            ref=f"a{index}", role=node.role, name=node.name.strip(), box=box, states=node.states,
            source="a11y", window=node.window, path=node.path,
            parent=kept[parent].ref if parent is not None else None, actions=node.actions,
            description=node.description, value=node.value, handle=node.handle,
        )
    return list(kept.values())


def _covered(candidate: Element, by: Sequence[Element]) -> bool:
    """Whether an accessibility element already stands where a vision element was seen."""
    box = candidate.box
    for other in by:
        if other.role in _STRUCTURE:
            continue
        inter = box.intersection(other.box)
        if inter is None:
            continue
        if inter.area >= 0.6 * box.area and other.box.area <= 6 * box.area:
            return True
    return False


def fuse(a11y: Sequence[Element], vision: Sequence[Element]) -> list[Element]:
    """Accessibility elements, then vision elements where none of them stands (refs renumbered
    ``e1``... in reading order: accessibility elements keep their tree order)."""
    added = [v for v in vision if not _covered(v, a11y)]
    ordered = list(a11y) + sorted(added, key=lambda e: (round(e.box.top / 8), e.box.left))
    renames = {e.ref: f"e{i}" for i, e in enumerate(ordered, 1)}
    return [
        _renamed(e, renames[e.ref], renames.get(e.parent) if e.parent else None) for e in ordered
    ]


def _renamed(element: Element, ref: str, parent: str | None) -> Element:
    return replace(element, ref=ref, parent=parent)


def read_accessibility(accessibility: Accessibility | None, frame: Frame | None, *,
                       window: str | None = None, max_nodes: int = A11Y_MAX_NODES,
                       timeout: float = A11Y_TIMEOUT_S) -> tuple[list[Element], list[str]]:
    """Accessibility elements on ``frame`` and notes on what happened (never raises for a bus
    that is off, dead or slow: the notes say so and vision takes over)."""
    if accessibility is None:
        return [], ["accessibility: not used"]
    reason = accessibility.unavailable_reason()
    if reason is not None:
        return [], [f"accessibility: off ({reason})"]
    try:
        tree = accessibility.snapshot(window=window, max_nodes=max_nodes, timeout=timeout)
    except GuiAgentError as exc:
        return [], [f"accessibility: failed ({exc})"]
    elements = elements_from_tree(tree, frame)
    notes = [f"accessibility: {len(elements)} of {len(tree.nodes)} nodes on screen in "
             f"{tree.elapsed_s:.2f} s" + (" (cut short by the budget)" if tree.truncated else "")]
    return elements, notes + list(tree.notes)


def list_windows(windows: WindowList | None) -> tuple[list[WindowInfo], list[str]]:
    """The desktop's windows, bottom to top, and a note when they could not be listed."""
    if windows is None:
        return [], []
    try:
        return windows.all(), []
    except Exception as exc:  # a hint for placing vision elements: never fail a search over it
        return [], [f"windows: not listed ({exc})"]


def place_in_windows(elements: Sequence[Element], windows: Sequence[WindowInfo]) -> list[Element]:
    """Elements that do not know their window (vision elements) get the title of the topmost
    window that holds their centre; ``windows`` are listed bottom to top."""
    shown = [w for w in windows if not w.hidden]
    placed = []
    for element in elements:
        if not element.window:
            centre = element.box.center
            for window in reversed(shown):
                if Box(*window.box).contains(centre):
                    element = replace(element, window=window.title)
                    break
        placed.append(element)
    return placed


def vision_elements(frame: Frame, *, max_elements: int = 400,
                    windows: Sequence[WindowInfo] = ()) -> tuple[list[Element], list[str]]:
    """Control boxes found from the pixels, with their whole labels read by OCR, each placed
    in the topmost of ``windows`` that holds it."""
    from guiagent.elements.vision import find_vision_elements

    started = time.perf_counter()
    found = place_in_windows(find_vision_elements(frame, max_elements=max_elements), windows)
    return found, [f"vision: {len(found)} elements in {time.perf_counter() - started:.2f} s"]


def take_snapshot(source: DesktopLike | Frame, *, window: str | None = None,
                  interactive_only: bool = False, budget: int = 2000,
                  accessibility: Accessibility | None = None, windows: WindowList | None = None,
                  vision: bool = True, a11y_timeout: float = A11Y_TIMEOUT_S) -> Snapshot:
    """Every element on the screen (a desktop: its fresh capture, its accessibility tree and
    window list) or on a frame (vision elements, plus ``accessibility`` and ``windows`` when
    given).

    ``window`` keeps elements of windows whose title contains those words; ``interactive_only``
    keeps controls (buttons, fields, links...); ``budget`` caps the number of elements;
    ``a11y_timeout`` bounds the accessibility read (what came in time is used, with a note).
    """
    if isinstance(source, Frame):
        frame, a11y_source, window_source = source, accessibility, windows
    else:
        frame = source.capture()
        a11y_source = accessibility if accessibility is not None else source.accessibility
        window_source = windows if windows is not None else source.windows
    a11y, notes = read_accessibility(a11y_source, frame, window=window, max_nodes=max(budget, 500),
                                     timeout=a11y_timeout)
    found: list[Element] = []
    if vision:
        listed, window_notes = list_windows(window_source)
        found, vision_notes = vision_elements(frame, max_elements=budget, windows=listed)
        notes += window_notes + vision_notes
        if window is not None:
            found = _inside_windows(found, a11y, window)
    elements = fuse(a11y, found)
    if interactive_only:
        elements = [e for e in elements if e.interactive]
    if len(elements) > budget:
        notes.append(f"budget: kept {budget} of {len(elements)} elements")
        elements = elements[:budget]
    return Snapshot(tuple(elements), frame, tuple(notes))


def _inside_windows(found: list[Element], a11y: Sequence[Element], window: str) -> list[Element]:
    """Vision elements of the named window: by the window list where it placed them, else
    inside that window's box in the accessibility tree; all of them when neither says."""
    wanted = window.casefold()
    if any(v.window for v in found):
        return [v for v in found if wanted in v.window.casefold()]
    boxes = [e.box for e in a11y if e.role in ("window", "dialog") and wanted in e.name.casefold()]
    if not boxes:
        return found
    return [v for v in found if any(b.contains(v.box.center) for b in boxes)]
