"""The D-Bus conversation with ``org.freedesktop.portal.Desktop`` (xdg-desktop-portal).

A portal method that may ask the user (``CreateSession``, ``SelectSources``, ``SelectDevices``,
``Start``) answers at once with a *request* object path and later sends that request's
``org.freedesktop.portal.Request.Response`` signal: ``(response, results)``, 0 granted, 1 the
user said no, 2 something else failed. The request path is known in advance
(``/org/freedesktop/portal/desktop/request/SENDER/TOKEN``, SENDER the unique bus name without
``:`` and with ``_`` for ``.``), so the match rule goes in before the call and no answer is lost.

One session gives the screen streams (ScreenCast) and, where the desktop has RemoteDesktop
(GNOME, KDE), the input devices on the same streams, so the user is asked once for both. With
``persist_mode`` 2 the portal hands back a ``restore_token`` that lets the next session start
without asking; tokens are single-use, each Start gives the next one, and they are kept in
``$XDG_STATE_HOME/guiagent/portal-tokens.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, MatchRule, MessageType, Properties, message_bus, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from guiagent.errors import PlatformUnsupported

BUS_NAME = "org.freedesktop.portal.Desktop"
OBJECT_PATH = "/org/freedesktop/portal/desktop"
SCREENCAST = "org.freedesktop.portal.ScreenCast"
REMOTE_DESKTOP = "org.freedesktop.portal.RemoteDesktop"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"

# ScreenCast source types, cursor modes and RemoteDesktop device types (bit masks).
MONITOR = 1
CURSOR_HIDDEN = 1
KEYBOARD = 1
POINTER = 2
PERSIST_UNTIL_REVOKED = 2

# How long the user may take to answer the permission dialog.
ANSWER_TIMEOUT_S = 120.0
CALL_TIMEOUT_S = 10.0

_HOW_TO_START = ("xdg-desktop-portal and the desktop's own portal backend "
                 "(xdg-desktop-portal-gnome on GNOME, xdg-desktop-portal-kde on KDE Plasma) must "
                 "run on this session's D-Bus ($DBUS_SESSION_BUS_ADDRESS), with PipeWire")


class PortalError(PlatformUnsupported):
    """The portal is missing, refused, or failed; the message says which and what to do."""


@dataclass(frozen=True, slots=True)
class Stream:
    """One PipeWire stream of a started session: its node id, and for a monitor its box in the
    desktop's logical coordinates (None when the portal did not say)."""

    node: int
    position: tuple[int, int] | None
    size: tuple[int, int] | None

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        if self.size is None:
            return None
        x, y = self.position or (0, 0)
        return x, y, self.size[0], self.size[1]


class TokenStore:
    """Restore tokens by session kind (``screencast``, ``remote-desktop``) in a JSON file only
    the user can read (``$XDG_STATE_HOME/guiagent/portal-tokens.json``)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_token_path()

    def load(self, kind: str) -> str | None:
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        token = saved.get(kind) if isinstance(saved, dict) else None
        return token if isinstance(token, str) and token else None

    def save(self, kind: str, token: str | None) -> None:
        try:
            saved = json.loads(self.path.read_text())
            if not isinstance(saved, dict):
                saved = {}
        except (OSError, ValueError):
            saved = {}
        if token:
            saved[kind] = token
        else:
            saved.pop(kind, None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(saved, out)
        temporary.replace(self.path)


def default_token_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    state = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "guiagent" / "portal-tokens.json"


def _variant(value: Any) -> tuple[str, Any]:
    if isinstance(value, bool):
        return "b", value
    if isinstance(value, int):
        return "u", value
    return "s", str(value)


class PortalBus:
    """A connection to the session bus, for the portal's calls (thread-safe, one call at a time).

    ``address`` is a D-Bus address; None: ``$DBUS_SESSION_BUS_ADDRESS``."""

    def __init__(self, address: str | None = None) -> None:
        address = address or os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
        if not address:
            raise PortalError(f"no session D-Bus ($DBUS_SESSION_BUS_ADDRESS is not set): {_HOW_TO_START}")
        try:
            self._conn: DBusConnection = open_dbus_connection(address, enable_fds=True)
        except (OSError, ValueError, RuntimeError) as exc:
            raise PortalError(f"cannot connect to the session D-Bus at {address}: {exc}") from exc
        self.address = address
        self._lock = threading.RLock()
        unique = self._conn.unique_name or ""
        self._sender = unique.lstrip(":").replace(".", "_")

    def version(self, interface: str) -> int:
        """The portal interface's version; 0 when the portal or the interface is missing."""
        with self._lock:
            message = Properties(DBusAddress(OBJECT_PATH, BUS_NAME, interface)).get("version")
            reply = self._conn.send_and_get_reply(message, timeout=CALL_TIMEOUT_S)
        if reply.header.message_type == MessageType.error:
            return 0
        return int(reply.body[0][1])

    def property(self, interface: str, name: str) -> Any:
        with self._lock:
            message = Properties(DBusAddress(OBJECT_PATH, BUS_NAME, interface)).get(name)
            reply = self._conn.send_and_get_reply(message, timeout=CALL_TIMEOUT_S)
        if reply.header.message_type == MessageType.error:
            return None
        return reply.body[0][1]

    def call(self, interface: str, method: str, signature: str, *args: Any,
             path: str = OBJECT_PATH) -> tuple[Any, ...]:
        """A plain method call; the reply's body (PortalError on an error reply)."""
        message = new_method_call(DBusAddress(path, BUS_NAME, interface), method,
                                  signature or None, args)
        with self._lock:
            reply = self._conn.send_and_get_reply(message, timeout=CALL_TIMEOUT_S)
        if reply.header.message_type == MessageType.error:
            detail = reply.body[0] if reply.body else ""
            raise PortalError(f"the portal refused {interface.rsplit('.', 1)[-1]}.{method}: "
                              f"{detail}")
        return tuple(reply.body)

    def request(self, interface: str, method: str, signature: str, args: tuple[Any, ...],
                options: Mapping[str, Any], timeout: float = ANSWER_TIMEOUT_S) -> dict[str, Any]:
        """Call a method that answers through a Request object; its results (variants
        unwrapped). ``options`` go last in the call, with a fresh ``handle_token`` added."""
        token = "guiagent" + secrets.token_hex(6)
        path = f"{OBJECT_PATH}/request/{self._sender}/{token}"
        rule = MatchRule(type="signal", interface=REQUEST, member="Response", path=path)
        body = (*args, {"handle_token": ("s", token),
                        **{key: _variant(value) for key, value in options.items()}})
        message = new_method_call(DBusAddress(OBJECT_PATH, BUS_NAME, interface), method,
                                  signature, body)
        with self._lock:
            self._conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=CALL_TIMEOUT_S)
            try:
                with self._conn.filter(rule) as answers:
                    reply = self._conn.send_and_get_reply(message, timeout=CALL_TIMEOUT_S)
                    if reply.header.message_type == MessageType.error:
                        detail = reply.body[0] if reply.body else ""
                        raise PortalError(f"the portal refused {interface.rsplit('.', 1)[-1]}."
                                          f"{method}: {detail}")
                    try:
                        signal = self._conn.recv_until_filtered(answers, timeout=timeout)
                    except TimeoutError:
                        raise PortalError(f"no answer to {method} within {timeout:g} s (is a "
                                          "permission dialog waiting on the screen?)") from None
            finally:
                self._conn.send_message(message_bus.RemoveMatch(rule))
        response, results = int(signal.body[0]), signal.body[1]
        if response == 1:
            raise PortalError(f"the permission to share the screen and send input was refused "
                              f"({method}); run again and allow it, or use an X11 session")
        if response != 0:
            raise PortalError(f"the portal could not complete {method} (response {response}); "
                              "its log (journalctl --user -u xdg-desktop-portal) says why")
        return {key: value[1] for key, value in results.items()}

    def open_pipewire_remote(self, session: str) -> int:
        """A file descriptor of a PipeWire connection that sees only this session's streams."""
        (fd,) = self.call(SCREENCAST, "OpenPipeWireRemote", "oa{sv}", session, {})
        return int(fd.to_raw_fd())

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PortalSession:
    """A started portal session: ``streams`` to capture and, when ``devices`` were asked for,
    a RemoteDesktop session to send input through (``notify``)."""

    def __init__(self, bus: PortalBus, *, devices: bool, tokens: TokenStore | None = None,
                 timeout: float = ANSWER_TIMEOUT_S) -> None:
        self.bus = bus
        self.devices = devices
        self.handle = ""
        self.streams: tuple[Stream, ...] = ()
        tokens = tokens if tokens is not None else TokenStore()
        screencast = bus.version(SCREENCAST)
        if screencast == 0:
            raise PortalError(f"the desktop portal has no ScreenCast interface: {_HOW_TO_START}")
        if devices:
            remote = bus.version(REMOTE_DESKTOP)
            if remote == 0:
                raise PortalError(
                    "the desktop portal has no RemoteDesktop interface (xdg-desktop-portal-wlr "
                    "and some others give capture only), so guiagent cannot send input through "
                    "it: screen capture and grounding work; on sway the wayland platform "
                    "drives input, elsewhere use an X11 session or a virtual display")
            self._start_remote_desktop(tokens, remote, timeout)
        else:
            self._start_screencast(tokens, screencast, timeout)

    def _create(self, interface: str, timeout: float) -> None:
        results = self.bus.request(interface, "CreateSession", "a{sv}", (),
                                   {"session_handle_token": "guiagent" + secrets.token_hex(6)},
                                   timeout)
        self.handle = str(results["session_handle"])

    def _source_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"types": MONITOR, "multiple": True}
        modes = self.bus.property(SCREENCAST, "AvailableCursorModes")
        if isinstance(modes, int) and modes & CURSOR_HIDDEN:
            options["cursor_mode"] = CURSOR_HIDDEN  # as mss and grim: no pointer in the pixels
        return options

    def _start_screencast(self, tokens: TokenStore, version: int, timeout: float) -> None:
        self._create(SCREENCAST, timeout)
        options = self._source_options()
        if version >= 4:
            options["persist_mode"] = PERSIST_UNTIL_REVOKED
            saved = tokens.load("screencast")
            if saved:
                options["restore_token"] = saved
        self.bus.request(SCREENCAST, "SelectSources", "oa{sv}", (self.handle,), options, timeout)
        results = self.bus.request(SCREENCAST, "Start", "osa{sv}", (self.handle, ""), {},
                                   timeout)
        self._started(results, tokens, "screencast" if version >= 4 else None)

    def _start_remote_desktop(self, tokens: TokenStore, version: int, timeout: float) -> None:
        self._create(REMOTE_DESKTOP, timeout)
        options: dict[str, Any] = {"types": KEYBOARD | POINTER}
        if version >= 2:  # remote desktop sessions persist through SelectDevices only
            options["persist_mode"] = PERSIST_UNTIL_REVOKED
            saved = tokens.load("remote-desktop")
            if saved:
                options["restore_token"] = saved
        self.bus.request(REMOTE_DESKTOP, "SelectDevices", "oa{sv}", (self.handle,), options,
                         timeout)
        self.bus.request(SCREENCAST, "SelectSources", "oa{sv}", (self.handle,),
                         self._source_options(), timeout)
        results = self.bus.request(REMOTE_DESKTOP, "Start", "osa{sv}", (self.handle, ""), {},
                                   timeout)
        granted = int(results.get("devices", 0))
        if not granted & POINTER or not granted & KEYBOARD:
            self.close()
            raise PortalError("the portal did not grant both the pointer and the keyboard "
                              f"(granted device types {granted}); allow both when asked")
        self._started(results, tokens, "remote-desktop" if version >= 2 else None)

    def _started(self, results: Mapping[str, Any], tokens: TokenStore, kind: str | None) -> None:
        streams = []
        for node, properties in results.get("streams", []):
            props = {key: value[1] for key, value in properties.items()}
            position = props.get("position")
            size = props.get("size")
            streams.append(Stream(int(node),
                                  (int(position[0]), int(position[1])) if position else None,
                                  (int(size[0]), int(size[1])) if size else None))
        if not streams:
            self.close()
            raise PortalError("the portal started a session without any screen stream")
        self.streams = tuple(streams)
        if kind is not None:
            tokens.save(kind, results.get("restore_token"))

    def notify(self, method: str, signature: str, *args: Any) -> None:
        """A RemoteDesktop ``Notify*`` call on this session (``signature`` of ``args`` only)."""
        self.bus.call(REMOTE_DESKTOP, method, "oa{sv}" + signature, self.handle, {}, *args)

    def close(self) -> None:
        if self.handle:
            handle, self.handle = self.handle, ""
            # The portal may have ended it already (the user revoked it, or the portal exited).
            with contextlib.suppress(PortalError, OSError, TimeoutError):
                self.bus.call(SESSION, "Close", "", path=handle)


class SharedSessions:
    """One started session per session bus, shared by the capture and the input injector of a
    process (each opens it through :meth:`acquire` and gives it back with :meth:`release`), so
    the user is asked once. Where the portal has RemoteDesktop the session always includes the
    input devices: a capture opened first does not cost a second permission dialog later."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, tuple[PortalSession, int]] = {}

    def acquire(self, *, devices: bool, address: str | None = None,
                tokens: TokenStore | None = None) -> PortalSession:
        address = address or os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
        with self._lock:
            held = self._open.get(address)
            if held is not None and (held[0].devices or not devices):
                self._open[address] = (held[0], held[1] + 1)
                return held[0]
            bus = PortalBus(address)
            try:
                # held is a capture-only session here: this portal has no RemoteDesktop, and
                # asking for the devices raises PortalError saying so.
                # ScreenCast first: a Get of a missing interface as the call that activates
                # xdg-desktop-portal got no answer at all (1.16, on its first start).
                with_devices = devices or (bus.version(SCREENCAST) > 0
                                           and bus.version(REMOTE_DESKTOP) > 0)
                session = PortalSession(bus, devices=with_devices, tokens=tokens)
            except BaseException:
                bus.close()
                raise
            self._open[address] = (session, 1)
            return session

    def release(self, session: PortalSession) -> None:
        with self._lock:
            for address, (held, count) in list(self._open.items()):
                if held is session and count > 1:
                    self._open[address] = (held, count - 1)
                    return
                if held is session:
                    del self._open[address]
        session.close()
        session.bus.close()


SESSIONS = SharedSessions()
