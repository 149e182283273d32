"""How the server is reached: stdio (the default) or streamable HTTP.

HTTP binds to loopback by default. Any other address lets other machines drive this desktop,
so it needs a bearer token (``--token`` or ``$GUIAGENT_MCP_TOKEN``); without one the server
refuses to start. A token, when given, is required on every request, loopback included.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from guiagent.errors import GuiAgentError

TOKEN_ENV = "GUIAGENT_MCP_TOKEN"
MIN_TOKEN_LENGTH = 16

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class HttpAccessError(GuiAgentError, ValueError):
    """An HTTP address or token the server refuses to serve with; nothing was bound."""

    exit_code = 2


def parse_http_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[::1]:PORT`` or ``PORT`` (loopback) -> (host, port)."""
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", value
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise HttpAccessError(f"--http must be HOST:PORT (e.g. 127.0.0.1:8765), got {text!r}") from None
    if not 0 <= port <= 65535:
        raise HttpAccessError(f"--http port must be 0-65535, got {port}")
    return host, port


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1, localhost). Other names are
    not trusted to be loopback, whatever they resolve to today."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_http_access(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind without a token, and a token too short to be one."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise HttpAccessError(f"the bearer token must be at least {MIN_TOKEN_LENGTH} characters; "
                              "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if not is_loopback(host) and not token:
        raise HttpAccessError(
            f"refusing to serve this desktop on {host}, which is not a loopback address, without a "
            f"bearer token: pass --token TOKEN (or set ${TOKEN_ENV}), or bind 127.0.0.1; nothing "
            "was started")


class BearerTokenMiddleware:
    """ASGI middleware: every HTTP request needs ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = json.dumps({"error": "unauthorized: send Authorization: Bearer <token>"}).encode()
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b'Bearer realm="guiagent"'),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def run_http(server: Any, host: str, port: int, token: str | None,
             on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``server`` (an MCPServer) over streamable HTTP at ``/mcp`` until interrupted."""
    import anyio
    import uvicorn

    check_http_access(host, token)
    app: Any = server.streamable_http_app(host=host)  # DNS-rebinding checks for loopback hosts
    if token:
        app = BearerTokenMiddleware(app, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    userver = uvicorn.Server(config)

    async def serve() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(userver.serve)
            while not userver.started:
                if userver.should_exit:
                    return
                await anyio.sleep(0.05)
            if on_ready is not None:
                sockets = [s for srv in userver.servers for s in srv.sockets]
                bound = sockets[0].getsockname() if sockets else (host, port)
                shown = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
                on_ready(f"http://{shown}:{bound[1]}/mcp")

    anyio.run(serve)
