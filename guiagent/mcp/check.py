"""``guiagent mcp --check``: what the server can see and use, and what is missing, before a
client depends on it (MCP clients hide a server's stderr in their logs)."""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass

from guiagent.mcp.session import ServerOptions, display_missing_message


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'MISSING'} {self.name}: {self.detail}"


def run_checks(options: ServerOptions) -> list[CheckResult]:
    """Display, capture, input, accessibility snapshot, OCR and model, each with a detail."""
    import os

    results: list[CheckResult] = []
    display = options.display or os.environ.get("DISPLAY")
    if not display:
        return [CheckResult("display", False, display_missing_message())]
    from guiagent.errors import GuiAgentError
    from guiagent.screen.capture import Screen

    with Screen(display) as screen:
        try:
            box = screen.monitor(0).box
            results.append(CheckResult("display", True, f"{display}, {box.width:g}x{box.height:g}"))
            started = time.perf_counter()
            frame = screen.capture(region=options.region)
            ms = (time.perf_counter() - started) * 1000
            results.append(CheckResult("capture", True, f"{frame.width}x{frame.height} in {ms:.1f} ms"))
        except GuiAgentError as exc:
            results.append(CheckResult("display", False, str(exc)))
            return results
    results.append(_input(options, display))
    results.append(_accessibility(display))
    results.append(CheckResult("snapshot", True, "accessibility elements where the bus answers, "
                               "vision elements (control boxes + OCR) everywhere"))
    ocr = importlib.util.find_spec("rapidocr_onnxruntime") is not None
    results.append(CheckResult("ocr", ocr, "RapidOCR (text targets)" if ocr else
                               "pip install 'guiagent[ocr]': quoted text targets need it"))
    results.append(CheckResult("model", options.model,
                               "configured (descriptions, ask)" if options.model else
                               "none: descriptions of looks and places and the ask tool need "
                               "--model DIR or --vlm-url URL"))
    return results


def _input(options: ServerOptions, display: str) -> CheckResult:
    if options.read_only:
        return CheckResult("input", True, "not used (--read-only)")
    if options.dry_run:
        return CheckResult("input", True, "not used (--dry-run: actions are checked, never sent)")
    from guiagent.errors import GuiAgentError
    from guiagent.input.backends import create_backend

    try:
        backend = create_backend(options.backend, display)
        try:
            x, y = backend.position()
        finally:
            backend.close()
    except (GuiAgentError, OSError) as exc:
        return CheckResult("input", False, f"{options.backend}: {exc}")
    return CheckResult("input", True, f"{options.backend}, pointer at ({x}, {y})")


def _accessibility(display: str) -> CheckResult:
    """Whether the applications' accessibility trees can be read (snapshot's names and roles;
    without them snapshot lists only what the pixels show)."""
    from guiagent.errors import GuiAgentError, PlatformUnsupported
    from guiagent.platform import platform_for

    try:
        reader = platform_for(display).accessibility(display)
    except (PlatformUnsupported, GuiAgentError) as exc:
        return CheckResult("accessibility", False, f"none on this platform ({exc}); snapshot "
                                                   "lists what the pixels show")
    try:
        reason = reader.unavailable_reason()
    finally:
        reader.close()
    if reason is not None:
        return CheckResult("accessibility", False, f"{reason}; snapshot lists what the pixels show")
    return CheckResult("accessibility", True, "the accessibility bus answers (snapshot has the "
                                              "applications' own names and roles)")
