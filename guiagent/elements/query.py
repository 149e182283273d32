"""Understanding what people call a control, and ranking the elements that fit.

:func:`parse_query` reads a target as people write it — ``"Save"``, ``the Bold button``,
``the "Show grid" checkbox``, ``the second OK button``, ``the rightmost "+"``,
``Save in the Settings window``, ``the field below "Name"`` — into an :class:`ElementQuery`:
a label (exact when quoted), a role word, an ordinal or a position, a window, and a relation
to another element. Words that are not a label, a role, an ordinal or a relation are never
guessed at: such a target is left to the pixel grounders (OCR, templates, a model).

:func:`rank_elements` scores elements against a query. A whole label beats a word of a label,
which beats a fuzzy reading: a control whose whole label is ``+`` wins over one labelled
``+/-``. A matching role, being a control rather than a static label, and coming from the
accessibility tree break ties between equally good labels; equally good matches stay
ambiguous (the caller asks which one), never silently picked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from guiagent.elements.model import Element
from guiagent.geometry import Box
from guiagent.grounding.textmatch import similarity

Position = Literal["leftmost", "rightmost", "topmost", "bottommost"]
RelationKind = Literal["left of", "right of", "above", "below", "next to", "inside"]

# Words people use for a role -> guiagent's role word (guiagent.platform.base.ROLES).
ROLE_WORDS: dict[str, str] = {
    "button": "button", "buttons": "button", "push button": "button", "key": "button",
    "toggle": "toggle button", "toggle button": "toggle button", "switch": "toggle button",
    "checkbox": "check box", "check box": "check box", "check-box": "check box", "tickbox": "check box",
    "radio": "radio button", "radio button": "radio button", "option": "radio button",
    "menu": "menu", "menu item": "menu item", "menuitem": "menu item", "menu entry": "menu item",
    "item": "menu item", "entry": "text field", "link": "link", "hyperlink": "link", "tab": "tab",
    "field": "text field", "text field": "text field", "text box": "text field", "textbox": "text field",
    "input": "text field", "box": "text field", "search box": "text field", "edit box": "text field",
    "combo box": "combo box", "combobox": "combo box", "dropdown": "combo box",
    "drop-down": "combo box", "drop down": "combo box", "list item": "list item", "row": "list item",
    "cell": "cell", "slider": "slider", "spin button": "spin button", "spinner": "spin button",
    "icon": "icon", "toolbar": "toolbar", "tool bar": "toolbar", "label": "label",
    "heading": "heading", "title": "heading", "image": "image", "picture": "image",
    "window": "window", "dialog": "dialog", "panel": "panel", "pane": "panel",
}

# Element roles a role word accepts, beyond itself (a "button" may be a toggle button...).
ROLE_ALIASES: dict[str, frozenset[str]] = {
    "button": frozenset({"button", "toggle button", "icon", "spin button"}),
    "toggle button": frozenset({"toggle button", "check box", "button"}),
    "check box": frozenset({"check box", "toggle button"}),
    "radio button": frozenset({"radio button", "menu item"}),
    "menu": frozenset({"menu", "menu item"}),
    "menu item": frozenset({"menu item", "menu", "list item"}),
    "text field": frozenset({"text field", "combo box", "spin button"}),
    "combo box": frozenset({"combo box", "text field", "button"}),
    "link": frozenset({"link"}),
    "tab": frozenset({"tab"}),
    "list item": frozenset({"list item", "tree item", "menu item", "cell"}),
    "icon": frozenset({"icon", "button", "toggle button", "image"}),
    "label": frozenset({"label", "text", "heading"}),
    "image": frozenset({"image", "icon"}),
}

_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "last": -1,
}
_POSITIONS: dict[str, Position] = {
    "leftmost": "leftmost", "left-most": "leftmost", "rightmost": "rightmost",
    "right-most": "rightmost", "topmost": "topmost", "top-most": "topmost", "uppermost": "topmost",
    "highest": "topmost", "bottommost": "bottommost", "bottom-most": "bottommost",
    "lowest": "bottommost",
}
_RELATIONS: dict[str, RelationKind] = {
    "left of": "left of", "to the left of": "left of", "right of": "right of",
    "to the right of": "right of", "above": "above", "over": "above", "below": "below",
    "under": "below", "underneath": "below", "beneath": "below", "next to": "next to",
    "beside": "next to", "by": "next to", "near": "next to", "in": "inside", "inside": "inside",
    "within": "inside",
}
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»"}
_ARTICLES = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
# Words that describe a look (a colour, a shape): such a target needs a model, not a label.
_LOOKS = re.compile(r"\b(?:red|green|blue|yellow|orange|purple|grey|gray|black|white|colou?red|"
                    r"shaped?|looks? like|round|square|circular|big|small|large|tiny)\b", re.I)


@dataclass(frozen=True, slots=True)
class ElementQuery:
    """What a target says about the element it means.

    ``label``: the words of its label ("" when only a role is given); ``exact``: the label was
    quoted, so it is the whole text. ``role``: a role word (``"button"``...). ``ordinal``: the
    Nth match in reading order (1-based; -1 = last). ``position``: the leftmost/rightmost/...
    match. ``window``: words of the title of its window. ``relation``/``anchor``: where it is
    relative to another element.
    """

    label: str = ""
    exact: bool = False
    role: str | None = None
    ordinal: int | None = None
    position: Position | None = None
    window: str | None = None
    relation: RelationKind | None = None
    anchor: ElementQuery | None = None

    def describe(self) -> str:
        parts = []
        if self.ordinal is not None:
            parts.append("the last" if self.ordinal == -1 else f"#{self.ordinal}")
        if self.position:
            parts.append(f"the {self.position}")
        if self.label:
            parts.append(f'"{self.label}"' if self.exact else self.label)
        if self.role:
            parts.append(self.role)
        text = " ".join(parts) or "an element"
        if self.relation and self.anchor is not None:
            text += f" {self.relation} {self.anchor.describe()}"
        if self.window:
            text += f" in the {self.window} window"
        return text


def _unquote(text: str) -> tuple[str, bool]:
    text = text.strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] == _QUOTES[text[0]]:
        return text[1:-1], True
    return text, False


def _split_outside_quotes(text: str, pattern: re.Pattern[str]) -> tuple[str, str, str] | None:
    """The first match of ``pattern`` outside quotes: (before, matched words, after)."""
    masked = list(text)
    quote: str | None = None
    for i, ch in enumerate(text):
        if quote is None and ch in _QUOTES:
            quote = _QUOTES[ch]
            masked[i] = "\x01"
        elif quote is not None:
            if ch == quote:
                quote = None
            masked[i] = "\x01"
    found = pattern.search("".join(masked))
    if found is None:
        return None
    return text[:found.start()], found.group(1), text[found.end():]


_ROLE_PATTERN = "|".join(sorted((re.escape(w) for w in ROLE_WORDS), key=len, reverse=True))
# Containers and decoration are named as role words only in a relation or a window clause; at
# the end of a label they are usually part of it ("Close window", "Page title", "Show image").
_LABEL_TAIL_WORDS = frozenset({"window", "dialog", "panel", "pane", "title", "heading", "image",
                               "picture"})
_RELATION_SPLIT = re.compile(
    r"\s+(" + "|".join(sorted((re.escape(w) for w in _RELATIONS if w not in ("in", "inside", "within")),
                              key=len, reverse=True)) + r")\s+(?=\S)", re.IGNORECASE)
_WINDOW_SPLIT = re.compile(r"\s+(in|inside|within|of)\s+(?=(?:the\s+)?\S.*\b(?:window|dialog)\s*$)",
                           re.IGNORECASE)
_ROLE_TAIL = re.compile(r"(?:^|\s+)(" + _ROLE_PATTERN + r")$", re.IGNORECASE)
_ROLE_HEAD = re.compile(r"^(" + _ROLE_PATTERN + r")\s+(?=[\"'“‘«])", re.IGNORECASE)
_PICK = re.compile(r"^(?P<word>" + "|".join(sorted(list(_ORDINALS) + list(_POSITIONS), key=len, reverse=True))
                   + r"|\d+(?:st|nd|rd|th))\s+(?P<rest>.+)$", re.IGNORECASE)


def parse_query(text: str) -> ElementQuery | None:
    """An :class:`ElementQuery` from a target as written, or None when the words describe a
    look or something else that is not a label, a role, an ordinal or a relation."""
    text = " ".join(text.split()).rstrip(".")
    if not text:
        return None
    # "... in the Settings window"
    window: str | None = None
    split = _split_outside_quotes(text, _WINDOW_SPLIT)
    if split is not None:
        before, _word, after = split
        title = _ARTICLES.sub("", after.strip())
        title = re.sub(r"\s+(?:window|dialog)$", "", title, flags=re.IGNORECASE)
        title, _ = _unquote(title)
        if title:
            window, text = title, before.strip()
    # "... below the Name field"
    relation: RelationKind | None = None
    anchor: ElementQuery | None = None
    split = _split_outside_quotes(text, _RELATION_SPLIT)
    if split is not None:
        before, word, after = split
        anchor = parse_query(after)
        if anchor is None or not before.strip():
            return None
        relation, text = _RELATIONS[word.lower()], before.strip()
    query = _parse_simple(text)
    if query is None:
        return None
    return replace(query, window=window, relation=relation, anchor=anchor)


def _names_which(had_article: bool, rest: str) -> bool:
    """Whether a leading ordinal or position word picks among matches ("the last link", "the
    second "OK"", "rightmost "+" button") rather than starting a label ("Last active")."""
    rest = rest.strip()
    return had_article or _unquote(rest)[1] or _ROLE_TAIL.search(rest) is not None or any(
        q in rest[:1] for q in _QUOTES)


def _parse_simple(text: str) -> ElementQuery | None:
    had_article = _ARTICLES.match(text.strip()) is not None
    text = _ARTICLES.sub("", text.strip())
    ordinal: int | None = None
    position: Position | None = None
    picked = _PICK.match(text)
    if picked is not None and not _unquote(text)[1] and not _names_which(had_article, picked.group("rest")):
        picked = None  # "Last active", "First name": the word is part of the label
    if picked is not None and not _unquote(text)[1]:
        word = picked.group("word").lower()
        if word in _POSITIONS:
            position = _POSITIONS[word]
        elif word in _ORDINALS:
            ordinal = _ORDINALS[word]
        else:
            ordinal = int(re.sub(r"\D", "", word))
        text = picked.group("rest").strip()
    role: str | None = None
    tail = _ROLE_TAIL.search(text) if not _unquote(text)[1] else None
    if tail is not None and tail.group(1).lower() in _LABEL_TAIL_WORDS and tail.start() > 0:
        tail = None  # "Close window": a label, not a window named "Close"
    if tail is not None:
        role, text = ROLE_WORDS[tail.group(1).lower()], text[:tail.start()].strip()
    head = _ROLE_HEAD.match(text)
    if head is not None and role is None:  # the button "OK"
        role, text = ROLE_WORDS[head.group(1).lower()], text[head.end():].strip()
    label, exact = _unquote(text)
    if not exact:
        if _LOOKS.search(label) or any(q in label for q in _QUOTES):
            return None  # a look ("the red button") or a half-quoted phrase: not a label
        label = _ARTICLES.sub("", label)
    if not label and role is None:
        return None
    return ElementQuery(label=label, exact=exact, role=role, ordinal=ordinal, position=position)


# -- ranking ----------------------------------------------------------------------------------

_MNEMONIC = re.compile(r"_(?=\w)|&(?=\w)")
_ACCELERATOR = re.compile(r"\s+(?:\(?(?:ctrl|alt|shift|cmd|super)\+\S+\)?)$", re.IGNORECASE)


def normalize_label(text: str) -> str:
    """A label as people compare labels: case, spacing, ellipses, mnemonics (``_File``),
    keyboard shortcuts shown beside it and a trailing colon ignored."""
    text = unicodedata.normalize("NFKC", text)
    text = _MNEMONIC.sub("", text)
    text = _ACCELERATOR.sub("", text.strip())
    text = text.replace("…", "...").strip()
    text = re.sub(r"(?:\.\.\.|:)$", "", text).strip()
    return " ".join(text.casefold().split())


def label_score(label: str, name: str, *, exact: bool) -> tuple[float, str]:
    """How well an element's ``name`` carries ``label``: 1.0 the whole label, 0.85 whole words
    of a longer label, down to ~0.6 a fuzzy reading (never for one or two characters, and never
    for a quoted label shorter than five: "+" is not "+/-", "OK" not "Ok!?"), 0 none."""
    want, have = normalize_label(label), normalize_label(name)
    if not want or not have:
        return 0.0, ""
    if want == have:
        return 1.0, "whole label"
    if re.sub(r"\W", "", want) == re.sub(r"\W", "", have) and re.sub(r"\W", "", want):
        return 0.95, "whole label (punctuation aside)"
    words = re.escape(want)
    if len(want) > 2 and re.search(rf"(?<!\w){words}(?!\w)", have):
        # a quoted target is "exactly this text": a longer label is a weaker match for it
        return (0.8 if exact else 0.85), "words of the label"
    if len(want) < 3 or (exact and len(want) < 5):
        return 0.0, ""
    ratio = similarity(want, have)  # 1 - edit distance / length, OCR look-alikes folded
    if ratio >= 0.8:
        return 0.55 + (ratio - 0.8), "close reading"  # 0.55 .. 0.75
    return 0.0, ""


@dataclass(frozen=True, slots=True)
class Ranked:
    """An element and how well it fits a query (``why`` says what matched)."""

    element: Element
    score: float
    why: str


def _role_fits(query_role: str, element_role: str) -> bool:
    return element_role == query_role or element_role in ROLE_ALIASES.get(query_role, frozenset())


_CONTENT_ROLES = frozenset({"text field", "combo box"})
# Vision guesses a role from a box's shape; these it cannot tell apart reliably (a field with
# a faint border reads as an outlined list row, a rounded check box as a radio button).
_VISION_LOOKALIKES: dict[str, frozenset[str]] = {
    "text field": frozenset({"list item"}), "list item": frozenset({"text field"}),
    "check box": frozenset({"radio button"}), "radio button": frozenset({"check box"}),
}


def rank_elements(elements: Sequence[Element], query: ElementQuery) -> list[Ranked]:
    """Elements that fit ``query``, best first (ties keep reading order). Position, ordinal,
    window and relation are applied by :func:`pick` after ranking."""
    ranked: list[Ranked] = []
    for element in elements:
        if query.window and query.window.casefold() not in element.window.casefold():
            continue
        if query.label:
            score, why = label_score(query.label, element.name, exact=query.exact)
            if score == 0.0 and element.description:
                score, why = label_score(query.label, element.description, exact=query.exact)
                score, why = score * 0.9, f"{why} (its description)"
            if score == 0.0:
                continue
        else:
            score, why = 0.9, "role"
        if query.role is not None:
            if _role_fits(query.role, element.role):
                score = min(1.0, score + 0.02)
                why += f", {element.role}"
            elif element.source == "vision" and element.role in _VISION_LOOKALIKES.get(query.role, ()):
                why += f", {element.role} (looks alike)"  # fits, without the bonus
            elif element.role in ("label", "text", "heading"):
                score -= 0.1  # "the Name field" named by its label: the field itself is better
            elif not query.label:
                continue
            else:
                score -= 0.15
        if not element.interactive:
            score -= 0.05  # a static text that reads the same as a control: the control wins
        elif query.label and query.role is None and element.source == "vision" \
                and element.role in _CONTENT_ROLES:
            # What OCR reads in a field is its content, not its label: a calculator's display
            # showing "0" is not the "0" button. Between a control (1.0) and a static text
            # (0.95), outside the TIE band of either.
            score -= 0.025
            why += " (the field's content)"
        if "disabled" in element.states:
            score -= 0.02
        if element.source == "a11y":
            score += 0.005
        ranked.append(Ranked(element, round(min(score, 1.0), 4), why))
    ranked.sort(key=lambda r: -r.score)  # stable: reading order among equals
    return ranked


def _relation_holds(box: Box, anchor: Box, relation: RelationKind) -> bool:
    cx, cy = box.center.x, box.center.y
    overlap_y = min(box.bottom, anchor.bottom) - max(box.top, anchor.top) > -anchor.height
    overlap_x = min(box.right, anchor.right) - max(box.left, anchor.left) > -anchor.width
    if relation == "left of":
        return cx < anchor.left and overlap_y
    if relation == "right of":
        return cx > anchor.right and overlap_y
    if relation == "above":
        return cy < anchor.top and overlap_x
    if relation == "below":
        return cy > anchor.bottom and overlap_x
    if relation == "inside":
        return anchor.left <= cx <= anchor.right and anchor.top <= cy <= anchor.bottom
    gap = max(anchor.width, anchor.height, 40.0) * 3
    return box.center.distance_to(anchor.center) <= gap + max(box.width, box.height)


def apply_relation(ranked: list[Ranked], anchors: Sequence[Element],
                   relation: RelationKind) -> list[Ranked]:
    """Keep the elements in ``relation`` to one of the anchors, nearest first."""
    kept: list[tuple[float, Ranked]] = []
    for r in ranked:
        distances = [r.element.box.center.distance_to(a.box.center) for a in anchors
                     if a is not r.element and _relation_holds(r.element.box, a.box, relation)]
        if distances:
            kept.append((min(distances), r))
    kept.sort(key=lambda pair: (-pair[1].score, pair[0]))
    return [r for _, r in kept]


TIE = 0.02  # scores this close to the best are "equally good"


def pick(ranked: list[Ranked], query: ElementQuery) -> list[Ranked]:
    """The best matches after the query's ordinal or position: one element when the query
    says which, otherwise every match within :data:`TIE` of the best (ambiguous when > 1)."""
    if not ranked:
        return []
    best = ranked[0].score
    top = [r for r in ranked if r.score >= best - TIE]
    if query.position is not None:
        key = {
            "leftmost": lambda r: r.element.box.center.x, "rightmost": lambda r: -r.element.box.center.x,
            "topmost": lambda r: r.element.box.center.y, "bottommost": lambda r: -r.element.box.center.y,
        }[query.position]
        return [min(top, key=key)]
    if query.ordinal is not None:
        ordered = sorted(top, key=lambda r: (round(r.element.box.center.y / 8), r.element.box.center.x))
        index = query.ordinal - 1 if query.ordinal > 0 else len(ordered) + query.ordinal
        return [ordered[index]] if 0 <= index < len(ordered) else []
    return top
