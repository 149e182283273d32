"""Time to read an application's accessibility tree at 4K: guiagent's AT-SPI reader (jeepney,
the bridge's bulk cache, pipelined calls) against a plain pyatspi tree walk, side by side.

Starts its own 3840x2160 display with a private accessibility bus, LibreOffice Writer
(``SAL_USE_VCLPLUGIN=gtk3``) and Chromium (``--force-renderer-accessibility``) on a page of
the dev set (benchmarks/devset/pages, default mail.html). The pyatspi walk runs in Debian's
``/usr/bin/python3`` (pyatspi does not install with pip): install it for this benchmark only,
``sudo apt-get install python3-pyatspi``. It reads what a user of pyatspi would: role, name,
state set and screen extents of every object, recursively.

    python benchmarks/atspi_snapshot.py [--runs 7] [--page PATH] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from guiagent import VirtualDisplay  # noqa: E402
from guiagent.platform.atspi import AtspiAccessibility  # noqa: E402
from guiagent.screen.processes import end_program  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"
PYATSPI_WALK = r"""
import json, sys, time
import pyatspi

def walk(node, out):
    out[0] += 1
    node.getRole(); node.name; node.getState()
    try:
        node.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
    except NotImplementedError:
        pass
    for child in node:
        if child is not None:
            walk(child, out)

title, runs = sys.argv[1], int(sys.argv[2])
times, counts = [], []
for _ in range(runs + 1):  # the first run warms up
    started = time.perf_counter()
    out = [0]
    for app in pyatspi.Registry.getDesktop(0):
        for window in app:
            if window is not None and title in (window.name or ""):
                walk(window, out)
    times.append(time.perf_counter() - started)
    counts.append(out[0])
print(json.dumps({"times": times[1:], "nodes": counts[-1]}))
"""


def ours(reader: AtspiAccessibility, title: str, runs: int, visible_only: bool) -> dict[str, float]:
    times, nodes = [], 0
    for _ in range(runs + 1):
        tree = reader.snapshot(window=title, visible_only=visible_only, max_nodes=100_000,
                               timeout=30.0)
        times.append(tree.elapsed_s)
        nodes = len(tree.nodes)
    return {"median_s": statistics.median(times[1:]), "nodes": nodes}


def pyatspi_walk(display: VirtualDisplay, title: str, runs: int) -> dict[str, float] | None:
    if not Path(SYSTEM_PYTHON).exists():
        return None
    done = subprocess.run([SYSTEM_PYTHON, "-c", PYATSPI_WALK, title, str(runs)], env=display.env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        print(f"pyatspi walk failed (apt-get install python3-pyatspi?): {done.stderr[-300:]}")
        return None
    result = json.loads(done.stdout)
    return {"median_s": statistics.median(result["times"]), "nodes": result["nodes"]}


def wait_for(reader: AtspiAccessibility, title: str, name: str, timeout: float = 120) -> None:
    """Until a node called ``name`` shows and the window's node count stops changing."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        tree = reader.snapshot(window=title, timeout=10)
        if any(n.name == name for n in tree.nodes) and len(tree.nodes) == last:
            return
        last = len(tree.nodes)
        time.sleep(1.0)
    raise SystemExit(f"{title!r} did not show {name!r} in {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--page", type=Path, default=HERE / "devset" / "pages" / "mail.html")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    for program in ("soffice", "chromium"):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is not installed (bash .ci/install)")
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp, \
            VirtualDisplay((3840, 2160), accessibility=True, set_environment=False) as display:
        reader = AtspiAccessibility(display.name)
        # One application at a time: a maximised Writer would cover Chromium's window.
        apps = {
            "LibreOffice Writer": (["soffice", "--writer", "--norestore", "--nologo",
                                    f"-env:UserInstallation=file://{tmp}/lo"], "Bold"),
            "Chromium": (["chromium", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", "--force-renderer-accessibility",
                          f"--user-data-dir={tmp}/chromium", args.page.resolve().as_uri()],
                         "Reload"),
        }
        for title, (argv, name) in apps.items():
            app = display.launch(argv, env={"SAL_USE_VCLPLUGIN": "gtk3"})
            wait_for(reader, title, name)
            results[title] = {
                "guiagent visible": ours(reader, title, args.runs, True),
                "guiagent all": ours(reader, title, args.runs, False),
                "pyatspi walk": pyatspi_walk(display, title, args.runs),
            }
            # Last: once switched on, an application keeps its bridge cache (and its cost).
            cached = AtspiAccessibility(display.name, app_caches=True)
            results[title]["guiagent visible, app caches on"] = ours(cached, title, args.runs, True)
            results[title]["guiagent all, app caches on"] = ours(cached, title, args.runs, False)
            cached.close()
            end_program(app)
        reader.close()
    print("\n| application | reader | median s | nodes |\n| --- | --- | --- | --- |")
    for label, rows in results.items():
        for reader_name, row in rows.items():
            if isinstance(row, dict):
                print(f"| {label} | {reader_name} | {row['median_s']:.3f} | {row['nodes']} |")
            else:
                print(f"| {label} | {reader_name} | n/a | |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
