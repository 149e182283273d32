"""AT-SPI (the Linux accessibility bus) read over D-Bus with jeepney: no system Python needed.

:class:`AtspiAccessibility` implements :class:`~guiagent.platform.base.Accessibility` under X11
and Wayland; :class:`PrivateSession` starts a session bus and an AT-SPI bus for a virtual display.
"""

from __future__ import annotations

from guiagent.platform.atspi.bus import PrivateSession
from guiagent.platform.atspi.reader import AtspiAccessibility

__all__ = ["AtspiAccessibility", "PrivateSession"]
