"""Starting and ending the programs guiagent launches on a display (one way, used by
``VirtualDisplay.launch``, ``Desktop.launch`` and the command language's ``open``)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

from guiagent.errors import DisplayError


def start_program(argv: Sequence[str], *, display: str | None = None,
                  env: Mapping[str, str] | None = None,
                  cwd: str | os.PathLike[str] | None = None,
                  **popen_kwargs: Any) -> subprocess.Popen[bytes]:
    """Start ``argv`` on ``display`` (``$DISPLAY`` when None) in its own process group, so
    :func:`end_program` ends the helpers it forks too. Input comes from /dev/null and output
    goes there unless ``popen_kwargs`` say otherwise; ``env`` entries are added to ours."""
    argv = list(argv)
    if not argv:
        raise DisplayError("no program to start: give a command, e.g. ['xterm']")
    full_env = dict(os.environ)
    if display:  # an X display (":99") or a Wayland socket ("wayland-1", a path)
        full_env["DISPLAY" if ":" in display else "WAYLAND_DISPLAY"] = display
    full_env.update(env or {})
    for stream in ("stdin", "stdout", "stderr"):
        popen_kwargs.setdefault(stream, subprocess.DEVNULL)
    popen_kwargs.setdefault("start_new_session", True)
    try:
        return subprocess.Popen(argv, env=full_env, cwd=cwd, **popen_kwargs)
    except FileNotFoundError:
        raise DisplayError(f"{argv[0]} is not installed (or not on PATH): install it or pass the "
                           "program's full path") from None


def end_program(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the process group ``process`` leads (or the process alone when it shares ours),
    wait up to ``grace`` seconds, then SIGKILL it."""
    try:
        leads_group = os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        process.poll()
        return

    def send(sig: int) -> bool:
        try:
            if leads_group:
                os.killpg(process.pid, sig)
            else:
                os.kill(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False  # gone already
        return True

    if process.poll() is not None and not leads_group:
        return
    if not send(signal.SIGTERM):
        process.poll()
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process.poll() is not None and not (leads_group and send(0)):
            return
        time.sleep(0.02)
    send(signal.SIGKILL)
    process.wait()
