"""The xdg-desktop-portal route (GNOME, KDE Plasma): ScreenCast capture and RemoteDesktop input.

What runs for real: the ScreenCast portal on headless sway. A private session bus carries
xdg-desktop-portal and xdg-desktop-portal-wlr, PipeWire and WirePlumber run beside them, and
guiagent's PortalCapture asks for a session, gets its PipeWire stream and grabs frames that
must show a window launched on sway, at the output's size, the same as grim's pixels; a second
session starts from the restore token kept in ``$XDG_STATE_HOME/guiagent``.

xdg-desktop-portal-wlr 0.7 refuses to cast from a compositor that renders with pixman (no
GPU here): it requires a DMA-BUF format in every screencopy frame although it then copies
through shared memory (upstream issue emersion/xdg-desktop-portal-wlr#289). The fixture puts a
small Wayland proxy between it and sway that adds the missing ``linux_dmabuf`` event; pixels
still travel sway -> shared memory -> PipeWire -> guiagent untouched.

What runs against a fake: RemoteDesktop. No wlroots backend has it and no GNOME or KDE session
runs here, so a fake ``org.freedesktop.portal.Desktop`` on a private bus checks each call's
signature and arguments and records them; the tests assert the calls guiagent's injector sends
for clicks, typing, keys and scrolling, and the Request/Response conversation around them.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.low_level import Message

from guiagent.errors import PlatformUnsupported
from guiagent.platform import platform_for, session_type
from guiagent.platform.portal import PortalPlatform, uses_portal
from guiagent.platform.portal.capture import PortalCapture
from guiagent.platform.portal.input import PortalInput, keysym
from guiagent.platform.portal.portal import (
    REMOTE_DESKTOP,
    SCREENCAST,
    SESSIONS,
    PortalError,
    TokenStore,
    default_token_path,
)
from guiagent.platform.wayland import WaylandPlatform
from guiagent.screen.processes import end_program
from guiagent.screen.wayland_display import VirtualWaylandDisplay

DBUS_DAEMON = shutil.which("dbus-daemon")
needs_dbus = pytest.mark.skipif(DBUS_DAEMON is None, reason="dbus-daemon not installed")


_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
# Only what the ScreenCast portal needs is activatable: the document portal would mount a FUSE
# file system in the runtime directory and outlive the test.
_SERVICES = ("org.freedesktop.portal.Desktop", "org.freedesktop.impl.portal.desktop.wlr",
             "org.freedesktop.impl.portal.PermissionStore")


class PrivateBus:
    """A session bus of our own; ``env`` is what its activated services see (xdg-desktop-portal
    is started by activation), and only :data:`_SERVICES` can be activated."""

    def __init__(self, env: dict[str, str], directory: Path, log: Any = subprocess.DEVNULL) -> None:
        assert DBUS_DAEMON is not None
        services = directory / "dbus-services"
        services.mkdir(exist_ok=True)
        for name in _SERVICES:
            source = Path("/usr/share/dbus-1/services") / f"{name}.service"
            if source.exists():
                (services / source.name).write_text(source.read_text())
        config = directory / "dbus-session.conf"
        config.write_text(_BUS_CONFIG.format(socket=directory / "bus", services=services))
        self.process = subprocess.Popen(
            [DBUS_DAEMON, f"--config-file={config}", "--nofork", "--print-address=1"],
            env=env, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
        assert self.process.stdout is not None
        self.address = self.process.stdout.readline().decode().strip()
        assert self.address.startswith("unix:"), "dbus-daemon printed no address"

    def service_pids(self) -> list[int]:
        """The processes connected to this bus (its activated services and our own)."""
        conn = open_dbus_connection(self.address)
        try:
            names = conn.send_and_get_reply(message_bus.ListNames(), timeout=5).body[0]
            pids = []
            for name in names:
                if name.startswith(":"):
                    reply = conn.send_and_get_reply(
                        message_bus.GetConnectionUnixProcessID(name), timeout=5)
                    if reply.header.message_type == MessageType.method_return:
                        pids.append(int(reply.body[0]))
            return pids
        finally:
            conn.close()

    def stop(self) -> None:
        """End the bus and every service it started (by PID), never ourselves."""
        try:
            pids = self.service_pids()
        except (OSError, TimeoutError, ValueError):
            pids = []
        pids = sorted(set(pids) - {os.getpid(), self.process.pid})
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        for pid in pids:
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


# -- a fake portal (RemoteDesktop + ScreenCast) on a private bus --------------------------------
_SIGNATURES = {
    "CreateSession": "a{sv}", "SelectSources": "oa{sv}", "SelectDevices": "oa{sv}",
    "Start": "osa{sv}", "OpenPipeWireRemote": "oa{sv}",
    "NotifyPointerMotionAbsolute": "oa{sv}udd", "NotifyPointerButton": "oa{sv}iu",
    "NotifyPointerAxisDiscrete": "oa{sv}ui", "NotifyKeyboardKeysym": "oa{sv}iu",
}
PATH = "/org/freedesktop/portal/desktop"
STREAM_NODE = 44


class FakePortal:
    """Serves the portal's calls guiagent makes and records them as ``(interface, member,
    args)``; a call with a wrong signature, a missing handle_token, an unknown session handle
    or a request path that differs from the one the spec gives is answered with an error and
    recorded in ``errors``."""

    def __init__(self, address: str, *, remote_desktop: bool = True, answer: int = 0) -> None:
        self.remote_desktop = remote_desktop
        self.answer = answer  # the response code of Start (1: the user said no)
        self.calls: list[tuple[str, str, tuple[Any, ...]]] = []
        self.errors: list[str] = []
        self.sessions: set[str] = set()
        self.closed: list[str] = []
        self.tokens_given: list[str] = []
        self._conn: DBusConnection = open_dbus_connection(address)
        reply = self._conn.send_and_get_reply(
            message_bus.RequestName("org.freedesktop.portal.Desktop"), timeout=5)
        assert reply.body[0] == 1, "the fake could not own org.freedesktop.portal.Desktop"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._conn.receive(timeout=0.1)
            except TimeoutError:
                continue
            except OSError:
                return
            if message.header.message_type == MessageType.method_call:
                self._handle(message)

    def _fail(self, message: Message, why: str) -> None:
        self.errors.append(why)
        self._conn.send_message(new_error(message, "org.freedesktop.DBus.Error.InvalidArgs",
                                          "s", (why,)))

    def _handle(self, message: Message) -> None:
        fields = message.header.fields
        interface = fields.get(HeaderFields.interface, "")
        member = fields.get(HeaderFields.member, "")
        path = fields.get(HeaderFields.path, "")
        signature = fields.get(HeaderFields.signature, "")
        sender = fields.get(HeaderFields.sender, "")
        body = tuple(message.body)
        if interface == "org.freedesktop.DBus.Properties" and member == "Get":
            target, name = body
            if target == REMOTE_DESKTOP and not self.remote_desktop:
                self._conn.send_message(new_error(
                    message, "org.freedesktop.DBus.Error.InvalidArgs", "s", ("No such interface",)))
                return
            value = {"version": 2 if target == REMOTE_DESKTOP else 4,
                     "AvailableCursorModes": 7, "AvailableDeviceTypes": 7,
                     "AvailableSourceTypes": 7}.get(name)
            if value is None:
                self._fail(message, f"unknown property {name}")
                return
            self._conn.send_message(new_method_return(message, "v", (("u", value),)))
            return
        if interface == "org.freedesktop.portal.Session" and member == "Close":
            self.closed.append(path)
            self.sessions.discard(path)
            self._conn.send_message(new_method_return(message))
            return
        if interface not in (SCREENCAST, REMOTE_DESKTOP) or path != PATH:
            self._fail(message, f"no method {interface}.{member} at {path}")
            return
        if interface == REMOTE_DESKTOP and not self.remote_desktop:
            self._fail(message, "No such interface")
            return
        if _SIGNATURES.get(member) != signature:
            self._fail(message, f"{member} called with signature {signature!r}")
            return
        self.calls.append((interface, member, body))
        options = body[0] if member == "CreateSession" else body[1] if member != "Start" else body[2]
        if member != "CreateSession" and body[0] not in self.sessions:
            self._fail(message, f"{member} on unknown session {body[0]}")
            return
        if member.startswith("Notify"):
            self._conn.send_message(new_method_return(message))
            return
        if member == "OpenPipeWireRemote":
            self._fail(message, "the fake has no PipeWire")
            return
        token = options.get("handle_token", ("s", ""))[1]
        if not token:
            self._fail(message, f"{member} without a handle_token")
            return
        sender_part = sender.lstrip(":").replace(".", "_")
        request = f"{PATH}/request/{sender_part}/{token}"
        self._conn.send_message(new_method_return(message, "o", (request,)))
        response = 0
        results: dict[str, tuple[str, Any]] = {}
        if member == "CreateSession":
            session_token = options.get("session_handle_token", ("s", ""))[1]
            if not session_token:
                self.errors.append("CreateSession without a session_handle_token")
                response = 2
            session = f"{PATH}/session/{sender_part}/{session_token}"
            self.sessions.add(session)
            results = {"session_handle": ("s", session)}
        elif member == "Start":
            response = self.answer
            new_token = f"token-{len(self.tokens_given) + 1}"
            self.tokens_given.append(new_token)
            results = {
                "devices": ("u", 3),
                "streams": ("a(ua{sv})", [(STREAM_NODE, {"position": ("(ii)", (100, 50)),
                                                         "size": ("(ii)", (1280, 720)),
                                                         "source_type": ("u", 1)})]),
                "restore_token": ("s", new_token),
            }
        signal = new_signal(DBusAddress(request, interface="org.freedesktop.portal.Request"),
                            "Response", "ua{sv}", (response, results))
        self._conn.send_message(signal)

    def notifications(self) -> list[tuple[str, tuple[Any, ...]]]:
        """The Notify* calls: (member, arguments after the session handle and options)."""
        return [(member, args[2:]) for _, member, args in self.calls if member.startswith("Notify")]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._conn.close()


@pytest.fixture()
def fake_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateBus]:
    if DBUS_DAEMON is None:
        pytest.skip("dbus-daemon not installed")
    bus = PrivateBus(dict(os.environ), tmp_path)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    try:
        yield bus
    finally:
        bus.stop()


@pytest.fixture()
def fake(fake_bus: PrivateBus) -> Iterator[FakePortal]:
    portal = FakePortal(fake_bus.address)
    try:
        yield portal
    finally:
        portal.close()


# -- without a portal ---------------------------------------------------------------------------
def test_the_portal_is_chosen_for_wayland_desktops_that_are_not_sway() -> None:
    gnome = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland",
             "XDG_CURRENT_DESKTOP": "GNOME"}
    kde = {**gnome, "XDG_CURRENT_DESKTOP": "KDE"}
    sway = {**gnome, "XDG_CURRENT_DESKTOP": "sway", "SWAYSOCK": "/run/user/1000/sway-ipc.sock"}
    assert isinstance(platform_for(None, gnome), PortalPlatform)
    assert isinstance(platform_for(None, kde), PortalPlatform)
    assert isinstance(platform_for(None, sway), WaylandPlatform)
    assert isinstance(platform_for(None, {**sway, "GUIAGENT_PLATFORM": "portal"}), PortalPlatform)
    assert isinstance(platform_for(None, {**gnome, "GUIAGENT_PLATFORM": "wayland"}),
                      PortalPlatform)  # Xwayland users set wayland: GNOME still gets the portal
    # A display other than the session's own (a VirtualWaylandDisplay) is sway's.
    assert isinstance(platform_for("/tmp/guiagent-wayland-x/wayland-1", gnome), WaylandPlatform)
    assert session_type({"GUIAGENT_PLATFORM": "portal"}) == "wayland"
    assert not uses_portal(None, {**gnome, "XDG_CURRENT_DESKTOP": "Hyprland"})


def test_what_the_portals_cannot_do_says_what_works() -> None:
    platform = PortalPlatform()
    with pytest.raises(PlatformUnsupported, match=r"no list of the other windows.*accessibility"):
        platform.windows(None)
    with pytest.raises(PlatformUnsupported, match="abort_hotkey=None"):
        platform.hotkey_listener(("ctrl", "alt", "q"), lambda: None, None)


def test_keysyms() -> None:
    assert keysym("a") == 0x61 and keysym("é") == 0xE9 and keysym("✓") == 0x1002713
    assert keysym("enter") == 0xFF0D and keysym("\n") == 0xFF0D and keysym("ctrl") == 0xFFE3
    assert keysym("f5") == 0xFFC2 and keysym("pagedown") == 0xFF56


def test_restore_tokens_are_kept_private(tmp_path: Path) -> None:
    assert default_token_path({"XDG_STATE_HOME": str(tmp_path)}) == \
        tmp_path / "guiagent" / "portal-tokens.json"
    store = TokenStore(tmp_path / "guiagent" / "portal-tokens.json")
    assert store.load("screencast") is None
    store.save("screencast", "abc")
    store.save("remote-desktop", "def")
    assert store.load("screencast") == "abc" and store.load("remote-desktop") == "def"
    assert (store.path.stat().st_mode & 0o777) == 0o600


# -- RemoteDesktop against the fake portal ------------------------------------------------------
@needs_dbus
def test_remote_desktop_session_asks_once_and_keeps_the_restore_token(
        fake: FakePortal, tmp_path: Path) -> None:
    injector = PortalPlatform().input_injector(None)
    capture = PortalPlatform().screen_capture(None)  # shares the session: no second dialog
    try:
        members = [(i.rsplit(".", 1)[-1], m) for i, m, _ in fake.calls]
        assert members == [("RemoteDesktop", "CreateSession"), ("RemoteDesktop", "SelectDevices"),
                           ("ScreenCast", "SelectSources"), ("RemoteDesktop", "Start")]
        devices = fake.calls[1][2][1]
        assert devices["types"] == ("u", 3) and devices["persist_mode"] == ("u", 2)
        assert "restore_token" not in devices  # nothing saved yet
        sources = fake.calls[2][2][1]
        assert sources["types"] == ("u", 1) and sources["cursor_mode"] == ("u", 1)
        assert "persist_mode" not in sources  # remote desktop sessions persist via devices only
        assert fake.calls[3][2][1] == ""  # no parent window
        assert isinstance(capture, PortalCapture) and isinstance(injector, PortalInput)
        assert capture.session is injector.session
    finally:
        capture.close()
        injector.close()
    assert fake.closed and not fake.errors
    saved = json.loads((tmp_path / "state" / "guiagent" / "portal-tokens.json").read_text())
    assert saved == {"remote-desktop": "token-1"}
    # The next session hands the token back (no dialog) and keeps the new one.
    fake.calls.clear()
    injector = PortalPlatform().input_injector(None)
    injector.close()
    assert fake.calls[1][2][1]["restore_token"] == ("s", "token-1")
    saved = json.loads((tmp_path / "state" / "guiagent" / "portal-tokens.json").read_text())
    assert saved == {"remote-desktop": "token-2"} and not fake.errors


@needs_dbus
def test_clicks_typing_keys_and_scrolling_become_remote_desktop_calls(fake: FakePortal) -> None:
    injector = PortalPlatform().input_injector(None)
    try:
        assert injector.position() == (100 + 640, 50 + 360)  # the shared screen's middle
        injector.move(300, 200)
        injector.button("left", True)
        injector.button("left", False)
        injector.button("right", True)
        injector.button("right", False)
        assert injector.position() == (300, 200)
        injector.scroll("down", 3)
        injector.scroll("left", 2)
        injector.type("aé✓\n")
        injector.keys(("ctrl", "shift", "s"))
    finally:
        injector.close()
    assert not fake.errors, fake.errors
    press, release = 1, 0
    assert fake.notifications() == [
        # Absolute motion on the stream, in its own coordinates: the screen starts at (100, 50).
        ("NotifyPointerMotionAbsolute", (STREAM_NODE, 200.0, 150.0)),
        ("NotifyPointerButton", (0x110, press)), ("NotifyPointerButton", (0x110, release)),
        ("NotifyPointerButton", (0x111, press)), ("NotifyPointerButton", (0x111, release)),
        ("NotifyPointerAxisDiscrete", (0, 3)), ("NotifyPointerAxisDiscrete", (1, -2)),
        ("NotifyKeyboardKeysym", (0x61, press)), ("NotifyKeyboardKeysym", (0x61, release)),
        ("NotifyKeyboardKeysym", (0xE9, press)), ("NotifyKeyboardKeysym", (0xE9, release)),
        ("NotifyKeyboardKeysym", (0x1002713, press)), ("NotifyKeyboardKeysym", (0x1002713, release)),
        ("NotifyKeyboardKeysym", (0xFF0D, press)), ("NotifyKeyboardKeysym", (0xFF0D, release)),
        ("NotifyKeyboardKeysym", (0xFFE3, press)), ("NotifyKeyboardKeysym", (0xFFE1, press)),
        ("NotifyKeyboardKeysym", (0x73, press)), ("NotifyKeyboardKeysym", (0x73, release)),
        ("NotifyKeyboardKeysym", (0xFFE1, release)), ("NotifyKeyboardKeysym", (0xFFE3, release)),
    ]
    # Every Notify call names the started session and passes empty options.
    session = fake.calls[0]
    handles = {args[0] for _, member, args in fake.calls if member.startswith("Notify")}
    assert handles == set(fake.closed) and session[1] == "CreateSession"
    assert all(args[1] == {} for _, member, args in fake.calls if member.startswith("Notify"))


@needs_dbus
def test_a_point_off_the_shared_screens_is_refused(fake: FakePortal) -> None:
    injector = PortalInput()
    try:
        with pytest.raises(Exception, match="on no screen shared"):
            injector.move(5, 5)  # the shared screen starts at (100, 50)
    finally:
        injector.close()
    assert not fake.notifications()


@needs_dbus
def test_a_refused_permission_says_so(fake_bus: PrivateBus) -> None:
    portal = FakePortal(fake_bus.address, answer=1)
    try:
        with pytest.raises(PortalError, match="refused"):
            PortalInput()
    finally:
        portal.close()
    assert not SESSIONS._open  # nothing left half-open


@needs_dbus
def test_without_remote_desktop_input_is_unsupported(fake_bus: PrivateBus) -> None:
    portal = FakePortal(fake_bus.address, remote_desktop=False)
    try:
        with pytest.raises(PlatformUnsupported, match=r"no RemoteDesktop interface.*capture"):
            PortalPlatform().input_injector(None)
        assert not [call for call in portal.calls if call[1] == "SelectDevices"]
    finally:
        portal.close()


@needs_dbus
def test_without_a_portal_the_error_says_what_to_run(fake_bus: PrivateBus) -> None:
    with pytest.raises(PlatformUnsupported, match=r"no ScreenCast interface.*xdg-desktop-portal"):
        PortalInput()


# -- ScreenCast for real: headless sway + xdg-desktop-portal-wlr + PipeWire ---------------------
_STACK = ("sway", "grim", "foot", "pipewire", "wireplumber", "gst-launch-1.0")
_XDPW = Path("/usr/libexec/xdg-desktop-portal-wlr")
_XDP = Path("/usr/libexec/xdg-desktop-portal")
_MISSING = [tool for tool in _STACK if shutil.which(tool) is None] + [
    str(path) for path in (_XDPW, _XDP) if not path.exists()]
needs_stack = pytest.mark.skipif(
    bool(_MISSING) or DBUS_DAEMON is None,
    reason=f"{', '.join(_MISSING) or 'dbus-daemon'} not installed (`apt-get install sway grim foot "
           "xdg-desktop-portal xdg-desktop-portal-wlr pipewire wireplumber gstreamer1.0-tools "
           "gstreamer1.0-pipewire`)")

_SCREENCOPY_MANAGER = b"zwlr_screencopy_manager_v1\0"
_DRM_XRGB8888 = 0x34325258


def _messages(buf: bytearray) -> Iterator[tuple[int, int, int, int]]:
    """(offset, object, opcode, size) of each whole Wayland message in ``buf``."""
    pos = 0
    while len(buf) - pos >= 8:
        obj, word = struct.unpack_from("<II", buf, pos)
        size = word >> 16
        if size < 8 or len(buf) - pos < size:
            return
        yield pos, obj, word & 0xFFFF, size
        pos += size


class DmabufAnnouncer:
    """A Wayland proxy for xdg-desktop-portal-wlr 0.7 on a pixman-rendered sway: it forwards
    every byte and file descriptor both ways, and before each screencopy frame's
    ``buffer_done`` that came without a ``linux_dmabuf`` event it adds one (XRGB8888, the
    frame's size), which that xdpw version insists on seeing (emersion/xdg-desktop-portal-wlr
    #289). xdpw has no GPU to make a DMA-BUF with, so it still copies through shared memory."""

    def __init__(self, listen: Path, target: Path) -> None:
        self.listen, self.target = listen, target
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(listen))
        self._server.listen(8)
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(str(self.target))
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        managers: set[int] = set()
        frames: dict[int, list[int]] = {}  # frame id -> [width, height, saw linux_dmabuf]
        pending = {"client": bytearray(), "upstream": bytearray()}
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, "client")
            selector.register(upstream, selectors.EVENT_READ, "upstream")
            try:
                while True:
                    for key, _ in selector.select():
                        data, fds, _, _ = socket.recv_fds(key.fileobj, 1 << 16, 253)  # type: ignore[arg-type]
                        if not data:
                            return
                        buf = pending[key.data]
                        buf += data
                        out = bytearray()
                        end = 0
                        for pos, obj, opcode, size in _messages(buf):
                            end = pos + size
                            if key.data == "client":
                                self._requests(buf, pos, obj, opcode, size, managers, frames)
                            else:
                                out += self._extra_event(buf, pos, obj, opcode, frames)
                            out += buf[pos:end]
                        del buf[:end]
                        destination = upstream if key.data == "client" else client
                        if fds:
                            socket.send_fds(destination, [bytes(out)], fds)
                            for fd in fds:
                                os.close(fd)
                        elif out:
                            destination.sendall(out)
            except OSError:
                return
            finally:
                client.close()
                upstream.close()

    @staticmethod
    def _requests(buf: bytearray, pos: int, obj: int, opcode: int, size: int,
                  managers: set[int], frames: dict[int, list[int]]) -> None:
        name_at = pos + 16
        if opcode == 0 and buf[name_at:name_at + len(_SCREENCOPY_MANAGER)] == _SCREENCOPY_MANAGER:
            managers.add(struct.unpack_from("<I", buf, pos + size - 4)[0])  # wl_registry.bind
        elif obj in managers and opcode in (0, 1):  # capture_output(_region): the new frame
            frames[struct.unpack_from("<I", buf, pos + 8)[0]] = [0, 0, 0]

    @staticmethod
    def _extra_event(buf: bytearray, pos: int, obj: int, opcode: int,
                     frames: dict[int, list[int]]) -> bytes:
        frame = frames.get(obj)
        if frame is None:
            return b""
        if opcode == 0:  # buffer(format, width, height, stride)
            frame[0], frame[1] = struct.unpack_from("<II", buf, pos + 12)
        elif opcode == 5:  # linux_dmabuf: the compositor sent one itself
            frame[2] = 1
        elif opcode == 6 and not frame[2]:  # buffer_done
            return struct.pack("<IIIII", obj, (20 << 16) | 5, _DRM_XRGB8888, frame[0], frame[1])
        elif opcode in (2, 3):  # ready, failed: the frame object is done
            frames.pop(obj, None)
        return b""

    def close(self) -> None:
        self._server.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)


class PortalStack:
    """Headless sway with a portal session beside it: a private session bus (activating
    xdg-desktop-portal and xdg-desktop-portal-wlr), PipeWire and WirePlumber."""

    def __init__(self, wayland: VirtualWaylandDisplay) -> None:
        assert wayland.runtime_dir is not None
        runtime = wayland.runtime_dir
        self.wayland = wayland
        self.proxy = DmabufAnnouncer(runtime / "wayland-xdpw", Path(wayland.name))
        config = runtime / "xdg-config" / "xdg-desktop-portal-wlr"
        config.mkdir(parents=True, exist_ok=True)
        (config / "config").write_text("[screencast]\nchooser_type=none\n")
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(runtime),
                    "XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(runtime / "xdg-config"),
                    "XDG_CURRENT_DESKTOP": "sway", "XDG_SESSION_TYPE": "wayland",
                    "WAYLAND_DISPLAY": str(self.proxy.listen), "LANG": "C.UTF-8"}
        self.log = (runtime / "portal-stack.log").open("wb")
        self.bus = PrivateBus(self.env, runtime, self.log)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = self.bus.address
        self.helpers: list[subprocess.Popen[bytes]] = []
        try:
            # The wlr backend started here rather than by the bus: its log goes to ours.
            for argv in (["pipewire"], ["wireplumber"], [str(_XDPW), "-l", "DEBUG"]):
                self.helpers.append(subprocess.Popen(argv, env=self.env, stdout=self.log,
                                                     stderr=self.log, start_new_session=True))
                time.sleep(0.3)
            self._wait_for_pipewire(runtime / "pipewire-0")
        except BaseException:
            self.close()
            raise

    def _wait_for_pipewire(self, sock: Path) -> None:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline, "PipeWire did not open its socket"
            time.sleep(0.05)

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def close(self) -> None:
        self.bus.stop()
        for helper in reversed(self.helpers):
            end_program(helper)
        self.proxy.close()
        self.log.close()


@pytest.fixture(scope="module")
def stack(sway_user: str | None) -> Iterator[PortalStack]:
    if _MISSING or DBUS_DAEMON is None:
        pytest.skip(f"{', '.join(_MISSING)} not installed")
    with VirtualWaylandDisplay((1280, 720), user=sway_user, set_environment=False,
                               xwayland=False) as wayland:
        stack = PortalStack(wayland)
        try:
            yield stack
        finally:
            stack.close()


def _grim(wayland: VirtualWaylandDisplay) -> np.ndarray:
    from guiagent.platform.wayland.wlroots import ppm_to_bgra

    result = subprocess.run(["grim", "-t", "ppm", "-"], env=wayland.env, capture_output=True,
                            check=True)
    return ppm_to_bgra(result.stdout)


def _share(frame: np.ndarray, bgr: tuple[int, int, int]) -> float:
    return float(np.all(frame[:, :, :3] == np.array(bgr, np.uint8), axis=2).mean())


def _foot(stack: PortalStack, background: str) -> subprocess.Popen[bytes]:
    """foot filling the output (tiled) with a blinking cursor: a screen that changes, as a
    desktop's does (xdg-desktop-portal-wlr sends frames only when the screen changes)."""
    return stack.wayland.launch(["foot", "-o", f"colors.background={background}", "-o",
                                 "cursor.blink=yes", "sh", "-c", "sleep 60"])


def _wait_for_colour(capture: PortalCapture, bgr: tuple[int, int, int], what: str) -> np.ndarray:
    deadline = time.monotonic() + 15
    frame = capture.grab((0, 0, 1280, 720))
    while _share(frame, bgr) < 0.9:
        assert time.monotonic() < deadline, f"the portal's frames never showed {what}"
        time.sleep(0.1)
        frame = capture.grab((0, 0, 1280, 720))
    return frame


@needs_stack
def test_screencast_frames_show_the_window_at_the_outputs_size(
        stack: PortalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", stack.bus.address)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("GUIAGENT_PLATFORM", "portal")
    from guiagent.platform import screen_capture

    foot = _foot(stack, "c03060")
    capture = screen_capture(None)
    assert isinstance(capture, PortalCapture)
    try:
        assert [o.box for o in capture.outputs()] == [(0, 0, 1280, 720)]
        assert capture.outputs()[0].scale == 1.0
        frame = _wait_for_colour(capture, (0x60, 0x30, 0xC0), "foot")
        assert frame.shape == (720, 1280, 4) and frame.dtype == np.uint8
        # The same pixels grim reads straight from sway (foot's blinking cursor aside).
        assert np.mean(frame[:, :, :3] != _grim(stack.wayland)[:, :, :3]) < 0.001
        part = capture.grab((100, 200, 300, 50))
        assert part.shape == (50, 300, 4)
        assert np.array_equal(part[:, :, :3], frame[200:250, 100:400, :3])
        end_program(foot)  # the window goes: the next frames show sway's background
        _wait_for_colour(capture, (0x5F, 0x3A, 0x1E), "the background after foot closed")
    finally:
        end_program(foot)
        capture.close()
    saved = json.loads((tmp_path / "state" / "guiagent" / "portal-tokens.json").read_text())
    assert saved.get("screencast")
    # The next session starts from the saved token (no chooser, no dialog).
    foot = _foot(stack, "30c060")
    again = PortalCapture()
    try:
        _wait_for_colour(again, (0x60, 0xC0, 0x30), "the second foot")
    finally:
        end_program(foot)
        again.close()
    token = json.loads((tmp_path / "state" / "guiagent" / "portal-tokens.json").read_text())
    assert token["screencast"]  # xdpw 0.7 hands the same token back; GNOME gives a new one
    # xdg-desktop-portal turned the token back into the backend's saved choice of output.
    assert "option restore_data.output_name: HEADLESS-1" in stack.log_text()


@needs_stack
def test_desktop_captures_through_the_portal_and_says_why_it_cannot_click(
        stack: PortalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """guiagent.Desktop on a session it drives through the portal (as on GNOME): its frames
    come from the PipeWire stream; a click needs RemoteDesktop, which this portal lacks."""
    import guiagent

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", stack.bus.address)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("GUIAGENT_PLATFORM", "portal")
    monkeypatch.setenv("WAYLAND_DISPLAY", stack.wayland.name)
    monkeypatch.delenv("DISPLAY", raising=False)
    foot = _foot(stack, "3060c0")
    try:
        with guiagent.Desktop(abort_hotkey=None) as desktop:
            deadline = time.monotonic() + 15
            frame = desktop.capture()
            while _share(frame.pixels, (0xC0, 0x60, 0x30)) < 0.9:
                assert time.monotonic() < deadline, "Desktop.capture never showed foot"
                time.sleep(0.1)
                frame = desktop.capture()
            assert frame.pixels.shape[:2] == (720, 1280) and frame.scale == 1.0
            with pytest.raises(PlatformUnsupported, match="no RemoteDesktop interface"):
                desktop.click((640, 360))
    finally:
        end_program(foot)


@needs_stack
def test_input_through_this_portal_is_unsupported_and_says_so(
        stack: PortalStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", stack.bus.address)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with pytest.raises(PlatformUnsupported, match="no RemoteDesktop interface"):
        PortalPlatform().input_injector(None)
