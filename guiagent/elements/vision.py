"""Vision elements: whole controls found from the pixels, each with its whole label.

Where no accessibility tree answers (plain screenshots given to ``ground``/``eval``, apps
without accessibility), guiagent still sees *controls*, not lines of text: the "+" button and
the "+/-" button are two elements named "+" and "+/-", so a quoted target can prefer the
control whose whole label it is.

:func:`find_vision_elements` does it in two steps:

1. **Boxes** (:mod:`guiagent.elements.vision_boxes`, ~0.3 s on a 4K frame, no model): flat
   rectangles closed by a border or a change of fill (buttons, fields, check boxes, tabs,
   selected rows), the ink inside each (its label), check boxes and radio buttons with the
   phrase after them, and text that stands alone grouped into phrases (labels, menu items,
   links, icons).
2. **Labels** (:mod:`guiagent.elements.vision_read`): each element's own label box read by
   OCR; RapidOCR for everything, plus a Tesseract vote on short labels.

Results are cached twice: each label by a hash of its pixels (an unchanged control costs a
hash), and the last frames' whole element lists by a hash of the frame.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np

from guiagent.elements.model import Element
from guiagent.elements.vision_boxes import BoxFinder, Proposal
from guiagent.elements.vision_read import LabelReader, Reading, estimate_chars
from guiagent.geometry import Box
from guiagent.screen.capture import Frame

__all__ = ["VisionElements", "VisionResult", "find_vision_elements"]

_MIN_TEXT_SCORE = 0.5  # a standalone phrase read less surely than this is not text


@dataclass(frozen=True, slots=True)
class VisionResult:
    """Elements (frame pixels in ``frame_boxes``, screen coordinates in the elements) and
    what it cost."""

    elements: tuple[Element, ...]
    frame_boxes: tuple[Box, ...]
    proposals: int
    read: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


class VisionElements:
    """Finds vision elements; keeps the OCR engines and caches between calls.

    ``finder``: the box finder. ``reader``: the label reader (RapidOCR, Tesseract vote).
    ``frame_cache``: how many whole frames' results to keep by pixel hash.
    """

    def __init__(self, *, finder: BoxFinder | None = None, reader: LabelReader | None = None,
                 frame_cache: int = 4) -> None:
        self.finder = finder or BoxFinder()
        self._reader = reader
        self.frame_cache = frame_cache
        self._frames: OrderedDict[tuple[bytes, int, int], VisionResult] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def reader(self) -> LabelReader:
        if self._reader is None:
            self._reader = LabelReader()
        return self._reader

    def find(self, frame: Frame, *, max_elements: int = 600, max_reads: int = 800,
             region: Box | None = None) -> VisionResult:
        """Every element on ``frame`` (or only in ``region``, frame pixels), reading order.

        At most ``max_reads`` labels are read (controls first, then standalone text, larger
        first); text left unread is dropped and controls keep an empty name (a note says so).
        """
        pixels = frame.pixels
        offset = (0, 0)
        if region is not None:
            r = region.integer().intersection(frame.bounds)
            if r is None:
                return VisionResult((), (), 0, 0)
            pixels = pixels[r.slices()]
            offset = (int(r.left), int(r.top))
        key = (_digest(pixels), max_elements, max_reads)
        with self._lock:
            cached = self._frames.get(key)
        if cached is not None and offset == (0, 0):
            return _to_screen(cached, frame, offset)
        started = time.perf_counter()
        proposals = self.finder.find(pixels)
        found = time.perf_counter()
        order = sorted(range(len(proposals)), key=lambda i: _read_priority(proposals[i]))
        to_read = [i for i in order if _label_box(proposals[i]) is not None][:max_reads]
        boxes = [_label_box(proposals[i]) for i in to_read]
        readings = self.reader.read(pixels, [b for b in boxes if b is not None])
        by_index = dict(zip(to_read, readings, strict=True))
        read_done = time.perf_counter()
        notes: list[str] = []
        unread = sum(1 for i, p in enumerate(proposals) if p.lines and i not in by_index)
        if unread:
            notes.append(f"{unread} labels left unread (max_reads={max_reads})")
        kept: list[tuple[Proposal, str, str, float]] = []
        for i, proposal in enumerate(proposals):
            decided = _decide(pixels, proposal, by_index.get(i))
            if decided is not None:
                kept.append((proposal, *decided))
        if len(kept) > max_elements:
            notes.append(f"{len(kept) - max_elements} elements over max_elements={max_elements}")
            ranked = sorted(range(len(kept)), key=lambda k: _read_priority(kept[k][0]))
            keep = set(ranked[:max_elements])
            kept = [e for k, e in enumerate(kept) if k in keep]
        kept = _menu_bars(kept)
        elements = []
        frame_boxes = []
        for n, (proposal, role, name, score) in enumerate(kept, start=1):
            states: set[str] = set()
            if role in ("check box", "radio button") and proposal.region is not None \
                    and proposal.region.rows:
                states.add("checked")
            frame_boxes.append(proposal.box)
            elements.append(Element(f"v{n}", role, name, proposal.box, frozenset(states),
                                    source="vision", score=score))
        result = VisionResult(tuple(elements), tuple(frame_boxes), len(proposals), len(to_read),
                              {"boxes": (found - started) * 1000,
                               "read": (read_done - found) * 1000,
                               "total": (time.perf_counter() - started) * 1000},
                              tuple(notes))
        if offset == (0, 0):
            with self._lock:
                self._frames[key] = result
                while len(self._frames) > self.frame_cache:
                    self._frames.popitem(last=False)
        return _to_screen(result, frame, offset)


_MENU_WORDS_MAX = 2
_MENU_CHARS_MAX = 14


def _menu_bars(kept: list[tuple[Proposal, str, str, float]]) -> list[tuple[Proposal, str, str, float]]:
    """Menu titles: three or more short labels (a word or two) of one height on one line,
    spaced like a menu bar ("File  Edit  View  Help"), become ``menu`` elements. A lone
    "Help" heading in a page stays a label, so "open the Help menu" is not a tie."""
    labels = [i for i, (p, role, name, _) in enumerate(kept) if role == "label" and name
              and len(name.split()) <= _MENU_WORDS_MAX and len(name) <= _MENU_CHARS_MAX]
    labels.sort(key=lambda i: (kept[i][0].box.center.y, kept[i][0].box.left))
    menus: set[int] = set()
    rows: list[list[int]] = []
    for i in labels:
        box = kept[i][0].box
        row = rows[-1] if rows else None
        if row is not None and abs(kept[row[0]][0].box.center.y - box.center.y) <= 0.3 * box.height:
            row.append(i)
        else:
            rows.append([i])
    for row in rows:
        row.sort(key=lambda i: kept[i][0].box.left)
        run: list[int] = []
        for i in row:
            box = kept[i][0].box
            if run:
                last = kept[run[-1]][0].box
                close = box.left - last.right <= 2.5 * max(box.height, last.height)
                alike = 0.75 <= box.height / max(last.height, 1.0) <= 1.33
                if not (close and alike):
                    if len(run) >= 3:
                        menus.update(run)
                    run = []
            run.append(i)
        if len(run) >= 3:
            menus.update(run)
    return [(p, "menu", name, score) if i in menus else (p, role, name, score)
            for i, (p, role, name, score) in enumerate(kept)]


def find_vision_elements(frame: Frame, *, ocr: VisionElements | LabelReader | None = None,
                         max_elements: int = 600, max_reads: int = 800,
                         region: Box | None = None) -> list[Element]:
    """Controls on ``frame`` found from its pixels, with their whole labels read by OCR.

    Returns elements (``source="vision"``, refs ``v1``, ``v2``... in reading order, boxes in
    **screen** coordinates) with a role guess (``button``, ``text field``, ``check box``,
    ``radio button``, ``list item``, ``label``, ``link``, ``icon``), ``name`` (the whole label;
    empty for icons and empty fields) and ``score`` (the OCR's confidence). ``ocr``: a
    :class:`VisionElements` (or :class:`LabelReader`) to reuse its engines and caches across
    calls; one is made (and loads its models) otherwise. ``region``: only this part of the
    frame (frame pixels).
    """
    finder = ocr if isinstance(ocr, VisionElements) else _default(ocr)
    return list(finder.find(frame, max_elements=max_elements, max_reads=max_reads,
                            region=region).elements)


_DEFAULT: dict[int, VisionElements] = {}
_DEFAULT_LOCK = threading.Lock()


def _default(reader: LabelReader | None) -> VisionElements:
    """One finder per reader (or one shared one), so the caches outlive a call."""
    with _DEFAULT_LOCK:
        key = id(reader)
        if key not in _DEFAULT:
            if len(_DEFAULT) > 4:
                _DEFAULT.clear()
            _DEFAULT[key] = VisionElements(reader=reader)
        return _DEFAULT[key]


def _label_box(proposal: Proposal) -> Box | None:
    """The one-line box holding the proposal's label (None: nothing to read)."""
    if not proposal.lines:
        return None
    box = proposal.lines[0]
    for line in proposal.lines[1:]:
        box = box.union(line)
    return box


def _read_priority(proposal: Proposal) -> tuple[int, float]:
    """Controls first, then standalone text (larger first: more likely a heading or a label
    than a stray mark)."""
    control = proposal.region is not None
    return (0 if control else 1, -proposal.box.area)


def _decide(pixels: np.ndarray, proposal: Proposal,
            reading: Reading | None) -> tuple[str, str, float] | None:
    """Role, name and score of a proposal once its label is read; None: not an element."""
    role = proposal.role
    box = proposal.box
    if reading is None:
        if proposal.region is None:
            return None  # unread free text: nothing to name it by
        return role, "", 0.5 if not proposal.lines else 0.0
    text, score = reading.text, reading.score
    if proposal.region is None:
        squarish = 0.5 <= box.width / max(box.height, 1) <= 2.0
        if (not text or score < _MIN_TEXT_SCORE) and squarish and box.height >= 10:
            return "icon", "", 0.5
        if not text or score < _MIN_TEXT_SCORE:
            return None
        if role == "label" and _looks_like_link(pixels, box):
            role = "link"
        if role == "label" and estimate_chars(box) < len(text) * 0.25:
            return None  # far too many letters for its size: noise read as text
        return role, text, score
    if not text and proposal.lines:
        return ("button" if role == "button" else role), "", 0.5  # an icon button
    return role, text, score


def _looks_like_link(pixels: np.ndarray, box: Box) -> bool:
    """Text drawn in a saturated blue (the web's link colour, in light and dark themes)."""
    import cv2

    b = box.integer()
    crop = pixels[b.slices()]
    if crop.size == 0:
        return False
    bgr = crop[:, :, :3]
    hsv = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2HSV).reshape(-1, 3)
    gray = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2GRAY).reshape(-1)
    background = np.median(gray)
    ink = np.abs(gray.astype(np.int16) - background) > 50
    if ink.sum() < 10:
        return False
    hue, sat = hsv[ink, 0], hsv[ink, 1]
    blue = (hue >= 95) & (hue <= 130) & (sat >= 90)
    return bool(blue.mean() >= 0.5)


def _to_screen(result: VisionResult, frame: Frame, offset: tuple[int, int]) -> VisionResult:
    transform = frame.to_screen_transform
    dx, dy = offset
    frame_boxes = tuple(Box(b.left + dx, b.top + dy, b.width, b.height) for b in result.frame_boxes)
    elements = tuple(replace(e, box=transform.apply_box(b))
                     for e, b in zip(result.elements, frame_boxes, strict=True))
    return replace(result, elements=elements, frame_boxes=frame_boxes)


def _digest(pixels: np.ndarray) -> bytes:
    data = np.ascontiguousarray(pixels)
    h = hashlib.blake2b(data.data.cast("B"), digest_size=16)
    h.update(np.array(data.shape, np.int64).tobytes())
    return h.digest()

