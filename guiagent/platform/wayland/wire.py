"""The Wayland wire protocol, as much of it as guiagent's own input devices need: one client
connection to a compositor, the registry's globals, binding them, requests with a file
descriptor beside them, and round trips. No library (libwayland, pywayland) is needed.

The wire format (little-endian 32-bit words): ``object id``, ``size << 16 | opcode``, then the
arguments; a string is its length (with the NUL) and its bytes padded to 4; ``fixed`` is a
24.8 fixed-point number; a file descriptor travels beside the message (``SCM_RIGHTS``), not in
it.
"""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

from guiagent.errors import InputBackendError

_HEADER = struct.Struct("<II")

# wl_display (object 1) and the registry guiagent asks for first (object 2).
DISPLAY_ID, REGISTRY_ID = 1, 2
_DISPLAY_SYNC, _DISPLAY_GET_REGISTRY = 0, 1  # requests
_DISPLAY_ERROR = 0  # event
_REGISTRY_BIND = 0  # request
_REGISTRY_GLOBAL = 0  # event


def uint(value: int) -> bytes:
    return struct.pack("<I", value & 0xFFFFFFFF)


def fixed(value: float) -> bytes:
    return struct.pack("<i", round(value * 256))


def string(text: str) -> bytes:
    data = text.encode() + b"\0"
    return uint(len(data)) + data + b"\0" * (-len(data) % 4)


def read_string(body: bytes, pos: int) -> tuple[str, int]:
    """The string at ``pos`` of an event's body, and the position after it."""
    (length,) = struct.unpack_from("<I", body, pos)
    text = body[pos + 4:pos + 4 + length - 1].decode(errors="replace")
    return text, pos + 4 + length + (-length % 4)


class WaylandConnection:
    """One client connection to the compositor at ``socket_path`` (a Wayland socket), with the
    globals it advertises (``interface -> (name, version)``).

    ``lock`` serialises whole exchanges (requests and their round trip) between threads; the
    devices built on one connection share it.
    """

    def __init__(self, socket_path: Path) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(str(socket_path))
        except OSError as exc:
            self._sock.close()
            raise InputBackendError(f"cannot reach the Wayland compositor at {socket_path}: "
                                    f"{exc}") from None
        self.lock = threading.RLock()
        self._next_id = REGISTRY_ID + 1
        self._buffer = b""
        self.globals: dict[str, tuple[int, int]] = {}
        self._bound: dict[str, int] = {}
        self.events: dict[int, list[tuple[int, bytes]]] = {}  # see listen()
        self._closed = False
        try:
            self.send(DISPLAY_ID, _DISPLAY_GET_REGISTRY, uint(REGISTRY_ID))
            self.roundtrip()
        except BaseException:
            self._sock.close()
            raise

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def send(self, obj: int, opcode: int, *args: bytes, fd: int | None = None) -> None:
        body = b"".join(args)
        message = _HEADER.pack(obj, (8 + len(body)) << 16 | opcode) + body
        try:
            if fd is None:
                self._sock.sendall(message)
            else:
                socket.send_fds(self._sock, [message], [fd])
        except OSError as exc:
            raise InputBackendError(f"lost the connection to the Wayland compositor: {exc} "
                                    "(did it exit?)") from None

    def bind(self, interface: str, version: int) -> int:
        """A new object bound to the global ``interface`` (at most ``version``); one object per
        interface and connection, bound on first use."""
        if interface in self._bound:
            return self._bound[interface]
        name, offered = self.globals[interface]
        obj = self.new_id()
        self.send(REGISTRY_ID, _REGISTRY_BIND, uint(name), string(interface),
                  uint(min(version, offered)), uint(obj))
        self._bound[interface] = obj
        return obj

    def listen(self, obj: int) -> None:
        """Keep the events ``obj`` receives (``(opcode, body)`` in :attr:`events`); the events
        of other objects are dropped."""
        self.events.setdefault(obj, [])

    def _event(self) -> tuple[int, int, bytes]:
        while len(self._buffer) < 8 or len(self._buffer) < self._size():
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise InputBackendError("the Wayland compositor closed guiagent's connection "
                                        "(did it exit?)")
            self._buffer += chunk
        obj, word = _HEADER.unpack_from(self._buffer)
        size = word >> 16
        body, self._buffer = self._buffer[8:size], self._buffer[size:]
        return obj, word & 0xFFFF, body

    def _size(self) -> int:
        return int(_HEADER.unpack_from(self._buffer)[1] >> 16)

    def roundtrip(self) -> None:
        """Send wl_display.sync and read events until its callback is done: the compositor has
        then handled every request sent before. A protocol error the compositor reports on the
        way becomes InputBackendError; new globals and the events of listened-to objects are
        recorded."""
        callback = self.new_id()
        self.send(DISPLAY_ID, _DISPLAY_SYNC, uint(callback))
        while True:
            obj, opcode, body = self._event()
            if obj == callback:
                return
            if obj == DISPLAY_ID and opcode == _DISPLAY_ERROR:
                _, code = struct.unpack_from("<II", body)
                message, _ = read_string(body, 8)
                raise InputBackendError(f"the compositor refused a request of guiagent's input "
                                        f"devices (protocol error {code}: {message})")
            if obj == REGISTRY_ID and opcode == _REGISTRY_GLOBAL:
                (name,) = struct.unpack_from("<I", body)
                interface, pos = read_string(body, 4)
                (version,) = struct.unpack_from("<I", body, pos)
                self.globals[interface] = (name, version)
            elif obj in self.events:
                self.events[obj].append((opcode, body))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._sock.close()
