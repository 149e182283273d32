"""Seeing the screen: capture into frames, the virtual display, change detection, waiting,
annotated pictures."""

from guiagent.screen.capture import Frame, Monitor, Screen
from guiagent.screen.display import VirtualDisplay

__all__ = ["Frame", "Monitor", "Screen", "VirtualDisplay"]
