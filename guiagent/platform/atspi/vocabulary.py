"""AT-SPI roles and states, and how they read as guiagent's role and state words."""

from __future__ import annotations

# AtspiRole, in enum order (at-spi2-core's atspi-constants.h): a role number indexes this.
ATSPI_ROLES = (
    "invalid", "accelerator label", "alert", "animation", "arrow", "calendar", "canvas",
    "check box", "check menu item", "color chooser", "column header", "combo box", "date editor",
    "desktop icon", "desktop frame", "dial", "dialog", "directory pane", "drawing area",
    "file chooser", "filler", "focus traversable", "font chooser", "frame", "glass pane",
    "html container", "icon", "image", "internal frame", "label", "layered pane", "list",
    "list item", "menu", "menu bar", "menu item", "option pane", "page tab", "page tab list",
    "panel", "password text", "popup menu", "progress bar", "push button", "radio button",
    "radio menu item", "root pane", "row header", "scroll bar", "scroll pane", "separator",
    "slider", "spin button", "split pane", "status bar", "table", "table cell",
    "table column header", "table row header", "tearoff menu item", "terminal", "text",
    "toggle button", "tool bar", "tool tip", "tree", "tree table", "unknown", "viewport",
    "window", "extended", "header", "footer", "paragraph", "ruler", "application",
    "autocomplete", "editbar", "embedded", "entry", "chart", "caption", "document frame",
    "heading", "page", "section", "redundant object", "form", "link", "input method window",
    "table row", "tree item", "document spreadsheet", "document presentation", "document text",
    "document web", "document email", "comment", "list box", "grouping", "image map",
    "notification", "info bar", "level bar", "title bar", "block quote", "audio", "video",
    "definition", "article", "landmark", "log", "marquee", "math", "rating", "timer", "static",
    "math fraction", "math root", "subscript", "superscript", "description list",
    "description term", "description value", "footnote", "content deletion",
    "content insertion", "mark", "suggestion", "push button menu",
)
ROLE_APPLICATION = ATSPI_ROLES.index("application")

# AT-SPI role name -> guiagent role word (ROLES); a role not listed keeps its AT-SPI name.
_ROLE_WORDS = {
    "push button": "button", "push button menu": "button",
    "check menu item": "menu item", "radio menu item": "menu item", "tearoff menu item": "menu item",
    "popup menu": "menu", "page tab": "tab", "entry": "text field", "password text": "text field",
    "table cell": "cell", "tool bar": "toolbar", "desktop icon": "icon",
    "static": "text", "paragraph": "text", "caption": "label", "accelerator label": "label",
    "frame": "window", "alert": "dialog", "file chooser": "dialog", "font chooser": "dialog",
    "color chooser": "dialog", "tree table": "table", "list box": "list",
    "filler": "panel", "section": "panel", "grouping": "panel", "scroll pane": "panel",
    "viewport": "panel", "split pane": "panel", "layered pane": "panel", "root pane": "panel",
    "form": "panel", "landmark": "panel", "article": "panel", "html container": "panel",
    "document frame": "document", "document text": "document", "document web": "document",
    "document spreadsheet": "document", "document presentation": "document",
    "document email": "document",
}

# AtspiStateType, in enum order: bit n of the 64-bit state set is this state.
ATSPI_STATES = (
    "invalid", "active", "armed", "busy", "checked", "collapsed", "defunct", "editable",
    "enabled", "expandable", "expanded", "focusable", "focused", "has-tooltip", "horizontal",
    "iconified", "modal", "multi-line", "multiselectable", "opaque", "pressed", "resizable",
    "selectable", "selected", "sensitive", "showing", "single-line", "stale", "transient",
    "vertical", "visible", "manages-descendants", "indeterminate", "required", "truncated",
    "animated", "invalid-entry", "supports-autocompletion", "selectable-text", "is-default",
    "visited", "checkable", "has-popup", "read-only",
)
_BIT = {name: 1 << index for index, name in enumerate(ATSPI_STATES)}
SHOWING = _BIT["showing"]
VISIBLE = _BIT["visible"]
MANAGES_DESCENDANTS = _BIT["manages-descendants"]
DEFUNCT = _BIT["defunct"]
FOCUSABLE = _BIT["focusable"]

# States worth telling a caller, in guiagent's words ("disabled" is derived, see node_states).
_STATE_WORDS = {
    "active": "active", "checked": "checked", "collapsed": "collapsed", "editable": "editable",
    "expandable": "expandable", "expanded": "expanded", "focusable": "focusable",
    "focused": "focused", "modal": "modal", "multi-line": "multi line", "pressed": "pressed",
    "selectable": "selectable", "selected": "selected", "indeterminate": "mixed",
    "required": "required", "is-default": "default", "visited": "visited",
    "checkable": "checkable", "has-popup": "has popup", "read-only": "read only",
    "showing": "showing", "visible": "visible",
}


def state_bits(words: list[int] | tuple[int, ...]) -> int:
    """AT-SPI sends a state set as two 32-bit words, low word first."""
    low = int(words[0]) if len(words) > 0 else 0
    high = int(words[1]) if len(words) > 1 else 0
    return low | (high << 32)


def role_name(role: int) -> str:
    return ATSPI_ROLES[role] if 0 <= role < len(ATSPI_ROLES) else f"role {role}"


def role_word(role: int, bits: int) -> str:
    """guiagent's word for an AT-SPI role: ``push button`` -> ``button`` and so on. A "text"
    object is a ``text field`` when it is editable, else plain ``text``."""
    name = role_name(role)
    if name == "text":
        return "text field" if bits & _BIT["editable"] else "text"
    return _ROLE_WORDS.get(name, name)


def node_states(role: int, bits: int) -> frozenset[str]:
    words = {word for name, word in _STATE_WORDS.items() if bits & _BIT[name]}
    # Toolkits differ on a toggled toggle button: GTK says "pressed", LibreOffice "checked".
    if "pressed" in words and role_name(role) == "toggle button":
        words.add("checked")
    # Not enabled (ATK) or not sensitive (GTK) is what a person calls greyed out.
    if not bits & _BIT["enabled"] or not bits & _BIT["sensitive"]:
        words.add("disabled")
    return frozenset(words)
