from __future__ import annotations

import pytest

from guiagent.errors import InvalidActionError
from guiagent.input.actions import Hotkey, PressKey, key_action
from guiagent.keys import canonical_key, parse_keys, pynput_hotkey_format


@pytest.mark.parametrize(
    ("combo", "keys"),
    [
        ("enter", ("enter",)),
        ("Return", ("enter",)),
        ("ctrl+shift+s", ("ctrl", "shift", "s")),
        ("Ctrl+S", ("ctrl", "S")),
        ("cmd+space", ("super", "space")),
        ("PgDn", ("pagedown",)),
        ("+", ("+",)),
        ("ctrl++", ("ctrl", "+")),
        ("alt+F4", ("alt", "f4")),
    ],
)
def test_parse_keys(combo: str, keys: tuple[str, ...]) -> None:
    assert parse_keys(combo) == keys


@pytest.mark.parametrize("bad", ["", "ctrl+nosuchkey", "ctrl+ctrl"])
def test_parse_keys_rejects(bad: str) -> None:
    with pytest.raises(InvalidActionError):
        parse_keys(bad)


def test_unknown_key_error_lists_known_names() -> None:
    with pytest.raises(InvalidActionError, match="enter"):
        canonical_key("entr")


def test_key_action_picks_press_or_hotkey() -> None:
    assert key_action("enter", presses=3) == PressKey("enter", 3)
    assert key_action("ctrl+s") == Hotkey(("ctrl", "s"))
    with pytest.raises(InvalidActionError):
        key_action("ctrl+s", presses=2)


def test_pynput_hotkey_format() -> None:
    assert pynput_hotkey_format(("ctrl", "alt", "shift", "q")) == "<ctrl>+<alt>+<shift>+q"
