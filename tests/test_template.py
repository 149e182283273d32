"""Template grounding and the ECP engine on synthetic 4K frames and on a real display."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
import pytest

from guiagent import Frame, Point, Size
from guiagent.errors import TargetNotFound
from guiagent.geometry import Box
from guiagent.grounding import locate, locate_all
from guiagent.grounding.base import Candidate
from guiagent.grounding.ecp import group_candidates, group_window, tile_windows
from guiagent.grounding.template import TemplateError


def button_grid(cols: int = 12, rows: int = 6) -> tuple[np.ndarray, dict[str, Box]]:
    """Look-alike buttons ("Btn 00".."Btn B5"): the hard case for a coarse stage."""
    image = np.full((2160, 3840, 3), 235, np.uint8)
    boxes = {}
    for i in range(cols):
        for j in range(rows):
            x, y = 200 + i * 290, 200 + j * 300
            cv2.rectangle(image, (x, y), (x + 200, y + 60), (200, 200, 200), -1)
            cv2.rectangle(image, (x, y), (x + 200, y + 60), (90, 90, 90), 2)
            cv2.putText(image, f"Btn {i:X}{j}", (x + 20, y + 42), cv2.FONT_HERSHEY_SIMPLEX, 1.1,
                        (20, 20, 20), 2)
            boxes[f"{i:X}{j}"] = Box(x, y, 201, 61)
    return image, boxes


def cut(image: np.ndarray, box: Box, margin: int = 5) -> np.ndarray:
    b = box.expanded(margin).integer()
    return image[int(b.top) : int(b.bottom), int(b.left) : int(b.right)].copy()


@pytest.mark.parametrize("name", ["00", "73", "B5", "51"])
def test_finds_the_right_lookalike(name: str) -> None:
    image, boxes = button_grid()
    match = locate(image, cut(image, boxes[name]))
    assert boxes[name].contains(match.point)
    assert match.score > 0.99
    assert [s.name for s in match.stages][:2] == ["coarse", "fine"]
    assert match.screen_point == match.point  # a plain image: frame == screen


def test_ecp_agrees_with_single_stage_and_is_faster() -> None:
    image, boxes = button_grid()
    template = cut(image, boxes["73"])
    locate(image, template)  # warm-up
    t0 = time.perf_counter()
    fast = locate(image, template)
    ecp_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = locate(image, template, ecp=False)
    single_s = time.perf_counter() - t0
    assert fast.point.distance_to(slow.point) <= 1
    assert ecp_s < single_s


@pytest.mark.parametrize("scale", [0.75, 1.5, 2.0])
def test_template_recorded_at_another_dpi(scale: float) -> None:
    image, boxes = button_grid(cols=6, rows=3)
    template = cv2.resize(cut(image, boxes["42"]), None, fx=scale, fy=scale,
                          interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    match = locate(image, template)
    assert boxes["42"].contains(match.point)
    assert match.box is not None and abs(match.box.width - 211) < 20


def test_find_all_instances() -> None:
    image = np.full((1080, 1920, 3), 250, np.uint8)
    icon = np.full((40, 40, 3), 250, np.uint8)
    cv2.circle(icon, (20, 20), 14, (30, 30, 200), 3)
    cv2.line(icon, (10, 20), (30, 20), (30, 30, 200), 3)
    spots = [(100, 100), (800, 300), (1500, 900), (60, 1000)]
    for x, y in spots:
        image[y : y + 40, x : x + 40] = icon
    matches = locate_all(image, icon, limit=10)
    found = sorted((round(m.point.x - 20), round(m.point.y - 20)) for m in matches)
    assert found == sorted(spots)


def test_frame_with_offset_gives_screen_points() -> None:
    image, boxes = button_grid(cols=4, rows=2)
    frame = Frame(image, origin=Point(-1920, 100), scale=2.0)
    match = locate(frame, cut(image, boxes["31"]))
    assert match.screen_point == frame.to_screen(match.point)
    assert match.screen_point is not None and match.screen_point.x < 0


def test_all_black_frame_matches_nothing() -> None:
    image, boxes = button_grid(cols=2, rows=2)
    with pytest.raises(TargetNotFound) as info:
        locate(np.zeros((2160, 3840, 3), np.uint8), cut(image, boxes["00"]))
    assert info.value.best_score is None or info.value.best_score < 0.5


def test_flat_template_is_refused() -> None:
    with pytest.raises(TemplateError, match="no detail"):
        locate(np.zeros((500, 500, 3), np.uint8), np.zeros((30, 30, 3), np.uint8))


def test_template_larger_than_frame() -> None:
    rng = np.random.default_rng(1)
    with pytest.raises(TemplateError, match="larger than the screen"):
        locate(rng.integers(0, 255, (100, 100, 3), np.uint8),
               rng.integers(0, 255, (150, 50, 3), np.uint8))


def test_grouping_shares_crops_for_near_candidates() -> None:
    cands = [Candidate(Point(100, 100), 0.9), Candidate(Point(400, 300), 0.8),
             Candidate(Point(2000, 100), 0.7), Candidate(Point(700, 100), 0.6)]
    groups = group_candidates(cands, 1024)
    assert [[c.score for c in g] for g in groups] == [[0.9, 0.8], [0.7], [0.6]]
    window = group_window(groups[0], 1024, Size(3840, 2160))
    assert window == Box(0, 0, 1024, 1024)
    assert all(window.contains(c.point) for c in groups[0])


def test_tiles_cover_the_frame() -> None:
    tiles = tile_windows(Size(3840, 2160), 1024, 0.15)
    for x in range(0, 3840, 97):
        for y in range(0, 2160, 89):
            assert any(t.contains(Point(x, y)) for t in tiles)
    assert all(t.right <= 3840 and t.bottom <= 2160 for t in tiles)


@pytest.mark.display
def test_click_a_template_on_a_real_window(vdisplay: Any, probe: Any, desktop: Any) -> None:
    """Capture part of the Tk probe as a template, find it on a fresh capture and click it."""
    ready = probe.ready
    # The text box's top-left corner (border + white field) is the template.
    frame = desktop.capture()
    region = Box(ready["text_x"] - 6, ready["text_y"] - 6, 90, 50)
    template = frame.crop(region).bgr().copy()
    desktop.click(template)
    events = probe.wait_for(lambda ev: any(e["event"] == "click" for e in ev), what="a click")
    click = next(e for e in events if e["event"] == "click")
    assert region.contains(Point(click["x_root"], click["y_root"]))
