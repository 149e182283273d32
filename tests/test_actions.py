"""Executor logic with a recording backend: safety checks happen before any device is touched."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from guiagent.errors import AbortedError, FailSafeError, InvalidActionError, OutOfBoundsError
from guiagent.geometry import Box, Point
from guiagent.input.actions import (
    Click,
    Drag,
    Executor,
    ExecutorSettings,
    Hotkey,
    Move,
    PressKey,
    Scroll,
    TypeText,
    Wait,
    describe,
)

SCREEN = Box(0, 0, 3840, 2160)


class RecordingBackend:
    name = "recording"

    def __init__(self, position: tuple[int, int] = (500, 500)) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.pointer = position

    def position(self) -> tuple[int, int]:
        return self.pointer

    def move(self, x: int, y: int, duration: float) -> None:
        self.calls.append(("move", x, y))

    def click(self, x: int, y: int, button: str, count: int) -> None:
        self.calls.append(("click", x, y, button, count))

    def drag(self, start: Any, end: Any, button: str, duration: float) -> None:
        self.calls.append(("drag", start, end, button))

    def scroll(self, amount: int, direction: str, x: int, y: int) -> None:
        self.calls.append(("scroll", amount, direction, x, y))

    def type_text(self, text: str, interval: float) -> None:
        self.calls.append(("type", text))

    def press(self, key: str, presses: int) -> None:
        self.calls.append(("press", key, presses))

    def hotkey(self, keys: tuple[str, ...]) -> None:
        self.calls.append(("hotkey", keys))

    def close(self) -> None:
        pass


def make(backend: RecordingBackend | None = None, **settings: Any) -> tuple[Executor, RecordingBackend]:
    backend = backend or RecordingBackend()
    settings.setdefault("abort_hotkey", None)
    return Executor(lambda: SCREEN, ExecutorSettings(**settings), backend=backend), backend


def test_actions_reach_the_backend_as_integer_pixels() -> None:
    executor, backend = make()
    executor.run(Click(Point(10.7, 20.2), "right", 2))
    executor.run(Move(Point(5, 5)))
    executor.run(Drag(Point(1, 2), Point(30.9, 40)))
    executor.run(Scroll(Point(100, 100), "up", 3))
    executor.run(TypeText("héllo"))
    executor.run(PressKey("Return", 2))
    executor.run(Hotkey(("Control", "s")))
    assert backend.calls == [
        ("click", 10, 20, "right", 2),
        ("move", 5, 5),
        ("drag", (1, 2), (30, 40), "left"),
        ("scroll", 3, "up", 100, 100),
        ("type", "héllo"),
        ("press", "enter", 1),
        ("press", "enter", 1),
        ("hotkey", ("ctrl", "s")),
    ]
    assert [r.performed for r in executor.history] == [True] * 7


@pytest.mark.parametrize("point", [Point(-1, 5), Point(3840, 5), Point(5, 2160), Point(1e9, 0)])
def test_out_of_bounds_refused_before_anything_happens(point: Point) -> None:
    executor, backend = make()
    with pytest.raises(OutOfBoundsError, match="outside the screen"):
        executor.run(Click(point))
    assert backend.calls == [] and executor.history == []


def test_drag_checks_both_ends_first() -> None:
    executor, backend = make()
    with pytest.raises(OutOfBoundsError):
        executor.run(Drag(Point(10, 10), Point(99999, 10)))
    assert backend.calls == []


def test_allowed_region() -> None:
    executor, backend = make(allowed_region=Box(100, 100, 200, 200))
    executor.run(Click(Point(150, 150)))
    with pytest.raises(OutOfBoundsError, match="allowed region"):
        executor.run(Click(Point(50, 150)))
    assert backend.calls == [("click", 150, 150, "left", 1)]


def test_dry_run_records_without_touching_the_backend() -> None:
    class Exploding(RecordingBackend):
        def __getattribute__(self, name: str) -> Any:
            if name in {"click", "type_text", "position", "press"}:
                raise AssertionError("dry run touched the input backend")
            return super().__getattribute__(name)

    executor, _ = make(Exploding(), dry_run=True)
    executor.run(Click(Point(10, 10)))
    executor.run(TypeText("x"))
    assert [r.performed for r in executor.history] == [False, False]
    with pytest.raises(OutOfBoundsError):  # still validated in dry run
        executor.run(Click(Point(-5, 0)))


def test_dry_run_never_creates_a_backend() -> None:
    executor = Executor(lambda: SCREEN, ExecutorSettings(dry_run=True, abort_hotkey=None))
    executor.run(Click(Point(1, 1)))
    assert executor._backend is None


@pytest.mark.parametrize("corner", [(0, 0), (3839, 0), (0, 2159), (3839, 2159)])
def test_failsafe_corner(corner: tuple[int, int]) -> None:
    executor, backend = make(RecordingBackend(corner), failsafe=True)
    with pytest.raises(FailSafeError, match="corner"):
        executor.run(Click(Point(100, 100)))
    assert backend.calls == []
    executor.settings.failsafe = False
    executor.run(Click(Point(100, 100)))
    assert backend.calls


def test_abort_stops_between_and_during_actions() -> None:
    class SlowTyper(RecordingBackend):
        def type_text(self, text: str, interval: float) -> None:
            super().type_text(text, interval)
            executor.abort()  # the hotkey fires while typing

    executor, backend = make(SlowTyper(), type_chunk=4)
    with pytest.raises(AbortedError):
        executor.run(TypeText("abcdefghijkl"))
    assert backend.calls == [("type", "abcd")]  # stopped after the first chunk
    with pytest.raises(AbortedError):
        executor.run(Click(Point(1, 1)))
    executor.reset_abort()
    executor.run(Click(Point(1, 1)))


def test_wait_is_abortable() -> None:
    executor, _ = make()
    threading.Timer(0.05, executor.abort).start()
    with pytest.raises(AbortedError):
        executor.run(Wait(30))


@pytest.mark.parametrize(
    "make_action",
    [
        lambda: Click(Point(1, 1), "sideways"),  # type: ignore[arg-type]
        lambda: Click(Point(1, 1), count=0),
        lambda: TypeText(""),
        lambda: Scroll(Point(1, 1), "diagonal"),  # type: ignore[arg-type]
        lambda: Scroll(Point(1, 1), "down", 0),
        lambda: PressKey("nosuchkey"),
        lambda: Wait(-1),
        lambda: ExecutorSettings(backend="nope"),
    ],
)
def test_invalid_actions(make_action: Any) -> None:
    with pytest.raises(InvalidActionError):
        make_action()


def test_describe() -> None:
    assert describe(Click(Point(1, 2), count=2)) == "double-click at (1, 2)"
    assert describe(Hotkey(("ctrl", "s"))) == "press ctrl+s"
    assert describe(Scroll(Point(3, 4), "down", 5)) == "scroll down 5 at (3, 4)"
