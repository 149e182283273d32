"""Virtual displays for tests, demos and CI: Xvfb at 3840x2160 with the openbox window manager.

Process handling for Xvfb (free display number, readiness, teardown) is PyVirtualDisplay's
job; this module adds the window manager and the settings guiagent relies on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from guiagent.errors import DisplayError
from guiagent.screen.polling import wait_until
from guiagent.screen.processes import end_program, start_program

DEFAULT_SIZE = (3840, 2160)

# Openbox's default configuration grabs every button press on client windows synchronously
# (click to focus) and replays it: on a busy machine the press then reached the application
# after keys typed later (measured in the Tk probe: "a", "b", click, "c"). Focus follows the
# mouse here instead, with no client-window or keyboard bindings, so every event reaches the
# application in the order it was sent, and no key combination is taken by the window manager.
OPENBOX_CONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<openbox_config xmlns="http://openbox.org/3.4/rc">
  <focus><focusNew>yes</focusNew><followMouse>yes</followMouse><focusDelay>0</focusDelay>
    <underMouse>no</underMouse><raiseOnFocus>no</raiseOnFocus></focus>
  <placement><policy>Smart</policy></placement>
  <desktops><number>1</number></desktops>
  <keyboard></keyboard>
  <mouse>
    <context name="Titlebar">
      <mousebind button="Left" action="Drag"><action name="Move"/></mousebind>
    </context>
  </mouse>
</openbox_config>
"""


class VirtualDisplay:
    """An Xvfb display (default 3840x2160x24) with openbox, usable as a context manager.

    ``set_environment`` makes ``$DISPLAY`` point at it while it runs (and restores the old
    value afterwards); ``env`` is a copy of the environment for child processes either way.
    ``dpi`` sets the X server's DPI (apps that honour it scale their UI accordingly).
    ``accessibility`` starts a private D-Bus session bus and AT-SPI bus for the display and
    puts what applications need to expose their accessibility trees into ``env``.
    """

    def __init__(
        self,
        size: tuple[int, int] = DEFAULT_SIZE,
        *,
        depth: int = 24,
        dpi: int | None = None,
        window_manager: bool = True,
        set_environment: bool = True,
        timeout: float = 20.0,
        accessibility: bool = False,
    ) -> None:
        self.size = size
        self.depth = depth
        self.dpi = dpi
        self.window_manager = window_manager
        self.set_environment = set_environment
        self.timeout = timeout
        self._xvfb: Any = None
        self._wm: subprocess.Popen[bytes] | None = None
        self._wm_config: Any = None
        self._old_display: str | None = None
        self._launched: list[subprocess.Popen[bytes]] = []
        self.accessibility = accessibility
        self._a11y: Any = None  # guiagent.platform.atspi.PrivateSession while running
        self.name: str = ""

    @property
    def env(self) -> dict[str, str]:
        """Environment for a child process that should show its windows on this display."""
        env = dict(os.environ)
        env["DISPLAY"] = self.name
        if self._a11y is not None:
            env.update(self._a11y.env)
        return env

    def start(self) -> VirtualDisplay:
        try:
            return self._start_once()
        except DisplayError:
            # Another X server or compositor (Xwayland picks display numbers its own way) can
            # take the number we were given between Xvfb's start and the window manager's:
            # a second try on a new number settles that; a real problem fails again.
            return self._start_once()

    def _start_once(self) -> VirtualDisplay:
        if shutil.which("Xvfb") is None:
            raise DisplayError(
                "Xvfb is not installed: `sudo apt-get install xvfb openbox xdotool` "
                "(or run guiagent on a real desktop session)"
            )
        from pyvirtualdisplay import Display

        width, height = self.size
        self._xvfb = Display(
            backend="xvfb",
            size=(width, height),
            color_depth=self.depth,
            extra_args=["-nolisten", "tcp"] + (["-dpi", str(self.dpi)] if self.dpi else []),
            manage_global_env=False,
        )
        try:
            self._xvfb.start()
        except Exception as exc:
            raise DisplayError(f"Xvfb did not start at {width}x{height}x{self.depth}: {exc}") from exc
        self.name = self._xvfb.new_display_var
        if self.set_environment:
            self._old_display = os.environ.get("DISPLAY")
            os.environ["DISPLAY"] = self.name
        try:
            if self.window_manager:
                self._start_window_manager()
            if self.accessibility:
                # After the window manager: Xvfb resets (dropping the root window property
                # that publishes the bus) whenever its last client disconnects.
                self._start_accessibility()
        except Exception:
            self.stop()
            raise
        return self

    def _start_accessibility(self) -> None:
        from guiagent.platform.atspi import PrivateSession
        from guiagent.platform.atspi.dbus import BusError

        try:
            self._a11y = PrivateSession(self.name, self.timeout).start()
        except BusError as exc:
            raise DisplayError(f"accessibility bus for {self.name}: {exc}") from exc

    def _start_window_manager(self) -> None:
        if shutil.which("openbox") is None:
            raise DisplayError("openbox is not installed: `sudo apt-get install openbox xdotool`")
        import tempfile

        # Kept open (and so on disk) while openbox runs; closed, and deleted, by stop().
        self._wm_config = tempfile.NamedTemporaryFile(  # noqa: SIM115
            "w", prefix="guiagent-openbox-", suffix=".xml")
        self._wm_config.write(OPENBOX_CONFIG)
        self._wm_config.flush()
        self._wm = subprocess.Popen(
            ["openbox", "--sm-disable", "--config-file", self._wm_config.name],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._window_manager_ready, self.timeout, "openbox to manage the display")
        # With several virtual desktops a scroll over the root window switches desktop and
        # every window seems to vanish; one desktop makes that impossible.
        if shutil.which("xdotool"):
            subprocess.run(["xdotool", "set_num_desktops", "1"], env=self.env, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _window_manager_ready(self) -> bool:
        if self._wm is not None and self._wm.poll() is not None:
            raise DisplayError(f"openbox exited with status {self._wm.returncode} on {self.name}")
        from Xlib import X, display

        conn = display.Display(self.name)
        try:
            atom = conn.intern_atom("_NET_SUPPORTING_WM_CHECK")
            prop = conn.screen().root.get_full_property(atom, X.AnyPropertyType)
            return prop is not None
        finally:
            conn.close()

    def stop(self) -> None:
        # End what we launched first (by the PIDs we started), then the window manager, Xvfb.
        try:
            for process in self._launched:
                end_program(process)
            self._launched.clear()
            if self._a11y is not None:
                a11y, self._a11y = self._a11y, None
                a11y.stop()
        finally:
            self._stop_display()

    def _stop_display(self) -> None:
        """The window manager and Xvfb: stopped even when ending the rest failed."""
        if self._wm is not None:
            _terminate(self._wm)
            self._wm = None
        if self._wm_config is not None:
            self._wm_config.close()
            self._wm_config = None
        if self._xvfb is not None:
            self._xvfb.stop()
            self._xvfb = None
        if self.set_environment and self.name:
            if self._old_display is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = self._old_display
        self.name = ""

    def launch(self, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a program on this display (its stdout/stderr are discarded by default).

        ``env`` entries are added to the display's environment. Programs still running when
        the display stops are terminated then.
        """
        if not self.name:
            raise DisplayError("start the virtual display before launching programs on it")
        env = {**self.env, **popen_kwargs.pop("env", {})}
        process = start_program(argv, display=self.name, env=env, **popen_kwargs)
        self._launched = [p for p in self._launched if p.poll() is None] + [process]
        return process

    def __enter__(self) -> VirtualDisplay:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _terminate(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
