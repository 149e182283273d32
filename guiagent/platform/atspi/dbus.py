"""A small blocking D-Bus client (jeepney underneath) that pipelines calls under one deadline.

AT-SPI has one D-Bus call per property per object, so reading a tree is thousands of small
calls. Sending them all before reading any reply lets every application work in parallel and
hides the round trips; a deadline on the whole batch (not per call) means a stopped
application or a dead bus costs at most that long. Replies that come after their batch gave up
are recognised by serial number and dropped.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count
from selectors import EVENT_READ, DefaultSelector
from typing import Any

from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call
from jeepney.bus import get_bus
from jeepney.io.blocking import prep_socket
from jeepney.low_level import Message, Parser

PROPERTIES = "org.freedesktop.DBus.Properties"


@dataclass(frozen=True, slots=True)
class Call:
    """One method call: where, what, and its arguments (``signature`` and ``body``)."""

    bus: str
    path: str
    interface: str
    member: str
    signature: str | None = None
    body: tuple[Any, ...] = ()

    def message(self) -> Message:
        return new_method_call(DBusAddress(self.path, self.bus, self.interface), self.member,
                               self.signature, self.body)

    def encode(self, serial: int) -> bytes:
        """The call as bytes on the wire. The calls a tree read makes (no arguments, strings,
        32-bit integers) are encoded here directly: jeepney's general encoder was a third of a
        LibreOffice snapshot's time (thousands of calls); other signatures go through it."""
        if self.signature is not None and set(self.signature) - _FAST_CODES:
            return self.message().serialise(serial=serial)
        body = bytearray()
        for code, value in zip(self.signature or "", self.body, strict=True):
            body += bytes(-len(body) % 4)
            if code == "s":
                text = str(value).encode()
                body += struct.pack("<I", len(text)) + text + b"\0"
            else:
                body += struct.pack("<i" if code == "i" else "<I", value)
        fields = bytearray()
        for field_code, type_code, value in (
                (1, b"o", self.path), (2, b"s", self.interface), (3, b"s", self.member),
                (6, b"s", self.bus), (8, b"g", self.signature)):
            if not value:
                continue
            data = value.encode()
            fields += bytes(-len(fields) % 8) + bytes((field_code, 1)) + type_code + b"\0"
            if type_code == b"g":
                fields += bytes((len(data),)) + data + b"\0"
            else:
                fields += bytes(-len(fields) % 4) + struct.pack("<I", len(data)) + data + b"\0"
        # Fixed header (little endian, method call, no flags, version 1), then the fields array
        # (it starts at byte 16, so alignment inside it is alignment in the message).
        header = b"l\x01\x00\x01" + struct.pack("<III", len(body), serial, len(fields)) + fields
        return header + bytes(-len(header) % 8) + body


_FAST_CODES = frozenset("siu")


def get_property(bus: str, path: str, interface: str, name: str) -> Call:
    return Call(bus, path, PROPERTIES, "Get", "ss", (interface, name))


@dataclass(frozen=True, slots=True)
class Failed:
    """A call that got an error reply (``error`` is its D-Bus name) or no reply in time."""

    error: str
    message: str = ""

    @property
    def timed_out(self) -> bool:
        return self.error == "timeout"


Reply = tuple[Any, ...] | Failed


class BusError(OSError):
    """The bus itself is unusable (cannot connect, connection closed)."""


class Connection:
    """A connection to one bus. Not thread-safe: one snapshot or action at a time."""

    def __init__(self, address: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        try:
            self._sock = prep_socket(get_bus(address), timeout=timeout)
        except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
            raise BusError(f"cannot connect to {address}: {exc}") from exc
        self._parser = Parser()
        self._serials = count(1)
        self._selector = DefaultSelector()
        self._selector.register(self._sock, EVENT_READ)
        self.address = address
        hello = self.gather([Call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                  "org.freedesktop.DBus", "Hello")], deadline)[0]
        if isinstance(hello, Failed):
            self.close()
            raise BusError(f"the bus at {address} did not answer Hello ({hello.error})")
        self.unique_name = str(hello[0])

    def call(self, call: Call, timeout: float) -> Reply:
        return self.gather([call], time.monotonic() + timeout)[0]

    def gather(self, calls: Sequence[Call], deadline: float) -> list[Reply]:
        """Send every call, then collect replies until all came or ``deadline`` passed
        (the missing ones are ``Failed("timeout")``)."""
        waiting: dict[int, int] = {}
        replies: list[Reply] = [Failed("timeout")] * len(calls)
        chunks = []
        for index, call in enumerate(calls):
            serial = next(self._serials)
            waiting[serial] = index
            chunks.append(call.encode(serial))
        self._send(b"".join(chunks), deadline)
        while waiting:
            message = self._receive(deadline)
            if message is None:
                break
            index_ = waiting.pop(message.header.fields.get(HeaderFields.reply_serial, -1), None)
            if index_ is None:
                continue  # a signal, or a reply to a batch that already gave up
            if message.header.message_type == MessageType.error:
                text = str(message.body[0]) if message.body else ""
                replies[index_] = Failed(str(message.header.fields.get(HeaderFields.error_name)),
                                         text)
            else:
                replies[index_] = message.body
        return replies

    def _send(self, data: bytes, deadline: float) -> None:
        try:
            # A stopped bus daemon stops reading; a bounded send keeps us from hanging then.
            self._sock.settimeout(max(0.001, deadline - time.monotonic()))
            self._sock.sendall(data)
        except (TimeoutError, OSError) as exc:
            raise BusError(f"the bus at {self.address} does not take messages ({exc})") from exc

    def _receive(self, deadline: float) -> Message | None:
        while True:
            message = self._parser.get_next_message()
            if message is not None:
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                return None
            try:
                data = self._sock.recv(1 << 16)
            except OSError as exc:
                raise BusError(f"the bus at {self.address} closed the connection ({exc})") from exc
            if not data:
                raise BusError(f"the bus at {self.address} closed the connection")
            self._parser.add_data(data)

    def close(self) -> None:
        self._selector.close()
        self._sock.close()
