"""sway's IPC (the i3 protocol over a Unix socket): outputs, the window tree, pointer commands
and key bindings. Wayland gives clients no global coordinates or window list; the compositor
does, and sway answers in well under a millisecond."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from guiagent import keys as keynames
from guiagent.errors import DisplayError, InputBackendError, PlatformUnsupported
from guiagent.platform.base import OutputInfo, WindowInfo

_MAGIC = b"i3-ipc"
_HEADER = struct.Struct("=6sII")
RUN_COMMAND, SUBSCRIBE, GET_OUTPUTS, GET_TREE = 0, 2, 3, 4
_BINDING_EVENT = 0x80000005

# Canonical modifier names -> sway's (xkb) modifier names in bindsym.
_SWAY_MODIFIERS = {"ctrl": "Ctrl", "alt": "Mod1", "shift": "Shift", "super": "Mod4", "altgr": "Mod5"}


class SwayIPC:
    """One connection to sway's IPC socket (thread-safe: one request at a time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(str(path))
        except OSError as exc:
            self._sock.close()
            raise DisplayError(f"cannot reach sway's IPC socket {path}: {exc} (is sway running, "
                               "and is $SWAYSOCK this session's?)") from None
        self._lock = threading.Lock()

    def request(self, kind: int, payload: str = "") -> Any:
        data = payload.encode()
        with self._lock:
            self._sock.sendall(_HEADER.pack(_MAGIC, len(data), kind) + data)
            _, body = self._read()
        return json.loads(body)

    def _read(self) -> tuple[int, bytes]:
        magic, length, kind = _HEADER.unpack(self._recv(_HEADER.size))
        if magic != _MAGIC:
            raise DisplayError(f"{self.path} did not answer in sway's IPC protocol")
        return kind, self._recv(length)

    def _recv(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self._sock.recv(size - len(chunks))
            if not chunk:
                raise DisplayError(f"sway closed its IPC socket {self.path} (did sway exit?)")
            chunks += chunk
        return bytes(chunks)

    def command(self, commands: str) -> None:
        """Run sway commands (``;``-separated); InputBackendError naming the one that failed."""
        for result in self.request(RUN_COMMAND, commands):
            if not result.get("success"):
                raise InputBackendError(f"sway refused {commands!r}: {result.get('error', '?')}")

    def subscribe(self, names: list[str]) -> None:
        """Have sway send this connection the events ``names`` (read them with events())."""
        reply = self.request(SUBSCRIBE, json.dumps(names))
        if not reply.get("success"):
            raise DisplayError(f"sway refused the subscription to {names}")

    def events(self) -> Iterator[tuple[int, Any]]:
        """(type, body) of each event subscribed to, until the connection is closed."""
        while True:
            try:
                kind, body = self._read()
            except (DisplayError, OSError):
                return
            yield kind, json.loads(body)

    def outputs(self) -> list[OutputInfo]:
        found = []
        for output in self.request(GET_OUTPUTS):
            if not output.get("active", True):
                continue
            rect = output["rect"]
            found.append(OutputInfo(str(output["name"]),
                                    (int(rect["x"]), int(rect["y"]), int(rect["width"]),
                                     int(rect["height"])),
                                    float(output.get("scale") or 1.0)))
        return found

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def tree_windows(tree: dict[str, Any]) -> list[WindowInfo]:
    """Application windows (native Wayland and Xwayland) in sway's tree, in tree order."""
    found: list[WindowInfo] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("pid") and node.get("type") in ("con", "floating_con"):
            rect = node["rect"]
            found.append(WindowInfo(str(node.get("name") or ""),
                                    (int(rect["x"]), int(rect["y"]), int(rect["width"]),
                                     int(rect["height"]))))
        for child in (*node.get("nodes", ()), *node.get("floating_nodes", ())):
            walk(child)

    walk(tree)
    return found


class SwayWindows:
    """:class:`~guiagent.platform.base.WindowList` from sway's window tree."""

    def __init__(self, swaysock: Path) -> None:
        self._ipc = SwayIPC(swaysock)

    def all(self) -> list[WindowInfo]:
        return tree_windows(self._ipc.request(GET_TREE))

    def under_pointer(self) -> WindowInfo | None:
        raise PlatformUnsupported(
            "sway does not tell clients where the pointer is, so the window under it is unknown "
            "on Wayland; list windows with all() and pick one by title or box instead")

    def close(self) -> None:
        self._ipc.close()


def sway_combo(keys: tuple[str, ...]) -> str:
    """Canonical key names -> a sway ``bindsym`` combination (``Ctrl+Mod1+Shift+q``)."""
    names = []
    for key in keys:
        spec = keynames.spec(key)
        names.append(_SWAY_MODIFIERS.get(key) or (spec.xdotool if spec else key))
    return "+".join(names)


class SwayHotkeyListener:
    """A global hotkey on sway: binds the combination to a no-op command and watches sway's
    binding events (Wayland lets no client snoop other clients' keys). While bound, the
    combination goes to guiagent, not to the focused application."""

    def __init__(self, swaysock: Path, keys: tuple[str, ...], callback: Callable[[], None]) -> None:
        self._swaysock = swaysock
        self._combo = sway_combo(keys)
        self._marker = f"nop guiagent-hotkey-{id(self):x}"
        self._callback = callback
        self._control: SwayIPC | None = None
        self._watch: SwayIPC | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._watch = SwayIPC(self._swaysock)
        self._watch.subscribe(["binding"])  # before the binding exists: no press is missed
        self._control = SwayIPC(self._swaysock)
        self._control.command(f"bindsym --no-repeat {self._combo} {self._marker}")
        self._thread = threading.Thread(target=self._run, args=(self._watch.events(),), daemon=True,
                                        name="guiagent-sway-hotkey")
        self._thread.start()

    def _run(self, events: Iterator[tuple[int, Any]]) -> None:
        for kind, body in events:
            if kind == _BINDING_EVENT and body.get("binding", {}).get("command") == self._marker:
                self._callback()

    def stop(self) -> None:
        if self._control is not None:
            with contextlib.suppress(InputBackendError, DisplayError, OSError):
                self._control.command(f"unbindsym {self._combo}")  # fails only when sway is gone
            self._control.close()
            self._control = None
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
