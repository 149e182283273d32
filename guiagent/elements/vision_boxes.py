"""Where the controls are, from the pixels alone (no OCR, no model): the box-finding half of
vision elements (:mod:`guiagent.elements.vision` reads the labels).

Three kinds of evidence, all cheap image morphology on the full-resolution frame:

* **Flat rectangles** (:func:`find_regions`): buttons, fields, check boxes, tabs, selected rows
  are areas of one colour (or a gentle gradient) closed by a border or by a change of fill. A
  pixel is a boundary where the 3x3 morphological gradient exceeds ``edge`` grey levels; the
  connected areas of the rest, whose outline is a rectangle (their bounding box's four sides
  are mostly theirs), of control size, are candidate controls. Text and icons inside are holes
  in the area, so a label never splits its button.
* **Text lines** (:class:`~guiagent.grounding.ocr.MorphDetector`), grouped into phrases:
  words of one label are closer than about one letter height, separate labels further apart.
* **Indicators**: a small square or round area right before a phrase is a check box or radio
  button, and the phrase is its label.

Everything here is in frame pixels and pure logic on numpy arrays, so it is unit-tested on
synthetic images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from guiagent.geometry import Box
from guiagent.grounding.ocr import MorphDetector

__all__ = ["BoxFinder", "Proposal", "Region", "find_regions", "group_phrases"]


@dataclass(frozen=True, slots=True)
class Region:
    """A flat rectangle: ``box`` is the control's outer box (its border included).

    ``contrast``: how far its fill is from the pixels just outside it (grey levels; 0 for a
    control whose fill equals its surroundings and is known only by its border). ``round``: its
    corners are not part of it (a radio button, a pill). ``ink``: share of its box that is not
    flat fill (text, icons, the check mark).
    """

    box: Box
    fill: float
    contrast: float
    round: bool
    ink: float
    rows: tuple[Box, ...] = ()  # the ink inside (its label), one box per row of it


@dataclass(frozen=True, slots=True)
class Proposal:
    """A candidate element before its label is read (frame pixels).

    ``lines``: the text boxes holding its label, in reading order (empty for a control with
    no text, e.g. an empty field or an icon button). ``role``: the guess from its shape; the
    reader may change it (e.g. ``"icon"`` when its only "text" does not read as text).
    """

    box: Box
    role: str
    lines: tuple[Box, ...] = ()
    region: Region | None = None
    icon: Box | None = None  # the ink of an icon inside (or the icon itself)
    notes: tuple[str, ...] = field(default=())


def _gray(pixels: np.ndarray) -> np.ndarray:
    import cv2

    if pixels.ndim == 2:
        return pixels
    code = cv2.COLOR_BGRA2GRAY if pixels.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return np.asarray(cv2.cvtColor(pixels, code))


def find_regions(gray: np.ndarray, *, edge: int = 7, min_side: int = 9, max_height: int = 200,
                 max_width: int = 1600, sides: float = 0.6) -> list[Region]:
    """Flat rectangles of control size in a grey image (see the module notes).

    ``edge``: grey levels of change that make a boundary (low: light themes draw buttons only
    ~10 levels off their background). ``sides``: share of each side of the bounding box the
    area must reach (rounded corners cost a little of each side).
    """
    import cv2

    height, width = gray.shape[:2]
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    flat = (grad <= edge).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(flat, connectivity=4)
    x, y, w, h, area = (stats[:, k] for k in range(5))
    # The gradient widens every border by a pixel each way: the area is 2 px inside the
    # control's outer edge on every side.
    keep = ((w >= min_side - 4) & (h >= min_side - 4) & (h <= max_height) & (w <= max_width)
            & (area >= 0.3 * w * h) & (w <= 40 * h) & (h <= 8 * w))
    keep[0] = keep[0] and n > 1 and not (w[0] == width and h[0] == height)
    regions: list[Region] = []
    for i in np.nonzero(keep)[0]:
        x0, y0, x1, y1 = int(x[i]), int(y[i]), int(x[i] + w[i]), int(y[i] + h[i])
        if x0 == 0 or y0 == 0 or x1 == width or y1 == height:
            continue  # cut by the frame's edge: no outline to judge
        mine = labels[y0:y1, x0:x1] == i
        edges = (mine[0].mean(), mine[-1].mean(), mine[:, 0].mean(), mine[:, -1].mean())
        if min(edges) < sides and not _disc(mine, int(area[i])):
            continue
        corners = int(mine[0, 0]) + int(mine[0, -1]) + int(mine[-1, 0]) + int(mine[-1, -1])
        # Rows and columns well inside must be mostly fill too, or it is a frame around
        # something else (a ring, the space between other controls).
        if mine[h[i] // 2].mean() < 0.2 and mine[:, w[i] // 2].mean() < 0.2:
            continue
        fill = float(gray[y0:y1, x0:x1][mine].mean())
        ox0, oy0, ox1, oy1 = max(0, x0 - 4), max(0, y0 - 4), min(width, x1 + 4), min(height, y1 + 4)
        ring = gray[oy0:oy1, ox0:ox1].astype(np.float32)
        inner = np.zeros(ring.shape, bool)
        inner[y0 - oy0 + 0 : y1 - oy0, x0 - ox0 : x1 - ox0] = True
        outside = ring[~inner]
        # Just outside the area: the border (if any), then what surrounds the control.
        contrast = float(abs(np.median(outside) - fill)) if outside.size else 0.0
        box = Box(x0 - 2, y0 - 2, x1 - x0 + 4, y1 - y0 + 4)
        rows = _ink_rows(~mine, x0, y0)
        regions.append(Region(box, fill, contrast, corners <= 1,
                              1.0 - float(area[i]) / (w[i] * h[i]), rows))
    return regions


def _disc(mine: np.ndarray, area: int) -> bool:
    """A small round area (a radio button's inside): it reaches the middle of every side of
    its bounding box and fills most of it."""
    h, w = mine.shape
    if not (4 <= h <= 48 and 0.75 <= w / h <= 1.33 and area >= 0.45 * w * h):
        return False
    a, b = w // 3, max(w // 3 + 1, 2 * w // 3)
    c, d = h // 3, max(h // 3 + 1, 2 * h // 3)
    return bool(mine[0, a:b].any() and mine[-1, a:b].any() and mine[c:d, 0].any()
                and mine[c:d, -1].any())


def _ink_rows(holes: np.ndarray, x0: int, y0: int, band: int = 2) -> tuple[Box, ...]:
    """Boxes of the ink inside an area (its holes), one per row of it. Ink touching a
    ``band`` along the area's edges is left out: the anti-aliased inside of a rounded border,
    a shadow; a label never touches its control's border."""
    import cv2

    h, w = holes.shape
    if h <= 2 * band + 2 or w <= 2 * band + 2:
        return ()
    n, labels = cv2.connectedComponents(holes.astype(np.uint8), connectivity=8)
    if n <= 1:
        return ()
    edge = np.unique(np.concatenate([labels[:band].ravel(), labels[-band:].ravel(),
                                     labels[:, :band].ravel(), labels[:, -band:].ravel()]))
    inner = holes & ~np.isin(labels, edge)
    rows = np.nonzero(inner.any(axis=1))[0]
    if len(rows) == 0:
        return ()
    bands: list[list[int]] = [[int(rows[0]), int(rows[0])]]
    for r in rows[1:]:
        top, bottom = bands[-1]
        gap = int(r) - bottom - 1
        # Pieces of one glyph ("=", ":", "i") sit a few pixels apart; lines of text further.
        if gap <= 0 or (gap <= 5 and bottom - top + 1 <= 5):
            bands[-1][1] = int(r)
        else:
            bands.append([int(r), int(r)])
    out = []
    for top, bottom in bands:
        cols = np.nonzero(inner[top : bottom + 1].any(axis=0))[0]
        out.append(Box(x0 + int(cols[0]), y0 + top, int(cols[-1] - cols[0] + 1), bottom - top + 1))
    return tuple(out)


def group_phrases(lines: Sequence[Box], *, gap: float = 0.75) -> list[list[Box]]:
    """Text boxes on one row whose gaps are under ``gap`` x their height: the words of one
    label (labels side by side are spaced by more than a letter height). Reading order."""
    order = sorted(range(len(lines)), key=lambda i: (lines[i].left, lines[i].top))
    groups: list[list[Box]] = []
    used = [False] * len(lines)
    for i in order:
        if used[i]:
            continue
        group = [lines[i]]
        used[i] = True
        current = lines[i]
        while True:
            best: int | None = None
            for j in order:
                if used[j]:
                    continue
                b = lines[j]
                h = max(current.height, b.height)
                dy = abs(b.center.y - current.center.y)
                space = b.left - current.right
                if dy <= 0.3 * h and -2 <= space <= gap * min(h, 2.2 * min(current.height, b.height)) \
                        and abs(b.height - current.height) <= 0.6 * h and (
                            best is None or b.left < lines[best].left):
                    best = j
            if best is None:
                break
            used[best] = True
            group.append(lines[best])
            current = lines[best]
        groups.append(group)
    groups.sort(key=lambda g: (_union(g).top, _union(g).left))
    return groups


def _union(boxes: Sequence[Box]) -> Box:
    out = boxes[0]
    for b in boxes[1:]:
        out = out.union(b)
    return out


def _inside(inner: Box, outer: Box, share: float = 0.8) -> bool:
    inter = inner.intersection(outer)
    return inter is not None and inter.area >= share * inner.area


@dataclass(frozen=True, slots=True)
class BoxFinder:
    """Finds :class:`Proposal` boxes in a frame's pixels (see the module notes).

    ``detector`` finds text lines; ``edge`` and the size limits go to :func:`find_regions`
    (sizes in frame pixels: the defaults cover UI scale 1x to 2x on a 4K frame).
    """

    detector: MorphDetector = field(default_factory=lambda: MorphDetector(min_height=5))
    edge: int = 7
    max_height: int = 200
    max_width: int = 1600

    def find(self, pixels: np.ndarray) -> list[Proposal]:
        gray = _gray(pixels)
        regions = find_regions(gray, edge=self.edge, max_height=self.max_height,
                               max_width=self.max_width)
        lines = [b for b in self.detector.detect(gray) if b.width * b.height >= 20]
        return assemble(regions, lines)


def assemble(regions: Sequence[Region], lines: Sequence[Box]) -> list[Proposal]:
    """Controls from regions and text lines: the ink inside a region is its label; a small
    square or round region right before a phrase is a check box or radio button labelled by
    it; other phrases stand alone (labels, menu items, links, icons: the reader tells which by
    whether they read as text)."""
    # Small areas inside a text line are the insides of letters ("o", "e", "A"), not controls.
    regions = [r for r in _dedupe(regions) if not any(
        _inside(r.box, line, 0.9) and r.box.height < 0.6 * line.height for line in lines)]
    regions = _drop_containers(regions)
    # A box inside another text box is part of it (the inside of a big "0", a line split).
    lines = [line for line in lines if not any(
        o is not line and o.area > line.area and _inside(line, o, 0.8) for o in lines)]
    held = _assign(regions, lines)
    # A region whose text is several phrases or rows is a panel or a table row, not one
    # control: its text stands alone.
    controls: list[int] = []
    for k, region in enumerate(regions):
        texts = held.get(k, [])
        if len(region.rows) >= 2 or len(group_phrases(texts)) >= 2:
            continue
        controls.append(k)
    regions = [regions[k] for k in controls]
    held = _assign(regions, lines)

    proposals: list[Proposal] = []
    indicators: list[Region] = []
    for region in regions:
        b = region.box
        if any(o is not region and o.box.area > b.area and _inside(b, o.box, 0.9) for o in regions):
            continue  # part of a bigger control's content (an icon's own square, a dot)
        square = 0.75 <= b.width / b.height <= 1.33 and b.height <= 48
        if square and _mark_only(region):
            indicators.append(region)  # labelled by the phrase after it, if any
            continue
        proposals.append(_control(region))

    # The text detector joins a check box to the label right after it: cut it off.
    lines = [_after_indicator(line, indicators) for line in lines]
    owned = set(_owned(held, lines))
    # Standalone text does not straddle controls: a "line" across several of them, or half
    # inside one, is their shadows or borders joined up.
    free = [line for i, line in enumerate(lines) if i not in owned and not _straddles(line, regions)]
    phrases = group_phrases(free)
    taken: set[int] = set()
    for phrase in phrases:
        box = _union(phrase)
        indicator = _indicator_before(indicators, box)
        if indicator is not None:
            taken.add(id(indicator))
            role = "radio button" if indicator.round else "check box"
            proposals.append(Proposal(indicator.box.union(box), role, tuple(phrase), indicator))
        else:
            proposals.append(Proposal(box, "label", tuple(phrase)))
    for region in indicators:
        if id(region) not in taken:
            # A lone small square: an icon button or an unlabelled check box.
            role = "button" if region.rows else "check box"
            proposals.append(Proposal(region.box, role, region.rows, region))
    proposals.sort(key=lambda p: (round(p.box.center.y / 8), p.box.left))
    return proposals


def _after_indicator(line: Box, indicators: Sequence[Region]) -> Box:
    for region in indicators:
        b = region.box
        if _inside(b, line, 0.8) and b.left - line.left <= 3 and line.right - b.right > b.width:
            right = line.right
            left = b.right + 1
            return Box(left, line.top, right - left, line.height)
    return line


def _straddles(line: Box, regions: Sequence[Region]) -> bool:
    touched = 0
    for region in regions:
        inter = line.intersection(region.box)
        if inter is None:
            continue
        if inter.area >= 0.3 * line.area:
            return True
        touched += 1
    return touched >= 2


def _assign(regions: Sequence[Region], lines: Sequence[Box]) -> dict[int, list[Box]]:
    """Text lines by the smallest region holding each (region index -> lines)."""
    by_size = sorted(range(len(regions)), key=lambda k: regions[k].box.area)
    held: dict[int, list[Box]] = {}
    for line in lines:
        for k in by_size:
            if _inside(line, regions[k].box, 0.7):
                # Ink along the border (rounded corners, shadows) is not text.
                # (kept as held, but marked: neither the control's text nor free text)
                if _inside(line, regions[k].box.expanded(-4), 0.9):
                    held.setdefault(k, []).append(line)
                else:
                    held.setdefault(-1, []).append(line)
                break
    return held


def _owned(held: dict[int, list[Box]], lines: Sequence[Box]) -> list[int]:
    ids = {id(b) for texts in held.values() for b in texts}
    return [i for i, line in enumerate(lines) if id(line) in ids]


def _mark_only(region: Region) -> bool:
    """A small square whose ink, if any, is one big mark (a check, a dot, an icon), not a
    label set in text smaller than the box."""
    return all(r.height >= 0.5 * region.box.height for r in region.rows)


def _control(region: Region) -> Proposal:
    b = region.box
    if not region.rows:
        role = "text field" if b.width >= 3 * b.height else "button"
        return Proposal(b, role, (), region)
    words = _union(region.rows)
    # Buttons centre their labels; fields, cells and list rows start them at the left.
    left_space = words.left - b.left
    right_space = b.right - words.right
    centred = abs(left_space - right_space) <= max(0.2 * (left_space + right_space), 6)
    if centred or b.width < 2.5 * b.height:
        role = "button"
    elif region.contrast < 6:
        role = "list item"  # text in an outlined row or cell
    else:
        role = "text field"
    return Proposal(b, role, region.rows, region)


def _indicator_before(indicators: Sequence[Region], phrase: Box) -> Region | None:
    best: tuple[float, Region] | None = None
    for region in indicators:
        b = region.box
        gap = phrase.left - b.right
        if not (-2 <= gap <= max(1.2 * phrase.height, 0.8 * b.height)):
            continue
        if abs(b.center.y - phrase.center.y) > 0.35 * max(b.height, phrase.height):
            continue
        if not 0.5 * phrase.height <= b.height <= 2.6 * phrase.height:
            continue
        if best is None or gap < best[0]:
            best = (gap, region)
    return best[1] if best else None


def _dedupe(regions: Sequence[Region]) -> list[Region]:
    """One region per control: an inner area nearly as big as an outer one (a focus ring, a
    bevel, a second border) is the same control; keep the outer."""
    order = sorted(regions, key=lambda r: -r.box.area)
    kept: list[Region] = []
    for r in order:
        if any(_inside(r.box, k.box, 0.95) and r.box.area >= 0.6 * k.box.area for k in kept):
            continue
        kept.append(r)
    return kept


def _drop_containers(regions: list[Region]) -> list[Region]:
    """A region holding two or more others is a panel, toolbar or group, not a control."""
    out = []
    for r in regions:
        inner = sum(1 for o in regions if o is not r and o.box.area < r.box.area
                    and _inside(o.box, r.box, 0.9))
        if inner < 2:
            out.append(r)
    return out
