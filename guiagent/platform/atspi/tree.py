"""Reading the accessible objects of applications: bulk from the bridge's cache, else call by call.

Most toolkits (everything on ATK's bridge: GTK3, LibreOffice, Chromium) answer
``org.a11y.atspi.Cache.GetItems`` with role, name, states, interfaces and parent of every object
they track, in one reply: LibreOffice Writer's 2,000 objects come back in about 0.2 s, against
more than 1 s for the same tree object by object. The cache's parent links are not always the
tree (LibreOffice's VCL toolbars point at a frame that lists no such child), so a node whose
cached child count disagrees with the children that point at it asks ``GetChildren``, and an
object the cache lacks is read call by call. Every round is pipelined across applications.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from guiagent.platform.atspi.dbus import Call, Connection, Failed, Reply, get_property
from guiagent.platform.atspi.vocabulary import MANAGES_DESCENDANTS, SHOWING, VISIBLE, state_bits

ACCESSIBLE = "org.a11y.atspi.Accessible"
CACHE = "org.a11y.atspi.Cache"
ROOT_PATH = "/org/a11y/atspi/accessible/root"
NULL_PATH = "/org/a11y/atspi/null"
REGISTRY = "org.a11y.atspi.Registry"
# More children than this under one object (a spreadsheet claims a billion cells) are not read.
MAX_CHILDREN = 5000

Ref = tuple[str, str]  # (bus name, object path)


@dataclass(slots=True)
class Record:
    """What one object said about itself. ``children`` is None until known."""

    ref: Ref
    role: int
    name: str
    description: str
    bits: int
    interfaces: frozenset[str]
    child_count: int
    children: list[Ref] | None = None

    @property
    def shown(self) -> bool:
        return bool(self.bits & SHOWING and self.bits & VISIBLE)


@dataclass(slots=True)
class App:
    """One application on the accessibility bus."""

    bus: str
    name: str = ""
    pid: int = 0
    windows: list[Ref] = field(default_factory=list)
    cached: bool = False

    @property
    def root(self) -> Ref:
        return (self.bus, ROOT_PATH)


def list_apps(conn: Connection, deadline: float, app_timeout: float,
              notes: list[str]) -> list[App]:
    """The applications on the bus with their names, PIDs and top-level windows. An application
    that does not answer within ``app_timeout`` seconds is left out (and noted)."""
    reply = conn.gather([Call(REGISTRY, ROOT_PATH, ACCESSIBLE, "GetChildren")], deadline)[0]
    if isinstance(reply, Failed):
        notes.append(f"the AT-SPI registry did not list applications ({reply.error} {reply.message})")
        return []
    apps = [App(str(bus)) for bus, path in reply[0] if path != NULL_PATH]
    calls: list[Call] = []
    for app in apps:
        calls += [get_property(app.bus, ROOT_PATH, ACCESSIBLE, "Name"),
                  Call(app.bus, ROOT_PATH, ACCESSIBLE, "GetChildren"),
                  Call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                       "GetConnectionUnixProcessID", "s", (app.bus,))]
    replies = conn.gather(calls, min(deadline, time.monotonic() + app_timeout))
    answered = []
    for index, app in enumerate(apps):
        name, children, pid = replies[3 * index: 3 * index + 3]
        if not isinstance(pid, Failed):
            app.pid = int(pid[0])
        if isinstance(name, Failed) or isinstance(children, Failed):
            failed = name if isinstance(name, Failed) else children
            assert isinstance(failed, Failed)
            if failed.timed_out:
                notes.append(f"skipped application {app.bus} (pid {app.pid or '?'}): it did not "
                             f"answer within {app_timeout:.1f} s (stopped or busy)")
            continue  # an application that quit between the two calls
        app.name = str(name[0][1])
        app.windows = [(str(bus), str(path)) for bus, path in children[0]]
        answered.append(app)
    return answered


class TreeReader:
    """Collects :class:`Record` objects for chosen windows within a deadline and node budget."""

    def __init__(self, conn: Connection, deadline: float, notes: list[str],
                 kinds: dict[Ref, tuple[int, frozenset[str]]] | None = None) -> None:
        self.conn = conn
        # Role and interfaces of objects read before (they never change for an object): kept by
        # the caller across snapshots, so a re-read asks each known object 2 things, not 4.
        self.kinds = kinds if kinds is not None else {}
        self.deadline = deadline
        self.notes = notes
        self.records: dict[Ref, Record] = {}
        self._cached_children: dict[Ref, list[Ref]] = {}
        self._from_cache: set[Ref] = set()
        self._cache_index: dict[Ref, int] = {}
        self.truncated = False

    def fetch(self, refs: Iterable[Ref]) -> None:
        """Read the records of ``refs`` (top-level windows, usually) object by object."""
        self._read_objects([ref for ref in refs if ref not in self.records])

    def load_caches(self, apps: list[App]) -> None:
        """Ask each application's bridge for its whole cache in one call each."""
        replies = self.conn.gather(
            [Call(app.bus, "/org/a11y/atspi/cache", CACHE, "GetItems") for app in apps],
            self.deadline)
        for app, reply in zip(apps, replies, strict=True):
            if isinstance(reply, Failed):
                if reply.timed_out:
                    self.notes.append(f"{app.name or app.bus}: no answer to Cache.GetItems in time")
                continue  # no cache (Qt without it, GTK4): read object by object
            app.cached = True
            for item in reply[0]:
                self._add_cache_item(item)

    def _add_cache_item(self, item: tuple) -> None:
        (bus, path), _app, (pbus, ppath), index, count, interfaces, name, role, desc, states = item
        ref = (str(bus), str(path))
        if ref[1] == ROOT_PATH:
            return
        self.records[ref] = Record(ref, int(role), str(name), str(desc), state_bits(states),
                                   frozenset(interfaces), int(count))
        self._from_cache.add(ref)
        if ppath != NULL_PATH and (pbus, ppath) != ref:
            self._cached_children.setdefault((str(pbus), str(ppath)), []).append(ref)
            self._cache_index[ref] = int(index)

    def expand(self, windows: list[Ref], max_nodes: int, visible_only: bool) -> None:
        """Learn the children of everything under ``windows`` (breadth first), reading what is
        missing, until done, out of budget or out of time. With ``visible_only`` the children
        of an object that is not showing are not read."""
        seen: set[Ref] = set()
        level = list(windows)
        for ref in self._cached_children:
            self._cached_children[ref].sort(key=lambda child: self._cache_index.get(child, 0))
        while level:
            self._read_objects([ref for ref in level if ref not in self.records])
            ask: list[Record] = []
            next_level: list[Ref] = []
            for ref in level:
                record = self.records.get(ref)
                if record is None or ref in seen:
                    continue
                seen.add(ref)
                if len(seen) > max_nodes:
                    self.truncated = True
                    return
                if visible_only and not record.shown:
                    record.children = []
                    continue
                if record.children is None:
                    cached = self._cached_children.get(ref, [])
                    if ref in self._from_cache and len(cached) == record.child_count:
                        record.children = cached
                    elif record.child_count > MAX_CHILDREN or (
                            record.bits & MANAGES_DESCENDANTS and record.child_count > max_nodes):
                        self.notes.append(f"{record.name or 'an object'} has {record.child_count} "
                                          "children; only those the application cached are read")
                        record.children = cached
                    else:
                        ask.append(record)
                        continue
                next_level += record.children
            if ask:
                next_level += self._read_children(ask)
            if time.monotonic() >= self.deadline:
                self.truncated = True
                self.notes.append("the time budget ran out before the whole tree was read")
                return
            level = next_level

    def _read_children(self, records: list[Record]) -> list[Ref]:
        replies = self.conn.gather([Call(*r.ref, ACCESSIBLE, "GetChildren") for r in records],
                                   self.deadline)
        found: list[Ref] = []
        for record, reply in zip(records, replies, strict=True):
            record.children = [] if isinstance(reply, Failed) else [
                (str(bus), str(path)) for bus, path in reply[0] if path != NULL_PATH]
            found += record.children
        return found

    def _read_objects(self, refs: list[Ref]) -> None:
        calls: list[Call] = []
        spans: list[tuple[int, int]] = []
        for ref in refs:
            start = len(calls)
            calls += [Call(*ref, "org.freedesktop.DBus.Properties", "GetAll", "s", (ACCESSIBLE,)),
                      Call(*ref, ACCESSIBLE, "GetState")]
            if ref not in self.kinds:
                calls += [Call(*ref, ACCESSIBLE, "GetRole"), Call(*ref, ACCESSIBLE, "GetInterfaces")]
            spans.append((start, len(calls)))
        replies = self.conn.gather(calls, self.deadline) if calls else []
        for ref, (start, end) in zip(refs, spans, strict=True):
            record = record_from_replies(ref, replies[start:end], self.kinds.get(ref))
            if record is not None:
                self.records[ref] = record
                self.kinds[ref] = (record.role, record.interfaces)


def record_from_replies(ref: Ref, replies: list[Reply],
                        kind: tuple[int, frozenset[str]] | None = None) -> Record | None:
    """A record from the replies to GetAll and GetState, then GetRole and GetInterfaces unless
    ``kind`` (role, interfaces) is known already."""
    props, state = replies[0], replies[1]
    if isinstance(props, Failed) or isinstance(state, Failed):
        return None  # gone, or not answering in time
    if kind is None:
        role, interfaces = replies[2], replies[3]
        if isinstance(role, Failed):
            return None
        kind = (int(role[0]), frozenset() if isinstance(interfaces, Failed) else frozenset(interfaces[0]))
    values = {key: value[1] for key, value in props[0].items()}
    return Record(ref, kind[0], str(values.get("Name", "")), str(values.get("Description", "")),
                  state_bits(state[0]), kind[1], int(values.get("ChildCount", 0)))
