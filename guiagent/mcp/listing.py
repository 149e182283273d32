"""The ``snapshot`` tool's listing: every element a client may act on, bounded to a token budget.

A busy 4K screen holds thousands of elements (an empty LibreOffice Calc sheet alone shows
~1,400 grid cells, which the vision finder reports as unnamed fields): listed in full that is
~18,000 tokens of text, over what an LLM client takes in one tool result. The listing keeps the
useful part within ``budget`` tokens (estimated as characters / 4):

- exact repeats (same role, name and box) are listed once; unnamed containers and decoration
  (panels, separators, empty labels) are not listed (their windows are);
- elements are grouped under their window's title, in reading order within each window;
- what fits goes in by priority: named controls from the accessibility tree, then named
  controls seen in the pixels, then other named elements, then the unnamed controls of one
  window and role as one block (all of them or none: half a grid is no help);
- what did not fit is summed up per window with the area it covers, and how to narrow:
  ``window=``, ``region=`` or a larger ``budget``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from guiagent.elements.model import NOTABLE_STATES, Element
from guiagent.geometry import Box
from guiagent.mcp.images import box_json, fmt_box

CHARS_PER_TOKEN = 4  # the estimate the budget uses: characters / 4
DEFAULT_BUDGET = 3000  # tokens of listing text by default
MAX_BUDGET = 100_000
NAME_CHARS = 80  # longer names are cut in the listing (structured content keeps 200)
# Roles that only hold or decorate others: listed only when they have a name.
DECORATION = frozenset({"panel", "window", "dialog", "table", "list", "document", "scroll bar",
                        "menu bar", "toolbar", "image", "separator", "label", "text", "filler",
                        "section", "paragraph", "heading", "status bar", "page tab list",
                        "tool tip", "unknown"})
NO_WINDOW = ""


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def acts_on(element: Element) -> bool:
    """A control a person acts on: the elements layer's interactive roles, plus anything
    editable (an editor's text area is role "text", yet it is where typing goes)."""
    return element.interactive or "editable" in element.states


@dataclass
class _Unit:
    """What goes in or stays out together: one named element, or the unnamed elements of one
    window and role."""

    priority: int
    elements: list[Element]
    lines: list[str]
    cost: int = 0


@dataclass
class Listing:
    """The listing of one snapshot: text lines, the elements listed (boxes in screenshot
    pixels), and notes on what was merged, dropped or left out."""

    lines: list[str]
    listed: list[Element]
    notes: list[str] = field(default_factory=list)
    total: int = 0  # elements on the screen (in the view) before any of this
    left_out: dict[str, Any] = field(default_factory=dict)

    @property
    def text_chars(self) -> int:
        return sum(len(line) + 1 for line in self.lines)

    def structured(self) -> list[dict[str, Any]]:
        """The listed elements as ``{ref, role, name, box[, states]}``."""
        items = []
        for e in self.listed:
            item: dict[str, Any] = {"ref": e.ref, "role": e.role, "name": e.name[:200],
                                    "box": box_json(e.box)}
            states = sorted(e.states & NOTABLE_STATES)
            if states:
                item["states"] = states
            items.append(item)
        return items


def line_of(element: Element) -> str:
    name = element.name if len(element.name) <= NAME_CHARS else element.name[: NAME_CHARS - 1] + "…"
    return replace(element, name=name).describe()


def window_line(title: str, box: Box | None) -> str:
    if title == NO_WINDOW:
        return "window (none known):"
    where = f" ({fmt_box(box)})" if box is not None else ""
    return f"window {json.dumps(title, ensure_ascii=False)}{where}:"


def build_listing(elements: Sequence[Element], to_image: Callable[[Box], Box], *,
                  budget_tokens: int = DEFAULT_BUDGET, reserve_chars: int = 0) -> Listing:
    """The listing of ``elements`` (screen boxes) within ``budget_tokens``, boxes converted to
    screenshot pixels with ``to_image``. ``reserve_chars``: text the caller adds (a header)."""
    budget_chars = max(0, int(budget_tokens) * CHARS_PER_TOKEN - reserve_chars)
    notes: list[str] = []
    seen: set[tuple[str, str, tuple[int, ...]]] = set()
    windows: dict[str, Box | None] = {}
    kept: list[Element] = []
    repeats = decoration = 0
    for element in elements:
        element = replace(element, box=to_image(element.box))
        title = element.window or NO_WINDOW
        if element.role in ("window", "dialog") and element.name and element.name == title:
            windows.setdefault(title, element.box)  # the header line carries it
            continue
        windows.setdefault(title, None)
        key = (element.role, element.name, tuple(box_json(element.box)))
        if key in seen:
            repeats += 1
            continue
        seen.add(key)
        if not element.name.strip() and element.role in DECORATION and "editable" not in element.states:
            decoration += 1
            continue
        kept.append(element)
    if repeats:
        notes.append(f"{repeats} exact repeats (same role, name and box) listed once")
    if decoration:
        notes.append(f"{decoration} unnamed containers and decorations (panels, separators...) "
                     "not listed")

    units = _units(kept)
    header_cost = {t: len(window_line(t, windows.get(t))) + 1 for t in windows}
    used = 0
    opened: set[str] = set()
    chosen: list[_Unit] = []
    dropped: list[_Unit] = []
    for unit in units:
        title = unit.elements[0].window or NO_WINDOW
        cost = unit.cost + (0 if title in opened else header_cost[title])
        if used + cost <= budget_chars:
            used += cost
            opened.add(title)
            chosen.append(unit)
        else:
            dropped.append(unit)
    listed_ids = {id(e) for u in chosen for e in u.elements}
    lines: list[str] = []
    listed: list[Element] = []
    for title in windows:
        members = [e for e in kept if (e.window or NO_WINDOW) == title and id(e) in listed_ids]
        if not members:
            continue
        lines.append(window_line(title, windows[title]))
        lines.extend(line_of(e) for e in members)
        listed.extend(members)
    left_out = _left_out(dropped)
    if dropped:
        notes.append(_left_out_note(left_out, budget_tokens))
    return Listing(lines, listed, notes, total=len(elements), left_out=left_out)


def _units(kept: Sequence[Element]) -> list[_Unit]:
    units: list[_Unit] = []
    blocks: dict[tuple[str, str], _Unit] = {}
    for element in kept:
        named = bool(element.name.strip())
        if named:
            priority = (0 if element.source == "a11y" else 1) if acts_on(element) else 2
            units.append(_Unit(priority, [element], [line_of(element)]))
            continue
        key = (element.window or NO_WINDOW, element.role)
        block = blocks.get(key)
        if block is None:
            block = blocks[key] = _Unit(3 if acts_on(element) else 4, [], [])
            units.append(block)
        block.elements.append(element)
        block.lines.append(line_of(element))
    for unit in units:
        unit.cost = sum(len(line) + 1 for line in unit.lines)
    # smaller unnamed blocks first: a toolbar's three icons before a sheet's thousand cells
    return sorted(units, key=lambda u: (u.priority, u.cost if u.priority >= 3 else 0))


def _left_out(dropped: Sequence[_Unit]) -> dict[str, Any]:
    """What did not fit, per window: counts of named and unnamed elements, roles, the area."""
    per_window: dict[str, dict[str, Any]] = {}
    for unit in dropped:
        for e in unit.elements:
            title = e.window or NO_WINDOW
            entry = per_window.setdefault(title, {"named": 0, "unnamed": 0, "roles": {}, "area": None,
                                                  "tokens": 0})
            entry["named" if e.name.strip() else "unnamed"] += 1
            entry["tokens"] += estimate_tokens(line_of(e) + "\n")
            entry["roles"][e.role] = entry["roles"].get(e.role, 0) + 1
            entry["area"] = e.box if entry["area"] is None else entry["area"].union(e.box)
    return {title: {**v, "area": box_json(v["area"])} for title, v in per_window.items()}


def _left_out_note(left_out: dict[str, Any], budget_tokens: int) -> str:
    parts = []
    for title, entry in sorted(left_out.items(), key=lambda kv: -(kv[1]["named"] + kv[1]["unnamed"])):
        common = sorted(entry["roles"].items(), key=lambda kv: -kv[1])[:3]
        roles = ", ".join(f"{n} {role}" for role, n in common)
        where = json.dumps(title, ensure_ascii=False) if title else "no known window"
        area = ",".join(str(v) for v in entry["area"])
        parts.append(f"{entry['named']} named and {entry['unnamed']} unnamed in {where} ({roles}; "
                     f"area {area}; ~{entry['tokens']} tokens to list)")
    count = sum(v["named"] + v["unnamed"] for v in left_out.values())
    return (f"left out {count} elements over the budget of {budget_tokens} tokens: "
            + "; ".join(parts) + ". To see them: snapshot(window=\"...\") or "
            "snapshot(region=\"x,y,w,h\") for a part of that area (unnamed elements of one window and "
            "role are listed all together or not at all), or a larger budget")
