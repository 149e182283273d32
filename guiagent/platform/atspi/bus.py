"""Finding the accessibility bus of a display, and starting a private one for a virtual display.

Applications find the AT-SPI bus the same two ways we do: the ``AT_SPI_BUS`` property that
at-spi-bus-launcher puts on the X root window, or by asking ``org.a11y.Bus`` on the session bus.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guiagent.platform.atspi.dbus import PROPERTIES, BusError, Call, Connection, Failed

A11Y_BUS = ("org.a11y.Bus", "/org/a11y/bus")
LAUNCHER_PATHS = ("/usr/libexec/at-spi-bus-launcher", "/usr/lib/at-spi2-core/at-spi-bus-launcher",
                  "/usr/lib/at-spi2/at-spi-bus-launcher")
ENABLE_HINT = ("start one with guiagent.VirtualDisplay(accessibility=True), or in your session run "
               "`/usr/libexec/at-spi-bus-launcher --launch-immediately &` (package at-spi2-core) "
               "under a D-Bus session bus (`dbus-run-session`), then restart the applications")
ISENABLED_HINT = ("turn it on with `busctl --user set-property org.a11y.Bus /org/a11y/bus "
                  "org.a11y.Status IsEnabled b true` (or `gsettings set "
                  "org.gnome.desktop.interface toolkit-accessibility true`) and restart the "
                  "applications")


def launcher_path() -> str | None:
    for path in LAUNCHER_PATHS:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("at-spi-bus-launcher")


def open_x_display(display: str | None) -> Any:
    """An X connection to ``display`` (None when there is none or python-xlib is missing).

    Readers keep one connection open for their lifetime: connecting and disconnecting an X
    client at polling rate made LibreOffice (gtk3) lose keyboard and pointer input on Xvfb.
    """
    try:
        from Xlib import display as xdisplay
    except ImportError:
        return None
    try:
        return xdisplay.Display(display)
    except Exception:
        return None


def address_from_display(conn: Any) -> str | None:
    """The ``AT_SPI_BUS`` address at-spi-bus-launcher published on the X display (an open
    connection from :func:`open_x_display`), if any."""
    if conn is None:
        return None
    from Xlib import X

    try:
        atom = conn.intern_atom("AT_SPI_BUS", only_if_exists=True)
        prop = conn.screen().root.get_full_property(atom, X.AnyPropertyType) if atom else None
    except Exception:
        return None
    if prop is None or not prop.value:
        return None
    value = prop.value
    return (value.decode() if isinstance(value, bytes) else str(value)).strip("\0 ")


def publish_on_display(display: str, address: str) -> None:
    """Set the ``AT_SPI_BUS`` root window property, the way at-spi-bus-launcher does."""
    from Xlib import Xatom
    from Xlib import display as xdisplay

    conn = xdisplay.Display(display)
    try:
        conn.screen().root.change_property(conn.intern_atom("AT_SPI_BUS"), Xatom.STRING, 8,
                                           address.encode())
        conn.sync()
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class SessionAnswer:
    """What the session bus said: the a11y bus address and IsEnabled, or why it could not."""

    address: str | None
    enabled: bool | None
    problem: str | None


def ask_session_bus(session_address: str, timeout: float) -> SessionAnswer:
    try:
        conn = Connection(session_address, timeout)
    except BusError as exc:
        return SessionAnswer(None, None, f"the session bus does not answer ({exc})")
    try:
        address, enabled = conn.gather(
            [Call(*A11Y_BUS, "org.a11y.Bus", "GetAddress"),
             Call(*A11Y_BUS, PROPERTIES, "Get", "ss", ("org.a11y.Status", "IsEnabled"))],
            time.monotonic() + timeout)
    except BusError as exc:
        return SessionAnswer(None, None, f"the session bus does not answer ({exc})")
    finally:
        conn.close()
    if isinstance(address, Failed):
        missing = "" if launcher_path() else " and at-spi2-core is not installed"
        return SessionAnswer(None, None, "no AT-SPI bus launcher runs on the session bus "
                             f"(org.a11y.Bus: {address.error}){missing}")
    on = None if isinstance(enabled, Failed) else bool(enabled[0][1])
    return SessionAnswer(str(address[0]), on, None)


def set_enabled(session_address: str, timeout: float) -> None:
    """Set ``org.a11y.Status IsEnabled`` (Qt and Chromium only expose their trees when it is)."""
    conn = Connection(session_address, timeout)
    try:
        reply = conn.call(Call(*A11Y_BUS, PROPERTIES, "Set", "ssv",
                               ("org.a11y.Status", "IsEnabled", ("b", True))), timeout)
    finally:
        conn.close()
    if isinstance(reply, Failed):
        raise BusError(f"could not turn accessibility on: {reply.error} {reply.message}")


# The private session bus starts no services on demand: the desktop's own (xdg-desktop-portal,
# its document portal, gvfs...) would start for every GTK application the display runs; the
# document portal then mounts a FUSE file system in the private runtime directory, which
# could not be removed afterwards, and GTK's file chooser went through the portal.
_PRIVATE_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass
class PrivateSession:
    """A D-Bus session bus and an AT-SPI bus of our own, for one virtual display.

    ``env`` is what applications need to use them and to expose their trees. ``enable``
    switches accessibility on (``org.a11y.Status IsEnabled``), as a screen reader would.
    """

    display: str
    timeout: float = 20.0
    enable: bool = True
    env: dict[str, str] = field(default_factory=dict)
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _runtime_dir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> PrivateSession:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> PrivateSession:
        launcher = launcher_path()
        if shutil.which("dbus-daemon") is None:
            raise BusError("dbus-daemon is not installed: `sudo apt-get install dbus-daemon`")
        if launcher is None:
            raise BusError("at-spi-bus-launcher is not installed: `sudo apt-get install at-spi2-core`")
        deadline = time.monotonic() + self.timeout
        # The launcher puts its socket in $XDG_RUNTIME_DIR; a private one keeps displays apart.
        self._runtime_dir = tempfile.TemporaryDirectory(prefix="guiagent-a11y-")
        # IsEnabled is a GSettings key: in memory it does not change the user's own setting.
        base = {**os.environ, "DISPLAY": self.display, "XDG_RUNTIME_DIR": self._runtime_dir.name,
                "GSETTINGS_BACKEND": "memory"}
        config = Path(self._runtime_dir.name) / "session-bus.conf"
        config.write_text(_PRIVATE_BUS_CONFIG, encoding="utf-8")
        daemon = self._spawn(["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile",
                              "--print-address=1"], base, stdout=subprocess.PIPE)
        session = _read_line(daemon, deadline, "dbus-daemon to print its address")
        base["DBUS_SESSION_BUS_ADDRESS"] = session
        self._spawn([launcher, "--launch-immediately"], base)
        address = None
        while address is None:
            answer = ask_session_bus(session, max(0.1, deadline - time.monotonic()))
            address = answer.address
            if address is None:
                if time.monotonic() > deadline:
                    raise BusError(f"at-spi-bus-launcher did not start: {answer.problem}")
                time.sleep(0.05)
        if self.enable:
            set_enabled(session, max(0.1, deadline - time.monotonic()))
        # The launcher does not always publish the bus on the display (none of ours did);
        # doing it ourselves lets any client, and AtspiAccessibility(display), find it.
        publish_on_display(self.display, address)
        self.env = {
            "DBUS_SESSION_BUS_ADDRESS": session,
            "AT_SPI_BUS_ADDRESS": address,  # read directly by atk-bridge, Qt and libatspi
            "NO_AT_BRIDGE": "0",
            "GTK_A11Y": "atspi",  # GTK4 picks its AT-SPI backend only when asked on some builds
            "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1",
            "QT_ACCESSIBILITY": "1",
            "ACCESSIBILITY_ENABLED": "1",  # Chromium turns its tree on at start
        }
        return self

    def _spawn(self, argv: list[str], env: dict[str, str],
               stdout: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        self._processes.append(process)
        return process

    def stop(self) -> None:
        # Each was started in its own process group: the launcher's a11y bus and the registry
        # daemon it spawned go with it.
        for process in reversed(self._processes):
            _end_group(process)
        self._processes.clear()
        if self._runtime_dir is not None:
            runtime, self._runtime_dir = self._runtime_dir, None
            try:
                runtime.cleanup()
            except OSError:  # something an application mounted there must not fail teardown
                shutil.rmtree(runtime.name, ignore_errors=True)


def _read_line(process: subprocess.Popen[bytes], deadline: float, what: str) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
    line = process.stdout.readline().decode().strip() if ready else ""
    if not line:
        raise BusError(f"timed out waiting for {what}")
    return line


def _end_group(process: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """SIGTERM the process group ``process`` leads, wait for the leader, then SIGKILL what
    is left of the group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            continue
    if process.stdout is not None:
        process.stdout.close()
