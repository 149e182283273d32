"""`guiagent mcp` through the MCP SDK's own client: real `python -m guiagent mcp` subprocesses
over stdio (started, as MCP clients do, with a minimal environment plus DISPLAY) and over
streamable HTTP, against a real Tk app on the session's 3840x2160 Xvfb display."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from guiagent import VirtualDisplay
from guiagent.errors import GuiAgentError
from guiagent.geometry import Box, Size
from guiagent.mcp import ImageMapping, encode_image, fit_size
from guiagent.mcp.transport import HttpAccessError, check_http_access, is_loopback, parse_http_address

mcp = pytest.importorskip("mcp")
from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402
from mcp_types import CallToolResult, ImageContent, TextContent  # noqa: E402

from tests.conftest import ProbeApp, start_probe  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789abcdef"
BUTTONS = "Apply,Cancel"


# -- a client that keeps one server session open across calls ------------------------------
class McpClient:
    """One stdio session with a `python -m guiagent mcp ...` subprocess, driven from sync tests
    through an event loop on a background thread."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path,
                 elicitation: Any = None) -> None:
        self.log = log
        self._elicitation = elicitation
        self._errlog = log.open("w", encoding="utf-8")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._stop: asyncio.Event | None = None
        self.session: ClientSession | None = None
        ready: asyncio.Future[None] = self._loop.create_future()
        params = StdioServerParameters(command=sys.executable, args=["-m", "guiagent", "mcp", *args],
                                       env=env, cwd=str(REPO))
        self._main = asyncio.run_coroutine_threadsafe(self._serve(params, ready), self._loop)
        asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(ready), 60), self._loop).result(70)

    async def _serve(self, params: StdioServerParameters, ready: asyncio.Future[None]) -> None:
        self._stop = asyncio.Event()
        try:
            async with stdio_client(params, errlog=self._errlog) as (read, write), \
                    ClientSession(read, write, elicitation_callback=self._elicitation) as session:
                await session.initialize()
                self.session = session
                ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    def run(self, coro: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def call(self, tool: str, arguments: dict[str, Any] | None = None,
             timeout: float = 120) -> CallToolResult:
        assert self.session is not None
        return self.run(self.session.call_tool(tool, arguments or {}), timeout)

    def ok(self, tool: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        result = self.call(tool, arguments)
        assert not result.is_error, f"{tool} failed: {text_of(result)}\nserver log:\n{self.log.read_text()}"
        return result

    def error(self, tool: str, arguments: dict[str, Any] | None = None) -> str:
        result = self.call(tool, arguments)
        assert result.is_error, f"{tool} should have failed: {text_of(result)}"
        return text_of(result)

    def tools(self) -> dict[str, Any]:
        assert self.session is not None
        return {t.name: t for t in self.run(self.session.list_tools()).tools}

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        try:
            self._main.result(30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._errlog.close()


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def image_of(result: CallToolResult) -> tuple[np.ndarray, ImageContent]:
    images = [c for c in result.content if isinstance(c, ImageContent)]
    assert len(images) == 1
    data = base64.b64decode(images[0].data)
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert pixels is not None
    return pixels, images[0]


def mapping_of(result: CallToolResult) -> ImageMapping:
    m = (result.structured_content or {})["mapping"]
    return ImageMapping(origin=_point(m["origin"]), scale_x=m["scale"], scale_y=m.get("scale_y", m["scale"]),
                        image_size=Size(*m["image_size"]), screen_size=Size(*m["screen_size"]),
                        kind=m["kind"])


def _point(values: list[float]) -> Any:
    from guiagent.geometry import Point

    return Point(values[0], values[1])


def minimal_env(display: str | None) -> dict[str, str]:
    """What an MCP client passes: the SDK's default environment plus the config's env block.
    stdio_client merges this over get_default_environment(), which never holds DISPLAY."""
    env = {"GUIAGENT_TEST_MARKER": "1"}
    if display is not None:
        env["DISPLAY"] = display
    return env


@pytest.fixture(scope="module")
def probe_app(vdisplay: VirtualDisplay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProbeApp]:
    report = tmp_path_factory.mktemp("mcp-probe") / "probe.jsonl"
    app = start_probe(vdisplay, report, "--buttons", BUTTONS, "--font-size", "20",
                      geometry="1400x900+300+200")
    try:
        app.wait_for(lambda ev: any(e["event"] == "ready" for e in ev), what="the probe window")
        yield app
    finally:
        app.process.terminate()
        try:
            app.process.wait(5)
        except subprocess.TimeoutExpired:
            app.process.kill()
            app.process.wait()


@pytest.fixture(scope="module")
def client(vdisplay: VirtualDisplay, probe_app: ProbeApp,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpClient]:
    log = tmp_path_factory.mktemp("mcp-server") / "server.log"
    connection = McpClient(["--display", vdisplay.name, "--no-failsafe", "--abort-hotkey", "none"],
                           minimal_env(None), log)
    try:
        yield connection
    finally:
        connection.close()


def new_events(app: ProbeApp, seen: int, kind: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Events of ``kind`` after the first ``seen`` events of the report."""
    events = app.wait_for(lambda ev: any(e["event"] == kind for e in ev[seen:]), timeout, what=kind)
    return [e for e in events[seen:] if e["event"] == kind]


# -- pure logic -----------------------------------------------------------------------------
def test_fit_size_and_encoding_stay_within_the_limits() -> None:
    assert fit_size(3840, 2160, 1568) == Size(1568, 882)
    assert fit_size(800, 600, 1568) == Size(800, 600)  # never enlarged
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (2160, 3840, 3), dtype=np.uint8)  # PNG cannot compress noise
    encoded = encode_image(noise, fit_size(3840, 2160, 1568), max_bytes=1_000_000)
    assert encoded.format == "jpeg" and encoded.sent_bytes <= 1_000_000
    flat = np.full((2160, 3840, 4), 200, dtype=np.uint8)
    assert encode_image(flat, Size(1568, 882)).format == "png"


def test_mapping_round_trips() -> None:
    m = ImageMapping(_point([100, 50]), 2.5, 2.5, Size(1000, 600), Size(3840, 2160))
    p = m.to_screen((40, 20))
    assert (p.x, p.y) == (200, 100)
    back = m.from_screen(p)
    assert (back.x, back.y) == (40, 20)
    assert m.box_from_screen(m.box_to_screen(Box(1, 2, 30, 40))) == Box(1, 2, 30, 40)


def test_a_ref_goes_stale_when_the_pixels_under_it_change_structure() -> None:
    from guiagent.elements.model import Element
    from guiagent.mcp.refs import element_changed
    from guiagent.screen.capture import Frame

    screen = np.full((400, 600, 3), 240, np.uint8)
    cv2.rectangle(screen, (100, 100), (220, 140), (90, 90, 90), 2)
    cv2.putText(screen, "Save", (120, 130), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
    before = Frame(screen)
    button = Element("e1", "button", "Save", Box(98, 98, 126, 46))
    crop = button.box.integer()

    def now(pixels: np.ndarray) -> Frame:
        return Frame(pixels).crop(crop)

    assert not element_changed(before, button, now(screen.copy()))
    hovered = screen.copy()
    region = hovered[98:144, 98:224]
    region[region == 240] = 215  # a hover highlight: same structure, another background
    assert not element_changed(before, button, now(hovered))
    moved = np.full_like(screen, 240)
    moved[:, 40:] = screen[:, :-40]  # the dialog moved 40 px to the right
    assert element_changed(before, button, now(moved))
    assert element_changed(before, button, now(np.full_like(screen, 30)))  # covered by a dark window
    assert not element_changed(None, button, now(moved))  # no snapshot frame: nothing to compare


def test_http_access_rules() -> None:
    assert parse_http_address("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_http_address("[::1]:9000") == ("::1", 9000)
    assert parse_http_address("8765") == ("127.0.0.1", 8765)
    with pytest.raises(HttpAccessError):
        parse_http_address("localhost:http")
    for host in ("127.0.0.1", "127.3.4.5", "::1", "localhost"):
        assert is_loopback(host)
        check_http_access(host, None)
    for host in ("0.0.0.0", "10.1.2.3", "::", "my-box.example.com"):
        assert not is_loopback(host)
        with pytest.raises(HttpAccessError, match="--token"):
            check_http_access(host, None)
        check_http_access(host, TOKEN)
    with pytest.raises(HttpAccessError, match="at least 16"):
        check_http_access("0.0.0.0", "short")
    assert issubclass(HttpAccessError, GuiAgentError)


def test_read_only_server_has_only_the_looking_tools() -> None:
    from guiagent.mcp import ServerOptions, build_server

    server, runner = build_server(ServerOptions(display=":0", read_only=True))
    try:
        names = {t.name for t in asyncio.run(server.list_tools())}
    finally:
        runner.close()
    assert names == {"screenshot", "zoom", "snapshot", "find", "wait_for", "ask"}


def test_non_loopback_bind_without_token_is_refused_before_binding() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GUIAGENT_MCP_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "guiagent", "mcp", "--http", "0.0.0.0:8765"],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert done.returncode == 2
    assert "not a loopback address" in done.stderr and "--token" in done.stderr
    assert "Traceback" not in done.stderr


# -- over stdio, on the 4K display ----------------------------------------------------------
@pytest.mark.display
def test_lists_the_tools_with_annotations(client: McpClient) -> None:
    tools = client.tools()
    expected = {"screenshot", "zoom", "snapshot", "find", "click", "type_text", "press_key",
                "scroll", "drag", "wait_for", "do", "ask"}
    assert expected <= set(tools)
    assert tools["screenshot"].annotations.read_only_hint is True
    assert tools["click"].annotations.destructive_hint is True
    assert set(tools["click"].input_schema["properties"]) >= {"target", "ref", "x", "y", "button", "count"}


@pytest.mark.display
def test_screenshot_fits_client_limits_and_states_its_mapping(client: McpClient) -> None:
    result = client.ok("screenshot")
    pixels, content = image_of(result)
    mapping = mapping_of(result)
    assert mapping.screen_size == Size(3840, 2160)
    assert mapping.image_size == Size(1568, 882)
    assert pixels.shape[1::-1] == (1568, 882)
    assert mapping.scale_x == pytest.approx(3840 / 1568, rel=1e-5)
    assert (mapping.origin.x, mapping.origin.y) == (0, 0)
    assert len(json.dumps(result.model_dump(mode="json", by_alias=True))) <= 1_000_000
    assert content.mime_type in ("image/png", "image/jpeg")
    text = text_of(result)
    assert "1568x882" in text and "2.449" in text


@pytest.mark.display
def test_zoom_returns_full_resolution_pixels_with_its_mapping(client: McpClient,
                                                               vdisplay: VirtualDisplay) -> None:
    from guiagent.screen.capture import Screen

    shot = mapping_of(client.ok("screenshot"))
    result = client.ok("zoom", {"region": "200,150,300,200"})
    pixels, content = image_of(result)
    zoom = mapping_of(result)
    assert zoom.kind == "zoom" and zoom.scale_x == pytest.approx(1.0)
    screen_box = shot.box_to_screen(Box(200, 150, 300, 200)).integer()
    assert (zoom.origin.x, zoom.origin.y) == (screen_box.left, screen_box.top)
    assert pixels.shape[1::-1] == (screen_box.width, screen_box.height)
    to_shot = result.structured_content["to_screenshot"]
    assert to_shot["scale"] == pytest.approx(1568 / 3840, rel=1e-4)
    assert to_shot["origin"][0] == pytest.approx(screen_box.left * 1568 / 3840, abs=0.01)
    assert content.mime_type == "image/png"  # a crop this size fits as lossless PNG
    with Screen(vdisplay.name) as screen:
        direct = screen.capture(region=screen_box).bgr()
    assert np.array_equal(pixels, direct), "zoom pixels differ from a direct capture of the region"


@pytest.mark.display
def test_find_quoted_text_and_click_it_by_ref(client: McpClient, probe_app: ProbeApp) -> None:
    mapping = mapping_of(client.ok("screenshot"))
    x, y, w, h = probe_app.ready["buttons"]["Apply"]
    centre = mapping.from_screen((x + w / 2, y + h / 2))
    result = client.ok("find", {"target": '"Apply"'})
    match = result.structured_content["matches"][0]
    assert match["ref"] == "m1" and match["text"].lower() == "apply"
    bx, by, bw, bh = match["box"]
    assert bx - 2 <= centre.x <= bx + bw + 2 and by - 2 <= centre.y <= by + bh + 2
    seen = len(probe_app.events())
    clicked = client.ok("click", {"ref": "m1"})
    assert new_events(probe_app, seen, "button")[0]["label"] == "Apply"
    assert "m1" in text_of(clicked)


@pytest.mark.display
def test_click_by_target_reports_the_change(client: McpClient, probe_app: ProbeApp) -> None:
    client.ok("screenshot")
    seen = len(probe_app.events())
    result = client.ok("click", {"target": '"Cancel"'})
    assert new_events(probe_app, seen, "button")[0]["label"] == "Cancel"
    assert result.structured_content["performed"] is True
    assert isinstance(result.structured_content["changed"], bool)


@pytest.mark.display
def test_click_by_xy_lands_where_the_screenshot_shows(client: McpClient, probe_app: ProbeApp) -> None:
    mapping = mapping_of(client.ok("screenshot"))
    ready = probe_app.ready
    target = (ready["canvas_x"] + ready["canvas_w"] * 0.3, ready["canvas_y"] + ready["canvas_h"] * 0.6)
    at = mapping.from_screen(target)
    seen = len(probe_app.events())
    result = client.ok("click", {"x": round(at.x), "y": round(at.y), "button": "right"})
    click = new_events(probe_app, seen, "click")[0]
    assert click["button"] == 3 and click["widget"] == "canvas"
    # a whole screenshot pixel is 2.45 screen pixels: the click lands within one of them
    assert abs(click["x_root"] - target[0]) <= mapping.scale_x
    assert abs(click["y_root"] - target[1]) <= mapping.scale_y
    assert "right-clicked" in text_of(result)


@pytest.mark.display
def test_type_text_into_a_field_and_press_key(client: McpClient, probe_app: ProbeApp) -> None:
    mapping = mapping_of(client.ok("screenshot"))
    ready = probe_app.ready
    field = mapping.from_screen((ready["text_x"] + 40, ready["text_y"] + ready["text_h"] / 2))
    text = "héllo wörld ✓ 日本"
    result = client.ok("type_text", {"text": text, "into": f"{field.x:.0f},{field.y:.0f}"})
    assert f"typed {len(text)} characters" in text_of(result)
    probe_app.wait_for(lambda ev: any(e["event"] == "text" and text in e["value"] for e in ev),
                       what="the typed text")
    seen = len(probe_app.events())
    client.ok("press_key", {"keys": "enter"})
    assert any(e["keysym"] == "Return" for e in new_events(probe_app, seen, "key"))


@pytest.mark.display
def test_do_runs_a_command(client: McpClient, probe_app: ProbeApp) -> None:
    seen = len(probe_app.events())
    result = client.ok("do", {"command": 'click "Apply"'})
    assert new_events(probe_app, seen, "button")[0]["label"] == "Apply"
    assert result.structured_content["ok"] is True
    assert "[ok]" in text_of(result)


@pytest.mark.display
def test_scroll_and_drag(client: McpClient, probe_app: ProbeApp) -> None:
    mapping = mapping_of(client.ok("screenshot"))
    ready = probe_app.ready
    cx, cy = ready["canvas_x"] + ready["canvas_w"] / 2, ready["canvas_y"] + ready["canvas_h"] / 2
    at = mapping.from_screen((cx, cy))
    seen = len(probe_app.events())
    client.ok("scroll", {"direction": "down", "amount": 2, "x": at.x, "y": at.y})
    assert new_events(probe_app, seen, "scroll")[0]["direction"] == "down"
    end = mapping.from_screen((cx + 200, cy + 100))
    seen = len(probe_app.events())
    client.ok("drag", {"start": f"{at.x:.1f},{at.y:.1f}", "end": f"{end.x:.1f},{end.y:.1f}"})
    release = new_events(probe_app, seen, "release")[-1]
    assert abs(release["x_root"] - (cx + 200)) <= mapping.scale_x + 1


@pytest.mark.display
def test_bad_arguments_are_tool_errors_and_the_server_keeps_serving(client: McpClient) -> None:
    shot = mapping_of(client.ok("screenshot"))
    assert "outside the last screenshot" in client.error("click", {"x": 5000, "y": 10})
    assert "take a new snapshot" in client.error("click", {"ref": "e99"})
    assert "call find again" in client.error("click", {"ref": "m42"})
    assert "exactly one of" in client.error("click", {"target": '"Apply"', "x": 1, "y": 2})
    assert "exactly one of" in client.error("click", {})
    assert "region must be" in client.error("zoom", {"region": "1,2,3"})
    assert "unknown key" in client.error("press_key", {"keys": "ctrl+nosuchkey"}).lower()
    assert "x" in client.error("click", {"x": "left side", "y": 3})  # wrong type: validation
    assert "not found" in client.error("find", {"target": '"No such label anywhere"'})
    assert "vision-language model" in client.error("ask", {"question": "what is shown?"})
    # a list sent as a JSON string (some clients do that) still works
    result = client.ok("zoom", {"region": "[10, 10, 100, 50]"})
    expected = shot.box_to_screen(Box(10, 10, 100, 50)).integer()
    assert mapping_of(result).image_size == Size(int(expected.width), int(expected.height))
    client.ok("screenshot")


@pytest.mark.display
def test_snapshot_lists_elements_with_refs_that_click(client: McpClient, probe_app: ProbeApp) -> None:
    client.ok("screenshot")
    result = client.ok("snapshot", {"interactive_only": True})
    lines = text_of(result).splitlines()
    apply_line = next(line for line in lines if re.match(r'\[e\d+\] \S.* "Apply"', line))
    ref = apply_line.split("]")[0].lstrip("[")
    elements = result.structured_content["elements"]
    assert any(e["ref"] == ref and e["name"] == "Apply" for e in elements)
    seen = len(probe_app.events())
    client.ok("click", {"ref": ref})
    assert new_events(probe_app, seen, "button")[0]["label"] == "Apply"


# -- other server configurations ------------------------------------------------------------
@pytest.mark.display
def test_without_a_display_every_tool_says_how_to_set_one(tmp_path: Path) -> None:
    connection = McpClient([], minimal_env(None), tmp_path / "server.log")
    try:
        assert "screenshot" in connection.tools()
        message = connection.error("screenshot")
        assert "no display" in message and "--display" in message and '"DISPLAY"' in message
        assert "no display" in connection.error("click", {"x": 1, "y": 1})
    finally:
        connection.close()


@pytest.mark.display
def test_region_dry_run_image_size_and_audit(vdisplay: VirtualDisplay, probe_app: ProbeApp,
                                              tmp_path: Path) -> None:
    ready = probe_app.ready
    region = f"{ready['canvas_x']},{ready['canvas_y']},1000,600"
    audit = tmp_path / "audit.jsonl"
    connection = McpClient(["--region", region, "--image-size", "800", "--dry-run", "--audit", str(audit),
                            "--no-failsafe"], minimal_env(vdisplay.name), tmp_path / "server.log")
    try:
        result = connection.ok("screenshot")
        mapping = mapping_of(result)
        assert mapping.image_size == Size(800, 480)
        assert (mapping.origin.x, mapping.origin.y) == (ready["canvas_x"], ready["canvas_y"])
        assert mapping.scale_x == pytest.approx(1000 / 800)
        assert "outside the last screenshot" in connection.error("click", {"x": 801, "y": 10})
        assert "outside the area" in connection.error("zoom", {"region": "-500,-500,100,100"})
        seen = len(probe_app.events())
        result = connection.ok("click", {"x": 400, "y": 240})
        assert text_of(result).startswith("dry run: would have clicked")
        assert result.structured_content["point"] == [400, 240]
        connection.ok("type_text", {"text": "secret password"})
        assert not [e for e in probe_app.events()[seen:] if e["event"] in ("click", "key")]
    finally:
        connection.close()
    entries = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    assert [e["tool"] for e in entries] == ["screenshot", "click", "zoom", "click", "type_text"]
    assert entries[1]["ok"] is False and "outside" in entries[1]["error"]
    assert entries[-1]["arguments"]["text"] == "<15 characters>"
    assert "secret" not in audit.read_text(encoding="utf-8")


@pytest.mark.display
def test_window_limits_the_view_and_check_reports(vdisplay: VirtualDisplay, probe_app: ProbeApp,
                                                  tmp_path: Path) -> None:
    ready = probe_app.ready
    canvas = Box(ready["canvas_x"], ready["canvas_y"], ready["canvas_w"], ready["canvas_h"])
    connection = McpClient(["--window", "guiagent-probe", "--no-failsafe"], minimal_env(vdisplay.name),
                           tmp_path / "server.log")
    try:
        mapping = mapping_of(connection.ok("screenshot"))
    finally:
        connection.close()
    assert mapping.screen_box.intersection(canvas) == canvas  # the window's box holds its canvas
    assert mapping.screen_box.width < 1600 and mapping.scale_x == pytest.approx(1.0)
    done = subprocess.run([sys.executable, "-m", "guiagent", "mcp", "--check", "--display", vdisplay.name],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert f"ok   display: {vdisplay.name}, 3840x2160" in done.stdout
    assert "capture: 3840x2160" in done.stdout and "model" in done.stdout
    assert "MISSING accessibility: no accessibility bus" in done.stdout  # this display has none


@pytest.mark.display
def test_abort_hotkey_stops_every_later_action(vdisplay: VirtualDisplay, probe_app: ProbeApp,
                                               tmp_path: Path) -> None:
    connection = McpClient(["--no-failsafe"], minimal_env(vdisplay.name), tmp_path / "server.log")
    try:
        connection.ok("press_key", {"keys": "shift"})  # the session and its hotkey listener run
        subprocess.run(["xdotool", "key", "ctrl+alt+shift+q"], check=True, timeout=10,
                       env={**os.environ, "DISPLAY": vdisplay.name})
        message = ""
        for _ in range(50):  # the listener sees the key within a few polls
            result = connection.call("press_key", {"keys": "shift"})
            if result.is_error:
                message = text_of(result)
                break
        assert "abort hotkey" in message and "restart the server" in message
        assert "abort hotkey" in connection.error("click", {"x": 10, "y": 10})
        connection.ok("screenshot")  # looking still works
    finally:
        connection.close()


@pytest.mark.display
def test_streamable_http_with_a_bearer_token(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    log = tmp_path / "server.log"
    with log.open("w") as errlog:
        process = subprocess.Popen(
            [sys.executable, "-m", "guiagent", "mcp", "--http", "127.0.0.1:0", "--token", TOKEN,
             "--display", vdisplay.name], cwd=REPO, stdout=subprocess.DEVNULL, stderr=errlog)
    try:
        url = _wait_for_url(process, log)

        async def exchange() -> tuple[int, set[str], CallToolResult]:
            async with httpx2.AsyncClient() as plain:
                refused = await plain.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
                    streamable_http_client(url, http_client=http) as (read, write), \
                    ClientSession(read, write) as session:
                await session.initialize()
                names = {t.name for t in (await session.list_tools()).tools}
                shot = await session.call_tool("screenshot", {})
            return refused.status_code, names, shot

        status, names, shot = asyncio.run(exchange())
        assert status == 401
        assert {"screenshot", "click"} <= names
        assert not shot.is_error and mapping_of(shot).image_size == Size(1568, 882)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_url(process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> str:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"serving (http://\S+/mcp)", log.read_text())
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}): {log.read_text()}")
        time.sleep(0.1)
    raise AssertionError(f"the server did not start serving HTTP: {log.read_text()}")


def test_snapshot_listing_stays_within_its_budget_and_says_what_it_left_out() -> None:
    from guiagent.elements.model import Element
    from guiagent.mcp.listing import build_listing

    def half(box: Box) -> Box:  # screen -> screenshot pixels at scale 2
        return Box(box.left / 2, box.top / 2, box.width / 2, box.height / 2)

    sheet = "Sheet - Calc"
    elements = [Element("e1", "window", sheet, Box(0, 0, 2000, 1400), source="a11y", window=sheet),
                Element("e2", "panel", "", Box(0, 0, 2000, 1400), source="a11y", window=sheet),
                Element("e3", "button", "Save", Box(10, 10, 40, 20), source="a11y", window=sheet),
                Element("e4", "button", "Save", Box(10, 10, 40, 20), source="a11y", window=sheet),
                Element("e5", "menu", "File", Box(60, 10, 40, 20), source="a11y", window=sheet),
                Element("e6", "text", "", Box(0, 900, 900, 400), frozenset({"editable"}),
                        source="a11y", window=sheet)]
    cells = [Element(f"e{i}", "text field", "", Box(100 + (i % 20) * 80, 100 + (i // 20) * 30, 78, 28),
                     window=sheet) for i in range(7, 207)]
    listing = build_listing([*elements, *cells], half, budget_tokens=100)
    text = "\n".join(listing.lines + listing.notes)
    assert listing.lines[0] == 'window "Sheet - Calc" (0,0,1000,700):'
    assert [e.ref for e in listing.listed] == ["e3", "e5", "e6"]  # named first, the editor too
    assert listing.listed[0].box == Box(5, 5, 20, 10)  # in screenshot pixels
    assert sum(len(line) + 1 for line in listing.lines) <= 100 * 4
    assert "1 exact repeats" in text and "1 unnamed containers" in text
    assert "left out 200 elements" in text and "0 named and 200 unnamed" in text
    assert 'snapshot(window="...")' in text and "region" in text
    assert listing.left_out[sheet]["area"] == [50, 50, 799, 164]
    assert listing.structured()[0] == {"ref": "e3", "role": "button", "name": "Save", "box": [5, 5, 20, 10]}
    whole = build_listing([*elements, *cells], half, budget_tokens=20_000)
    assert len(whole.listed) == 203 and not whole.left_out  # the grid goes in whole, or not at all


def test_destructive_words() -> None:
    from guiagent.mcp.session import is_destructive

    for label in ("Delete", "Move to Trash", "Don’t Save", "Close without saving", "Send", "Empty bin",
                  "Remove account", "Quit"):
        assert is_destructive(label), label
    for label in ("Save", "Format", "Apply", "Sender", "Deleted items view", ""):
        assert not is_destructive(label), label


@pytest.mark.display
def test_confirm_asks_the_user_before_destructive_clicks(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    """--confirm destructive: a click on "Delete" is asked through MCP elicitation (declined:
    nothing clicked; accepted: clicked), "Keep" is not asked; a client without elicitation is
    refused such clicks."""
    from mcp_types import ElicitResult

    app = start_probe(vdisplay, tmp_path / "probe.jsonl", "--buttons", "Delete,Keep", "--font-size", "20",
                      geometry="900x500+2000+1300")
    asked: list[str] = []
    answers = ["decline", "accept"]

    async def answer(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        action = answers.pop(0)
        return ElicitResult(action=action, content={"allow": True} if action == "accept" else None)

    audit = tmp_path / "audit.jsonl"
    args = ["--confirm", "destructive", "--no-failsafe", "--abort-hotkey", "none", "--audit", str(audit)]
    connection = McpClient(args, minimal_env(vdisplay.name), tmp_path / "server.log", elicitation=answer)
    try:
        app.wait_for(lambda ev: any(e["event"] == "ready" for e in ev), what="the probe window")
        connection.ok("screenshot")
        seen = len(app.events())
        connection.ok("click", {"target": '"Keep"'})
        assert new_events(app, seen, "button")[0]["label"] == "Keep" and asked == []
        seen = len(app.events())
        refused = connection.error("click", {"target": '"Delete"'})
        assert "declined" in refused and "nothing was done" in refused
        assert len(asked) == 1 and "Delete" in asked[0] and "Allow it?" in asked[0]
        connection.ok("screenshot")
        assert not [e for e in app.events()[seen:] if e["event"] == "button"]
        connection.ok("click", {"target": '"Delete"'})
        assert new_events(app, seen, "button")[0]["label"] == "Delete" and len(asked) == 2
    finally:
        connection.close()
    entries = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    assert [(e["tool"], e["ok"]) for e in entries if e["tool"] == "click"] == [
        ("click", True), ("click", False), ("click", True)]
    plain = McpClient(args, minimal_env(vdisplay.name), tmp_path / "server2.log")
    try:
        plain.ok("screenshot")
        seen = len(app.events())
        assert "does not support MCP elicitation" in plain.error("click", {"target": '"Delete"'})
        plain.ok("click", {"target": '"Keep"'})
        assert [e["label"] for e in new_events(app, seen, "button")] == ["Keep"]
    finally:
        plain.close()
        app.process.terminate()
        try:
            app.process.wait(5)
        except subprocess.TimeoutExpired:
            app.process.kill()
            app.process.wait()
