"""The interface every input backend implements. Coordinates are integer screen pixels."""

from __future__ import annotations

from typing import Literal, Protocol

MouseButton = Literal["left", "right", "middle"]
ScrollDirection = Literal["up", "down", "left", "right"]


class InputBackend(Protocol):
    """Delivers mouse and keyboard events. Keys are canonical names (see ``guiagent.keys``)."""

    name: str

    def position(self) -> tuple[int, int]: ...

    def move(self, x: int, y: int, duration: float) -> None: ...

    def click(self, x: int, y: int, button: MouseButton, count: int) -> None: ...

    def drag(self, start: tuple[int, int], end: tuple[int, int], button: MouseButton,
             duration: float) -> None: ...

    def scroll(self, amount: int, direction: ScrollDirection, x: int, y: int) -> None: ...

    def type_text(self, text: str, interval: float) -> None: ...

    def press(self, key: str, presses: int) -> None: ...

    def hotkey(self, keys: tuple[str, ...]) -> None: ...

    def close(self) -> None: ...
