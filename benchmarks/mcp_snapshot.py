"""What `guiagent mcp` sends an LLM client on a busy 4K screen: the `snapshot` tool's text and
structured content (characters, estimated tokens, elements) and latency, and the `screenshot`
tool's image (bytes, size, estimated image tokens) against the native 4K PNG.

Starts its own 3840x2160 Xvfb (openbox, private accessibility bus) with four applications at
once, tiled so each shows: LibreOffice Calc (``SAL_USE_VCLPLUGIN=gtk3``), Chromium
(``--force-renderer-accessibility``) on a dev-set page, galculator and mousepad. Then it plays
an MCP client: the SDK's ``ClientSession`` over stdio against ``python -m guiagent mcp``, as a
client would start it (minimal environment plus ``--display``).

Token estimates (no tokenizer is installable offline here): text tokens = characters / 4 (the
usual rule of thumb for English and JSON; dense JSON and box numbers run closer to 3
characters a token, so read them as a lower bound); image tokens = width x height / 750
(Anthropic's published estimate for images; a client downscales anything over 1568 px on the
long side first, so the native 4K figure is what it would cost *if* sent unscaled).

    python benchmarks/mcp_snapshot.py [--runs 5] [--page PATH] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from results import machine_summary, write_section  # noqa: E402

from guiagent import VirtualDisplay  # noqa: E402
from guiagent.platform.atspi import AtspiAccessibility  # noqa: E402

TITLE = "MCP server"
# (title words, argv, extra env, x, y, w, h): four windows tiled on the 4K screen
LAYOUT = {
    "LibreOffice Calc": (0, 0, 1900, 1300),
    "Chromium": (1920, 0, 1920, 1300),
    "galculator": (0, 1340, 700, 780),
    "Mousepad": (1000, 1340, 1600, 780),
}


def tokens(chars: int) -> int:
    return -(-chars // 4)


def image_tokens(width: int, height: int) -> int:
    return round(width * height / 750)


def unmaximize(display: VirtualDisplay, wid: int) -> None:
    """Ask the window manager to take a window out of its maximised state (LibreOffice starts
    maximised; xdotool 3.2016 has no windowstate command)."""
    from Xlib import X
    from Xlib import display as xdisplay
    from Xlib.protocol import event

    conn = xdisplay.Display(display.name)
    try:
        root = conn.screen().root
        state = conn.intern_atom("_NET_WM_STATE")
        vert = conn.intern_atom("_NET_WM_STATE_MAXIMIZED_VERT")
        horz = conn.intern_atom("_NET_WM_STATE_MAXIMIZED_HORZ")
        message = event.ClientMessage(window=conn.create_resource_object("window", wid), client_type=state,
                                      data=(32, [0, vert, horz, 1, 0]))  # 0: remove
        root.send_event(message, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
        conn.flush()
    finally:
        conn.close()


def place_windows(display: VirtualDisplay) -> None:
    """Move and size each application's top-level window to its LAYOUT box (openbox obeys
    xdotool's requests)."""
    for name, (x, y, w, h) in LAYOUT.items():
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name],
                               env=display.env, capture_output=True, text=True, timeout=10)
        for wid in found.stdout.split():
            unmaximize(display, int(wid))
            time.sleep(0.2)
            subprocess.run(["xdotool", "windowsize", wid, str(w), str(h)], env=display.env,
                           check=False, timeout=10)
            subprocess.run(["xdotool", "windowmove", wid, str(x), str(y)], env=display.env,
                           check=False, timeout=10)


def wait_for_windows(display: VirtualDisplay, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    missing: list[str] = list(LAYOUT)
    while time.monotonic() < deadline:
        missing = []
        for name in LAYOUT:
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name],
                                   env=display.env, capture_output=True, text=True, timeout=10)
            if not found.stdout.split():
                missing.append(name)
        if not missing:
            return
        time.sleep(1.0)
    raise SystemExit(f"windows did not show in {timeout} s: {missing}")


def wait_settled(reader: AtspiAccessibility, timeout: float = 120) -> int:
    """Until the accessibility tree's node count stops changing between two reads."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        count = len(reader.snapshot(timeout=20).nodes)
        if count == last and count > 0:
            return count
        last = count
        time.sleep(2.0)
    return last


async def measure(display: VirtualDisplay, runs: int, log: Path, save: Path | None) -> dict[str, Any]:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp_types import ImageContent, TextContent

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "guiagent", "mcp", "--display", display.name, "--read-only"],
        env={}, cwd=str(REPO))
    out: dict[str, Any] = {"snapshot": {}, "screenshot": {}}
    with log.open("w", encoding="utf-8") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()

            async def timed(tool: str, args: dict[str, Any]) -> tuple[float, Any]:
                started = time.perf_counter()
                result = await session.call_tool(tool, args)
                elapsed = time.perf_counter() - started
                if result.is_error:
                    text = " ".join(c.text for c in result.content if isinstance(c, TextContent))
                    raise SystemExit(f"{tool} {args} failed: {text}")
                return elapsed, result

            # screenshot: the image a client gets, and the native 4K PNG it replaces
            times, shot = [], None
            for _ in range(runs + 1):
                elapsed, shot = await timed("screenshot", {})
                times.append(elapsed)
            assert shot is not None
            image = next(c for c in shot.content if isinstance(c, ImageContent))
            raw = base64.b64decode(image.data)
            if save is not None:
                save.mkdir(parents=True, exist_ok=True)
                (save / ("screenshot." + image.mime_type.split("/")[1])).write_bytes(raw)
            size = shot.structured_content["mapping"]["image_size"]
            whole = len(json.dumps(shot.model_dump(mode="json", by_alias=True, exclude_none=True)))
            out["screenshot"] = {
                "median_s": statistics.median(times[1:]), "image_size": size,
                "mime": image.mime_type, "image_bytes": len(raw), "base64_chars": len(image.data),
                "result_json_chars": whole, "image_tokens": image_tokens(*size),
            }

            configs: dict[str, dict[str, Any]] = {
                "default": {},
                "everything": {"interactive_only": False, "budget": 100_000},
                "everything, default budget": {"interactive_only": False},
                "budget 8000": {"budget": 8000},
                "window=Calc": {"window": "LibreOffice Calc"},
                "window=Chromium": {"window": "Chromium"},
                "window=galculator": {"window": "galculator"},
                "region": {"region": "0,0,700,470"},
            }
            for label, args in configs.items():
                times, result = [], None
                for _ in range(runs + 1):  # the first run warms up (OCR models, bus connections)
                    elapsed, result = await timed("snapshot", args)
                    times.append(elapsed)
                assert result is not None
                text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
                data = result.structured_content or {}
                structured = len(json.dumps(data, ensure_ascii=False))
                wire = len(result.model_dump_json(by_alias=True, exclude_none=True))
                lines = text.splitlines()
                if save is not None:
                    (save / f"snapshot-{label.replace('=', '-').replace(' ', '-')}.txt").write_text(text)
                listed = sum(1 for line in lines if line.startswith("[e"))
                out["snapshot"][label] = {
                    "args": args, "median_s": statistics.median(times[1:]),
                    "min_s": min(times[1:]), "elements_listed": listed,
                    "elements_structured": len(data.get("elements", [])),
                    "header": lines[0] if lines else "", "notes": data.get("notes", []),
                    "text_chars": len(text), "text_tokens": tokens(len(text)),
                    "structured_chars": structured, "structured_tokens": tokens(structured),
                    "result_json_chars": wire, "result_tokens": tokens(wire),
                    "left_out": sum(v["named"] + v["unnamed"] for v in data.get("left_out", {}).values()),
                    "total": data.get("total"),
                }
    return out


def native_png(display: VirtualDisplay) -> dict[str, Any]:
    import cv2

    from guiagent.screen.capture import Screen

    with Screen(display.name) as screen:
        frame = screen.capture()
    ok, png = cv2.imencode(".png", frame.bgr())
    assert ok
    return {"size": [frame.width, frame.height], "png_bytes": len(png),
            "base64_chars": len(base64.b64encode(png.tobytes())),
            "image_tokens": image_tokens(frame.width, frame.height)}


def report(data: dict[str, Any], runs: int, page: str) -> str:
    shot, native = data["screenshot"], data["native"]
    lines = [
        f"`python benchmarks/mcp_snapshot.py --runs {runs}`: a 3840x2160 Xvfb (openbox, private "
        "accessibility bus) with four applications at once, tiled: LibreOffice Calc "
        "(`SAL_USE_VCLPLUGIN=gtk3`, empty sheet), Chromium (`--force-renderer-accessibility`, "
        f"benchmarks/devset/pages/{page}), galculator and mousepad. The client is the SDK's "
        "`ClientSession` over stdio against `python -m guiagent mcp --display ... --read-only`; "
        f"medians of {runs} calls after one warm-up. Tokens: text = characters / 4 (no "
        "tokenizer installs offline here; JSON with many numbers runs nearer 3 characters a "
        "token, so read these as lower bounds); images = width x height / 750 (Anthropic's "
        "published estimate).",
        "",
        "`snapshot` (the text is what the model reads; `structured_content` goes alongside it):",
        "",
        "| arguments | median s | listed / on screen | text chars | text tokens (est.) | "
        "structured chars | whole result (JSON) chars | whole result tokens (est.) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in data["snapshot"].values():
        args = ", ".join(f"{k}={v}" for k, v in row["args"].items()) or "(none: the defaults)"
        lines.append(f"| {args} | {row['median_s']:.2f} | {row['elements_listed']} / {row['total']} | "
                     f"{row['text_chars']} | {row['text_tokens']} | {row['structured_chars']} | "
                     f"{row['result_json_chars']} | {row['result_tokens']} |")
    lines += [
        "",
        "`screenshot` against sending the native frame:",
        "",
        "| image | size | bytes | base64 chars | image tokens (est.) | median s |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        f"| `screenshot` tool ({shot['mime']}) | {shot['image_size'][0]}x{shot['image_size'][1]} | "
        f"{shot['image_bytes']} | {shot['base64_chars']} | {shot['image_tokens']} | "
        f"{shot['median_s']:.3f} |",
        f"| native 4K PNG (cv2, default level) | {native['size'][0]}x{native['size'][1]} | "
        f"{native['png_bytes']} | {native['base64_chars']} | {native['image_tokens']} | |",
        "",
        f"Ratio: the tool's image is {native['png_bytes'] / shot['image_bytes']:.1f}x fewer bytes "
        f"and {native['image_tokens'] / shot['image_tokens']:.1f}x fewer image tokens than the "
        "native PNG.",
        "",
        f"Load average (1 min) before / after the run: {data['load'][0]:.1f} / {data['load'][1]:.1f} "
        "(a shared 2-core machine: the accessibility reader stops at 2 s, so under load a "
        "snapshot can miss an application's tree, and the vision elements stand in).",
        "",
        machine_summary(),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--page", type=Path, default=HERE / "devset" / "pages" / "mail.html")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--save", type=Path, help="keep the screenshot image and snapshot texts here")
    parser.add_argument("--write", action="store_true", help=f"write the '{TITLE}' section of RESULTS.md")
    args = parser.parse_args()
    for program in ("soffice", "chromium", "galculator", "mousepad", "xdotool", "openbox"):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is not installed (bash .ci/install)")
    with tempfile.TemporaryDirectory() as tmp, \
            VirtualDisplay((3840, 2160), accessibility=True, window_manager=True,
                           set_environment=False) as display:
        env = {"SAL_USE_VCLPLUGIN": "gtk3", "XDG_DATA_HOME": f"{tmp}/data",
               "XDG_STATE_HOME": f"{tmp}/state", "GSETTINGS_BACKEND": "memory"}
        display.launch(["soffice", "--calc", "--norestore", "--nologo",
                        f"-env:UserInstallation=file://{tmp}/lo"], env=env)
        display.launch(["chromium", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--force-renderer-accessibility",
                        f"--user-data-dir={tmp}/chromium", args.page.resolve().as_uri()], env=env)
        display.launch(["galculator"], env=env)
        display.launch(["mousepad"], env=env)
        wait_for_windows(display)
        place_windows(display)
        time.sleep(3)
        place_windows(display)  # late windows (Calc's document) again
        reader = AtspiAccessibility(display.name)
        nodes = wait_settled(reader)
        reader.close()
        print(f"accessibility tree settled at {nodes} visible nodes", file=sys.stderr)
        load_before = os.getloadavg()[0]
        data = asyncio.run(measure(display, args.runs, Path(tmp) / "server.log", args.save))
        data["native"] = native_png(display)
        data["load"] = [load_before, os.getloadavg()[0]]
        if args.json:
            args.json.write_text(json.dumps(data, indent=2))
    text = report(data, args.runs, args.page.name)
    print(text)
    print(json.dumps(data["snapshot"], indent=1))
    if args.write:
        write_section(TITLE, text)


if __name__ == "__main__":
    main()
