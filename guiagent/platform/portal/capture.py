"""Frames from the portal's PipeWire streams, through GStreamer's ``pipewiresrc``.

No PipeWire binding installs from PyPI, and Debian's GStreamer binding (python3-gi) serves
only Debian's own Python, so each shared screen gets one ``gst-launch-1.0`` pipeline for the
capture's lifetime: the portal's ``OpenPipeWireRemote`` gives a file descriptor, the pipeline
reads the stream's node from it and writes raw BGRx frames to a pipe, ``-v`` prints the
negotiated caps (the frame's size) on stdout, and a thread keeps the newest frame.

The stream is kept open because a screen-cast backend sends frames only when the screen
changes (xdg-desktop-portal-wlr: the first frame of a stream, then damage); a pipeline started
per grab got its first frame and then nothing on a still screen. So a grab returns the newest
frame the compositor has sent, which is the screen as it is unless it changed in the last
frame's time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
import weakref
from typing import IO, TYPE_CHECKING

from guiagent.errors import CaptureError
from guiagent.platform.base import OutputInfo
from guiagent.platform.portal.portal import SESSIONS, PortalSession, Stream

if TYPE_CHECKING:
    import numpy as np

FIRST_FRAME_TIMEOUT_S = 10.0
_CAPS = re.compile(rb"fdsink\d*\.GstPad:sink: caps = video/x-raw, format=\(string\)BGRx, "
                   rb"width=\(int\)(\d+), height=\(int\)(\d+)")


class StreamReader:
    """One GStreamer pipeline on one PipeWire stream; ``latest()`` is its newest frame."""

    def __init__(self, gst: str, session: PortalSession, stream: Stream) -> None:
        self.stream = stream
        self._size: tuple[int, int] | None = None
        self._frame: bytes | None = None
        self._count = 0
        self._error = ""
        self._changed = threading.Condition()
        remote = session.bus.open_pipewire_remote(session.handle)
        read_end, write_end = os.pipe()
        try:
            argv = [gst, "-v", "pipewiresrc", f"fd={remote}", f"path={stream.node}",
                    "always-copy=true", "!", "videoconvert", "!", "video/x-raw,format=BGRx",
                    "!", "fdsink", f"fd={write_end}", "sync=false"]
            # In our process group (Ctrl+C ends it too), and ended when Python exits.
            self.process = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT,
                                            pass_fds=(remote, write_end))
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(remote)
            os.close(write_end)
        weakref.finalize(self, _end, self.process)
        self._frames = os.fdopen(read_end, "rb", buffering=0)
        assert self.process.stdout is not None
        threading.Thread(target=self._read_caps, args=(self.process.stdout,), daemon=True).start()
        threading.Thread(target=self._read_frames, daemon=True).start()

    def _read_caps(self, out: IO[bytes]) -> None:
        log = []
        for line in out:
            match = _CAPS.search(line)
            if match:
                with self._changed:
                    self._size = (int(match.group(1)), int(match.group(2)))
                    self._changed.notify_all()
            log.append(line)
        with self._changed:
            self._error = b"".join(log[-5:]).decode(errors="replace").strip()
            self._changed.notify_all()

    def _read_frames(self) -> None:
        while True:
            with self._changed:
                while self._size is None and not self._error:
                    self._changed.wait()
                if self._size is None:
                    return
                width, height = self._size
            data = _read_exactly(self._frames, width * height * 4)
            if data is None:
                return
            with self._changed:
                self._frame, self._count = data, self._count + 1
                self._changed.notify_all()

    def latest(self, timeout: float = FIRST_FRAME_TIMEOUT_S) -> np.ndarray:
        """The newest frame, ``H x W x 4`` BGRx, read-only (the first one is waited for)."""
        import numpy as np

        deadline = time.monotonic() + timeout
        with self._changed:
            while self._frame is None:
                if self._error or self.process.poll() is not None:
                    raise CaptureError(f"GStreamer gave no frame of PipeWire stream "
                                       f"{self.stream.node}: {self._error or 'it exited'}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CaptureError(
                        f"no frame from the portal's PipeWire stream {self.stream.node} within "
                        f"{timeout:g} s (xdg-desktop-portal-wlr sends one only when the screen "
                        "changes; GNOME and KDE send the first at once)")
                self._changed.wait(remaining)
            data, (width, height) = self._frame, self._size or (0, 0)
        return np.frombuffer(data, np.uint8).reshape(height, width, 4)

    def close(self) -> None:
        _end(self.process)
        self._frames.close()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read_exactly(pipe: IO[bytes], size: int) -> bytes | None:
    """``size`` bytes from ``pipe``, or None at its end."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        try:
            count = pipe.readinto(view[got:])  # type: ignore[attr-defined]
        except (OSError, ValueError):
            return None
        if not count:
            return None
        got += count
    return bytes(buffer)


class PortalCapture:
    """:class:`~guiagent.platform.base.ScreenCapture` through the ScreenCast portal (one
    permission per session, remembered with a restore token)."""

    def __init__(self, session: PortalSession | None = None) -> None:
        self._gst = shutil.which("gst-launch-1.0")
        if self._gst is None:
            raise CaptureError("capturing through the desktop portal needs GStreamer and its "
                               "PipeWire plugin: `sudo apt-get install gstreamer1.0-tools "
                               "gstreamer1.0-pipewire` (Fedora: gstreamer1-plugin-pipewire)")
        self._owned = session is None
        self.session = session if session is not None else SESSIONS.acquire(devices=False)
        self._physical: dict[int, tuple[int, int]] = {}  # node -> frame size
        self._readers: dict[int, StreamReader] = {}
        self._lock = threading.Lock()

    def outputs(self) -> list[OutputInfo]:
        """One output per stream; its scale is the frame's width over the logical width (a
        frame is grabbed the first time to learn it)."""
        outputs = []
        for stream in self.session.streams:
            box = stream.box
            if box is None:  # no logical size from the portal: the frame's size is the box
                width, height = self._frame_size(stream)
                box = (0, 0, width, height)
            width, _ = self._frame_size(stream)
            outputs.append(OutputInfo(f"portal-{stream.node}", box, width / box[2]))
        return outputs

    def _frame_size(self, stream: Stream) -> tuple[int, int]:
        if stream.node not in self._physical:
            self.frame(stream)
        return self._physical[stream.node]

    def grab(self, box: tuple[int, int, int, int]) -> np.ndarray:
        x, y, width, height = box
        for stream in self.session.streams:
            sbox = stream.box
            if sbox is None and len(self.session.streams) == 1:
                raw = self._raw(stream)
                sbox = (0, 0, raw.shape[1], raw.shape[0])
            elif sbox is None:
                continue
            sx, sy, sw, sh = sbox
            if sx <= x and sy <= y and x + width <= sx + sw and y + height <= sy + sh:
                raw = self._raw(stream)
                scale = raw.shape[1] / sw
                left, top = round((x - sx) * scale), round((y - sy) * scale)
                right, bottom = round((x - sx + width) * scale), round((y - sy + height) * scale)
                return _opaque(raw[top:bottom, left:right])
        boxes = ", ".join(str(s.box) for s in self.session.streams)
        raise CaptureError(f"{box} is not inside one shared monitor (the portal shares {boxes}); "
                           "grab each monitor's part on its own")

    def frame(self, stream: Stream) -> np.ndarray:
        """The newest whole frame of ``stream``: ``H x W x 4`` BGRA, alpha 255."""
        return _opaque(self._raw(stream))

    def _raw(self, stream: Stream) -> np.ndarray:
        with self._lock:
            reader = self._readers.get(stream.node)
            if reader is None or reader.process.poll() is not None:
                if reader is not None:
                    reader.close()
                reader = self._readers[stream.node] = StreamReader(str(self._gst), self.session,
                                                                   stream)
        raw = reader.latest()
        self._physical[stream.node] = (raw.shape[1], raw.shape[0])
        return raw

    def close(self) -> None:
        with self._lock:
            readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            reader.close()
        if self._owned:
            SESSIONS.release(self.session)
            self._owned = False



def _opaque(bgrx: np.ndarray) -> np.ndarray:
    """A writable BGRA copy of BGRx pixels, alpha 255 (as the other captures give)."""
    pixels = bgrx.copy()
    pixels[:, :, 3] = 255
    return pixels
