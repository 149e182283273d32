"""Capture on a real 3840x2160 Xvfb display, checked against what a real client drew."""

from __future__ import annotations

import itertools
import subprocess
import time
from typing import Any, ClassVar

import numpy as np
import pytest

from guiagent import Frame, Point, Screen
from guiagent.errors import CaptureError, DisplayError
from guiagent.geometry import Box

pytestmark = pytest.mark.display

PROBE_BLUE_BGR = (0xC0, 0x60, 0x30)  # the probe's canvas is #3060c0


def test_full_frame_is_4k_bgra_and_shows_the_client(vdisplay: Any, probe: Any) -> None:
    ready = probe.ready
    with Screen() as screen:
        frame = screen.capture()
    assert (frame.width, frame.height) == (3840, 2160)
    assert frame.pixels.shape == (2160, 3840, 4) and frame.pixels.dtype == np.uint8
    assert frame.origin == Point(0, 0) and frame.scale == 1.0 and frame.monitor == 0
    assert abs(frame.timestamp - time.time()) < 60
    # Centre of the probe's canvas is its blue, the root window outside it is black.
    cx = ready["canvas_x"] + ready["canvas_w"] // 2
    cy = ready["canvas_y"] + ready["canvas_h"] // 2
    assert tuple(frame.pixels[cy, cx, :3]) == PROBE_BLUE_BGR
    assert tuple(frame.pixels[2100, 3800, :3]) == (0, 0, 0)


def test_region_capture_knows_its_origin(vdisplay: Any, probe: Any) -> None:
    ready = probe.ready
    region = (ready["canvas_x"] + 10, ready["canvas_y"] + 20, 300, 200)
    with Screen() as screen:
        frame = screen.capture(region=region)
    assert frame.size.width == 300 and frame.size.height == 200
    assert frame.origin == Point(region[0], region[1]) and frame.monitor is None
    assert (frame.pixels[:, :, :3] == PROBE_BLUE_BGR).all()
    # A point found in the region maps back to where it is on the screen.
    assert frame.to_screen(Point(5, 7)) == Point(region[0] + 5, region[1] + 7)
    assert frame.crop(Box(10, 10, 50, 50)).origin == Point(region[0] + 10, region[1] + 10)


def test_region_outside_desktop_is_refused(vdisplay: Any) -> None:
    with Screen() as screen, pytest.raises(CaptureError, match="not inside the desktop"):
        screen.capture(region=(3800, 2100, 100, 100))
    with Screen() as screen, pytest.raises(CaptureError, match="monitor 7 does not exist"):
        screen.capture(monitor=7)


def test_monitors(vdisplay: Any) -> None:
    with Screen() as screen:
        monitors = screen.monitors
    assert monitors[0].is_all and monitors[0].box == Box(0, 0, 3840, 2160)
    assert len(monitors) >= 2


def test_changed_since_finds_the_changed_region(vdisplay: Any, probe: Any) -> None:
    ready = probe.ready
    with Screen() as screen:
        before = screen.capture()
        assert screen.capture().changed_since(before) == []
        # Type into the probe's text box: only that area changes.
        subprocess.run(["xdotool", "mousemove", str(ready["text_x"] + 40), str(ready["text_y"] + 20),
                        "click", "1", "type", "changed"], env=vdisplay.env, check=True)
        probe.wait_for(lambda ev: any(e["event"] == "text" and e["value"] == "changed" for e in ev),
                       what="typed text")
        deadline = time.monotonic() + 5
        regions: list[Box] = []
        while not regions and time.monotonic() < deadline:
            regions = screen.capture().changed_since(before)
    text_box = Box(ready["text_x"], ready["text_y"], ready["text_w"], ready["text_h"])
    assert regions, "typing changed nothing on screen"
    assert all(r.intersection(text_box.expanded(64)) is not None for r in regions)
    assert sum(r.area for r in regions) < 0.05 * 3840 * 2160


def test_frames_iterator_paces_and_limits(vdisplay: Any) -> None:
    with Screen() as screen:
        start = time.monotonic()
        frames = list(screen.frames(rate=20, limit=6, region=(0, 0, 640, 480)))
        elapsed = time.monotonic() - start
    assert len(frames) == 6
    assert elapsed >= 5 / 20 * 0.9  # paced, not a busy loop
    assert all(f.timestamp <= g.timestamp for f, g in itertools.pairwise(frames))


def test_only_changed_frames_skip_identical_ones(vdisplay: Any) -> None:
    import threading

    launched: list[subprocess.Popen[bytes]] = []

    def show_window() -> None:
        launched.append(vdisplay.launch(["xterm", "-geometry", "40x5+3000+1900"]))

    with Screen() as screen:
        frames = screen.frames(rate=30, region=(2900, 1800, 600, 300), only_changed=True)
        first = next(frames)
        start = time.monotonic()
        timer = threading.Timer(0.5, show_window)
        timer.start()
        try:
            second = next(frames)  # identical frames in between are not yielded
            waited = time.monotonic() - start
        finally:
            timer.join()
            for process in launched:
                process.terminate()
                process.wait(5)
    assert waited >= 0.45
    assert second.changed_since(first)


def test_synthetic_monitor_layout_offsets() -> None:
    """A two-monitor layout with a monitor left of and above the primary (negative offsets)."""

    class FakeShot:
        def __init__(self, area: dict[str, int], factor: int) -> None:
            self.size = type("S", (), {"width": area["width"] * factor,
                                       "height": area["height"] * factor})()
            self._pixels = np.zeros((area["height"] * factor, area["width"] * factor, 4), np.uint8)

        def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
            return self._pixels

    class FakeMSS:
        monitors: ClassVar[list[dict[str, int]]] = [
            {"left": -1920, "top": -1080, "width": 5760, "height": 3240},
            {"left": 0, "top": 0, "width": 3840, "height": 2160},
            {"left": -1920, "top": -1080, "width": 1920, "height": 1080},
        ]
        grabbed: ClassVar[list[dict[str, int]]] = []

        def grab(self, area: dict[str, int]) -> FakeShot:
            self.grabbed.append(area)
            return FakeShot(area, 2)  # a HiDPI backend: 2 physical pixels per logical one

        def close(self) -> None:
            pass

    screen = Screen(":fake")
    fake = FakeMSS()
    screen._local.mss = fake
    frame = screen.capture(monitor=2)
    assert fake.grabbed[-1] == {"left": -1920, "top": -1080, "width": 1920, "height": 1080}
    assert frame.scale == 2.0 and frame.origin == Point(-1920, -1080)
    # The physical pixel (1000, 500) of the left monitor is logical (-1420, -830) on screen.
    assert frame.to_screen(Point(1000, 500)) == Point(-1420, -830)
    assert frame.from_screen(Point(-1420, -830)) == Point(1000, 500)
    with pytest.raises(CaptureError):
        screen.capture(region=(-3000, 0, 10, 10))


def test_no_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(DisplayError, match="no X display"):
        Screen().capture()


def test_frame_load_and_errors(tmp_path: Any) -> None:
    from guiagent.errors import ImageLoadError

    image = np.zeros((20, 30, 3), np.uint8)
    image[5:10, 5:10] = (0, 0, 255)
    frame = Frame.load(image)
    path = frame.save(tmp_path / "x.png")
    loaded = Frame.load(path)
    assert loaded.size == frame.size and (loaded.pixels == image).all()
    assert loaded.to_pil().getpixel((6, 6)) == (255, 0, 0)
    with pytest.raises(ImageLoadError, match="not found"):
        Frame.load(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ImageLoadError, match="not a readable image"):
        Frame.load(tmp_path / "bad.png")


def test_stopping_a_display_ends_what_it_launched() -> None:
    from guiagent import VirtualDisplay

    with VirtualDisplay((1024, 768), window_manager=False) as display:
        process = display.launch(["xterm"])
        assert process.poll() is None
    assert process.wait(5) is not None
    with pytest.raises(DisplayError, match="not installed"), VirtualDisplay(
        (640, 480), window_manager=False
    ) as display:
        display.launch(["no-such-program-here"])


def test_session_display_follows_the_session_type() -> None:
    from guiagent.platform import session_display

    assert session_display({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}) == ":0"  # Xwayland
    assert session_display({"WAYLAND_DISPLAY": "wayland-1"}) == "wayland-1"
    assert session_display({"XDG_SESSION_TYPE": "wayland"}) is None
    assert session_display({}) is None
