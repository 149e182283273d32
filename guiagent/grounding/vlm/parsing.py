"""Pulling coordinates out of what a model wrote.

Models phrase one answer many ways: ``(x, y)``, ``[x1, y1, x2, y2]``, Qwen's
``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` (or the same with the special tokens stripped by the
decoder), UI-TARS's ``<point>x y</point>``, JSON with ``bbox_2d``/``point_2d`` (often in a
```` ```json ```` fence), or a ``<tool_call>`` naming an action and a ``coordinate``.
:func:`find_coordinates` tries them from the most to the least structured; :func:`answer` checks
the numbers against what the family's coordinate space allows. Nothing here raises anything but
:class:`ModelOutputError`, whatever the text.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from guiagent.errors import ModelOutputError
from guiagent.geometry import Box, ModelCoordinates, Point
from guiagent.grounding.vlm.base import ModelAnswer

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_RE = re.compile(NUMBER)
# "(x, y)" or "[x, y]": the workhorse of every family.
_PAIR_RE = re.compile(rf"[(\[]\s*({NUMBER})\s*,\s*({NUMBER})\s*[)\]]")
# A bracketed run of numbers, "(x1, y1, x2, y2)" / "[0.1 0.2]"; only runs of 2 or 4 are used.
_GROUP_RE = re.compile(rf"[(\[]\s*({NUMBER}(?:[\s,]+{NUMBER})*)\s*[)\]]")
_BARE_PAIR_RE = re.compile(rf"({NUMBER})(?:\s*,\s*|\s+)({NUMBER})")
# "[^<]*" rather than ".*?": a scan stops at the next tag, so unclosed tags cost linear time.
_BOX_TOKENS_RE = re.compile(r"<\|box_start\|>([^<]*)<\|box_end\|>")
_POINT_TAG_RE = re.compile(r"<point>([^<]*)</point>")
_FENCE_RE = re.compile(r"```(?:json|JSON)?")
_JSON_START_RE = re.compile(r"[{\[]")

# A JSON search looks at no more than this many opening brackets (model answers are short).
_MAX_JSON_STARTS = 64

# What each space allows, with a small tolerance for models that overshoot an edge.
_RANGES: dict[ModelCoordinates, tuple[float, float, float]] = {
    "norm1000": (0.0, 1000.0, 10.0),
    "relative": (0.0, 1.0, 0.01),
    # The grounder checks pixels against the real input size; this only stops nonsense.
    "pixels": (0.0, 65536.0, 2.0),
}
_SPACE_WORDS: dict[ModelCoordinates, str] = {
    "norm1000": "0-1000 normalised coordinates",
    "relative": "0-1 relative coordinates",
    "pixels": "pixel coordinates",
}

# Action names as models write them -> guiagent's names.
ACTIONS: dict[str, str] = {
    "click": "click",
    "left_click": "click",
    "left_single": "click",
    "tap": "click",
    "double_click": "double_click",
    "left_double": "double_click",
    "right_click": "right_click",
    "right_single": "right_click",
    "middle_click": "middle_click",
    "triple_click": "triple_click",
    "mouse_move": "move",
    "move": "move",
    "hover": "move",
    "left_click_drag": "drag",
    "drag": "drag",
    "select": "drag",
    "scroll": "scroll",
    "long_press": "long_press",
    "type": "type",
}

_POINT_KEYS = ("point_2d", "point", "coordinate", "coordinates", "position", "click", "start_point")
_BOX_KEYS = ("bbox_2d", "bbox", "box", "start_box")


@dataclass(frozen=True, slots=True)
class Found:
    """Numbers that look like an answer (2: a point, 4: a box) and the action named with them."""

    values: tuple[float, ...]
    action: str | None = None


def numbers(text: str) -> list[float]:
    """Every number in ``text``, in order (``inf`` for ones too large for a float)."""
    return [float(m) for m in _NUMBER_RE.findall(text)]


def action_name(word: str) -> str:
    """guiagent's name for an action a model wrote (unknown names pass through, lower-cased)."""
    key = word.strip().lower()
    return ACTIONS.get(key, key)


def json_values(text: str) -> list[Any]:
    """The JSON objects and arrays embedded in ``text`` (code fences ignored), in order."""
    body = _FENCE_RE.sub(" ", text)
    decoder = json.JSONDecoder()
    found: list[Any] = []
    index, starts = 0, 0
    while starts < _MAX_JSON_STARTS:
        match = _JSON_START_RE.search(body, index)
        if match is None:
            break
        starts += 1
        try:
            value, end = decoder.raw_decode(body, match.start())
        except (ValueError, RecursionError):
            index = match.start() + 1
            continue
        found.append(value)
        index = end
    return found


def find_coordinates(text: str) -> Found | None:
    """The first answer-like coordinates in ``text``, trying the structured forms first."""
    for value in json_values(text):
        hit = _from_json(value)
        if hit is not None:
            return hit
    for pattern in (_BOX_TOKENS_RE, _POINT_TAG_RE):
        for match in pattern.finditer(text):
            values = numbers(match.group(1))
            if len(values) in (2, 4):
                return Found(tuple(values))
    pairs = list(_PAIR_RE.finditer(text))
    if pairs:
        first = pairs[0]
        # "(x1,y1),(x2,y2)" is a box: two pairs with only a separator between them.
        if len(pairs) > 1 and not text[first.end():pairs[1].start()].strip(" ,\n\t"):
            return Found(tuple(float(v) for v in (*first.groups(), *pairs[1].groups())))
        return Found(tuple(float(v) for v in first.groups()))
    for match in _GROUP_RE.finditer(text):
        values = numbers(match.group(1))
        if len(values) in (2, 4):
            return Found(tuple(values))
    # Last resort: an answer that is nothing but "x, y" (a sentence with two numbers is not one).
    bare = _BARE_PAIR_RE.fullmatch(text.strip(" \t\n\"'`.;:"))
    if bare is not None:
        return Found((float(bare.group(1)), float(bare.group(2))))
    return None


def answer(found: Found | None, coordinates: ModelCoordinates, raw: str, *,
           action: str | None = None) -> ModelAnswer:
    """Check ``found`` against ``coordinates`` and build the :class:`ModelAnswer`."""
    if found is None:
        raise ModelOutputError("found no coordinates in the answer", raw=raw)
    values = checked(found.values, coordinates, raw)
    chosen = action or found.action or "click"
    if len(values) == 2:
        return ModelAnswer(Point(values[0], values[1]), None, chosen, raw)
    if len(values) == 4:
        box = Box.from_corners(*values)
        return ModelAnswer(box.center, box, chosen, raw)
    raise ModelOutputError(f"expected a point or a box, got {len(values)} numbers", raw=raw)


def checked(values: Sequence[float], coordinates: ModelCoordinates, raw: str) -> tuple[float, ...]:
    """``values`` if every one is finite and inside what ``coordinates`` allows."""
    low, high, tolerance = _RANGES[coordinates]
    for value in values:
        if not math.isfinite(value):
            raise ModelOutputError(f"coordinate {value} is not a finite number", raw=raw)
        if not low - tolerance <= value <= high + tolerance:
            raise ModelOutputError(
                f"coordinate {value:g} is outside the {_SPACE_WORDS[coordinates]} this model uses", raw=raw
            )
    return tuple(float(v) for v in values)


def _from_json(value: Any, depth: int = 0) -> Found | None:
    if depth > 8:
        return None
    if isinstance(value, list):
        flat = _number_list(value)
        if flat is not None:
            return Found(flat) if len(flat) in (2, 4) else None
        for item in value:
            hit = _from_json(item, depth + 1)
            if hit is not None:
                return hit
        return None
    if not isinstance(value, dict):
        return None
    arguments = value.get("arguments")
    if isinstance(arguments, str):  # some servers double-encode tool arguments
        decoded = json_values(arguments)
        arguments = decoded[0] if decoded else None
    if isinstance(arguments, dict):
        return _from_json(arguments, depth + 1)
    act = value.get("action")
    action = action_name(act) if isinstance(act, str) else None
    for keys, size in ((_BOX_KEYS, 4), (_POINT_KEYS, 2)):
        for key in keys:
            if key in value:
                flat = _number_list(value[key])
                if flat is not None and len(flat) in (2, size):
                    return Found(flat, action)
    x, y = _number(value.get("x")), _number(value.get("y"))
    if x is not None and y is not None:
        return Found((x, y), action)
    return None


def _number_list(value: Any) -> tuple[float, ...] | None:
    """A flat list of numbers, or a list of two points (``[[x1, y1], [x2, y2]]``), flattened."""
    if not isinstance(value, list):
        return None
    if len(value) == 2 and all(isinstance(v, list) for v in value):
        parts = [_number_list(v) for v in value]
        if all(p is not None and len(p) == 2 for p in parts):
            return tuple(n for p in parts if p is not None for n in p)
        return None
    out = [_number(v) for v in value]
    if not out or any(v is None for v in out):
        return None
    return tuple(v for v in out if v is not None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            return math.inf
    if isinstance(value, str) and re.fullmatch(rf"\s*{NUMBER}\s*", value):
        return float(value)
    return None
