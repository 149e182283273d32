"""Refs a client names instead of coordinates: ``e12`` from the last snapshot (valid until the
next one), ``m1`` from the last find, wait_for or ambiguous target (valid until the next one).

A ref names what was on the screen when it was handed out. Before acting on an element the
server compares the pixels under it with the snapshot's frame: when the structure there changed
(a dialog closed, the list scrolled) the ref is stale and the client is told to take a new
snapshot, instead of clicking whatever moved into that place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ToolError

from guiagent.geometry import Box
from guiagent.screen.capture import Frame

if TYPE_CHECKING:
    from guiagent.elements.model import Element, Snapshot
    from guiagent.grounding.base import Match

_REF = re.compile(r"^\[?([em]\d+)\]?$")


def parse_ref(text: str) -> str | None:
    """``"e12"``, ``"[e12]"`` or ``"m1"`` -> the ref; None for anything else."""
    found = _REF.match(str(text).strip())
    return found.group(1) if found else None


class RefTable:
    """The refs of one session: the last snapshot's elements and the last matches."""

    def __init__(self) -> None:
        self.snapshot_frame: Frame | None = None
        self._elements: dict[str, Element] | None = None
        self._matches: dict[str, Match] = {}

    def set_snapshot(self, snapshot: Snapshot, elements: Iterable[Element]) -> None:
        """Refs from ``snapshot``, limited to ``elements`` (those the server may act on)."""
        self.snapshot_frame = snapshot.frame
        self._elements = {e.ref: e for e in elements}

    def set_matches(self, matches: Iterable[Match]) -> dict[str, Match]:
        self._matches = {f"m{i}": m for i, m in enumerate(matches, 1)}
        return dict(self._matches)

    def match(self, ref: str) -> Match:
        match = self._matches.get(ref)
        if match is None:
            raise ToolError(f"unknown ref {ref!r}: refs m1, m2... come from the last find (or "
                            "wait_for); call find again")
        return match

    def elements(self) -> list[Element]:
        """The last snapshot's listed elements (screen boxes)."""
        return list(self._elements.values()) if self._elements is not None else []

    def element(self, ref: str) -> Element:
        element = self._elements.get(ref) if self._elements is not None else None
        if element is None:
            why = "no snapshot was taken yet" if self._elements is None else "it is not in the last snapshot"
            raise ToolError(f"unknown or stale ref {ref!r} ({why}): take a new snapshot and use its refs")
        return element


def element_changed(before: Frame | None, element: Element, now: Frame) -> bool:
    """Whether the pixels under ``element`` (``now``: a capture of its screen box) no longer
    look like they did in the snapshot's frame ``before``. Compared by structure
    (normalised correlation), so a hover highlight or a blinking caret does not count."""
    import cv2
    import numpy as np

    if before is None:
        return False
    corner = before.from_screen((element.box.left, element.box.top))
    region = Box(corner.x, corner.y, element.box.width * before.scale,
                 element.box.height * before.scale).integer()
    inside = region.intersection(before.bounds)
    if inside is None or inside != region:
        return False  # not on the snapshot's frame: nothing to compare with
    old = before.crop(region).gray().astype(np.float32)
    new = now.gray().astype(np.float32)
    if old.shape != new.shape or old.size == 0:
        return True
    if old.std() < 2 or new.std() < 2:  # flat: compare brightness
        return float(abs(old.mean() - new.mean())) > 40
    return float(cv2.matchTemplate(new, old, cv2.TM_CCOEFF_NORMED)[0, 0]) < 0.5
