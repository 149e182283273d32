"""The Linux accessibility reader: AT-SPI over D-Bus, behind the platform's ``Accessibility``."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, replace
from typing import Any

from guiagent.platform.atspi import bus as a11y_bus
from guiagent.platform.atspi.dbus import BusError, Call, Connection, Failed, get_property
from guiagent.platform.atspi.screen import (
    Box,
    XScreen,
    centre,
    divided,
    misplaced_offset,
    on_screen,
    overscale,
    place,
    read_x_screen,
    window_scale,
)
from guiagent.platform.atspi.tree import (
    ACCESSIBLE,
    App,
    Record,
    Ref,
    TreeReader,
    list_apps,
)
from guiagent.platform.atspi.vocabulary import FOCUSABLE, node_states, role_word, state_bits
from guiagent.platform.base import AccessibilityTree, AccessibleNode

RECHECK_S = 2.0  # how long an answer of unavailable_reason() holds
COMPONENT = "org.a11y.atspi.Component"
ACTION = "org.a11y.atspi.Action"
VALUE = "org.a11y.atspi.Value"
TEXT = "org.a11y.atspi.Text"
SCREEN_COORDS = 0  # ATSPI_COORD_TYPE_SCREEN
MAX_VALUE_CHARS = 200
CONTROLS = frozenset({"button", "toggle button", "check box", "radio button", "menu", "menu item",
                      "link", "tab", "text field", "combo box", "list item", "tree item", "cell",
                      "slider", "spin button"})


@dataclass(frozen=True, slots=True)
class _WindowRead:
    """One window's nodes as last read (``parent`` indexes count from its first node)."""

    title: str
    nodes: tuple[AccessibleNode, ...]
    truncated: bool


MAX_KNOWN_OBJECTS = 200_000


class AtspiAccessibility:
    """Reads AT-SPI trees of the applications on ``display`` (an X display name; the bus is
    found through it, or through ``bus_address`` / the session bus).

    Windows read once are kept: ``snapshot(refresh=False)`` returns their nodes as last read and
    reads only windows not seen before (cheap when the screen did not change);
    :meth:`do_action` forgets the window it acted on.
    """

    def __init__(self, display: str | None = None, *, bus_address: str | None = None,
                 connect_timeout: float = 1.0, app_caches: bool = False) -> None:
        self.display = display if display is not None else os.environ.get("DISPLAY")
        self.bus_address = bus_address
        self.connect_timeout = connect_timeout
        # Off by default: switching the bridges' caches on (by listening for an event) makes
        # every application run ATK listeners for every change; LibreOffice Calc at 4K then
        # spent ~90% of a core on them and took keys tens of seconds late. Reads go object by
        # object instead (slower on big trees, but the applications stay as fast as without us).
        self.app_caches = app_caches
        self._conn: Connection | None = None
        self._x: Any = None  # one X connection for our lifetime (see bus.open_x_display)
        self._checked: tuple[float, str | None] | None = None  # (when, unavailable_reason)
        self._windows: dict[Ref, _WindowRead] = {}
        self._kinds: dict[Ref, tuple[int, frozenset[str]]] = {}  # see TreeReader.kinds
        self._event_registered = False

    # -- the bus ---------------------------------------------------------------------------

    def unavailable_reason(self) -> str | None:
        # Callers ask before every read, at polling rate: the answer is kept for RECHECK_S.
        now = time.monotonic()
        if self._checked is not None and now - self._checked[0] < RECHECK_S:
            return self._checked[1]
        reason = self._check()
        self._checked = (now, reason)
        return reason

    def _check(self) -> str | None:
        try:
            self._connection()
        except BusError as exc:
            return str(exc)
        session = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if session:
            answer = a11y_bus.ask_session_bus(session, self.connect_timeout)
            # Only the session that owns this a11y bus can say whether it is switched on.
            if answer.address == self._address_in_use and answer.enabled is False:
                return ("accessibility is switched off (org.a11y.Status IsEnabled is false; GTK "
                        "applications still answer, Qt and Chromium do not): "
                        + a11y_bus.ISENABLED_HINT)
        return None

    @property
    def _address_in_use(self) -> str | None:
        return self._conn.address if self._conn is not None else None

    def _find_address(self) -> str:
        if self.bus_address:
            return self.bus_address
        conn = a11y_bus.open_x_display(self.display) if self.display else None
        try:
            address = a11y_bus.address_from_display(conn)
        finally:
            if conn is not None:
                conn.close()
        if address:
            return address
        session = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        where = f"display {self.display}" if self.display else "this session ($DISPLAY is not set)"
        if not session:
            missing = "" if a11y_bus.launcher_path() else " (and at-spi2-core is not installed)"
            raise BusError(f"no accessibility bus for {where}: no AT-SPI bus is published on the "
                           f"display and $DBUS_SESSION_BUS_ADDRESS is not set{missing}; "
                           + a11y_bus.ENABLE_HINT)
        answer = a11y_bus.ask_session_bus(session, self.connect_timeout)
        if answer.address is None:
            raise BusError(f"no accessibility bus for {where}: {answer.problem}; "
                           + a11y_bus.ENABLE_HINT)
        return answer.address

    def _connection(self) -> Connection:
        if self._conn is None:
            address = self._find_address()
            try:
                self._conn = Connection(address, self.connect_timeout)
            except BusError as exc:
                raise BusError(f"the accessibility bus does not answer: {exc}; restart "
                               "at-spi-bus-launcher (or the virtual display) and the applications"
                               ) from exc
            self._event_registered = False
        if self.app_caches and not self._event_registered:
            # ATK's bridge keeps its object cache (and answers Cache.GetItems) only once some
            # client listens for events; any registration switches it on in every application.
            self._conn.call(Call("org.a11y.atspi.Registry", "/org/a11y/atspi/registry",
                                 "org.a11y.atspi.Registry", "RegisterEvent", "s",
                                 ("window:desktop-create",)), self.connect_timeout)
            self._event_registered = True
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _x_display(self) -> Any:
        if self._x is None and self.display:
            self._x = a11y_bus.open_x_display(self.display)
        return self._x

    def close(self) -> None:
        self._drop_connection()
        self._windows.clear()
        if self._x is not None:
            with contextlib.suppress(Exception):
                self._x.close()
            self._x = None

    # -- snapshot --------------------------------------------------------------------------

    def snapshot(self, *, window: str | None = None, max_nodes: int = 5000, timeout: float = 2.0,
                 visible_only: bool = True, refresh: bool = True) -> AccessibilityTree:
        started = time.monotonic()
        deadline = started + timeout
        notes: list[str] = []
        try:
            conn = self._connection()
            nodes, truncated = self._read(conn, window, max_nodes, deadline, visible_only,
                                          refresh, notes)
        except BusError as exc:
            self._drop_connection()
            notes.append(str(exc))
            return AccessibilityTree((), False, tuple(notes), time.monotonic() - started)
        return AccessibilityTree(tuple(nodes), truncated, tuple(notes), time.monotonic() - started)

    def _read(self, conn: Connection, window: str | None, max_nodes: int, deadline: float,
              visible_only: bool, refresh: bool, notes: list[str]) -> tuple[list[AccessibleNode], bool]:
        app_timeout = min(1.0, max(0.2, (deadline - time.monotonic()) / 4))
        apps = list_apps(conn, deadline, app_timeout, notes)
        if len(self._kinds) > MAX_KNOWN_OBJECTS:
            self._kinds.clear()  # bounded: objects of closed windows are never asked again
        reader = TreeReader(conn, deadline, notes, self._kinds)
        chosen: list[tuple[App, int, Ref]] = []
        for app in apps:
            chosen += [(app, index, ref) for index, ref in enumerate(app.windows)]
        stale = [ref for _, _, ref in chosen if refresh or ref not in self._windows]
        needing = [app for app in apps if any(ref in stale for ref in app.windows)]
        if window is not None or stale:
            # Window titles decide the filter: one round for all of them.
            reader.fetch(ref for _, _, ref in chosen if window is not None or ref in stale)
        if window is not None:
            wanted = window.casefold()
            chosen = [c for c in chosen if c[2] in reader.records
                      and wanted in reader.records[c[2]].name.casefold()]
            if not chosen:
                notes.append(f"no accessible window's title contains {window!r}")
            needing = [app for app in needing if any(c[0] is app and c[2] in stale for c in chosen)]
        reader.load_caches(needing)
        x_screen = read_x_screen(self._x_display())
        nodes: list[AccessibleNode] = []
        truncated = reader.truncated
        budget = max_nodes
        for app, index, ref in chosen:
            if budget <= 0:
                truncated = True
                break
            if ref in stale or ref not in self._windows:
                reader.truncated = False
                reader.expand([ref], budget * 4 if visible_only else budget, visible_only)
                read = self._window_nodes(conn, reader, app, index, ref, budget, visible_only,
                                          x_screen, deadline)
                if read is None:
                    continue
                self._windows[ref] = read
            read = self._windows[ref]
            truncated = truncated or read.truncated or len(read.nodes) > budget
            offset = len(nodes)
            nodes += [replace(n, parent=None if n.parent is None else n.parent + offset)
                      for n in read.nodes[:budget]]
            budget -= len(read.nodes)
        # Forget windows that closed.
        alive = {ref for app in apps for ref in app.windows}
        for ref in [r for r in self._windows if r not in alive]:
            del self._windows[ref]
        if any(tree_note for tree_note in notes if "time budget" in tree_note):
            truncated = True
        return nodes, truncated

    def _window_nodes(self, conn: Connection, reader: TreeReader, app: App, index: int,
                      ref: Ref, budget: int, visible_only: bool, x_screen: XScreen | None,
                      deadline: float) -> _WindowRead | None:
        top = reader.records.get(ref)
        if top is None:
            return None
        order = _document_order(reader.records, ref, (index,), visible_only)
        wanted = [(record, path, parent) for record, path, parent in order
                  if COMPONENT in record.interfaces]
        extents = _gather_extents(conn, [r for r, _, _ in wanted], deadline)
        x_index = x_screen.find(top.name, app.pid) if x_screen is not None else None
        x_window = x_screen.stacking[x_index] if x_screen is not None and x_index is not None else None
        scale = window_scale(extents.get(ref), x_window)
        # Boxes, with LibreOffice's misplaced panes moved where they are drawn (see screen.py).
        shift: dict[Ref, tuple[int, int]] = {}
        overscaled: dict[Ref, float] = {}  # web content reported at k times its place (screen.py)
        boxes: dict[Ref, Box | None] = {}
        parents: dict[Ref, Ref | None] = {}
        for record, _path, parent in order:
            parents[record.ref] = parent
            inherited = shift.get(parent, (0, 0)) if parent is not None else (0, 0)
            raw = extents.get(record.ref)
            moved = _moved(raw, inherited)
            parent_raw = _moved(extents.get(parent), shift.get(parent, (0, 0))) if parent else None
            own = misplaced_offset(moved, parent_raw)
            shift[record.ref] = (inherited[0] + own[0], inherited[1] + own[1])
            placed = place(raw, scale, shift[record.ref])
            factor = overscaled.get(parent, 1.0) if parent is not None else 1.0
            if factor == 1.0 and role_word(record.role, record.bits) == "document":
                factor = overscale(placed, boxes.get(ref))
            overscaled[record.ref] = factor
            boxes[record.ref] = divided(placed, factor)
        kept: list[tuple[Record, tuple[int, ...], Box | None]] = []
        truncated = reader.truncated
        size = x_screen.size if x_screen is not None else None
        for record, path, _parent in order:
            box = boxes.get(record.ref)
            if visible_only and not _visible(record, box, size, x_screen, x_index):
                continue
            if len(kept) >= budget:
                truncated = True
                break
            kept.append((record, path, box))
        details = _gather_details(conn, [r for r, _, _ in kept], deadline)
        position = {record.ref: i for i, (record, _, _) in enumerate(kept)}
        nodes = []
        for record, path, box in kept:
            parent = parents.get(record.ref)
            while parent is not None and parent not in position:
                parent = parents.get(parent)
            actions, value = details.get(record.ref, ((), ""))
            nodes.append(AccessibleNode(
                role=role_word(record.role, record.bits), name=record.name, box=box,
                states=node_states(record.role, record.bits), path=path,
                parent=position[parent] if parent is not None else None, app=app.name,
                window=top.name, actions=actions, description=record.description, value=value,
                handle=_handle(record.ref)))
        return _WindowRead(top.name, tuple(nodes), truncated)

    # -- actions ---------------------------------------------------------------------------

    def do_action(self, node: AccessibleNode, action: str | None = None,
                  timeout: float = 2.0) -> bool:
        deadline = time.monotonic() + timeout
        try:
            conn = self._connection()
            ref = self._resolve(conn, node, deadline)
            if ref is None:
                return False
            reply = conn.gather([Call(*ref, ACTION, "GetActions")], deadline)[0]
            if isinstance(reply, Failed):
                return False
            names = [str(entry[0]).casefold() for entry in reply[0]]
            if not names:
                return False
            index = 0 if action is None else _action_index(names, action.casefold())
            if index is None:
                return False
            done = conn.gather([Call(*ref, ACTION, "DoAction", "i", (index,))], deadline)[0]
        except BusError:
            self._drop_connection()
            return False
        self._forget_window_of(ref)
        # An action that opens a modal dialog may not answer until the dialog closes: the
        # request was delivered to a live object, so no answer in time counts as done.
        return done.timed_out if isinstance(done, Failed) else bool(done[0])

    def _resolve(self, conn: Connection, node: AccessibleNode, deadline: float) -> Ref | None:
        """The node's object: its handle while that still is the same role and name, else the
        object at the same path in the same application, else the only one in its window
        with that role and name; None when it is gone."""
        if "/" in node.handle:
            handle = _from_handle(node.handle)
            if self._matches(conn, handle, node, deadline):
                return handle
        for app in list_apps(conn, deadline, min(1.0, max(0.1, deadline - time.monotonic())), []):
            if app.name != node.app:
                continue
            ref: Ref | None = app.root
            for step in node.path:
                assert ref is not None
                reply = conn.gather([Call(*ref, ACCESSIBLE, "GetChildAtIndex", "i", (step,))],
                                    deadline)[0]
                ref = None if isinstance(reply, Failed) else (str(reply[0][0]), str(reply[0][1]))
                if ref is None:
                    break
            if ref is not None and self._matches(conn, ref, node, deadline):
                return ref
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        tree = self.snapshot(window=node.window or None, timeout=remaining, visible_only=False)
        same = [n for n in tree.nodes if n.role == node.role and n.name == node.name]
        if len(same) != 1:
            return None
        return _from_handle(same[0].handle)

    def _matches(self, conn: Connection, ref: Ref, node: AccessibleNode, deadline: float) -> bool:
        role, name, state = conn.gather([Call(*ref, ACCESSIBLE, "GetRole"),
                                         get_property(*ref, ACCESSIBLE, "Name"),
                                         Call(*ref, ACCESSIBLE, "GetState")], deadline)
        if isinstance(role, Failed) or isinstance(name, Failed) or isinstance(state, Failed):
            return False
        bits = state_bits(state[0])
        return role_word(int(role[0]), bits) == node.role and str(name[0][1]) == node.name

    def _forget_window_of(self, ref: Ref) -> None:
        """After an action the application's windows may look different: read them again."""
        for window_ref in [r for r in self._windows if r[0] == ref[0]]:
            del self._windows[window_ref]


def _handle(ref: Ref) -> str:
    # A bus name has no "/" and an object path starts with one.
    return ref[0] + ref[1]


def _from_handle(handle: str) -> Ref:
    cut = handle.index("/")
    return (handle[:cut], handle[cut:])


def _moved(box: Box | None, offset: tuple[int, int]) -> Box | None:
    if box is None:
        return None
    return (box[0] + offset[0], box[1] + offset[1], box[2], box[3])


def _visible(record: Record, box: Box | None, size: tuple[int, int] | None,
             x_screen: XScreen | None, x_index: int | None) -> bool:
    if not record.shown or not on_screen(box, size):
        return False
    assert box is not None
    return x_screen is None or x_index is None or not x_screen.covered(x_index, *centre(box))


def _document_order(records: dict[Ref, Record], top: Ref, path: tuple[int, ...],
                    visible_only: bool) -> list[tuple[Record, tuple[int, ...], Ref | None]]:
    """Depth-first, parents before children: (record, path from the app root, parent ref)."""
    out: list[tuple[Record, tuple[int, ...], Ref | None]] = []
    stack: list[tuple[Ref, tuple[int, ...], Ref | None]] = [(top, path, None)]
    seen: set[Ref] = set()
    while stack:
        ref, at, parent = stack.pop()
        record = records.get(ref)
        if record is None or ref in seen:
            continue
        seen.add(ref)
        out.append((record, at, parent))
        if visible_only and not record.shown:
            continue
        children = record.children or []
        stack += [(child, (*at, i), ref) for i, child in reversed(list(enumerate(children)))]
    return out


def _gather_extents(conn: Connection, records: list[Record], deadline: float) -> dict[Ref, Box]:
    replies = conn.gather([Call(*r.ref, COMPONENT, "GetExtents", "u", (SCREEN_COORDS,))
                           for r in records], deadline)
    return {r.ref: tuple(int(v) for v in reply[0])  # type: ignore[misc]
            for r, reply in zip(records, replies, strict=True) if not isinstance(reply, Failed)}


def _gather_details(conn: Connection, records: list[Record],
                    deadline: float) -> dict[Ref, tuple[tuple[str, ...], str]]:
    """Action names and value (a Value's number, the first characters of a text)."""
    calls: list[Call] = []
    asked: list[tuple[Record, str]] = []
    for record in records:
        if ACTION in record.interfaces:
            calls.append(Call(*record.ref, ACTION, "GetActions"))
            asked.append((record, "actions"))
        if VALUE in record.interfaces:
            calls.append(get_property(*record.ref, VALUE, "CurrentValue"))
            asked.append((record, "value"))
        elif TEXT in record.interfaces and _reads_as_text(record):
            calls.append(Call(*record.ref, TEXT, "GetText", "ii", (0, MAX_VALUE_CHARS)))
            asked.append((record, "text"))
    replies = conn.gather(calls, deadline) if calls else []
    details: dict[Ref, tuple[tuple[str, ...], str]] = {}
    for (record, kind), reply in zip(asked, replies, strict=True):
        if isinstance(reply, Failed):
            continue
        actions, value = details.get(record.ref, ((), ""))
        if kind == "actions":
            actions = tuple(str(entry[0]) for entry in reply[0])
        elif kind == "value":
            value = _number(reply[0][1])
        else:
            value = str(reply[0])
        details[record.ref] = (actions, value)
    # GetActions gives localised names, empty in Chromium (where every object has two
    # actions): ask controls for their plain names, one call per action.
    controls = {r.ref for r in records if r.bits & FOCUSABLE or role_word(r.role, r.bits) in CONTROLS}
    unnamed = [(ref, index) for ref, (actions, _) in details.items() if ref in controls
               for index, name in enumerate(actions) if not name]
    names = conn.gather([Call(*ref, ACTION, "GetName", "i", (index,)) for ref, index in unnamed],
                        deadline) if unnamed else []
    for (ref, index), reply in zip(unnamed, names, strict=True):
        if not isinstance(reply, Failed):
            actions, value = details[ref]
            details[ref] = ((*actions[:index], str(reply[0]), *actions[index + 1:]), value)
    return {ref: (tuple(name for name in actions if name), value)
            for ref, (actions, value) in details.items()}


def _reads_as_text(record: Record) -> bool:
    """Whose text is its value: a text field's, and a nameless text's (a calculator's display)."""
    word = role_word(record.role, record.bits)
    return word == "text field" or (word == "text" and not record.name)


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _action_index(names: list[str], wanted: str) -> int | None:
    if wanted in names:
        return names.index(wanted)
    # Toolkits name the primary action differently: "click" (GTK, LibreOffice), "press"
    # (Chromium buttons), "activate" (menus), "jump" (links), "toggle" (check boxes).
    primary = ("click", "press", "activate", "jump", "toggle", "check", "uncheck", "select")
    if wanted in primary:
        for index, name in enumerate(names):
            if name in primary:
                return index
    return None
