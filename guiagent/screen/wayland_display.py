"""A virtual Wayland desktop for tests, demos and CI: headless sway (wlroots) at 3840x2160.

sway refuses to run as root, so as root pass ``user=`` (an unprivileged account; it owns the
session's private runtime directory). Programs launched here run natively on Wayland (GTK,
Qt, foot) or, when the ``xwayland`` package is installed, as X11 clients of Xwayland.

A headless seat has no keyboard, and an application creates its ``wl_keyboard`` only once the
seat has one: keys sent in between are lost. The display therefore holds a virtual keyboard
(one that never presses a key) from its start, as a desktop has its real keyboard.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from guiagent.errors import DisplayError
from guiagent.platform import PLATFORM_ENV
from guiagent.screen.display import DEFAULT_SIZE, VirtualDisplay
from guiagent.screen.polling import wait_until
from guiagent.screen.processes import end_program, start_program

# No bar, no borders, no key bindings (every key reaches the application), click to focus
# (a pointer that only moves past a window does not take the keyboard from another one).
SWAY_CONFIG = """\
output * resolution {width}x{height} position 0 0 scale {scale} bg #1e3a5f solid_color
default_border none
default_floating_border none
focus_follows_mouse no
mouse_warping none
xwayland {xwayland}
exec sh -c 'printf %s "$DISPLAY" > "$XDG_RUNTIME_DIR/xwayland-display"'
"""

_SAVED = ("WAYLAND_DISPLAY", "SWAYSOCK", PLATFORM_ENV)


class VirtualWaylandDisplay(VirtualDisplay):
    """Headless sway (``WLR_BACKENDS=headless``, pixman renderer) as a context manager.

    ``size`` is the output's physical size and ``scale`` its Wayland scale (the screen is
    ``size / scale`` logical pixels). ``user`` runs sway as that account (required as root).
    ``name`` is the Wayland socket's path: pass the display to ``Desktop`` as for Xvfb.
    ``set_environment`` points ``$WAYLAND_DISPLAY``, ``$SWAYSOCK`` and ``$GUIAGENT_PLATFORM``
    at it while it runs (restored afterwards); ``env`` is the environment for its programs.
    """

    def __init__(self, size: tuple[int, int] = DEFAULT_SIZE, *, scale: float = 1.0,
                 user: str | None = None, xwayland: bool = True, set_environment: bool = True,
                 timeout: float = 20.0) -> None:
        super().__init__(size, window_manager=False, set_environment=set_environment,
                         timeout=timeout)
        if scale <= 0:
            raise DisplayError(f"the output scale must be positive, got {scale}")
        self.scale = scale
        self.user = user
        self.xwayland = xwayland
        self.runtime_dir: Path | None = None
        self.swaysock: Path | None = None
        self.x_display = ""  # Xwayland's X display (":3"), empty without Xwayland
        self._sway: subprocess.Popen[bytes] | None = None
        self._seat_keyboard: Any = None  # (connection, keyboard) held while the display runs
        self._saved_env: dict[str, str | None] = {}

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.runtime_dir is not None:
            env.update(XDG_RUNTIME_DIR=str(self.runtime_dir), WAYLAND_DISPLAY=self.name,
                       SWAYSOCK=str(self.swaysock), XDG_SESSION_TYPE="wayland")
            env[PLATFORM_ENV] = "wayland"
            # Never an X display other than this session's own: without Xwayland, X clients
            # fail instead of opening on whatever $DISPLAY the caller had.
            env["DISPLAY"] = self.x_display
        return env

    def start(self) -> VirtualWaylandDisplay:
        sway = shutil.which("sway")
        if sway is None:
            raise DisplayError("sway is not installed: `sudo apt-get install sway grim` "
                               "(and xwayland for X11 applications)")
        uid, gid = self._account()
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="guiagent-wayland-"))  # mode 0700
        os.chown(self.runtime_dir, uid, gid)
        self.swaysock = self.runtime_dir / "sway-ipc.guiagent.sock"
        width, height = self.size
        with_x = self.xwayland and shutil.which("Xwayland") is not None
        config = self.runtime_dir / "config"
        config.write_text(SWAY_CONFIG.format(width=width, height=height, scale=f"{self.scale:g}",
                                             xwayland="enable" if with_x else "disable"))
        log = self.runtime_dir / "sway.log"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.runtime_dir),
               "XDG_RUNTIME_DIR": str(self.runtime_dir), "SWAYSOCK": str(self.swaysock),
               "WLR_BACKENDS": "headless", "WLR_RENDERER": "pixman",
               "WLR_LIBINPUT_NO_DEVICES": "1", "LANG": os.environ.get("LANG", "C.UTF-8")}
        switch: dict[str, Any] = {}
        if uid != os.getuid():
            switch = {"user": uid, "group": gid, "extra_groups": []}
        with log.open("wb") as out:
            self._sway = subprocess.Popen([sway, "-c", str(config)], env=env, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          **switch)
        try:
            wait_until(self._ready, self.timeout, "headless sway to open its Wayland and IPC sockets")
            if with_x:
                marker = self.runtime_dir / "xwayland-display"
                wait_until(lambda: marker.exists() and bool(marker.read_text()), self.timeout,
                           "sway to start Xwayland")
                self.x_display = marker.read_text().strip()
                if uid != os.getuid():
                    _allow_x_client_user(self.x_display, uid, gid, self.timeout)
            self._hold_keyboard()
        except Exception:
            self.stop()
            raise
        if self.set_environment:
            self._saved_env = {key: os.environ.get(key) for key in _SAVED}
            os.environ.update(WAYLAND_DISPLAY=self.name, SWAYSOCK=str(self.swaysock))
            os.environ[PLATFORM_ENV] = "wayland"
        return self

    def _hold_keyboard(self) -> None:
        from guiagent.platform.wayland.virtual_keyboard import VirtualKeyboard
        from guiagent.platform.wayland.wire import WaylandConnection

        connection = WaylandConnection(Path(self.name))
        try:
            self._seat_keyboard = (connection, VirtualKeyboard(connection))
        except BaseException:
            connection.close()
            raise

    def _account(self) -> tuple[int, int]:
        if self.user is None:
            if os.getuid() == 0:
                raise DisplayError("sway refuses to run as root: pass user= an unprivileged "
                                   "account (e.g. one made with `useradd -r -M guiagent`)")
            return os.getuid(), os.getgid()
        try:
            account = pwd.getpwnam(self.user)
        except KeyError:
            raise DisplayError(f"no user {self.user!r} to run sway as: create it "
                               f"(`useradd -r -M {self.user}`) or pass another") from None
        return account.pw_uid, account.pw_gid

    def _ready(self) -> bool:
        assert self.runtime_dir is not None and self.swaysock is not None
        if self._sway is not None and self._sway.poll() is not None:
            log = (self.runtime_dir / "sway.log").read_text(errors="replace").strip()
            raise DisplayError(f"sway exited with status {self._sway.returncode}: "
                               f"{log.splitlines()[-1] if log else 'no output'}")
        sockets = sorted(p for p in self.runtime_dir.glob("wayland-*") if p.suffix != ".lock")
        if not sockets or not self.swaysock.exists():
            return False
        self.name = str(sockets[0])
        from guiagent.platform.wayland.sway import SwayIPC

        ipc = SwayIPC(self.swaysock)
        try:
            return bool(ipc.outputs())
        finally:
            ipc.close()

    def stop(self) -> None:
        for process in self._launched:
            end_program(process)
        self._launched.clear()
        if self._seat_keyboard is not None:
            connection, keyboard = self._seat_keyboard
            keyboard.close()
            connection.close()
            self._seat_keyboard = None
        if self._sway is not None:
            end_program(self._sway)  # its process group: Xwayland too
            self._sway = None
        if self.runtime_dir is not None:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
            self.runtime_dir = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        self.name = ""
        self.x_display = ""

    def launch(self, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a program in this session (natively on Wayland, or on Xwayland for X11
        programs); ``env`` entries are added to the session's environment."""
        if not self.name:
            raise DisplayError("start the virtual Wayland display before launching programs on it")
        env = {**self.env, **popen_kwargs.pop("env", {})}
        process = start_program(argv, env=env, **popen_kwargs)
        self._launched = [p for p in self._launched if p.poll() is None] + [process]
        return process

    def __enter__(self) -> VirtualWaylandDisplay:
        return self.start()


def _allow_x_client_user(x_display: str, uid: int, gid: int, timeout: float) -> None:
    """Let this process's user connect to Xwayland, which admits only sway's user: a child
    that becomes sway's user sends X's ChangeHosts (``xhost +si:localuser:ME``, without
    needing xhost installed). sway starts Xwayland on this first connection, which can take
    seconds on a busy machine: the child waits up to ``timeout``."""
    import socket
    import struct

    me = pwd.getpwuid(os.getuid()).pw_name.encode()
    address = b"localuser\0" + me
    padded = address + b"\0" * (-len(address) % 4)
    change_hosts = struct.pack("<BBHBBH", 109, 0, 2 + len(padded) // 4, 5, 0, len(address)) + padded
    get_input_focus = struct.pack("<BBH", 43, 0, 1)  # its reply says ChangeHosts was accepted
    path = f"/tmp/.X11-unix/X{x_display.lstrip(':').split('.')[0]}"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status only
        status = 1
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(timeout)
            conn.connect(path)
            conn.sendall(struct.pack("<BxHHHHxx", ord("l"), 11, 0, 0, 0))
            header = conn.recv(8, socket.MSG_WAITALL)
            if header[:1] == b"\1":
                conn.recv(struct.unpack("<H", header[6:8])[0] * 4, socket.MSG_WAITALL)
                conn.sendall(change_hosts + get_input_focus)
                status = 0 if conn.recv(32, socket.MSG_WAITALL)[:1] == b"\1" else 1
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise DisplayError(f"could not let {me.decode()} connect to Xwayland {x_display}: X11 "
                           "programs would not start; pass xwayland=False to go without them")
