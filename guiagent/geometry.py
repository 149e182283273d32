"""Points, boxes and the transforms that carry them between coordinate spaces.

Coordinates are continuous: pixel ``i`` covers ``[i, i + 1)``, so the centre of pixel
``(10, 20)`` is ``Point(10.5, 20.5)`` and ``Point.pixel()`` floors back to ``(10, 20)``.

The spaces (see DESIGN.md, "Coordinate spaces"):

=========  ===============================================================================
model      what a model speaks: 0-1000 normalised, 0-1 relative, or pixels of its resized input
crop       pixels of a stage-2 crop (possibly resized before a model sees it)
frame      pixels of the captured frame (physical pixels)
screen     what the input backend takes (logical pixels, including the monitor's offset)
=========  ===============================================================================

Every transform between spaces is one axis-aligned affine map, ``out = in * scale + offset``,
held by :class:`Transform`. Transforms compose with :meth:`Transform.then` and invert exactly,
so one small object is responsible for every conversion.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

Space = Literal["model", "image", "crop", "frame", "screen"]


@dataclass(frozen=True, slots=True)
class Point:
    """A point in some coordinate space (which one is the caller's business)."""

    x: float
    y: float

    def pixel(self) -> tuple[int, int]:
        """The integer pixel this point falls in (floor on both axes)."""
        return math.floor(self.x), math.floor(self.y)

    def offset(self, dx: float, dy: float) -> Point:
        return Point(self.x + dx, self.y + dy)

    def distance_to(self, other: Point) -> float:
        return math.hypot(self.x - other.x, self.y - other.y)

    def __iter__(self) -> Iterator[float]:  # allows ``x, y = point``
        yield self.x
        yield self.y


@dataclass(frozen=True, slots=True)
class Size:
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 0 or self.height < 0:
            raise ValueError(f"size must not be negative, got {self.width}x{self.height}")

    @property
    def area(self) -> int:
        return self.width * self.height

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle: ``left``/``top`` inclusive, ``right``/``bottom`` exclusive."""

    left: float
    top: float
    width: float
    height: float

    def __post_init__(self) -> None:
        if self.width < 0 or self.height < 0:
            raise ValueError(f"box size must not be negative, got {self.width}x{self.height}")

    @classmethod
    def from_corners(cls, x1: float, y1: float, x2: float, y2: float) -> Box:
        """Build from two corners given in any order."""
        left, right = sorted((x1, x2))
        top, bottom = sorted((y1, y2))
        return cls(left, top, right - left, bottom - top)

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def center(self) -> Point:
        return Point(self.left + self.width / 2, self.top + self.height / 2)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def corners(self) -> tuple[float, float, float, float]:
        """``(x1, y1, x2, y2)`` as ScreenSpot-style annotations write it."""
        return self.left, self.top, self.right, self.bottom

    def contains(self, point: Point, *, inclusive: bool = True) -> bool:
        """Whether ``point`` lies inside; ``inclusive`` counts points on the right/bottom edge."""
        if inclusive:
            return self.left <= point.x <= self.right and self.top <= point.y <= self.bottom
        return self.left <= point.x < self.right and self.top <= point.y < self.bottom

    def intersection(self, other: Box) -> Box | None:
        left, top = max(self.left, other.left), max(self.top, other.top)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Box(left, top, right - left, bottom - top)

    def union(self, other: Box) -> Box:
        return Box.from_corners(
            min(self.left, other.left),
            min(self.top, other.top),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )

    def iou(self, other: Box) -> float:
        inter = self.intersection(other)
        if inter is None:
            return 0.0
        return inter.area / (self.area + other.area - inter.area)

    def expanded(self, margin: float) -> Box:
        return Box(self.left - margin, self.top - margin, self.width + 2 * margin,
                   self.height + 2 * margin)

    def offset(self, dx: float, dy: float) -> Box:
        return Box(self.left + dx, self.top + dy, self.width, self.height)

    def integer(self) -> Box:
        """The smallest box on whole pixels that covers this one."""
        left, top = math.floor(self.left), math.floor(self.top)
        return Box(left, top, math.ceil(self.right) - left, math.ceil(self.bottom) - top)

    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` for indexing a numpy image with this (integer) box."""
        b = self.integer()
        return (slice(int(b.top), int(b.bottom)), slice(int(b.left), int(b.right)))


PointLike = Point | Sequence[float]
BoxLike = Box | Sequence[float]


def as_point(value: PointLike) -> Point:
    """Accept a Point or any ``(x, y)`` pair."""
    if isinstance(value, Point):
        return value
    if len(value) != 2:
        raise ValueError(f"a point needs exactly two numbers (x, y), got {value!r}")
    return Point(float(value[0]), float(value[1]))


def as_box(value: BoxLike) -> Box:
    """Accept a Box or an ``(x, y, width, height)`` sequence."""
    if isinstance(value, Box):
        return value
    if len(value) != 4:
        raise ValueError(f"a region needs four numbers (x, y, width, height), got {value!r}")
    x, y, w, h = (float(v) for v in value)
    return Box(x, y, w, h)


@dataclass(frozen=True, slots=True)
class Transform:
    """An axis-aligned affine map between two named spaces: ``out = in * scale + offset``."""

    scale_x: float
    scale_y: float
    offset_x: float = 0.0
    offset_y: float = 0.0
    source: Space = "frame"
    target: Space = "frame"

    def __post_init__(self) -> None:
        if not (self.scale_x > 0 and self.scale_y > 0):
            raise ValueError(f"transform scales must be positive, got {self.scale_x}, {self.scale_y}")

    @classmethod
    def identity(cls, space: Space) -> Transform:
        return cls(1.0, 1.0, 0.0, 0.0, space, space)

    def apply(self, point: PointLike) -> Point:
        p = as_point(point)
        return Point(p.x * self.scale_x + self.offset_x, p.y * self.scale_y + self.offset_y)

    def apply_box(self, box: Box) -> Box:
        return Box(
            box.left * self.scale_x + self.offset_x,
            box.top * self.scale_y + self.offset_y,
            box.width * self.scale_x,
            box.height * self.scale_y,
        )

    def inverse(self) -> Transform:
        return Transform(
            1.0 / self.scale_x,
            1.0 / self.scale_y,
            -self.offset_x / self.scale_x,
            -self.offset_y / self.scale_y,
            self.target,
            self.source,
        )

    def then(self, next_transform: Transform) -> Transform:
        """This transform followed by ``next_transform`` (whose source must be our target)."""
        if next_transform.source != self.target:
            raise ValueError(
                f"cannot chain {self.source}->{self.target} with "
                f"{next_transform.source}->{next_transform.target}"
            )
        n = next_transform
        return Transform(
            self.scale_x * n.scale_x,
            self.scale_y * n.scale_y,
            self.offset_x * n.scale_x + n.offset_x,
            self.offset_y * n.scale_y + n.offset_y,
            self.source,
            n.target,
        )


ModelCoordinates = Literal["norm1000", "relative", "pixels"]


@dataclass(frozen=True, slots=True)
class ModelSpace:
    """How a model writes coordinates for an image it was shown.

    ``norm1000``: 0-1000 on both axes (Qwen2-VL, Qwen3-VL, UGround); ``relative``: 0-1
    (ShowUI, SeeClick); ``pixels``: pixels of the resized image the model actually saw
    (Qwen2.5-VL, UI-TARS-1.5), which needs ``input_size``.
    """

    coordinates: ModelCoordinates
    input_size: Size | None = None

    def __post_init__(self) -> None:
        if self.coordinates == "pixels" and self.input_size is None:
            raise ValueError("pixel model coordinates need the model's input_size")

    def to_image(self, image_size: Size, image_space: Space = "crop") -> Transform:
        """Transform from model coordinates to pixels of the image that was sent."""
        if self.coordinates == "norm1000":
            sx, sy = image_size.width / 1000.0, image_size.height / 1000.0
        elif self.coordinates == "relative":
            sx, sy = float(image_size.width), float(image_size.height)
        else:
            assert self.input_size is not None
            sx = image_size.width / self.input_size.width
            sy = image_size.height / self.input_size.height
        return Transform(sx, sy, 0.0, 0.0, "model", image_space)


def crop_to_frame(window: Box, shown_size: Size | None = None) -> Transform:
    """Crop pixels -> frame pixels for a crop cut at ``window`` (whole-pixel box) of the frame.

    ``shown_size`` is the size the crop was resized to before a grounder saw it (``None`` when
    it was not resized); points the grounder returns are in that resized crop.
    """
    sx = window.width / shown_size.width if shown_size else 1.0
    sy = window.height / shown_size.height if shown_size else 1.0
    return Transform(sx, sy, window.left, window.top, "crop", "frame")


def frame_to_screen(origin: Point, scale: float) -> Transform:
    """Frame (physical) pixels -> screen (logical) coordinates.

    ``origin`` is where the frame's top-left pixel sits on the desktop, in logical
    coordinates; ``scale`` is physical pixels per logical pixel (2.0 on a 200% HiDPI screen).
    """
    return Transform(1.0 / scale, 1.0 / scale, origin.x, origin.y, "frame", "screen")


def crop_window(center: PointLike, size: int | Size, bounds: Size) -> Box:
    """The ECP crop: a ``size`` window centred on ``center``, shifted to stay inside ``bounds``.

    When the image is smaller than the window on an axis, the window is that whole axis.
    The result is on whole pixels.
    """
    c = as_point(center)
    want = Size(size, size) if isinstance(size, int) else size
    if want.width <= 0 or want.height <= 0:
        raise ValueError(f"crop size must be positive, got {want}")

    def axis(centre: float, length: int, limit: int) -> tuple[int, int]:
        if length >= limit:
            return 0, limit
        start = math.floor(centre - length / 2 + 0.5)
        start = min(max(start, 0), limit - length)
        return start, length

    left, width = axis(c.x, want.width, bounds.width)
    top, height = axis(c.y, want.height, bounds.height)
    return Box(left, top, width, height)


def fit_within(size: Size, *, max_side: int | None = None, max_pixels: int | None = None) -> Size:
    """The largest size with ``size``'s aspect ratio inside the given limits (never upscales)."""
    factor = 1.0
    if max_side is not None and max(size.width, size.height) > max_side:
        factor = min(factor, max_side / max(size.width, size.height))
    if max_pixels is not None and size.area > max_pixels:
        factor = min(factor, math.sqrt(max_pixels / size.area))
    return Size(max(1, round(size.width * factor)), max(1, round(size.height * factor)))
