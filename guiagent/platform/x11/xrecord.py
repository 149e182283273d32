"""Reading the whole X server's keyboard and mouse through the RECORD extension, in a thread.

The abort hotkey and the demo recorder both listen this way. pynput's listener is the same kind
of XRecord client, but its ``stop()`` blocks forever once an event was seen; ours stops by
disabling the context from a second connection, then joins.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from guiagent.errors import (
    XRecordUnavailable,
)

KEY_EVENTS = (2, 3)  # KeyPress, KeyRelease
KEY_AND_BUTTON_EVENTS = (2, 5)  # KeyPress, KeyRelease, ButtonPress, ButtonRelease


class XRecordThread(threading.Thread):
    """Calls :meth:`on_event` (in this thread) for every device event of the given range."""

    def __init__(self, display: str | None, events: tuple[int, int], *, name: str) -> None:
        super().__init__(name=name, daemon=True)
        from Xlib import display as xdisplay
        from Xlib.ext import record

        try:
            self._record = xdisplay.Display(display)
            self._control = xdisplay.Display(display)
        except Exception as exc:
            raise XRecordUnavailable(f"cannot open X display {display or '$DISPLAY'!r} to listen "
                                     f"to input: {exc}") from exc
        if not self._record.has_extension("RECORD"):
            raise XRecordUnavailable("the X server has no RECORD extension, so input cannot be "
                                     "listened to (Xvfb and Xorg have it; enable it in xorg.conf)")
        self._context = self._control.record_create_context(
            0,
            [record.AllClients],
            [{
                "core_requests": (0, 0), "core_replies": (0, 0),
                "ext_requests": (0, 0, 0, 0), "ext_replies": (0, 0, 0, 0),
                "delivered_events": (0, 0), "device_events": events,
                "errors": (0, 0), "client_started": False, "client_died": False,
            }],
        )
        self._control.sync()  # the context must exist before the other connection enables it

    def on_event(self, event: Any) -> None:
        raise NotImplementedError

    def run(self) -> None:
        try:
            self._record.record_enable_context(self._context, self._on_data)
        except Exception:  # the display went away: nothing left to listen to
            pass
        finally:
            with contextlib.suppress(Exception):
                self._record.close()

    def _on_data(self, reply: Any) -> None:
        from Xlib.ext import record
        from Xlib.protocol import rq

        if reply.category != record.FromServer or reply.client_swapped or not reply.data:
            return
        data = reply.data
        while data:
            event, data = rq.EventField(None).parse_binary_value(data, self._record.display,
                                                                  None, None)
            try:
                self.on_event(event)
            except Exception:  # one odd event must not end the listening
                continue

    def stop(self) -> None:
        try:
            self._control.record_disable_context(self._context)
            self._control.flush()
            self.join(timeout=5)
            self._control.record_free_context(self._context)
            self._control.close()
        except Exception:  # the display is already gone
            pass
