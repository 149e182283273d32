"""smart_resize agrees with the Qwen image processors, and pre-resized images pass through them unchanged."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from guiagent.geometry import Size
from guiagent.grounding.vlm.base import ResizeRule
from guiagent.grounding.vlm.families import get_family
from guiagent.grounding.vlm.resize import (
    MAX_ASPECT_RATIO,
    UnsupportedImageSizeError,
    resize_for_model,
    resized_input,
    smart_resize,
)

QWEN2 = ResizeRule(28, 56 * 56, 28 * 28 * 16384)
QWEN2_SMALL = ResizeRule(28, 56 * 56, 28 * 28 * 1280)  # transformers' class default, 1003520
QWEN3 = ResizeRule(32, 65536, 16777216)


@pytest.mark.parametrize(
    ("height", "width", "rule", "expected"),
    [
        (2160, 3840, QWEN2_SMALL, (728, 1316)),  # 4K under 1003520 pixels: floor branch
        (2160, 3840, QWEN2, (2156, 3836)),  # 4K fits under 12845056: plain rounding
        (1080, 1920, QWEN2, (1092, 1932)),  # 38.57 -> 39, 68.57 -> 69
        (588, 1036, QWEN2, (588, 1036)),  # already multiples of 28
        (70, 70, QWEN2_SMALL, (56, 56)),  # 70 / 28 = 2.5: banker's rounding gives 2, not 3
        (98, 98, QWEN2_SMALL, (112, 112)),  # 3.5 rounds to 4 (even)
        (10, 10, QWEN2_SMALL, (56, 56)),  # grown to min_pixels: ceil branch
        (2160, 3840, QWEN3, (2176, 3840)),  # 67.5 -> 68 with factor 32
        (1080, 1920, QWEN3, (1088, 1920)),
        (33, 5994, QWEN2_SMALL, (28, 5992)),  # the short side never drops below one factor
    ],
)
def test_known_sizes(height: int, width: int, rule: ResizeRule, expected: tuple[int, int]) -> None:
    assert smart_resize(height, width, rule) == expected
    assert resized_input(Size(width, height), rule) == Size(expected[1], expected[0])


@pytest.mark.parametrize(("height", "width"), [(0, 100), (100, 0), (-5, 10), (1, 201), (3000, 14)])
def test_unusable_sizes_raise_our_error(height: int, width: int) -> None:
    with pytest.raises(UnsupportedImageSizeError, match=r"empty|elongated"):
        smart_resize(height, width, QWEN2)


def test_aspect_ratio_limit_is_inclusive() -> None:
    assert smart_resize(1, MAX_ASPECT_RATIO, QWEN2) == (28, 812)  # grown to min_pixels


def test_zero_min_pixels_is_refused_instead_of_an_empty_input() -> None:
    with pytest.raises(UnsupportedImageSizeError, match="min_pixels"):
        smart_resize(10, 100, ResizeRule(28, 0, 1003520))


@st.composite
def sizes_and_rules(draw: st.DrawFn, *, max_aspect: float = MAX_ASPECT_RATIO) -> tuple[int, int, ResizeRule]:
    factor = draw(st.sampled_from([28, 32]))
    height = draw(st.integers(1, 9000))
    width = draw(st.integers(1, 9000))
    assume(max(height, width) / min(height, width) <= max_aspect)
    min_pixels = draw(st.integers(factor * factor, 1024 * factor * factor))
    max_pixels = draw(st.integers(min_pixels, 20000 * factor * factor))
    return height, width, ResizeRule(factor, min_pixels, max_pixels)


@functools.cache
def _reference() -> Any:
    module = pytest.importorskip("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")
    return module.smart_resize


@settings(max_examples=1000, deadline=None)
@given(sizes_and_rules())
def test_agrees_with_transformers(case: tuple[int, int, ResizeRule]) -> None:
    height, width, rule = case
    expected = _reference()(height, width, rule.factor, rule.min_pixels, rule.max_pixels)
    assert smart_resize(height, width, rule) == expected


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 9000), st.integers(1, 9000), st.sampled_from([QWEN2, QWEN2_SMALL, QWEN3]))
def test_refuses_exactly_what_transformers_refuses(height: int, width: int, rule: ResizeRule) -> None:
    try:
        expected = _reference()(height, width, rule.factor, rule.min_pixels, rule.max_pixels)
    except ValueError:
        with pytest.raises(UnsupportedImageSizeError):
            smart_resize(height, width, rule)
    else:
        assert smart_resize(height, width, rule) == expected


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(sizes_and_rules(max_aspect=100))
def test_idempotent_on_its_own_output(case: tuple[int, int, ResizeRule]) -> None:
    # The domain where a pre-resized image passes the processor untouched: shapes a crop or a
    # screen has, and a pixel budget that is not pinned to one area (min <= max / 4, max >= 256
    # tokens). Outside it resize_for_model refuses rather than let the processor resize again.
    height, width, rule = case
    assume(rule.max_pixels >= 4 * rule.min_pixels and rule.max_pixels >= 256 * rule.factor**2)
    once = smart_resize(height, width, rule)
    assert smart_resize(*once, rule) == once


def _processor(rule: ResizeRule, patch_size: int) -> Any:
    module = pytest.importorskip("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")
    return module.Qwen2VLImageProcessorPil(
        patch_size=patch_size,
        merge_size=2,
        size={"shortest_edge": rule.min_pixels, "longest_edge": rule.max_pixels},
    )


def _processed_size(processor: Any, image: Image.Image, patch_size: int) -> Size:
    grid = processor(images=image, return_tensors="np")["image_grid_thw"][0]
    return Size(int(grid[2]) * patch_size, int(grid[1]) * patch_size)


@pytest.mark.parametrize(
    ("rule", "patch_size"),
    [(QWEN2_SMALL, 14), (get_family("qwen25vl").resize, 14), (get_family("qwen3vl").resize, 16)],
    ids=["qwen2-1003520", "qwen25vl-defaults", "qwen3vl-defaults"],
)
@pytest.mark.parametrize("size", [Size(3840, 2160), Size(1920, 1080), Size(1366, 768), Size(1000, 1000),
                                  Size(300, 41)])
def test_matches_the_real_processor(rule: ResizeRule, patch_size: int, size: Size) -> None:
    assert rule.factor == 2 * patch_size
    processor = _processor(rule, patch_size)
    image = Image.new("RGB", (size.width, size.height), (40, 90, 200))
    expected = resized_input(size, rule)
    assert _processed_size(processor, image, patch_size) == expected
    # Our own resize hands the processor an image it keeps at that size.
    ours = resize_for_model(image, rule)
    assert ours.size == (expected.width, expected.height)
    assert _processed_size(processor, ours, patch_size) == expected


def test_4k_on_the_processor_with_its_class_defaults() -> None:
    module = pytest.importorskip("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")
    processor = module.Qwen2VLImageProcessorPil()  # no checkpoint: min 56*56, max 28*28*1280 = 1003520
    assert (processor.size["shortest_edge"], processor.size["longest_edge"]) == (
        QWEN2_SMALL.min_pixels, QWEN2_SMALL.max_pixels)
    image = Image.new("RGB", (3840, 2160))
    assert _processed_size(processor, image, 14) == Size(1316, 728) == resized_input(Size(3840, 2160),
                                                                                       QWEN2_SMALL)


def test_resize_for_model_takes_bgr_and_bgra_frames() -> None:
    blue_bgr = np.zeros((2160, 3840, 3), np.uint8)
    blue_bgr[..., 0] = 255
    blue_bgra = np.dstack([blue_bgr, np.full((2160, 3840), 255, np.uint8)])
    for frame in (blue_bgr, blue_bgra):
        image = resize_for_model(frame, QWEN2_SMALL)
        assert image.mode == "RGB"
        assert image.size == (1316, 728)
        assert image.getpixel((600, 300)) == (0, 0, 255)
    crop = resize_for_model(blue_bgra[100:1124, 200:1224], QWEN2_SMALL)  # a strided view, as ECP cuts
    assert crop.size == (980, 980) and crop.getpixel((5, 5)) == (0, 0, 255)
    gray = resize_for_model(np.full((100, 200), 77, np.uint8), QWEN2_SMALL)
    assert gray.getpixel((10, 10)) == (77, 77, 77)


def test_resize_for_model_keeps_an_image_already_at_size() -> None:
    image = Image.new("RGB", (1036, 588))
    assert resize_for_model(image, QWEN2) is image


def test_resize_for_model_refuses_shapes_the_processor_would_resize_again() -> None:
    # 5994x33 becomes 5992x28, whose aspect ratio (214) the processor itself refuses.
    with pytest.raises(UnsupportedImageSizeError, match="pre-resized"):
        resize_for_model(Image.new("RGB", (5994, 33)), QWEN2_SMALL)


def test_resize_for_model_rejects_odd_arrays() -> None:
    with pytest.raises(UnsupportedImageSizeError, match="shape"):
        resize_for_model(np.zeros((10, 10, 2), np.uint8), QWEN2)
