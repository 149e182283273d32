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
from guiagent.grounding.base import Candidate, Target
from guiagent.grounding.ecp import group_candidates, group_window, tile_windows
from guiagent.grounding.template import TemplateError, TemplateGrounder


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


@pytest.mark.parametrize("scale", [0.5, 0.75, 1.5, 2.0])
def test_template_recorded_at_another_dpi(scale: float) -> None:
    image, boxes = button_grid(cols=6, rows=3)
    template = cv2.resize(cut(image, boxes["42"]), None, fx=scale, fy=scale,
                          interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    match = locate(image, template)
    assert boxes["42"].contains(match.point)
    assert match.box is not None and abs(match.box.width - 211) < 20


def test_template_recorded_at_half_scale_on_a_2x_screen() -> None:
    """A button captured at half the size it has on this screen (another OS's scale)."""
    image, boxes = button_grid(cols=6, rows=3)
    small = cv2.resize(cut(image, boxes["31"]), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    match = locate(image, small)
    assert boxes["31"].contains(match.point)
    assert match.box is not None and abs(match.box.width - 211) < 12


def text_panel(scale: int, x: int, y: int, image: np.ndarray | None = None) -> tuple[np.ndarray, Box]:
    """Ten lines of text drawn at a UI scale (1 or 2): drawn anew, not resized, with
    line heights and stroke widths rounded as an application rounds them."""
    if image is None:
        image = np.full((2160, 3840, 3), 240, np.uint8)
    width, line = 300 * scale, 9 * scale
    cv2.rectangle(image, (x, y), (x + width, y + 10 * line + 8 * scale), (255, 255, 255), -1)
    words = ["Template", "matching", "finds", "an", "image", "on", "the", "screen:", "a", "coarse"]
    for row in range(10):
        cv2.putText(image, f"{row:02d}  {words[row]}", (x + 2 * scale, y + (row + 1) * line),
                    cv2.FONT_HERSHEY_PLAIN, 0.6 * scale, (30, 30, 30), scale, cv2.LINE_AA)
    return image, Box(x, y, width, 10 * line + 8 * scale)


@pytest.mark.parametrize("recorded, searched", [(1, 2), (2, 1)])
def test_text_drawn_anew_at_another_scale(recorded: int, searched: int) -> None:
    """A text panel recorded at one UI scale is found on a screen drawn at the other: its
    text redrawn there lines up with the template's only give or take a pixel or two."""
    source, box = text_panel(recorded, 400, 300)
    screen, truth = text_panel(searched, 1700, 900)
    template = source[int(box.top) : int(box.bottom), int(box.left) : int(box.right)]
    match = locate(screen, template)
    assert truth.contains(match.point)
    assert match.box is not None and abs(match.box.width / truth.width - 1) < 0.1


def test_a_grayed_out_copy_is_not_the_template() -> None:
    """The same button dimmed to a quarter of its contrast (a window dimmed behind a modal
    dialog, a grayed-out copy) has the template's shape but not its colours: no match; the
    button itself is."""
    image, boxes = button_grid(cols=2, rows=1)
    template = cut(image, boxes["00"])
    dim = image.copy()
    x, y = int(boxes["00"].left), int(boxes["00"].top)
    area = dim[y - 5 : y + 67, x - 5 : x + 207]
    area[:] = (235 - (235 - area.astype(np.int16)) // 4).astype(np.uint8)  # a quarter the contrast
    with pytest.raises(TargetNotFound):
        locate(dim[:, : int(boxes["10"].left) - 10], template)
    assert boxes["00"].contains(locate(image, template).point)


def test_a_crop_carried_by_a_window_edge_is_not_found_on_a_bare_edge() -> None:
    """A crop of buttons that ends in the window's edge over a black desktop correlates as a
    whole with any such edge (the edge holds most of its contrast); tile by tile it does not."""
    image, boxes = button_grid(cols=3, rows=2)
    image[800:] = 0  # the window ends: black desktop below
    top = int(boxes["01"].top) - 20
    template = image[top:812, 180:720].copy()
    bare = np.full_like(image, 235)
    bare[1500:] = 0  # another window's bottom edge, nothing drawn above it
    whole = cv2.matchTemplate(cv2.cvtColor(bare, cv2.COLOR_BGR2GRAY),
                              cv2.cvtColor(template, cv2.COLOR_BGR2GRAY), cv2.TM_CCOEFF_NORMED)
    assert whole.max() > 0.8  # what plain correlation says
    with pytest.raises(TargetNotFound):
        locate(bare, template)
    assert Box(180, top, 540, 812 - top).contains(locate(image, template).point)


def icon_row(colours: list[tuple[int, int, int]],
             background: tuple[int, int, int] = (245, 245, 245)) -> tuple[np.ndarray, list[Box]]:
    """A 4K frame with one ringed-cross icon per colour, all the same shape."""
    image = np.full((2160, 3840, 3), background, np.uint8)
    boxes = []
    for i, colour in enumerate(colours):
        x, y = 500 + 300 * i, 900
        cv2.circle(image, (x + 24, y + 24), 20, colour, 4)
        cv2.line(image, (x + 10, y + 24), (x + 38, y + 24), colour, 4)
        boxes.append(Box(x, y, 48, 48))
    return image, boxes


RED, GREEN, BLUE, ORANGE = (40, 40, 210), (60, 170, 50), (210, 80, 40), (30, 130, 230)


@pytest.mark.parametrize("wanted", range(4))
def test_colour_lookalikes_are_told_apart(wanted: int) -> None:
    """Same shape, another colour: gray correlation cannot tell them apart, the verdict can."""
    image, boxes = icon_row([RED, GREEN, BLUE, ORANGE])
    template = cut(image, boxes[wanted], margin=2)
    match = locate(image, template)
    assert boxes[wanted].contains(match.point)
    assert match.score > 0.99


def test_an_icon_in_another_colour_is_not_a_match() -> None:
    image, _boxes = icon_row([RED, GREEN])
    blue, blue_boxes = icon_row([BLUE])
    template = cut(blue, blue_boxes[0], margin=2)
    with pytest.raises(TargetNotFound) as info:
        locate(image, template)
    assert info.value.best_score is not None and info.value.best_score < 0.8
    # Ignoring colour, the same shape matches: the verdict is what rejects it.
    gray = locate(image, template, grounder=TemplateGrounder(colour=False))
    assert gray.score > 0.95


def ring_cutout(size: int = 48, margin: int = 0) -> np.ndarray:
    """A BGRA icon (a blue disc with a white bar), transparent around the disc."""
    side = size + 2 * margin
    bgra = np.zeros((side, side, 4), np.uint8)
    centre = (side // 2, side // 2)
    cv2.circle(bgra, centre, size // 2 - 2, (*BLUE, 255), -1)
    cv2.line(bgra, (centre[0] - size // 3, centre[1]), (centre[0] + size // 3, centre[1]),
             (250, 250, 250, 255), 6)
    return bgra


def paste(image: np.ndarray, bgra: np.ndarray, x: int, y: int) -> None:
    h, w = bgra.shape[:2]
    opaque = bgra[:, :, 3:] > 0
    image[y : y + h, x : x + w] = np.where(opaque, bgra[:, :, :3], image[y : y + h, x : x + w])


def busy_background() -> np.ndarray:
    """A wallpaper: colour gradients and soft blobs (not flat, unlike the icon's old one)."""
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 255, (2160 // 64, 3840 // 64, 3), np.uint8)
    return cv2.resize(noise, (3840, 2160), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("margin", [0, 8, 40])
def test_transparent_template_matches_on_any_background(margin: int) -> None:
    """Only the opaque pixels count; with margin=40 the template is ~88% transparent."""
    icon = ring_cutout(margin=margin)
    transparent = 1 - float((icon[:, :, 3] > 0).mean())
    assert transparent > {0: 0.2, 8: 0.4, 40: 0.85}[margin]
    image = busy_background()
    paste(image, icon, 1700, 1100)
    side = icon.shape[0]
    match = locate(image, icon)
    assert match.box == Box(1700, 1100, side, side)
    assert match.score > 0.8
    # Without its alpha channel the same pixels (transparent = black) are not found there.
    opaque_only = icon[:, :, :3].copy()
    with pytest.raises(TargetNotFound):
        locate(image, opaque_only)


def test_transparent_template_in_the_wrong_colour_is_rejected() -> None:
    icon = ring_cutout()
    recoloured = icon.copy()
    # Orange puts the disc's contrast with the bar in other channels than blue does.
    recoloured[:, :, :3] = np.where(icon[:, :, :3] == np.array(BLUE, np.uint8), np.array(ORANGE, np.uint8),
                                    icon[:, :, :3])
    image = busy_background()
    paste(image, recoloured, 900, 500)
    with pytest.raises(TargetNotFound):
        locate(image, icon)


def test_fully_transparent_template_is_refused() -> None:
    icon = np.zeros((40, 40, 4), np.uint8)
    icon[10:12, 10:12] = 255  # 4 opaque pixels
    with pytest.raises(TemplateError, match="transparent"):
        locate(busy_background(), icon)


def test_targets_keep_the_alpha_channel(tmp_path: Any) -> None:
    from PIL import Image

    icon = ring_cutout()
    path = tmp_path / "icon.png"
    cv2.imwrite(str(path), icon)
    for target in (Target.parse(str(path)), Target.parse(icon),
                   Target.parse(Image.fromarray(cv2.cvtColor(icon, cv2.COLOR_BGRA2RGBA)))):
        assert target.mask is not None and target.image is not None
        assert np.array_equal(target.mask, icon[:, :, 3])
        assert np.array_equal(target.image, icon[:, :, :3])
    # A uniform alpha channel (a screen capture's) is no transparency.
    opaque = np.dstack([icon[:, :, :3], np.zeros(icon.shape[:2], np.uint8)])
    assert Target.parse(opaque).mask is None
    assert Target.parse(Frame(opaque)).mask is None


def test_absent_template_is_a_fast_no_without_a_tiled_search() -> None:
    """Stage 1 scans every position and scale, so nothing is left for tiles to find."""
    image, boxes = button_grid()
    template = cut(image, boxes["10"])
    template[12:58, 10:200] = 200  # the button, with another label
    cv2.putText(template, "Quit", (25, 47), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (20, 20, 20), 2)
    with pytest.raises(TargetNotFound) as info:
        locate(image, template)
    stages = {s.name for m in getattr(info.value, "matches", []) for s in m.stages}
    assert not stages & {"tiled", "finer"}


def labelled_buttons(labels: list[str]) -> tuple[np.ndarray, dict[str, Box]]:
    """A 4K frame with one button per label, far apart."""
    image = np.full((2160, 3840, 3), 235, np.uint8)
    boxes = {}
    for i, label in enumerate(labels):
        x, y = 300 + 700 * i, 800 + 150 * i
        cv2.rectangle(image, (x, y), (x + 260, y + 70), (200, 200, 200), -1)
        cv2.rectangle(image, (x, y), (x + 260, y + 70), (90, 90, 90), 2)
        cv2.putText(image, label, (x + 20, y + 48), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (20, 20, 20), 2)
        boxes[label] = Box(x, y, 261, 71)
    return image, boxes


def test_partly_covered_button_is_found_by_its_visible_part() -> None:
    """A window over the left third of a button: the whole template correlates too little,
    its visible tiles still say where it is. A button that is not there is not taken for it
    (its frame and background match everywhere, its label nowhere)."""
    image, boxes = labelled_buttons(["Save all", "Open file", "Quit now"])
    template = cut(image, boxes["Open file"])
    box = boxes["Open file"]
    with pytest.raises(TargetNotFound):
        cv2.rectangle(image, (int(box.left) - 30, int(box.top) - 20),
                      (int(box.left + box.width * 0.35), int(box.bottom) + 25), (40, 30, 30), -1)
        locate(image, template, grounder=TemplateGrounder(), ecp=False)  # as a whole: no
    match = locate(image, template)
    assert box.contains(match.point)
    assert 0.4 <= match.extra["visible"] < 1.0
    absent, absent_boxes = labelled_buttons(["Exit here"])
    with pytest.raises(TargetNotFound):
        locate(image, cut(absent, absent_boxes["Exit here"]))


def test_a_part_of_the_template_by_the_screen_edge_is_not_read_outside_the_frame() -> None:
    """A covered template is voted on by its tiles; a copy of its bottom-right quarter in the
    frame's top-left corner says the template would start off the screen there: that place
    is skipped, not read outside the frame (it raised in OpenCV)."""
    rng = np.random.default_rng(7)
    blurred = cv2.GaussianBlur(rng.integers(0, 256, (80, 120, 3), dtype=np.uint8), (0, 0), 6)
    template = cv2.normalize(blurred, None, 0, 255, cv2.NORM_MINMAX)  # smooth: found coarse
    image = np.full((1080, 1920, 3), 200, np.uint8)
    image[500:580, 1000:1120] = template
    image[490:590, 990:1030] = (40, 30, 30)  # a window over its left third
    image[5:45, 5:65] = template[40:80, 60:120]  # its bottom-right quarter, in the corner
    match = locate(image, template)
    assert Box(1000, 500, 120, 80).contains(match.point)


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


def test_a_new_frame_of_the_same_buffer_is_searched_afresh() -> None:
    """Stage 2 reuses stage 1's verdicts only for the very frame stage 1 looked at: a capture
    into the same buffer after the icon moved is a new frame, searched anew."""
    buffer = np.full((1080, 1920, 3), 250, np.uint8)
    icon = np.full((40, 40, 3), 250, np.uint8)
    cv2.circle(icon, (20, 20), 14, (30, 30, 200), 3)
    cv2.line(icon, (10, 20), (30, 20), (30, 30, 200), 3)
    target = Target.from_pixels(icon, "icon")
    grounder = TemplateGrounder()
    for x, y in ((100, 100), (1500, 900)):
        buffer[:] = 250
        buffer[y : y + 40, x : x + 40] = icon
        frame = Frame(buffer, timestamp=time.time())
        match = locate(frame, target, grounder=grounder)
        assert Box(x, y, 40, 40).contains(match.point)
        assert match.score > 0.99
        time.sleep(0.01)  # a later capture, a later timestamp


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
