"""Matching an instruction's text against OCR readings (pure logic, no display)."""

from __future__ import annotations

import pytest

from guiagent.geometry import Box, Point
from guiagent.grounding.textmatch import (
    TextLine,
    char_spans,
    find_text,
    fold,
    query_text,
    similarity,
    word_boxes,
)


def line(text: str, x: float, y: float, *, char_w: float = 10.0, h: float = 14.0,
         score: float = 1.0) -> TextLine:
    """A line whose characters are exactly ``char_w`` wide (monospace), for easy truths."""
    return TextLine(text, Box(x, y, char_w * len(text), h), score)


def words_of(matches: list) -> list[str]:
    return [m.text for m in matches]


# -- exact vs fuzzy ----------------------------------------------------------------------------


def test_exact_matches_whole_words_in_any_case() -> None:
    lines = [line("SAVE", 0, 0), line("Saved", 0, 40), line("Unsaved changes", 0, 80)]
    found = find_text("save", lines, exact=True)
    assert words_of(found) == ["SAVE"]
    assert found[0].score == 1.0


def test_fuzzy_also_finds_partial_words_but_ranks_them_lower() -> None:
    lines = [line("Saved", 0, 40), line("Save", 0, 0)]
    found = find_text("Save", lines, exact=False)
    assert [m.text for m in found][:2] == ["Save", "Saved"]
    assert found[0].score == 1.0
    assert found[1].score < found[0].score


def test_exact_ignores_surrounding_punctuation() -> None:
    lines = [line("Username:", 0, 0), line("(Cancel)", 0, 40), line("Save As…", 0, 80)]
    assert find_text("Username", lines, exact=True)[0].score == 1.0
    assert find_text("cancel", lines, exact=True)[0].text == "Cancel"
    # "…" and "..." are the same text once normalised, on either side.
    assert find_text("Save As...", lines, exact=True)[0].score == 1.0
    assert find_text("Username:", lines, exact=True)[0].score == 1.0


def test_standalone_text_beats_the_same_words_inside_a_longer_box() -> None:
    lines = [line("Save As...", 0, 0), line("Save", 300, 0)]
    for exact in (True, False):
        found = find_text("Save", lines, exact=exact)
        assert found[0].box.left == 300
        # Outside the tie band: a click on "Save" is not ambiguous with "Save As...".
        assert found[1].score < found[0].score - 0.02


# -- OCR tolerance -------------------------------------------------------------------------------


def test_dropped_spaces_are_tolerated() -> None:
    lines = [line("git status--short", 0, 0), line("SaveAs", 0, 40)]
    assert find_text("status --short", lines, exact=True)[0].text == "status--short"
    assert find_text("Save As", lines, exact=True)[0].score == 1.0


def test_words_glued_by_ocr_are_found_in_fuzzy_mode() -> None:
    lines = [line("Connectiontimeoutafter30seconds", 0, 0)]
    found = find_text("timeout after", lines)
    assert found and found[0].text == "timeoutafter"
    assert 0.6 <= found[0].score < 1.0
    assert find_text("timeout after", lines, exact=True) == []  # cuts a word in half


def test_camel_case_glue_counts_as_a_soft_word_boundary() -> None:
    lines = [line("FileEdit View", 0, 0)]
    found = find_text("Edit", lines, exact=True)
    assert found and found[0].text == "Edit"
    assert found[0].point.x == pytest.approx(60)  # "Edit" is characters 4..7


@pytest.mark.parametrize(
    ("query", "ocr"),
    [("Format", "F0rmat"), ("File", "Fi1e"), ("Illegal", "|llegal"), ("Modem", "Modern"),
     ("www", "vvvvvv")],
)
def test_look_alike_glyphs_match(query: str, ocr: str) -> None:
    found = find_text(query, [line(ocr, 0, 0)], exact=True)
    assert found and found[0].score == 1.0


def test_exact_forgives_one_misread_in_long_words_only() -> None:
    long_word = [line("Preferencas", 0, 0)]
    found = find_text("Preferences", long_word, exact=True)
    assert found and 0.85 < found[0].score < 1.0
    assert find_text("Save", [line("Sake", 0, 0)], exact=True) == []


def test_fold_and_similarity() -> None:
    assert fold("Save  As…") == "saveas..."
    assert fold("0l1I|") == "olllll"[:5]
    assert similarity("Save As", "saveas") == 1.0
    assert similarity("Cancel", "Cancol") == pytest.approx(1 - 1 / 6)
    assert similarity("", "") == 1.0
    assert similarity("abc", "") == 0.0


# -- multi-word and multi-box ------------------------------------------------------------------


def test_multi_word_target_spans_adjacent_boxes_on_a_row() -> None:
    # xterm output that the detector split in two at a wide gap
    lines = [line("line 5:", 0, 0), line("build step compile", 90, 0)]
    found = find_text("5: build step", lines, exact=True)
    assert found, "the phrase crosses the two boxes"
    match = found[0]
    assert set(match.lines) == {0, 1}
    assert match.box.left == pytest.approx(50) and match.box.right == pytest.approx(190)


def test_multi_word_target_continues_on_the_next_row() -> None:
    lines = [line("The quick brown fox jumps", 0, 0), line("over the lazy dog", 0, 18)]
    found = find_text("jumps over", lines, exact=True)
    assert found
    match = found[0]
    assert match.lines == (0, 1)
    # The click goes on the bigger part ("jumps", 5 letters) rather than between the rows.
    assert match.point.y == pytest.approx(7)
    assert 200 <= match.point.x <= 250


def test_boxes_on_different_rows_far_apart_do_not_join() -> None:
    lines = [line("Save", 0, 0), line("As", 800, 400)]
    assert find_text("Save As", lines, exact=True) == []


# -- where the point goes ----------------------------------------------------------------------


def test_point_is_the_centre_of_the_matched_words_not_the_line() -> None:
    lines = [line("Save As... Cancel", 100, 50)]
    match = find_text("Cancel", lines, exact=True)[0]
    # "Cancel" is characters 11..16 -> x from 210 to 270.
    assert match.point == Point(240, 57)
    assert match.box == Box(210, 50, 60, 14)
    assert match.context == "Save As... Cancel"


def test_char_spans_from_the_engine_are_used_when_given() -> None:
    spans = ((0.0, 5.0), (5.0, 10.0), (10.0, 30.0), (30.0, 80.0), (80.0, 100.0))
    reading = TextLine("ab cd", Box(0, 0, 100, 10), 0.9, spans)
    match = find_text("cd", [reading], exact=True)[0]
    assert match.box.left == 30 and match.box.right == 100
    assert char_spans(reading) == list(spans)


def test_a_cut_word_is_widened_to_the_whole_word() -> None:
    match = find_text("Prefer", [line("Open Preferences", 0, 0)])[0]
    assert match.text == "Preferences"
    assert match.box.left == 50 and match.box.right == 160


def test_word_boxes_split_a_line_proportionally() -> None:
    boxes = word_boxes(line("ab  cde", 10, 0))
    assert [(w, b.left, b.right) for w, b in boxes] == [("ab", 10, 30), ("cde", 50, 80)]


# -- nothing to find ---------------------------------------------------------------------------


def test_no_match_returns_nothing() -> None:
    lines = [line("File", 0, 0), line("Edit", 60, 0)]
    assert find_text("Preferences", lines) == []
    assert find_text("Preferences", lines, exact=True) == []
    assert find_text("Save", []) == []
    assert find_text("   ", lines) == []


def test_weak_matches_fall_under_min_score() -> None:
    lines = [line("Cancel", 0, 0)]
    loose = find_text("Camel", lines, min_score=0.5)
    assert loose and loose[0].score < 0.8
    assert find_text("Camel", lines, min_score=0.9) == []


def test_limit_and_order() -> None:
    lines = [line("OK", 0, y) for y in (300, 0, 150)]
    found = find_text("OK", lines, exact=True, limit=2)
    assert [m.box.top for m in found] == [0, 150]  # equal scores: top to bottom


def test_the_same_text_detected_twice_is_reported_once() -> None:
    # a button's whole face and its label, both read as "Save"
    lines = [TextLine("Save", Box(0, 0, 60, 30)), TextLine("Save", Box(14, 8, 30, 12))]
    assert len(find_text("Save", lines, exact=True)) == 1


# -- queries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "description", "expected"),
    [
        ("Save", False, ("Save", False)),
        ("  Save As…  ", False, ("Save As", False)),
        ("click the Save button", True, ("Save", False)),
        ("double-click on the Documents icon", True, ("Documents", False)),
        ('the "Save As…" button', True, ("Save As", True)),
        ("Select All", True, ("Select All", False)),  # a label, not "select" + "All"
        ("select the Plain Text option", True, ("Plain Text", False)),
        ("Open Recent", True, ("Open Recent", False)),
        ("...", False, ("...", False)),
    ],
)
def test_query_text(text: str, description: bool, expected: tuple[str, bool]) -> None:
    assert query_text(text, description=description) == expected


def test_char_spans_must_fit_the_text() -> None:
    with pytest.raises(ValueError, match="char_spans"):
        TextLine("abc", Box(0, 0, 30, 10), 1.0, ((0.0, 10.0),))


def test_translated_moves_box_and_spans() -> None:
    moved = TextLine("ab", Box(0, 0, 20, 10), 1.0, ((0.0, 10.0), (10.0, 20.0))).translated(5, 7)
    assert moved.box == Box(5, 7, 20, 10)
    assert moved.char_spans == ((5.0, 15.0), (15.0, 25.0))
