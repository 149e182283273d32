"""Which Wayland session a display name means, and which compositor runs it.

A Wayland display is a socket: a name (``wayland-1``) under ``$XDG_RUNTIME_DIR`` or an absolute
path. wlroots compositors are driven through their own helpers (sway's IPC socket for the
window list and the hotkey, ``grim`` for pixels, the virtual-pointer and virtual-keyboard
protocols for input); GNOME and KDE only
through the desktop portals.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from guiagent.errors import DisplayError


@dataclass(frozen=True, slots=True)
class WaylandSession:
    """``socket``: the Wayland socket's path; ``swaysock``: sway's IPC socket (None when the
    compositor is not sway); ``desktop``: ``$XDG_CURRENT_DESKTOP`` in lower case."""

    socket: Path
    swaysock: Path | None
    desktop: str

    @property
    def env(self) -> dict[str, str]:
        """What a helper (grim) needs in its environment to reach this compositor."""
        env = dict(os.environ)
        env["WAYLAND_DISPLAY"] = str(self.socket)
        env["XDG_RUNTIME_DIR"] = str(self.socket.parent)
        if self.swaysock is not None:
            env["SWAYSOCK"] = str(self.swaysock)
        return env

    @property
    def compositor(self) -> str:
        """``sway``, ``gnome``, ``kde`` or ``unknown``."""
        if self.swaysock is not None:
            return "sway"
        for name in ("gnome", "kde"):
            if name in self.desktop:
                return name
        return "unknown"


def find_session(display: str | None, environ: Mapping[str, str] | None = None) -> WaylandSession:
    """The session ``display`` names (default ``$WAYLAND_DISPLAY``), or DisplayError saying why
    it cannot be reached."""
    env = os.environ if environ is None else environ
    name = display if display and ":" not in display else env.get("WAYLAND_DISPLAY", "")
    if not name:
        raise DisplayError("no Wayland display: set $WAYLAND_DISPLAY (e.g. wayland-1), pass the "
                           "socket path, or run inside `VirtualWaylandDisplay()` (needs sway)")
    socket = Path(name)
    if not socket.is_absolute():
        runtime = env.get("XDG_RUNTIME_DIR", "")
        if not runtime:
            raise DisplayError(f"Wayland display {name!r} is a name but $XDG_RUNTIME_DIR is not "
                               "set: set it, or pass the socket's absolute path")
        socket = Path(runtime) / name
    if not socket.exists():
        raise DisplayError(f"no Wayland compositor listens at {socket}: is the session running, "
                           "and is $XDG_RUNTIME_DIR the session's?")
    own = name == env.get("WAYLAND_DISPLAY")
    return WaylandSession(socket, _swaysock(socket, env, own), env.get("XDG_CURRENT_DESKTOP", "").lower())


def _swaysock(socket: Path, env: Mapping[str, str], own: bool) -> Path | None:
    """sway's IPC socket for the compositor at ``socket``: ``$SWAYSOCK`` when the display is
    this process's own or the IPC socket lives beside it, else the one sway made beside it."""
    given = Path(env.get("SWAYSOCK", "") or "/nonexistent")
    if given.exists() and (own or given.parent == socket.parent):
        return given
    found = sorted(glob.glob(str(socket.parent / "sway-ipc.*.sock")))
    return Path(found[0]) if len(found) == 1 else None
