"""Images an MCP client accepts, and the one coordinate space the server speaks.

Clients put limits on what a tool may return: Claude Desktop rejects a tool result over 1 MB,
and images with a long side over ~1568 pixels are downscaled without telling the model, so a
point it reads off the image no longer lands where it meant. The server therefore sends every
image within those limits itself and owns the conversion: an :class:`ImageMapping` says where
an image's pixels sit on the screen, and every coordinate in or out of a tool goes through one.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from guiagent.geometry import Box, Point, PointLike, Size, as_point
from guiagent.screen.capture import Frame

DEFAULT_IMAGE_SIZE = 1568  # long side, pixels: what Claude shows a model without resizing
DEFAULT_MAX_BYTES = 1_000_000  # one tool result, as sent (base64 included)
TEXT_ALLOWANCE = 60_000  # bytes of a result kept for its text and structured content

ImageFormat = Literal["png", "jpeg"]
MappingKind = Literal["screenshot", "zoom"]


@dataclass(frozen=True, slots=True)
class ImageMapping:
    """Where the pixels of an image sent to the client sit on the screen.

    ``origin`` is the screen point of the image's top-left corner; ``scale_x``/``scale_y`` are
    screen pixels per image pixel (2.449 for a 4K screen sent 1568 pixels wide):
    ``screen = origin + image * scale``. ``screen_size`` is the whole desktop's size.
    """

    origin: Point
    scale_x: float
    scale_y: float
    image_size: Size
    screen_size: Size
    kind: MappingKind = "screenshot"

    @classmethod
    def for_frame(cls, frame: Frame, image_size: Size, screen_size: Size,
                  kind: MappingKind = "screenshot") -> ImageMapping:
        """The mapping of ``frame`` resized to ``image_size``."""
        box = frame.screen_box
        return cls(Point(box.left, box.top), box.width / image_size.width,
                   box.height / image_size.height, image_size, screen_size, kind)

    @property
    def screen_box(self) -> Box:
        """The screen box the image shows."""
        return self.box_to_screen(Box(0, 0, self.image_size.width, self.image_size.height))

    def to_screen(self, point: PointLike) -> Point:
        p = as_point(point)
        return Point(self.origin.x + p.x * self.scale_x, self.origin.y + p.y * self.scale_y)

    def from_screen(self, point: PointLike) -> Point:
        p = as_point(point)
        return Point((p.x - self.origin.x) / self.scale_x, (p.y - self.origin.y) / self.scale_y)

    def box_to_screen(self, box: Box) -> Box:
        top_left = self.to_screen(Point(box.left, box.top))
        return Box(top_left.x, top_left.y, box.width * self.scale_x, box.height * self.scale_y)

    def box_from_screen(self, box: Box) -> Box:
        top_left = self.from_screen(Point(box.left, box.top))
        return Box(top_left.x, top_left.y, box.width / self.scale_x, box.height / self.scale_y)

    def contains(self, point: PointLike) -> bool:
        """Whether an image point lies on the image."""
        p = as_point(point)
        return 0 <= p.x < self.image_size.width and 0 <= p.y < self.image_size.height

    def to_json(self) -> dict[str, Any]:
        scale = {"scale": round(self.scale_x, 6)}
        if abs(self.scale_x - self.scale_y) > 1e-4:
            scale["scale_y"] = round(self.scale_y, 6)
        return {
            "kind": self.kind,
            "image_size": [self.image_size.width, self.image_size.height],
            "screen_size": [self.screen_size.width, self.screen_size.height],
            "origin": [round(self.origin.x, 3), round(self.origin.y, 3)],
            **scale,
        }

    def describe(self) -> str:
        """One line for the tool's text: sizes, origin and scale."""
        o, s = self.origin, self.scale_x
        sy = f"/{self.scale_y:.4g}" if abs(self.scale_x - self.scale_y) > 1e-4 else ""
        return (f"{self.kind} image {self.image_size} of screen area "
                f"{fmt_box(self.screen_box)} (screen {self.screen_size}); "
                f"screen = ({o.x:g}, {o.y:g}) + image * {s:.4g}{sy}")


@dataclass(frozen=True, slots=True)
class EncodedImage:
    """An encoded image ready to send: ``data`` (raw bytes), its MIME type and pixel size."""

    data: bytes
    format: ImageFormat
    size: Size

    @property
    def mime_type(self) -> str:
        return f"image/{self.format}"

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    @property
    def sent_bytes(self) -> int:
        """Bytes on the wire: base64 makes 4 characters of every 3 bytes."""
        return 4 * ((len(self.data) + 2) // 3)


_JPEG_QUALITIES = (90, 80, 70, 55, 40)


def fit_size(width: int, height: int, max_side: int) -> Size:
    """The size of a ``width`` x ``height`` image shrunk (never enlarged) to ``max_side``."""
    if max_side < 1:
        raise ValueError(f"the image size limit must be at least 1 pixel, got {max_side}")
    factor = min(1.0, max_side / max(width, height))
    return Size(max(1, round(width * factor)), max(1, round(height * factor)))


def encode_image(pixels: np.ndarray, size: Size, *, max_bytes: int = DEFAULT_MAX_BYTES) -> EncodedImage:
    """Resize BGR(A) ``pixels`` to ``size`` and encode them so the base64 text stays within
    ``max_bytes`` (minus room for the result's text): PNG when it fits (text stays sharp), else
    JPEG at the best quality that fits, else a smaller JPEG. The returned ``size`` is the one
    sent; it is smaller than asked only when even a low-quality JPEG did not fit."""
    import cv2

    budget = max(max_bytes - TEXT_ALLOWANCE, 16_000)
    image = _resized(pixels, size)
    if image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    png = _encode(image, ".png", [cv2.IMWRITE_PNG_COMPRESSION, 6])
    candidate = EncodedImage(png, "png", size)
    if candidate.sent_bytes <= budget:
        return candidate
    while True:
        for quality in _JPEG_QUALITIES:
            jpeg = _encode(image, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, quality])
            candidate = EncodedImage(jpeg, "jpeg", size)
            if candidate.sent_bytes <= budget:
                return candidate
        if max(size.width, size.height) <= 64:
            raise ValueError(f"cannot encode an image within {max_bytes} bytes; raise the limit")
        size = Size(max(1, round(size.width * 0.8)), max(1, round(size.height * 0.8)))
        image = _resized(image, size)


def _resized(pixels: np.ndarray, size: Size) -> np.ndarray:
    import cv2

    height, width = pixels.shape[:2]
    if (width, height) == (size.width, size.height):
        return pixels
    return cv2.resize(pixels, (size.width, size.height), interpolation=cv2.INTER_AREA)


def _encode(image: np.ndarray, suffix: str, params: list[int]) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(suffix, np.ascontiguousarray(image), params)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR array
        raise ValueError(f"OpenCV could not encode a {suffix} image")
    return buffer.tobytes()


def fmt_point(point: Point) -> str:
    return f"({point.x:.0f}, {point.y:.0f})"


def fmt_box(box: Box) -> str:
    """``x,y,w,h`` rounded to whole pixels, the form tools take regions in."""
    return f"{box.left:.0f},{box.top:.0f},{box.width:.0f},{box.height:.0f}"


def box_json(box: Box) -> list[int]:
    return [round(box.left), round(box.top), round(box.width), round(box.height)]
