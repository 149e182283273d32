"""Coordinate spaces: round trips within one pixel for any crop, scale and monitor offset."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from guiagent.geometry import (
    Box,
    ModelSpace,
    Point,
    Size,
    Transform,
    crop_to_frame,
    crop_window,
    fit_within,
    frame_to_screen,
)

sizes = st.integers(min_value=1, max_value=8000)
scales = st.sampled_from([1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0])
offsets = st.integers(min_value=-8000, max_value=8000)


def test_box_basics() -> None:
    box = Box.from_corners(30, 40, 10, 20)
    assert (box.left, box.top, box.width, box.height) == (10, 20, 20, 20)
    assert box.center == Point(20, 30)
    assert box.contains(Point(30, 40))  # edges inclusive, as ScreenSpot scores them
    assert not box.contains(Point(30, 40), inclusive=False)
    assert box.iou(box) == 1.0
    assert box.intersection(Box(100, 100, 5, 5)) is None


def test_point_pixel_floors() -> None:
    assert Point(10.99, -0.5).pixel() == (10, -1)


def test_crop_window_centres_and_shifts_inside() -> None:
    bounds = Size(3840, 2160)
    assert crop_window(Point(1920, 1080), 1024, bounds) == Box(1408, 568, 1024, 1024)
    assert crop_window(Point(5, 5), 1024, bounds) == Box(0, 0, 1024, 1024)
    assert crop_window(Point(3839, 2159), 1024, bounds) == Box(2816, 1136, 1024, 1024)


def test_crop_window_larger_than_image_takes_whole_axis() -> None:
    assert crop_window(Point(100, 100), 1024, Size(800, 3000)) == Box(0, 0, 800, 1024)
    assert crop_window(Point(10, 10), Size(2000, 50), Size(800, 600)) == Box(0, 0, 800, 50)


@given(cx=st.floats(-500, 9000), cy=st.floats(-500, 9000), w=sizes, h=sizes,
       cw=st.integers(1, 4096), ch=st.integers(1, 4096))
def test_crop_window_properties(cx: float, cy: float, w: int, h: int, cw: int, ch: int) -> None:
    window = crop_window(Point(cx, cy), Size(cw, ch), Size(w, h))
    assert window.width == min(cw, w) and window.height == min(ch, h)
    assert window.left >= 0 and window.right <= w
    assert window.top >= 0 and window.bottom <= h
    assert float(window.left).is_integer() and float(window.top).is_integer()
    # The candidate is inside the window whenever it is inside the image.
    if 0 <= cx < w and 0 <= cy < h:
        assert window.contains(Point(cx, cy))


@given(x=st.floats(0, 4096), y=st.floats(0, 4096), left=st.integers(0, 6000),
       top=st.integers(0, 6000), cw=st.integers(16, 2048), ch=st.integers(16, 2048),
       shown=st.integers(16, 2048))
def test_crop_round_trip(x: float, y: float, left: int, top: int, cw: int, ch: int,
                         shown: int) -> None:
    window = Box(left, top, cw, ch)
    to_frame = crop_to_frame(window, Size(shown, shown))
    frame_point = to_frame.apply(Point(x, y))
    back = to_frame.inverse().apply(frame_point)
    assert math.isclose(back.x, x, abs_tol=1e-6) and math.isclose(back.y, y, abs_tol=1e-6)


@given(px=st.integers(0, 7679), py=st.integers(0, 4319), ox=offsets, oy=offsets, scale=scales)
def test_frame_screen_round_trip_within_one_pixel(px: int, py: int, ox: int, oy: int,
                                                   scale: float) -> None:
    t = frame_to_screen(Point(ox, oy), scale)
    centre = Point(px + 0.5, py + 0.5)
    screen = t.apply(centre)
    sx, sy = screen.pixel()  # what the input backend receives
    back = t.inverse().apply(Point(sx + 0.5, sy + 0.5))
    assert abs(back.x - centre.x) <= scale and abs(back.y - centre.y) <= scale
    # Landing pixel is the logical pixel that covers the physical one.
    assert sx == ox + math.floor((px + 0.5) / scale)


@given(mx=st.floats(0, 1000), my=st.floats(0, 1000), left=st.integers(0, 3000),
       top=st.integers(0, 2000), scale=scales, ox=offsets, oy=offsets, resized=sizes)
def test_model_to_screen_chain(mx: float, my: float, left: int, top: int, scale: float,
                               ox: int, oy: int, resized: int) -> None:
    """model (0-1000) -> crop (resized) -> frame -> screen, and back, exact to float error."""
    crop = Box(left, top, 1024, 1024)
    shown = Size(resized, resized)
    chain = (
        ModelSpace("norm1000").to_image(shown)
        .then(crop_to_frame(crop, shown))
        .then(frame_to_screen(Point(ox, oy), scale))
    )
    assert (chain.source, chain.target) == ("model", "screen")
    screen = chain.apply(Point(mx, my))
    expected_frame = Point(left + mx / 1000 * 1024, top + my / 1000 * 1024)
    assert math.isclose(screen.x, ox + expected_frame.x / scale, abs_tol=1e-6)
    back = chain.inverse().apply(screen)
    assert math.isclose(back.x, mx, abs_tol=1e-6) and math.isclose(back.y, my, abs_tol=1e-6)


def test_model_spaces() -> None:
    image = Size(1000, 500)
    assert ModelSpace("norm1000").to_image(image).apply(Point(500, 500)) == Point(500, 250)
    assert ModelSpace("relative").to_image(image).apply(Point(0.5, 0.5)) == Point(500, 250)
    pixels = ModelSpace("pixels", Size(2000, 1000)).to_image(image)
    assert pixels.apply(Point(1000, 500)) == Point(500, 250)
    with pytest.raises(ValueError):
        ModelSpace("pixels")


def test_transform_chain_rejects_mismatched_spaces() -> None:
    with pytest.raises(ValueError, match="cannot chain"):
        Transform(1, 1, 0, 0, "crop", "frame").then(Transform(1, 1, 0, 0, "model", "crop"))


@given(w=sizes, h=sizes, side=st.integers(16, 4000))
def test_fit_within_keeps_aspect(w: int, h: int, side: int) -> None:
    assume(w * h > 4)
    out = fit_within(Size(w, h), max_side=side)
    assert max(out.width, out.height) <= max(side, 1) or (w <= side and h <= side)
    assert out.width <= w and out.height <= h
    if min(out.width, out.height) > 20:
        assert abs(out.width / out.height - w / h) < 0.1 * (w / h)
