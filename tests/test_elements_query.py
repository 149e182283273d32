"""Target understanding and element ranking (pure logic)."""

from __future__ import annotations

import pytest

from guiagent.elements.model import Element
from guiagent.elements.query import (
    ElementQuery,
    label_score,
    normalize_label,
    parse_query,
    pick,
    rank_elements,
)
from guiagent.geometry import Box


@pytest.mark.parametrize(("text", "expected"), [
    ('"Save"', ElementQuery("Save", exact=True)),
    ("the Bold button", ElementQuery("Bold", role="button")),
    ('the "Show grid" checkbox', ElementQuery("Show grid", exact=True, role="check box")),
    ("the second OK button", ElementQuery("OK", role="button", ordinal=2)),
    ('the rightmost "+"', ElementQuery("+", exact=True, position="rightmost")),
    ('3rd "+"', ElementQuery("+", exact=True, ordinal=3)),
    ("the last link", ElementQuery("", role="link", ordinal=-1)),
    ("Save in the Settings window", ElementQuery("Save", window="Settings")),
    ('the button "OK"', ElementQuery("OK", exact=True, role="button")),
    ("Format menu", ElementQuery("Format", role="menu")),
    ('the field below "Name"',
     ElementQuery("", role="text field", relation="below", anchor=ElementQuery("Name", exact=True))),
    ("the text box next to the Name label",
     ElementQuery("", role="text field", relation="next to", anchor=ElementQuery("Name", role="label"))),
])
def test_parse_query(text: str, expected: ElementQuery) -> None:
    assert parse_query(text) == expected


@pytest.mark.parametrize(("text", "label"), [
    ("Close window", "Close window"),  # a label ending in a container word
    ("Last active", "Last active"),  # an ordinal word that starts a label
    ("Second opinion", "Second opinion"),
])
def test_words_that_only_look_like_roles_or_ordinals_stay_in_the_label(text: str, label: str) -> None:
    assert parse_query(text) == ElementQuery(label)


@pytest.mark.parametrize("text", ["the red button", "a big round icon", "", "   "])
def test_looks_are_left_to_the_pixel_grounders(text: str) -> None:
    assert parse_query(text) is None


def test_normalize_label_ignores_what_people_do_not_type() -> None:
    assert normalize_label("_File") == "file"
    assert normalize_label("Save As…") == normalize_label("save as...") == "save as"
    assert normalize_label("Name:") == "name"
    assert normalize_label("Open Ctrl+O") == "open"


def test_a_whole_label_beats_part_of_one() -> None:
    assert label_score("+", "+", exact=True)[0] == 1.0
    assert label_score("+", "+/-", exact=True)[0] == 0.0  # "+" is not "+/-"
    assert label_score("Save", "Save As", exact=True)[0] < label_score("Save", "Save", exact=True)[0]
    assert label_score("Save", "Save As", exact=False)[0] == 0.85
    assert label_score("Bold", "Bold", exact=False) == (1.0, "whole label")
    assert label_score("Preferences", "Preferenses", exact=False)[0] >= 0.55  # an OCR slip


def _e(ref: str, role: str, name: str, x: float, y: float, **kw: object) -> Element:
    return Element(ref, role, name, Box(x, y, 60, 40), **kw)  # type: ignore[arg-type]


CALCULATOR = [
    _e("e1", "button", "+/-", 100, 100), _e("e2", "button", "+", 300, 100),
    _e("e3", "label", "1 + 2 = 3", 100, 20), _e("e4", "button", "7", 100, 200),
    _e("e5", "button", "+", 500, 100),
]


def test_the_plus_button_not_plus_minus() -> None:
    query = parse_query('"+"')
    assert query is not None
    ranked = rank_elements(CALCULATOR, query)
    assert [r.element.ref for r in ranked] == ["e2", "e5"]  # +/- and running text are not "+"
    assert len(pick(ranked, query)) == 2  # two equally good "+" buttons: ambiguous
    rightmost = parse_query('the rightmost "+"')
    assert rightmost is not None
    assert [r.element.ref for r in pick(rank_elements(CALCULATOR, rightmost), rightmost)] == ["e5"]


def test_role_and_control_break_ties_between_equal_labels() -> None:
    elements = [_e("e1", "label", "Name", 10, 10), _e("e2", "text field", "Name", 120, 10)]
    query = parse_query("the Name field")
    assert query is not None
    assert pick(rank_elements(elements, query), query)[0].element.ref == "e2"
    plain = parse_query('"Name"')
    assert plain is not None
    assert pick(rank_elements(elements, plain), plain)[0].element.ref == "e2"  # the control wins


def test_a_displays_content_is_not_a_button_label() -> None:
    """galculator's display reads "0" like the "0" button; what OCR reads in a field is its
    content, so the button wins, and the field still beats a static label of that text."""
    elements = [_e("e1", "text field", "0", 10, 10), _e("e2", "button", "0", 10, 200),
                _e("e3", "label", "0", 10, 400)]
    query = parse_query('"0"')
    assert query is not None
    assert [r.element.ref for r in pick(rank_elements(elements, query), query)] == ["e2"]
    fields = parse_query('"0"')
    assert fields is not None
    without_button = [elements[0], elements[2]]
    assert [r.element.ref for r in pick(rank_elements(without_button, fields), fields)] == ["e1"]


def test_window_and_relation() -> None:
    elements = [
        _e("e1", "button", "Save", 10, 10, window="Settings"),
        _e("e2", "button", "Save", 10, 300, window="Editor"),
        _e("e3", "label", "Name", 400, 100), _e("e4", "text field", "", 400, 160),
        _e("e5", "text field", "", 400, 400),
    ]
    query = parse_query("Save in the Settings window")
    assert query is not None
    assert [r.element.ref for r in rank_elements(elements, query)] == ["e1"]
    from guiagent.elements.locate import _resolve

    below = parse_query('the field below "Name"')
    assert below is not None
    _ranked, picked = _resolve(elements, below)
    assert [r.element.ref for r in picked] == ["e4"]  # the nearest field below the label


@pytest.mark.parametrize(("command", "spec"), [
    ("open the Format menu", "the Format menu"),
    ("open the link Release notes - Version 2 (beta)", '"Release notes - Version 2 (beta)" link'),
    ('toggle the "Show grid" checkbox', 'the "Show grid" checkbox'),
    ('choose "notes.txt" from the menu', '"notes.txt"'),
    ('select "B2"', '"B2"'),
    ('uncheck "Remember me"', '"Remember me"'),
    ("go to the Settings tab", "the Settings tab"),
    ("press the OK button", "the OK button"),
])
def test_everyday_verbs_are_clicks(command: str, spec: str) -> None:
    from guiagent.agent.language import ClickStep, TargetRef, parse_commands

    assert parse_commands(command) == [ClickStep(TargetRef(spec))]


@pytest.mark.parametrize("command", ["press tab", 'press "+"', "press ctrl+s", "open mousepad"])
def test_keys_and_programs_stay_what_they_were(command: str) -> None:
    from guiagent.agent.language import ClickStep, parse_commands

    assert not isinstance(parse_commands(command)[0], ClickStep)


class _FakeAccessibility:
    """An accessibility reader that answers with a fixed tree."""

    def __init__(self, nodes: list[object]) -> None:
        self.nodes = nodes

    def unavailable_reason(self) -> None:
        return None

    def snapshot(self, **_: object) -> object:
        from guiagent.platform.base import AccessibilityTree

        return AccessibilityTree(tuple(self.nodes))  # type: ignore[arg-type]

    def do_action(self, *_: object, **__: object) -> bool:
        return False

    def close(self) -> None:
        pass


def test_equally_good_tree_elements_are_settled_by_what_the_screen_shows() -> None:
    """LibreOffice (gtk3) lists its menu bar twice; the copy lies over the toolbar. Reading the
    label inside each box keeps the menu the screen really shows."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from guiagent import Frame
    from guiagent.elements.locate import search_elements
    from guiagent.platform.base import AccessibleNode

    image = Image.new("RGB", (900, 300), "white")
    draw = ImageDraw.Draw(image)
    draw.text((12, 22), "File", fill="black",
              font=ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 22))
    draw.rectangle((14, 92, 44, 118), fill="#3465a4")  # a toolbar icon where the copy claims File
    frame = Frame(np.asarray(image)[:, :, ::-1].copy())
    shown = {"showing", "visible", "selectable"}
    nodes = [
        AccessibleNode("menu", "File", (0, 14, 80, 40), frozenset(shown), (0, 0), None, window="W"),
        AccessibleNode("menu", "File", (0, 84, 80, 40), frozenset(shown), (1, 0), None, window="W"),
    ]
    query = parse_query("the File menu")
    assert query is not None
    search = search_elements(frame, query, accessibility=_FakeAccessibility(nodes), vision="never")
    assert [r.element.box.top for r in search.picked] == [14]
    assert any("show their label" in note for note in search.notes)


def test_a_word_inside_a_vision_line_is_clicked_where_it_is_written() -> None:
    """Tk radio buttons at 2x read as one vision element "oJPEG PNG": "PNG" is its right part."""
    from guiagent.elements.locate import _words_box

    line = Element("v1", "label", "oJPEG PNG", Box(2150, 390, 204, 30))
    png = _words_box(line, "PNG")
    assert 2262 <= png.center.x <= 2338 and png.top == 390
    assert _words_box(line, "GIF") == line.box
    tall = Element("v2", "label", "Save all", Box(0, 0, 60, 60))
    assert _words_box(tall, "all") == tall.box  # not one line: left whole
