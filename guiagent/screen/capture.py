"""Screen capture with mss: monitors, regions, :class:`Frame` values, capture loops, frame diffs.

A :class:`Frame` holds the pixels of one capture as a numpy array (BGRA, a zero-copy view of
the buffer mss filled), where those pixels sit on the desktop (``origin``, logical screen
coordinates) and how many physical pixels make one logical pixel (``scale``). Those two facts
are all it takes to turn a point found in the pixels into a point the input backend clicks.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from guiagent.errors import CaptureError, DisplayError, ImageLoadError
from guiagent.geometry import Box, BoxLike, Point, PointLike, Size, Transform, as_box, frame_to_screen
from guiagent.platform import ScreenCapture, screen_capture

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One captured (or loaded) image and where it sits on the desktop.

    ``pixels`` is ``H x W x 4`` BGRA for captures, ``H x W x 3`` BGR for images loaded from
    files; use :meth:`bgr`, :meth:`gray` or :meth:`to_pil` to convert.
    """

    pixels: np.ndarray
    origin: Point = field(default_factory=lambda: Point(0.0, 0.0))
    scale: float = 1.0
    timestamp: float = field(default_factory=time.time)
    monitor: int | None = None

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3 or self.pixels.shape[2] not in (3, 4):
            raise ValueError(f"frame pixels must be HxWx3 (BGR) or HxWx4 (BGRA), got {self.pixels.shape}")
        if self.pixels.dtype != np.uint8:
            raise ValueError(f"frame pixels must be uint8, got {self.pixels.dtype}")
        if self.scale <= 0:
            raise ValueError(f"frame scale must be positive, got {self.scale}")

    # -- shape ---------------------------------------------------------------------------
    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def size(self) -> Size:
        return Size(self.width, self.height)

    @property
    def bounds(self) -> Box:
        """The frame's own pixel box, ``(0, 0, width, height)``."""
        return Box(0, 0, self.width, self.height)

    @property
    def screen_box(self) -> Box:
        """Where the frame sits on the desktop, in screen (logical) coordinates."""
        return self.to_screen_transform.apply_box(self.bounds)

    # -- coordinates ---------------------------------------------------------------------
    @property
    def to_screen_transform(self) -> Transform:
        return frame_to_screen(self.origin, self.scale)

    def to_screen(self, point: PointLike) -> Point:
        """Frame pixel coordinates -> screen coordinates for the input backend."""
        return self.to_screen_transform.apply(point)

    def from_screen(self, point: PointLike) -> Point:
        """Screen coordinates -> frame pixel coordinates."""
        return self.to_screen_transform.inverse().apply(point)

    # -- pixels --------------------------------------------------------------------------
    def crop(self, region: BoxLike) -> Frame:
        """A sub-frame (a view, no copy) that still knows where it sits on the desktop."""
        box = as_box(region).integer()
        inside = box.intersection(self.bounds)
        if inside is None or inside != box:
            raise CaptureError(f"crop {box} is not inside the {self.width}x{self.height} frame")
        rows, cols = box.slices()
        origin = self.to_screen(Point(box.left, box.top))
        return Frame(self.pixels[rows, cols], origin, self.scale, self.timestamp, self.monitor)

    def bgr(self) -> np.ndarray:
        if self.pixels.shape[2] == 3:
            return self.pixels
        import cv2

        return cv2.cvtColor(self.pixels, cv2.COLOR_BGRA2BGR)

    def gray(self) -> np.ndarray:
        import cv2

        code = cv2.COLOR_BGRA2GRAY if self.pixels.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        return cv2.cvtColor(self.pixels, code)

    def rgb(self) -> np.ndarray:
        import cv2

        code = cv2.COLOR_BGRA2RGB if self.pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
        return cv2.cvtColor(self.pixels, code)

    def to_pil(self) -> Image.Image:
        from PIL import Image

        return Image.fromarray(self.rgb())

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a PNG (or any format OpenCV knows from the suffix); returns the path."""
        import cv2

        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(out), self.pixels):
            raise CaptureError(f"could not write {out}: check the suffix (.png, .jpg) and permissions")
        return out

    @classmethod
    def load(cls, image: str | os.PathLike[str] | np.ndarray | Image.Image | Frame) -> Frame:
        """A frame from a path, a numpy array (BGR/BGRA, or 2-D gray), a PIL image or a Frame."""
        if isinstance(image, Frame):
            return image
        if isinstance(image, np.ndarray):
            return cls(_normalise_array(image))
        if isinstance(image, (str, os.PathLike)):
            return cls(_read_image_file(Path(image)))
        try:
            from PIL import Image
        except ImportError:  # pragma: no cover - pillow is a core dependency
            Image = None  # type: ignore[assignment]
        if Image is not None and isinstance(image, Image.Image):
            rgb = np.asarray(image.convert("RGB"))
            return cls(np.ascontiguousarray(rgb[:, :, ::-1]))
        raise ImageLoadError(
            f"cannot use {type(image).__name__} as an image: pass a path, a numpy array, "
            "a PIL image or a Frame"
        )

    # -- change detection -----------------------------------------------------------------
    def changed_since(self, previous: Frame, *, cell: int = 32, tolerance: int = 0) -> list[Box]:
        """Regions (frame pixels) whose pixels differ from ``previous``; empty when unchanged.

        Changes are found per ``cell`` x ``cell`` block and neighbouring changed blocks are
        merged into one box. ``tolerance`` ignores per-channel differences up to that value
        (video noise, anti-aliasing); 0 means any change counts.
        """
        if previous.pixels.shape != self.pixels.shape:
            return [self.bounds]
        changed = _changed_mask(previous.pixels, self.pixels, tolerance)
        return _mask_to_boxes(changed, cell)


def _normalise_array(array: np.ndarray) -> np.ndarray:
    if array.dtype != np.uint8:
        raise ImageLoadError(f"image arrays must be uint8, got {array.dtype}")
    if array.ndim == 2:
        import cv2

        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        return array
    raise ImageLoadError(f"image arrays must be HxW, HxWx3 or HxWx4, got shape {array.shape}")


def _read_image_file(path: Path) -> np.ndarray:
    import cv2

    if not path.is_file():
        raise ImageLoadError(f"image not found: {path}")
    data = np.fromfile(str(path), dtype=np.uint8)
    pixels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if pixels is None:
        raise ImageLoadError(f"{path} is not a readable image (corrupt, empty or an unknown format)")
    if pixels.dtype != np.uint8:  # 16-bit PNGs
        pixels = (pixels / 257).astype(np.uint8)
    return _normalise_array(pixels)


def _changed_mask(before: np.ndarray, after: np.ndarray, tolerance: int) -> np.ndarray:
    if tolerance <= 0:
        if before.shape[2] == 4 and before.flags.c_contiguous and after.flags.c_contiguous:
            # One uint32 compare per BGRA pixel: ~4x faster than comparing bytes.
            return before.view(np.uint32)[:, :, 0] != after.view(np.uint32)[:, :, 0]
        return np.any(before != after, axis=2)
    import cv2

    diff = cv2.absdiff(before, after)
    over = diff > tolerance
    if over.shape[2] == 4 and over.flags.c_contiguous:
        # Any channel over the tolerance, 4 booleans at a time (diff.max(axis=2) took ~300 ms
        # on a 4K frame, this ~4 ms).
        return over.view(np.uint32)[:, :, 0] != 0
    return np.any(over, axis=2)


def _mask_to_boxes(changed: np.ndarray, cell: int) -> list[Box]:
    import cv2

    if not changed.any():  # the common case costs 0.1 ms instead of the grid reduction
        return []
    height, width = changed.shape
    rows = np.arange(0, height, cell)
    cols = np.arange(0, width, cell)
    counts = np.add.reduceat(np.add.reduceat(changed, rows, axis=0, dtype=np.int32), cols, axis=1)
    grid = (counts > 0).astype(np.uint8)
    if not grid.any():
        return []
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(grid, connectivity=8)
    boxes = []
    for i in range(1, n):
        gx, gy, gw, gh = (int(v) for v in stats[i, :4])
        left, top = gx * cell, gy * cell
        right, bottom = min((gx + gw) * cell, width), min((gy + gh) * cell, height)
        boxes.append(Box(left, top, right - left, bottom - top))
    return sorted(boxes, key=lambda b: (b.top, b.left))


@dataclass(frozen=True, slots=True)
class Monitor:
    """A monitor in screen coordinates. Index 0 is the bounding box of all monitors."""

    index: int
    box: Box

    @property
    def is_all(self) -> bool:
        return self.index == 0


class Screen:
    """Captures frames from the desktop.

    ``display`` names the X display (default: ``$DISPLAY``). ``scale`` overrides the
    physical-to-logical factor; by default it is measured as captured width / monitor width.
    One mss instance is kept per thread (mss handles are not thread-safe). On Wayland
    (``display`` a Wayland socket, or a Wayland session) the platform's capture is used instead.
    """

    def __init__(self, display: str | None = None, *, scale: float | None = None) -> None:
        self.display = display
        self._scale = scale
        self._platform_capture: ScreenCapture | None = None
        self._platform_checked = False
        self._local = threading.local()
        self._instances: list[Any] = []
        self._lock = threading.Lock()

    def _mss(self) -> Any:
        instance = getattr(self._local, "mss", None)
        if instance is None:
            import mss

            kwargs: dict[str, Any] = {}
            display = self.display or os.environ.get("DISPLAY")
            if os.name == "posix" and not _is_macos():
                if not display:
                    raise DisplayError(
                        "no X display: set $DISPLAY, or run inside `guiagent.VirtualDisplay()` "
                        "(needs the xvfb package)"
                    )
                kwargs["display"] = display
            try:
                instance = mss.MSS(**kwargs)
            except Exception as exc:  # mss raises ScreenShotError with a terse message
                raise DisplayError(f"cannot open display {display!r} for capture: {exc}") from exc
            self._local.mss = instance
            with self._lock:
                self._instances.append(instance)
        return instance

    def _native(self) -> ScreenCapture | None:
        """The platform's own capture (Wayland), or None where mss captures."""
        if not self._platform_checked:
            self._platform_capture = screen_capture(self.display)
            self._platform_checked = True
        return self._platform_capture

    @property
    def monitors(self) -> list[Monitor]:
        native = self._native()
        if native is not None:
            outputs = [Box(*o.box) for o in native.outputs()]
            if not outputs:
                raise CaptureError("the compositor reports no active output to capture")
            union = outputs[0]
            for box in outputs[1:]:
                union = union.union(box)
            return [Monitor(i, b) for i, b in enumerate([union, *outputs])]
        raw = self._mss().monitors
        return [
            Monitor(i, Box(m["left"], m["top"], m["width"], m["height"])) for i, m in enumerate(raw)
        ]

    def monitor(self, index: int) -> Monitor:
        monitors = self.monitors
        if not 0 <= index < len(monitors):
            raise CaptureError(
                f"monitor {index} does not exist: this desktop has monitors 0 (all) to "
                f"{len(monitors) - 1}"
            )
        return monitors[index]

    def capture(self, *, monitor: int = 0, region: BoxLike | None = None) -> Frame:
        """Grab the pixels of a monitor (0 = all monitors) or of a region in screen coordinates."""
        if region is not None:
            box = as_box(region).integer()
            desktop = self.monitor(0).box
            if box.width <= 0 or box.height <= 0 or box.intersection(desktop) != box:
                raise CaptureError(
                    f"region {_fmt_box(box)} is not inside the desktop {_fmt_box(desktop)}"
                )
            index: int | None = None
        else:
            box = self.monitor(monitor).box
            index = monitor
        native = self._native()
        if native is not None:
            pixels = native.grab((int(box.left), int(box.top), int(box.width), int(box.height)))
            scale = self._scale or (pixels.shape[1] / box.width)
            return Frame(pixels, Point(box.left, box.top), scale, time.time(), index)
        area = {"left": int(box.left), "top": int(box.top), "width": int(box.width),
                "height": int(box.height)}
        try:
            shot = self._mss().grab(area)
        except Exception as exc:
            raise CaptureError(f"capture of {_fmt_box(box)} failed: {exc}") from exc
        pixels = np.asarray(shot)  # zero-copy BGRA view of the fresh buffer mss returned
        scale = self._scale or (shot.size.width / box.width)
        return Frame(pixels, Point(box.left, box.top), scale, time.time(), index)

    def frames(
        self,
        *,
        rate: float = 10.0,
        monitor: int = 0,
        region: BoxLike | None = None,
        only_changed: bool = False,
        limit: int | None = None,
    ) -> Iterator[Frame]:
        """Yield frames at up to ``rate`` per second (deadline-paced, no drift).

        With ``only_changed`` a frame is yielded only when its pixels differ from the last one
        yielded. ``limit`` stops after that many frames.
        """
        if rate <= 0:
            raise ValueError(f"rate must be positive frames per second, got {rate}")
        period = 1.0 / rate
        deadline = time.monotonic()
        last: Frame | None = None
        yielded = 0
        while limit is None or yielded < limit:
            now = time.monotonic()
            if now < deadline:
                time.sleep(deadline - now)
            deadline = max(deadline + period, time.monotonic())
            frame = self.capture(monitor=monitor, region=region)
            if only_changed and last is not None and not frame.changed_since(last):
                continue
            last = frame
            yielded += 1
            yield frame

    def close(self) -> None:
        if self._platform_capture is not None:
            self._platform_capture.close()
        self._platform_capture, self._platform_checked = None, False
        with self._lock:
            for instance in self._instances:
                instance.close()
            self._instances.clear()
        self._local = threading.local()

    def __enter__(self) -> Screen:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _fmt_box(box: Box) -> str:
    return f"{box.left:g},{box.top:g},{box.width:g}x{box.height:g}"


def _is_macos() -> bool:
    import sys

    return sys.platform == "darwin"
