"""The HTML report of a UI test run: one self-contained file (pictures embedded), opens offline.

The controller process collects one :class:`TestEntry` per test from pytest's reports (under
pytest-xdist they arrive serialised from the workers, with the steps in ``report.guiagent``)
and writes the file at the end of the session.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import mimetypes
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SEVERITY = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


@dataclass
class TestEntry:
    """One test in the report."""

    __test__ = False  # not a test class for pytest

    nodeid: str
    outcome: str = "passed"  # passed, failed, skipped, error
    duration_s: float = 0.0
    message: str = ""
    longrepr: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    screenshot: str | None = None
    video: str | None = None
    display: str | None = None
    worker: str | None = None

    def update(self, when: str, outcome: str, duration: float, longrepr: str,
               data: dict[str, Any] | None) -> None:
        """Fold in one phase's report (setup, call, teardown)."""
        self.duration_s += duration
        mapped = outcome
        if outcome == "failed" and when != "call":
            mapped = "error"
        if _SEVERITY.get(mapped, 0) > _SEVERITY.get(self.outcome, 0):
            self.outcome = mapped
            if longrepr:
                self.longrepr = longrepr
                self.message = _message(longrepr)
        if data:
            self.steps = list(data.get("steps", self.steps))
            self.screenshot = data.get("screenshot") or self.screenshot
            self.video = data.get("video") or self.video
            self.display = data.get("display") or self.display
            self.worker = data.get("worker") or self.worker


def _message(longrepr: str) -> str:
    """The assertion lines of a failure (pytest marks them with ``E``), else its last line."""
    picked = [ln[1:].strip() for ln in longrepr.splitlines() if ln.startswith("E ")]
    picked = [ln for ln in picked if ln]
    if picked:
        return "\n".join(picked[-12:])
    lines = longrepr.strip().splitlines()
    return lines[-1] if lines else ""


def write_report(path: Path, entries: list[TestEntry], *, started: float, duration_s: float,
                 title: str = "guiagent UI test report") -> Path:
    """Write the report to ``path`` (pictures embedded as data: URIs); returns its path."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = {k: sum(1 for e in entries if e.outcome == k) for k in _SEVERITY}
    when = _dt.datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M:%S")
    displays = sorted({e.display for e in entries if e.display})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<p class='summary'>",
        *(f"<span class='badge {k}'>{counts[k]} {k}</span> " for k in _SEVERITY if counts[k]),
        f"<span class='meta'>{len(entries)} tests in {duration_s:.1f} s, started {when}",
        f"{'; displays ' + html.escape(', '.join(displays)) if displays else ''}</span></p>",
        "<table class='overview'><tr><th>test</th><th>result</th><th>time</th><th>steps</th></tr>",
    ]
    for i, e in enumerate(entries):
        parts.append(
            f"<tr><td><a href='#t{i}'>{html.escape(e.nodeid)}</a></td>"
            f"<td><span class='badge {e.outcome}'>{e.outcome}</span></td>"
            f"<td>{e.duration_s:.2f} s</td><td>{len(e.steps)}</td></tr>")
    parts.append("</table>")
    for i, e in enumerate(entries):
        parts.append(_test_html(i, e, path.parent))
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _test_html(index: int, entry: TestEntry, base: Path) -> str:
    where = ", ".join(x for x in (entry.worker, entry.display and f"display {entry.display}") if x)
    parts = [
        f"<details id='t{index}' class='test {entry.outcome}'"
        f"{' open' if entry.outcome in ('failed', 'error') else ''}>",
        f"<summary><span class='badge {entry.outcome}'>{entry.outcome}</span> "
        f"<span class='name'>{html.escape(entry.nodeid)}</span> "
        f"<span class='meta'>{entry.duration_s:.2f} s{' on ' + html.escape(where) if where else ''}"
        "</span></summary>",
    ]
    if entry.message:
        parts.append(f"<pre class='message'>{html.escape(entry.message)}</pre>")
    if entry.screenshot:
        parts.append(f"<p>annotated screenshot: {_link(entry.screenshot, base)}</p>")
    if entry.steps:
        parts.append("<table class='steps'><tr><th>#</th><th>at</th><th>step</th><th>took</th>"
                     "<th>screen</th></tr>")
        for step in entry.steps:
            state = "passed" if step.get("passed", True) else "failed"
            image = _image(step.get("image"), step.get("title", ""))
            if step.get("screenshot"):
                image += f"<br>full size: {_link(step['screenshot'], base)}"
            detail = step.get("detail") or ""
            parts.append(
                f"<tr class='{state}'><td>{step.get('index', '')}</td>"
                f"<td>{float(step.get('start_s', 0)):.2f} s</td>"
                f"<td><b>{html.escape(str(step.get('title', '')))}</b>"
                f"{'<br><small>' + html.escape(str(detail)) + '</small>' if detail else ''}</td>"
                f"<td>{float(step.get('duration_s', 0)) * 1000:.0f} ms</td><td>{image}</td></tr>")
        parts.append("</table>")
    if entry.video:
        parts.append(f"<p>video of the test:</p>{_image(entry.video, 'video', css='video')}")
    if entry.longrepr and entry.outcome in ("failed", "error"):
        parts.append("<details class='trace'><summary>traceback</summary>"
                     f"<pre>{html.escape(entry.longrepr)}</pre></details>")
    parts.append("</details>")
    return "\n".join(parts)


def _image(path: str | None, alt: str, css: str = "shot") -> str:
    if not path:
        return ""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError:
        return f"<small>(picture not on this machine: {html.escape(path)})</small>"
    mime = mimetypes.guess_type(file.name)[0] or "image/png"
    encoded = base64.b64encode(data).decode("ascii")
    return f"<img class='{css}' alt='{html.escape(alt)}' src='data:{mime};base64,{encoded}'>"


def _link(path: str, base: Path) -> str:
    try:
        href = os.path.relpath(path, base)
    except ValueError:  # another drive (Windows)
        href = path
    return f"<a href='{html.escape(Path(href).as_posix())}'>{html.escape(path)}</a>"


_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px; color: #1d2330;
       background: #f6f7f9; font-size: 16px; }
h1 { font-size: 28px; margin: 0 0 12px; }
.summary { font-size: 18px; }
.meta { color: #5a6270; font-size: 15px; margin-left: 8px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 10px; color: #fff;
         font-weight: bold; font-size: 15px; }
.badge.passed { background: #1f8f3a; } .badge.failed { background: #c8262c; }
.badge.error { background: #8a1c9c; } .badge.skipped { background: #8a8f98; }
table { border-collapse: collapse; margin: 10px 0 18px; background: #fff; }
th, td { border: 1px solid #d6d9de; padding: 6px 10px; text-align: left; vertical-align: top; }
.overview td { font-size: 18px; }
details.test { background: #fff; border: 1px solid #d6d9de; border-left: 8px solid #1f8f3a;
               margin: 14px 0; padding: 8px 14px; }
details.test.failed { border-left-color: #c8262c; } details.test.error { border-left-color: #8a1c9c; }
details.test.skipped { border-left-color: #8a8f98; }
details.test > summary { cursor: pointer; font-size: 19px; }
.name { font-weight: bold; }
pre.message { background: #fff1f1; border: 1px solid #f0b7b9; padding: 10px; white-space: pre-wrap;
              font-size: 15px; }
tr.failed td { background: #fff1f1; }
img.shot { max-width: 560px; border: 1px solid #c9cdd3; }
td a, p a { word-break: break-all; }
.steps td:last-child { max-width: 580px; }
img.video { max-width: 960px; border: 1px solid #c9cdd3; }
.trace pre { font-size: 13px; white-space: pre-wrap; }
"""
