"""Annotated screenshots: where guiagent looked, what it considered and where it clicked."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guiagent.geometry import Box, Point
from guiagent.screen.capture import Frame

# BGR colours that read on light and dark themes alike.
RED = (40, 40, 230)
GREEN = (60, 200, 60)
BLUE = (230, 140, 30)
YELLOW = (0, 210, 255)
MAGENTA = (200, 60, 200)


@dataclass(frozen=True, slots=True)
class Mark:
    """One thing to draw, in frame pixels: a box and/or a point, with an optional label."""

    box: Box | None = None
    point: Point | None = None
    label: str = ""
    color: tuple[int, int, int] = RED
    thickness: int = 3


def annotate(frame: Frame, marks: Sequence[Mark]) -> np.ndarray:
    """A BGR copy of the frame with the marks drawn on it."""
    import cv2

    image = np.ascontiguousarray(frame.bgr()).copy()
    # Scale strokes and text with the frame so marks stay visible on 4K screenshots.
    unit = max(1.0, max(frame.width, frame.height) / 1920)
    for mark in marks:
        thick = max(1, round(mark.thickness * unit))
        if mark.box is not None:
            b = mark.box.integer()
            cv2.rectangle(image, (int(b.left), int(b.top)), (int(b.right) - 1, int(b.bottom) - 1),
                          mark.color, thick)
        if mark.point is not None:
            x, y = mark.point.pixel()
            r = round(14 * unit)
            cv2.circle(image, (x, y), r, mark.color, thick)
            cv2.line(image, (x - 2 * r, y), (x + 2 * r, y), mark.color, max(1, thick // 2))
            cv2.line(image, (x, y - 2 * r), (x, y + 2 * r), mark.color, max(1, thick // 2))
        if mark.label:
            anchor = mark.box if mark.box is not None else None
            if anchor is not None:
                x, y = int(anchor.left), int(anchor.top) - round(6 * unit)
            elif mark.point is not None:
                x, y = mark.point.pixel()
                x, y = x + round(20 * unit), y - round(20 * unit)
            else:
                x, y = 10, 30
            scale = 0.6 * unit
            (tw, th), base = cv2.getTextSize(mark.label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
            x = min(max(0, x), max(0, image.shape[1] - tw))
            y = min(max(th + base, y), image.shape[0] - base)
            cv2.rectangle(image, (x, y - th - base), (x + tw, y + base), (0, 0, 0), -1)
            cv2.putText(image, mark.label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, mark.color,
                        max(1, thick // 2), cv2.LINE_AA)
    return image


def save_annotated(frame: Frame, marks: Sequence[Mark], path: str | os.PathLike[str]) -> Path:
    """Draw ``marks`` on ``frame`` and write the picture; returns its path."""
    out = Path(path)
    Frame(annotate(frame, marks)).save(out)
    return out.resolve()
