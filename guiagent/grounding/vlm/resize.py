"""Qwen-style ``smart_resize``: the size a Qwen2/2.5/3-VL image processor feeds to the vision tower.

A model that answers in pixels of its resized input (Qwen2.5-VL, UI-TARS-1.5, GTA1) can only be
mapped back to the screen when we know that size exactly, so :func:`smart_resize` reproduces
transformers' ``smart_resize`` (``models/qwen2_vl/image_processing_qwen2_vl.py``, which the
Qwen2.5-VL and Qwen3-VL image processors share) operation for operation: Python's ``round`` (banker's
rounding: ``round(2.5) == 2``) for the plain case, ``floor`` when shrinking under ``max_pixels``,
``ceil`` when growing over ``min_pixels``, and the same float expressions so the results agree bit
for bit. Where transformers would fail or produce an unusable size we raise
:class:`UnsupportedImageSizeError` with a message instead.

:func:`resize_for_model` resizes an image to exactly that size ourselves, so the processor's own
resize becomes a no-op (``smart_resize`` maps its own output to itself) and the size the model saw
is the size we computed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from guiagent.errors import (
    UnsupportedImageSizeError,
)
from guiagent.geometry import Size
from guiagent.grounding.vlm.base import ResizeRule

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

# transformers refuses images whose long side is more than 200 times the short side.
MAX_ASPECT_RATIO = 200


def smart_resize(height: int, width: int, rule: ResizeRule) -> tuple[int, int]:
    """``(height, width)`` after the processor's resize, in the same order as Qwen's function.

    Both sides become multiples of ``rule.factor`` and the area lands in
    ``[rule.min_pixels, rule.max_pixels]`` while keeping the aspect ratio as well as that allows.
    """
    if height <= 0 or width <= 0:
        raise UnsupportedImageSizeError(f"cannot resize an empty image ({width}x{height}) for a model")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise UnsupportedImageSizeError(
            f"image {width}x{height} is too elongated for the model's processor (aspect ratio "
            f"{max(height, width) / min(height, width):.0f} > {MAX_ASPECT_RATIO}); crop it first"
        )
    factor, min_pixels, max_pixels = rule.factor, rule.min_pixels, rule.max_pixels
    # Keep every expression as transformers writes it: the floats must round the same way.
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    if h_bar == 0 or w_bar == 0:
        # Only reachable with min_pixels == 0: transformers would hand an empty image on.
        raise UnsupportedImageSizeError(
            f"image {width}x{height} rounds to an empty model input under {rule}; raise min_pixels"
        )
    return h_bar, w_bar


def resized_input(size: Size, rule: ResizeRule) -> Size:
    """The model input size for an image of ``size`` (a :class:`Size`, width first)."""
    height, width = smart_resize(size.height, size.width, rule)
    return Size(width, height)


def resize_for_model(image: Image.Image | np.ndarray, rule: ResizeRule) -> Image.Image:
    """An RGB PIL image of exactly ``resized_input(image size, rule)``.

    ``image`` is a PIL image or a numpy frame as guiagent captures it (BGR or BGRA, or gray).
    We resample with PIL's bicubic filter, the filter the Qwen image processors use (their PIL
    backend calls PIL directly; the torchvision backend's antialiased bicubic follows it closely), so
    the model sees pixels like those it was trained on. cv2's INTER_AREA is faster for large
    downscales, but it is a box filter with visibly softer edges on small UI text than what the
    model saw in training, and speed is not the bottleneck next to a VLM forward pass.
    """
    from PIL import Image as PILImage

    if isinstance(image, PILImage.Image):
        pil = image if image.mode == "RGB" else image.convert("RGB")
    else:
        pil = PILImage.fromarray(_numpy_to_rgb(image))
    target = resized_input(Size(pil.width, pil.height), rule)
    if not _is_fixed_point(target, rule):
        # Seen only for extreme shapes (aspect ratio near 200, or min_pixels close to max_pixels):
        # the processor would resize our image again, or refuse it, and the model would answer
        # about a size we did not compute.
        raise UnsupportedImageSizeError(
            f"image {pil.width}x{pil.height} cannot be pre-resized for {rule}: the processor would "
            f"change {target} again; crop it closer to a screen-like shape"
        )
    if (pil.width, pil.height) == (target.width, target.height):
        return pil
    return pil.resize((target.width, target.height), PILImage.Resampling.BICUBIC)


def _is_fixed_point(size: Size, rule: ResizeRule) -> bool:
    try:
        return resized_input(size, rule) == size
    except UnsupportedImageSizeError:
        return False


def _numpy_to_rgb(frame: np.ndarray) -> np.ndarray:
    import cv2
    import numpy as np

    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    raise UnsupportedImageSizeError(
        f"expected a gray, BGR or BGRA image, got an array of shape {np.shape(frame)}"
    )
