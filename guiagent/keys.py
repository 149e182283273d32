"""One vocabulary of key names, translated to each input backend's own names.

Users write keys the way they read on a keyboard ("Enter", "ctrl+shift+s", "PgDn",
"cmd+space"); :func:`parse_keys` turns that into canonical names and every backend maps
canonical names to what it sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from guiagent.errors import InvalidActionError


@dataclass(frozen=True, slots=True)
class KeySpec:
    pyautogui: str
    pynput: str  # attribute of pynput.keyboard.Key
    xdotool: str  # X keysym


_SPECIAL: dict[str, KeySpec] = {
    "enter": KeySpec("enter", "enter", "Return"),
    "escape": KeySpec("esc", "esc", "Escape"),
    "tab": KeySpec("tab", "tab", "Tab"),
    "space": KeySpec("space", "space", "space"),
    "backspace": KeySpec("backspace", "backspace", "BackSpace"),
    "delete": KeySpec("delete", "delete", "Delete"),
    "insert": KeySpec("insert", "insert", "Insert"),
    "home": KeySpec("home", "home", "Home"),
    "end": KeySpec("end", "end", "End"),
    "pageup": KeySpec("pageup", "page_up", "Prior"),
    "pagedown": KeySpec("pagedown", "page_down", "Next"),
    "up": KeySpec("up", "up", "Up"),
    "down": KeySpec("down", "down", "Down"),
    "left": KeySpec("left", "left", "Left"),
    "right": KeySpec("right", "right", "Right"),
    "ctrl": KeySpec("ctrl", "ctrl", "Control_L"),
    "shift": KeySpec("shift", "shift", "Shift_L"),
    "alt": KeySpec("alt", "alt", "Alt_L"),
    "altgr": KeySpec("altright", "alt_gr", "ISO_Level3_Shift"),
    "super": KeySpec("win", "cmd", "Super_L"),
    "capslock": KeySpec("capslock", "caps_lock", "Caps_Lock"),
    "printscreen": KeySpec("printscreen", "print_screen", "Print"),
    "menu": KeySpec("apps", "menu", "Menu"),
    "pause": KeySpec("pause", "pause", "Pause"),
    **{f"f{i}": KeySpec(f"f{i}", f"f{i}", f"F{i}") for i in range(1, 21)},
}

_ALIASES: dict[str, str] = {
    "return": "enter",
    "esc": "escape",
    "del": "delete",
    "ins": "insert",
    "pgup": "pageup",
    "page_up": "pageup",
    "pgdn": "pagedown",
    "page_down": "pagedown",
    "control": "ctrl",
    "ctl": "ctrl",
    "option": "alt",
    "opt": "alt",
    "win": "super",
    "windows": "super",
    "meta": "super",
    "cmd": "super",
    "command": "super",
    "caps": "capslock",
    "caps_lock": "capslock",
    "bksp": "backspace",
    "prtsc": "printscreen",
    "print": "printscreen",
    "arrowup": "up",
    "arrowdown": "down",
    "arrowleft": "left",
    "arrowright": "right",
    "spacebar": "space",
    "plus": "+",
}

MODIFIERS = frozenset({"ctrl", "shift", "alt", "altgr", "super"})


def canonical_key(name: str) -> str:
    """The canonical name of one key: a special key name or a single character."""
    if len(name) == 1:
        return name
    lowered = name.strip().lower().replace(" ", "").replace("-", "")
    lowered = _ALIASES.get(lowered, lowered)
    if lowered in _SPECIAL or len(lowered) == 1:
        return lowered
    known = ", ".join(sorted(_SPECIAL))
    raise InvalidActionError(f"unknown key {name!r}; use a single character or one of: {known}")


def parse_keys(combo: str) -> tuple[str, ...]:
    """``"ctrl+shift+s"`` -> ``("ctrl", "shift", "s")``; ``"+"`` and ``"ctrl++"`` work too.

    ``cmd``/``super``/``win`` are one canonical key, ``super``: the Command key on macOS, the
    Super/Windows key elsewhere (each backend maps it).
    """
    text = combo.strip()
    if not text:
        raise InvalidActionError("empty key name: say which key to press, e.g. 'enter' or 'ctrl+s'")
    parts: list[str] = []
    token = ""
    for char in text:
        if char == "+" and token:
            parts.append(token)
            token = ""
        else:
            token += char
    if token:
        parts.append(token)
    keys = tuple(canonical_key(p) for p in parts)
    if len(set(keys)) != len(keys):
        raise InvalidActionError(f"key {combo!r} names the same key twice")
    return keys


def spec(key: str) -> KeySpec | None:
    """The backend names of a canonical special key, or ``None`` for a character key."""
    return _SPECIAL.get(key)


def pynput_hotkey_format(keys: tuple[str, ...]) -> str:
    """Canonical keys -> pynput's ``GlobalHotKeys`` format, e.g. ``<ctrl>+<alt>+q``."""
    out = []
    for key in keys:
        s = spec(key)
        out.append(f"<{s.pynput}>" if s else key.lower())
    return "+".join(out)
