"""The MCP server: the desktop as tools for LLM agents (official ``mcp`` SDK, 2.x).

``build_server(options)`` registers the tools on an :class:`mcp.server.MCPServer`; every call
runs :class:`~guiagent.mcp.session.DesktopSession` methods on one worker thread, one at a time,
and answers with text, ``structured_content`` and (for screenshot and zoom) one image. Errors
are ``ToolError``s with a message that says what to do; the server keeps serving after any of
them. ``--read-only`` registers only the tools that look.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ContentBlock, ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from guiagent import __version__
from guiagent.errors import DisplayError, GuiAgentError, TargetNotFound
from guiagent.mcp.session import DesktopSession, ServerOptions, ToolOutput

INSTRUCTIONS = """\
guiagent drives a real desktop: look with screenshot (or snapshot, find, zoom), then act with \
click, type_text, press_key, scroll, drag, or a whole command with do.
Coordinates: every x, y, region and box, in and out of every tool, is in pixels of the LAST \
screenshot image (before the first screenshot: of the image a plain screenshot would send). \
The server converts to the screen itself; never rescale. A zoom result states how its own \
pixels map onto the screenshot.
Targets: '"Save"' (quoted: exactly that visible text), a description, or an image path; refs \
such as e12 (from snapshot, valid until the next snapshot) or m1 (from find).
snapshot lists controls grouped by window within a token budget; a note says what it left out: \
narrow with window=... or region=... to see that.
"""

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                       open_world_hint=False)
ACT = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False,
                      open_world_hint=False)

Region = Annotated[str | list[float], Field(
    description='x,y,w,h in screenshot pixels: "100,80,400,300" or [100, 80, 400, 300]')]
OptionalRegion = Annotated[str | list[float] | None, Field(
    description='x,y,w,h in pixels of the last screenshot; omitted: the whole screen area')]
Target = Annotated[str | None, Field(
    description="what to act on: '\"Save\"' (exact visible text), a description "
                "('the Save As button'), or an image path")]
Ref = Annotated[str | None, Field(description="a ref from the last snapshot (e12) or find (m1)")]
X = Annotated[float | None, Field(description="x in pixels of the last screenshot")]
Y = Annotated[float | None, Field(description="y in pixels of the last screenshot")]
Place = Annotated[str, Field(
    description="a ref (e12, m1), a point \"x,y\" in screenshot pixels, or a target ('\"Save\"')")]


class ToolRunner:
    """Runs tool bodies on one thread, one at a time, turns errors into ToolErrors with
    advice and writes the audit log."""

    def __init__(self, session: DesktopSession, audit: Path | None = None) -> None:
        self.session = session
        self.audit = audit
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guiagent-mcp")

    async def __call__(self, tool: str, arguments: dict[str, Any],
                       body: Callable[[], ToolOutput]) -> CallToolResult:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            output = await loop.run_in_executor(self._pool, self._guarded, body)
        except ToolError as exc:
            self._log(tool, arguments, started, error=str(exc))
            raise
        self._log(tool, arguments, started)
        return to_result(output)

    async def value(self, tool: str, arguments: dict[str, Any], body: Callable[[], Any]) -> Any:
        """Run ``body`` on the worker thread for its value (errors: ToolErrors, logged)."""
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._guarded, body)
        except ToolError as exc:
            self._log(tool, arguments, started, error=str(exc))
            raise

    def refuse(self, tool: str, arguments: dict[str, Any], message: str) -> ToolError:
        """A ToolError for a call refused before it ran, logged."""
        self._log(tool, arguments, time.perf_counter(), error=message)
        return ToolError(message)

    @staticmethod
    def _guarded(body: Callable[[], ToolOutput]) -> ToolOutput:
        try:
            return body()
        except ToolError:
            raise
        except GuiAgentError as exc:
            raise ToolError(advice(exc)) from exc
        except Exception as exc:  # a bug of ours: say so, keep serving
            raise ToolError(f"internal error in guiagent ({type(exc).__name__}: {exc}); the server "
                            "is still running; please report it with the call that caused it") from exc

    def _log(self, tool: str, arguments: dict[str, Any], started: float, error: str | None = None) -> None:
        if self.audit is None:
            return
        entry = {"time": round(time.time(), 3), "tool": tool, "arguments": redact(tool, arguments),
                 "ok": error is None, "ms": round((time.perf_counter() - started) * 1000, 1)}
        if error is not None:
            entry["error"] = error
        try:
            with self.audit.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry, ensure_ascii=False) + "\n")
        except OSError:  # the audit log must not break the session; the next write tries again
            pass

    def close(self) -> None:
        self._pool.submit(self.session.close).result(timeout=30)
        self._pool.shutdown(wait=True)


def redact(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as logged: typed text becomes its length (it may be a password)."""
    shown = {k: v for k, v in arguments.items() if v is not None}
    if tool == "type_text" and "text" in shown:
        shown["text"] = f"<{len(str(shown['text']))} characters>"
    return shown


class Confirmation(BaseModel):
    """What the server asks the user before a click (``--confirm``)."""

    allow: bool = Field(description="allow this click")


async def confirm_with_user(ctx: Context, question: str) -> str | None:
    """Ask the user through MCP elicitation: None when allowed, else why not."""
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        return ("this server asks the user before such clicks (--confirm), and this client cannot "
                "ask (it does not support MCP elicitation); nothing was done: ask the user to click "
                "it, or to restart the server without --confirm")
    try:
        answer = await ctx.elicit(question, Confirmation)
    except Exception as exc:  # the client failed to ask: do nothing
        return f"the user could not be asked ({type(exc).__name__}: {exc}); nothing was done"
    if answer.action == "accept" and answer.data.allow:
        return None
    how = "declined" if answer.action in ("accept", "decline") else "cancelled"
    return f"the user {how} this click; nothing was done. Do not retry it unless the user asks"


def advice(exc: GuiAgentError) -> str:
    """The error's own message, plus what the client can do next."""
    message = str(exc)
    if isinstance(exc, TargetNotFound):
        return (f"{message}. Take a screenshot to check it is visible; quote exact visible text "
                "('\"Save\"'), or click by x,y")
    if isinstance(exc, DisplayError):
        return f"{message}. Check the X server runs and that --display / DISPLAY names it"
    return message


def to_result(output: ToolOutput) -> CallToolResult:
    content: list[ContentBlock] = [TextContent(type="text", text=output.text)]
    if output.image is not None:
        content.append(ImageContent(type="image", data=output.image.base64(),
                                    mime_type=output.image.mime_type))
    return CallToolResult(content=content, structured_content=output.data or None)


def build_server(options: ServerOptions, *, audit: Path | None = None) -> tuple[MCPServer, ToolRunner]:
    """The server and its runner (close the runner when the server stops)."""
    session = DesktopSession(options)
    run = ToolRunner(session, audit)
    server: MCPServer = MCPServer("guiagent", instructions=INSTRUCTIONS, version=__version__,
                                  log_level="WARNING")

    @server.tool(annotations=READ)
    async def screenshot(region: OptionalRegion = None) -> CallToolResult:
        """The screen (or a region) as one image within the client's limits (long side <= the
        server's --image-size, <= 1 MB), and its mapping to the screen. Its pixels become the
        coordinate space of every tool until the next screenshot."""
        return await run("screenshot", {"region": region}, lambda: session.screenshot(region))

    @server.tool(annotations=READ)
    async def zoom(region: Region) -> CallToolResult:
        """A full-resolution crop of a region (x,y,w,h in screenshot pixels), to read small text
        or aim precisely. Does not change the coordinate space; its result says how its pixels
        map onto the screenshot."""
        return await run("zoom", {"region": region}, lambda: session.zoom(region))

    @server.tool(annotations=READ)
    async def snapshot(
        window: Annotated[str | None, Field(description="only the window whose title contains this")] = None,
        interactive_only: Annotated[bool, Field(description="only controls a person acts on "
                                                           "(default); false adds labels and text")] = True,
        budget: Annotated[int | None, Field(description="most tokens the listing may take (estimated "
                                                        "as characters / 4; default 3000)")] = None,
        region: OptionalRegion = None,
    ) -> CallToolResult:
        """The UI elements on the screen, grouped by window, one per line: [e12] button "Save"
        (x,y,w,h), boxes in screenshot pixels. Click one with click(ref="e12"); refs stay valid
        until the next snapshot. Bounded by budget: what did not fit is summed up per window
        with its area; narrow with window=... or region=... to see it."""
        return await run("snapshot", {"window": window, "interactive_only": interactive_only,
                                      "budget": budget, "region": region},
                         lambda: session.snapshot(window, interactive_only, budget, region))

    @server.tool(annotations=READ)
    async def find(
        target: Annotated[str, Field(description="'\"Save\"' (exact visible text), a description, "
                                                  "or an image path")],
        limit: Annotated[int, Field(description="most matches to return (1-20)")] = 5,
    ) -> CallToolResult:
        """Where a target is (ECP grounding: a coarse search, then full-resolution crops): each
        match with a ref (m1, m2...), its point, box and score in screenshot pixels."""
        return await run("find", {"target": target, "limit": limit}, lambda: session.find(target, limit))

    @server.tool(annotations=READ)
    async def wait_for(
        target: Annotated[str, Field(description="'\"Saved\"', a description, or an image path")],
        gone: Annotated[bool, Field(description="wait until it is NOT visible")] = False,
        timeout: Annotated[float, Field(description="seconds, at most 120")] = 10.0,
    ) -> CallToolResult:
        """Wait until a target appears (or, with gone=true, disappears), polling the screen."""
        return await run("wait_for", {"target": target, "gone": gone, "timeout": timeout},
                         lambda: session.wait_for(target, gone, timeout))

    @server.tool(annotations=READ)
    async def ask(
        question: Annotated[str, Field(description="a question about the screen")],
    ) -> CallToolResult:
        """Answer a question about what the screen shows, with the server's vision-language model
        (only when the server was started with --model or --vlm-url)."""
        return await run("ask", {"question": question}, lambda: session.ask(question))

    if options.read_only:
        return server, run

    @server.tool(annotations=ACT)
    async def click(
        ctx: Context,
        target: Target = None, ref: Ref = None, x: X = None, y: Y = None,
        button: Annotated[str, Field(description="left, right or middle")] = "left",
        count: Annotated[int, Field(description="1, 2 (double-click) or 3")] = 1,
    ) -> CallToolResult:
        """Click one of: a target, a ref (snapshot/find), or x,y in screenshot pixels. Says what
        was clicked and whether the screen changed near the point."""
        arguments = {"target": target, "ref": ref, "x": x, "y": y, "button": button, "count": count}
        place = None
        if options.confirm != "off":
            place = await run.value("click", arguments,
                                    lambda: session.click_place(target, ref, x, y, button, count))
            question = await run.value("click", arguments,  # on the worker: it may capture
                                       lambda: session.confirmation(place, button, count))
            if question is not None:
                refused = await confirm_with_user(ctx, question)
                if refused is not None:
                    raise run.refuse("click", arguments, refused)
        return await run("click", arguments,
                         lambda: session.click(target, ref, x, y, button, count, place=place))

    @server.tool(annotations=ACT)
    async def type_text(
        text: Annotated[str, Field(description="the text, any Unicode; a newline presses Enter")],
        into: Annotated[str | None, Field(description="click this first: a ref, \"x,y\" or a target")] = None,
    ) -> CallToolResult:
        """Type text where the keyboard focus is (or into a field, clicked first)."""
        return await run("type_text", {"text": text, "into": into}, lambda: session.type_text(text, into))

    @server.tool(annotations=ACT)
    async def press_key(
        keys: Annotated[str, Field(description="a key or combination: enter, ctrl+s, alt+f4")],
        presses: Annotated[int, Field(description="how many times (a single key only)")] = 1,
    ) -> CallToolResult:
        """Press a key or a key combination."""
        return await run("press_key", {"keys": keys, "presses": presses},
                         lambda: session.press_key(keys, presses))

    @server.tool(annotations=ACT)
    async def scroll(
        direction: Annotated[str, Field(description="up, down, left or right")] = "down",
        amount: Annotated[int, Field(description="wheel notches (1-50)")] = 3,
        target: Target = None, ref: Ref = None, x: X = None, y: Y = None,
    ) -> CallToolResult:
        """Scroll with the pointer over a target, a ref or x,y (default: the middle of the screen)."""
        return await run("scroll", {"direction": direction, "amount": amount, "target": target,
                                    "ref": ref, "x": x, "y": y},
                         lambda: session.scroll(direction, amount, target, ref, x, y))

    @server.tool(annotations=ACT)
    async def drag(start: Place, end: Place,
                   duration: Annotated[float, Field(description="seconds")] = 0.3) -> CallToolResult:
        """Drag with the left button from one place to another."""
        return await run("drag", {"start": start, "end": end, "duration": duration},
                         lambda: session.drag(start, end, duration))

    @server.tool(annotations=ACT)
    async def do(
        command: Annotated[str, Field(description="e.g. 'click \"File\", then click \"Save As…\", "
                                                   "type \"report\" and press enter'")],
        timeout: Annotated[float, Field(description="seconds to wait for targets (at most 120)")] = 10.0,
    ) -> CallToolResult:
        """Run a command in the guiagent do language (click / type / press / scroll / drag /
        wait for / open ...), each step grounded, acted and verified; returns the steps and the
        outcome. Stops at the first failed step."""
        return await run("do", {"command": command, "timeout": timeout}, lambda: session.do(command, timeout))

    return server, run
