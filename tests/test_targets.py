"""Target parsing and grounder routing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from guiagent.errors import ImageLoadError
from guiagent.grounding import GrounderUnavailable, choose_grounder, visible_text_of
from guiagent.grounding.base import EmptyTargetError, Target


@pytest.mark.parametrize(
    ("value", "kind", "text", "exact"),
    [
        ('"Save"', "text", "Save", True),
        ("“Export as PDF”", "text", "Export as PDF", True),
        ("'Open…'", "text", "Open…", True),
        ("Save As", "description", "Save As", False),
        ("the gear icon left of Help", "description", "the gear icon left of Help", False),
    ],
)
def test_parse_text_targets(value: str, kind: str, text: str, exact: bool) -> None:
    target = Target.parse(value)
    assert (target.kind, target.text, target.exact) == (kind, text, exact)


def test_parse_image_targets(tmp_path: Path) -> None:
    image = np.zeros((10, 12, 3), np.uint8)
    image[2:5, 3:8] = 200
    path = tmp_path / "button.png"
    cv2.imwrite(str(path), image)
    for value in (str(path), path, image):
        target = Target.parse(value)
        assert target.kind == "image" and target.image is not None
        assert target.image.shape == (10, 12, 3)
    with pytest.raises(ImageLoadError, match="not found"):
        Target.parse(str(tmp_path / "missing.png"))


@pytest.mark.parametrize("value", ["", "   ", '""'])
def test_empty_targets(value: str) -> None:
    with pytest.raises(EmptyTargetError):
        Target.parse(value)


@pytest.mark.parametrize(
    ("description", "text"),
    [
        ("Save As", "Save As"),
        ("the Save button", "Save"),
        ("a Downloads link", "Downloads"),
        ("the Last name field", "Last name"),
        ("Blue", "Blue"),
        ('the "Remember me" checkbox', "Remember me"),
        ("the gear icon left of Help", None),
        ("the arrow next to Fonts", None),
        ("the picture in the top-right corner", None),
    ],
)
def test_visible_text_of(description: str, text: str | None) -> None:
    assert visible_text_of(description) == text


def test_routing() -> None:
    assert choose_grounder(Target.parse('"Save"')).name == "ocr"
    assert choose_grounder(Target.parse("the Save button")).name == "ocr"
    assert choose_grounder(Target("image", image=np.ones((5, 5, 3), np.uint8))).name == "template"
    with pytest.raises(GrounderUnavailable, match="vision-language model"):
        choose_grounder(Target.parse("the gear icon left of Help"))
    with pytest.raises(GrounderUnavailable, match="cannot look for"):
        choose_grounder(Target.parse('"Save"'), "template")
    with pytest.raises(GrounderUnavailable, match="unknown grounder"):
        choose_grounder(Target.parse('"Save"'), "magic")
