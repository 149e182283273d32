"""Grounding through elements first: a target resolves to a whole control when one fits, and
to ECP grounding of the pixels (OCR, templates, a model) when none does.

Order: the accessibility tree (when a desktop has one), then vision elements (control boxes
with whole OCR labels) for the targets where lines of text mislead — short labels like "+",
targets with a role word, an ordinal or a relation — or when OCR alone finds nothing, then
:func:`guiagent.grounding.locate_all`. Every match says which source decided, in its stages.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from guiagent.elements.model import Element
from guiagent.elements.query import (
    ElementQuery,
    Ranked,
    apply_relation,
    normalize_label,
    parse_query,
    pick,
    rank_elements,
)
from guiagent.elements.snapshot import list_windows, read_accessibility, vision_elements
from guiagent.errors import GrounderUnavailable, GuiAgentError, TargetNotFound
from guiagent.geometry import Box, Size
from guiagent.grounding import locate_all as ground_all
from guiagent.grounding.base import Candidate, Match, StageRecord, Target, TargetLike
from guiagent.platform.base import Accessibility, WindowInfo, WindowList
from guiagent.screen.capture import Frame

MIN_ELEMENT_SCORE = 0.8  # below this an element is not trusted over the pixel grounders
SHORT_LABEL = 3  # labels this short are read inside running text by line OCR: use elements

VisionMode = Literal["auto", "always", "never"]


@dataclass(frozen=True, slots=True)
class ElementSearch:
    """What the element search found: the chosen elements (several = equally good), every
    ranked candidate, and notes on the sources consulted."""

    query: ElementQuery
    picked: tuple[Ranked, ...]
    ranked: tuple[Ranked, ...]
    source: str
    notes: tuple[str, ...]
    elapsed_ms: float


def _as_frame(image: Any) -> Frame:
    return image if isinstance(image, Frame) else Frame.load(image)


def _target_text(target: TargetLike) -> str | None:
    if isinstance(target, Target):
        return target.source if target.kind != "image" else None
    return target if isinstance(target, str) else None


def wants_vision(query: ElementQuery) -> bool:
    """Targets that line OCR gets wrong and vision elements get right."""
    return (query.role is not None or query.ordinal is not None or query.position is not None
            or query.relation is not None or len(normalize_label(query.label)) <= SHORT_LABEL)


def _resolve(elements: Sequence[Element], query: ElementQuery) -> tuple[list[Ranked], list[Ranked]]:
    ranked = rank_elements(elements, query)
    if query.relation is not None and query.anchor is not None:
        anchors = [r.element for r in pick(rank_elements(elements, query.anchor), query.anchor)]
        ranked = apply_relation(ranked, anchors, query.relation) if anchors else []
    confident = [r for r in ranked if r.score >= MIN_ELEMENT_SCORE]
    if query.relation is not None and query.ordinal is None and query.position is None:
        return ranked, confident[:1]  # "the field below Name": the nearest one
    return ranked, pick(confident, query)


def _shows_label(frame: Frame, element: Element) -> bool:
    """Whether the element's own box, at full resolution, shows its name (OCR, exact text)."""
    box = frame.to_screen_transform.inverse().apply_box(element.box).expanded(4)
    inside = box.intersection(frame.bounds)
    if inside is None or not element.name.strip():
        return False
    try:
        ground_all(frame.crop(inside.integer()), f'"{element.name}"', grounder="ocr", ecp=False, limit=1)
    except GuiAgentError:
        return False
    return True


def confirm_on_pixels(frame: Frame, picked: list[Ranked]) -> tuple[list[Ranked], str]:
    """Equally good accessibility elements, kept only where the screen shows their label.

    Trees list things the screen does not show where they say (LibreOffice's gtk3 interface
    lists its menu bar twice, the copy over the toolbar); reading each box settles the tie.
    When none or all of them show it, the tie stands (an icon-only control shows no text)."""
    shown = [r for r in picked if _shows_label(frame, r.element)]
    if shown and len(shown) < len(picked):
        return shown, f"pixels: {len(shown)} of {len(picked)} equally good elements show their label"
    return picked, f"pixels: could not tell {len(picked)} equally good elements apart"


def search_elements(frame: Frame, query: ElementQuery, *,
                    accessibility: Accessibility | None = None, windows: WindowList | None = None,
                    vision: VisionMode = "auto") -> ElementSearch:
    """Find the elements ``query`` means on ``frame``: accessibility first, then vision
    (placed in ``windows``, the desktop's window list, for "... in the Y window")."""
    started = time.perf_counter()
    notes: list[str] = []
    ranked: list[Ranked] = []
    if accessibility is not None:
        a11y, a11y_notes = read_accessibility(accessibility, frame, window=query.window)
        notes += a11y_notes
        ranked, picked = _resolve(a11y, query)
        if len(picked) > 1:
            picked, confirm_note = confirm_on_pixels(frame, picked)
            notes.append(confirm_note)
        if picked:
            return ElementSearch(query, tuple(picked), tuple(ranked), "a11y", tuple(notes),
                                 (time.perf_counter() - started) * 1000)
    if vision == "always" or (vision == "auto" and (wants_vision(query) or query.window)):
        listed, window_notes = list_windows(windows) if query.window else ([], [])
        found, vision_notes = vision_elements(frame, windows=listed)
        notes += window_notes + vision_notes
        vision_ranked, picked = _resolve(found, query)
        ranked = sorted(ranked + vision_ranked, key=lambda r: -r.score)
        if picked:
            return ElementSearch(query, tuple(picked), tuple(ranked), "vision", tuple(notes),
                                 (time.perf_counter() - started) * 1000)
    return ElementSearch(query, (), tuple(ranked), "", tuple(notes),
                         (time.perf_counter() - started) * 1000)


def _words_box(element: Element, label: str) -> Box:
    """Where ``label`` sits inside a vision element read as one line holding more words
    ("oJPEG PNG": Tk radio buttons at 2x read as one element): its share of the line, by
    character position. The whole box when the name is not one line or the words are not
    found as written."""
    box = element.box
    name = element.name
    found = re.search(rf"(?<!\w){re.escape(label.strip().casefold())}(?!\w)", name.casefold())
    if found is None or box.width < 3 * box.height or len(name) != len(name.casefold()):
        return box
    share = box.width / len(name)
    return Box(box.left + found.start() * share, box.top, (found.end() - found.start()) * share,
               box.height)


def element_matches(frame: Frame, search: ElementSearch) -> list[Match]:
    """Matches (frame pixels, with screen points) for the elements a search picked."""
    to_frame = frame.to_screen_transform.inverse()
    candidates = tuple(
        Candidate(to_frame.apply_box(r.element.box).center, r.score, to_frame.apply_box(r.element.box),
                  r.element.name) for r in search.ranked[:10])
    matches = []
    for r in search.picked:
        e = r.element
        if e.source == "vision" and r.why.startswith("words of the label"):
            e = replace(e, box=_words_box(e, search.query.label))
        box = to_frame.apply_box(e.box)
        note = (f"{e.source} {e.role} {e.name!r} ({r.why}); " + "; ".join(search.notes)).strip("; ")
        stage = StageRecord("elements", search.elapsed_ms, Size(frame.width, frame.height),
                            candidates, note=note)
        matches.append(Match(box.center, r.score, box, grounder=f"elements:{e.source}", text=e.name,
                             stages=(stage,), screen_point=e.box.center, screen_box=e.box,
                             elapsed_ms=search.elapsed_ms, extra={"element": e}))
    return matches


def _moved_match(match: Match, dx: float, dy: float) -> Match:
    """A match found in a crop, in the pixels of the frame the crop was taken from."""
    def box(b: Box | None) -> Box | None:
        return None if b is None else b.offset(dx, dy)

    stages = tuple(replace(
        s, candidates=tuple(replace(c, point=c.point.offset(dx, dy), box=box(c.box))
                            for c in s.candidates),
        windows=tuple(w.offset(dx, dy) for w in s.windows)) for s in match.stages)
    return replace(match, point=match.point.offset(dx, dy), box=box(match.box), stages=stages)


def _window_view(frame: Frame, query: ElementQuery,
                 windows: WindowList | None) -> tuple[Box, str] | None:
    """The part of ``frame`` showing the window "... in the Y window" names (its topmost
    visible match) and the target without the window clause, for the pixel grounders; None
    when the query names no window or no listed window has that title."""
    if not query.window:
        return None
    listed, _ = list_windows(windows)
    wanted = query.window.casefold()
    titled: list[WindowInfo] = [w for w in listed if not w.hidden and wanted in w.title.casefold()]
    if not titled:
        return None
    on_frame = frame.to_screen_transform.inverse().apply_box(Box(*titled[-1].box))
    inside = on_frame.intersection(frame.bounds)
    if inside is None:
        return None
    rest = replace(query, window=None)
    if rest.role or rest.ordinal is not None or rest.position or rest.relation:
        return None  # element words that only elements answer: already searched
    text = json.dumps(rest.label, ensure_ascii=False) if rest.exact else rest.label
    return inside.integer(), text


def locate_all(image: Any, target: TargetLike, *, accessibility: Accessibility | None = None,
               windows: WindowList | None = None, vision: VisionMode = "auto", limit: int = 5,
               **grounding: Any) -> list[Match]:
    """Every match for ``target``, best first: whole elements when one fits (equally good ones
    all returned, so a caller can tell a tie), else ECP grounding (``grounding`` options go to
    :func:`guiagent.grounding.locate_all`). ``windows`` (the desktop's window list) places
    what the pixels show in windows, for "... in the Y window". Raises TargetNotFound."""
    frame = _as_frame(image)
    text = _target_text(target)
    query = parse_query(text) if text is not None and grounding.get("grounder", "auto") == "auto" else None
    if query is not None:
        search = search_elements(frame, query, accessibility=accessibility, windows=windows,
                                 vision=vision)
        if search.picked:
            return element_matches(frame, search)[:max(limit, len(search.picked))]
        in_window = _window_view(frame, query, windows)
        if in_window is not None:  # the pixel grounders look only inside that window
            area, label = in_window
            found = ground_all(frame.crop(area), label, limit=limit, **grounding)
            return [_moved_match(m, area.left, area.top) for m in found]
    try:
        return ground_all(frame, target, limit=limit, **grounding)
    except GrounderUnavailable as unavailable:
        if query is None:
            raise
        # The words named an element (a role, a relation...), none fits, and the pixel
        # grounders cannot read such words without a model: say both.
        seen = "; ".join(search.notes) if search.notes else "no elements"
        raise TargetNotFound(f"no UI element fits {query.describe()} ({seen}); {unavailable}") from None
    except TargetNotFound as missed:
        if query is None or vision == "never" or wants_vision(query) or query.window:
            raise
        # OCR found nothing: the label may be on a control that line OCR cannot read whole.
        retry = search_elements(frame, query, accessibility=None, vision="always")
        if retry.picked:
            return element_matches(frame, retry)[:max(limit, len(retry.picked))]
        raise missed from None


def locate(image: Any, target: TargetLike, *, accessibility: Accessibility | None = None,
           windows: WindowList | None = None, vision: VisionMode = "auto",
           **grounding: Any) -> Match:
    """The best match for ``target`` (elements first, then ECP grounding)."""
    return locate_all(image, target, accessibility=accessibility, windows=windows, vision=vision,
                      limit=1, **grounding)[0]
