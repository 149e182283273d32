"""The guiagent pytest plugin, registered through the ``pytest11`` entry point ``guiagent``
(``-p no:guiagent`` turns it off).

Fixtures: ``desktop`` (a :class:`~guiagent.testing.steps.RecordedDesktop` per test, on
this session's display; programs it launched end with the test), ``virtual_display`` (the
session's Xvfb display, one per pytest-xdist worker, started the first time a test needs it
and never otherwise) and ``guiagent_display`` (the display name tests run on).

Options (each also an ini setting, ``guiagent_size = 1920x1080`` ...):
``--guiagent-size WxH``, ``--guiagent-dpi N``, ``--guiagent-display :0`` (use an existing
display instead of starting Xvfb), ``--guiagent-timeout S`` (default expectation timeout),
``--guiagent-output DIR`` (pictures; default ``guiagent-results``), ``--guiagent-report
PATH.html``, ``--guiagent-video [on|retain-on-failure|off]``.
"""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from guiagent.screen.display import VirtualDisplay
    from guiagent.testing.report import TestEntry
    from guiagent.testing.steps import RecordedDesktop

VIDEO_MODES = ("off", "on", "retain-on-failure")
DEFAULT_SIZE = "3840x2160"
DEFAULT_TIMEOUT = 5.0
DEFAULT_OUTPUT = "guiagent-results"


@dataclass(frozen=True)
class GuiOptions:
    """The run's settings, from the command line or else the ini file."""

    size: tuple[int, int]
    dpi: int | None
    display: str | None
    timeout: float
    output: Path
    report: Path | None
    video: str


_OPTIONS = pytest.StashKey[GuiOptions]()
_DESKTOP = pytest.StashKey["RecordedDesktop"]()

_SETTINGS = [
    # (option, ini name, help)
    ("--guiagent-size", "guiagent_size",
     f"size of each virtual display, WxH (default {DEFAULT_SIZE})"),
    ("--guiagent-dpi", "guiagent_dpi", "DPI of the virtual displays (default: Xvfb's)"),
    ("--guiagent-display", "guiagent_display",
     "run on this existing X display (e.g. :0) instead of starting Xvfb"),
    ("--guiagent-timeout", "guiagent_timeout",
     f"default timeout of expectations, seconds (default {DEFAULT_TIMEOUT:g})"),
    ("--guiagent-output", "guiagent_output",
     f"folder for screenshots and videos (default {DEFAULT_OUTPUT})"),
    ("--guiagent-report", "guiagent_report", "write a self-contained HTML report of the run here"),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("guiagent", "guiagent UI tests")
    for option, ini, text in _SETTINGS:
        group.addoption(option, dest=ini, default=None, help=text)
        parser.addini(ini, text, default="")
    video_help = ("keep an animated GIF of each test's steps: on, retain-on-failure, off "
                  "(default off; the bare flag means on)")
    group.addoption("--guiagent-video", dest="guiagent_video", nargs="?", const="on", default=None,
                    choices=VIDEO_MODES, help=video_help)
    parser.addini("guiagent_video", video_help, default="")


def _setting(config: pytest.Config, name: str) -> tuple[str, Path] | None:
    """A setting's raw value and the folder relative paths in it are relative to."""
    value = config.getoption(name)
    if value not in (None, ""):
        return str(value), config.invocation_params.dir
    ini = config.getini(name)
    if isinstance(ini, str) and ini.strip():
        return ini.strip(), config.rootpath
    return None


def read_options(config: pytest.Config) -> GuiOptions:
    """Parse the settings; raises pytest.UsageError saying which value is wrong and why."""
    def raw(name: str, default: str) -> tuple[str, Path]:
        return _setting(config, name) or (default, config.invocation_params.dir)

    size_text, _ = raw("guiagent_size", DEFAULT_SIZE)
    found = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", size_text)
    if not found or min(int(found[1]), int(found[2])) < 64:
        raise pytest.UsageError(f"guiagent size {size_text!r} is not WIDTHxHEIGHT, e.g. 1920x1080")
    dpi_setting = _setting(config, "guiagent_dpi")
    dpi = None
    if dpi_setting:
        if not dpi_setting[0].isdigit() or not 20 <= int(dpi_setting[0]) <= 1000:
            raise pytest.UsageError(f"guiagent dpi {dpi_setting[0]!r} is not a number from 20 to 1000")
        dpi = int(dpi_setting[0])
    display_setting = _setting(config, "guiagent_display")
    timeout_text, _ = raw("guiagent_timeout", str(DEFAULT_TIMEOUT))
    try:
        timeout = float(timeout_text)
    except ValueError:
        timeout = -1.0
    if timeout <= 0:
        raise pytest.UsageError(f"guiagent timeout {timeout_text!r} is not a positive number of seconds")
    output_text, output_base = raw("guiagent_output", DEFAULT_OUTPUT)
    report_setting = _setting(config, "guiagent_report")
    video, _ = raw("guiagent_video", "off")
    if video not in VIDEO_MODES:
        raise pytest.UsageError(f"guiagent video {video!r}: choose one of {', '.join(VIDEO_MODES)}")
    return GuiOptions(
        size=(int(found[1]), int(found[2])),
        dpi=dpi,
        display=display_setting[0] if display_setting else None,
        timeout=timeout,
        output=(output_base / output_text).resolve(),
        report=(report_setting[1] / report_setting[0]).resolve() if report_setting else None,
        video=video,
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    options = read_options(config)
    config.stash[_OPTIONS] = options
    if options.report is not None and not _is_worker(config):
        config.pluginmanager.register(HtmlReportCollector(options.report), "guiagent-html-report")


def pytest_report_header(config: pytest.Config) -> str | None:
    options = config.stash.get(_OPTIONS, None)
    if options is None or config.option.verbose < 1:
        return None
    where = (f"existing display {options.display}" if options.display else
             f"virtual {options.size[0]}x{options.size[1]} display per worker, started on demand")
    return f"guiagent: {where}; expectation timeout {options.timeout:g} s"


def _options(config: pytest.Config) -> GuiOptions:
    return config.stash[_OPTIONS]


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def guiagent_options(pytestconfig: pytest.Config) -> GuiOptions:
    """This run's guiagent settings (size, DPI, display, timeout, output folder...)."""
    return _options(pytestconfig)


@pytest.fixture(scope="session")
def virtual_display(guiagent_options: GuiOptions) -> Iterator[VirtualDisplay]:
    """This session's (xdist worker's) own Xvfb display with openbox; ``$DISPLAY`` points at
    it while it runs. Started the first time a test asks for it."""
    if guiagent_options.display:
        pytest.fail(f"this run uses the existing display {guiagent_options.display} "
                    "(--guiagent-display), so there is no virtual display: drop "
                    "--guiagent-display to run tests that need one", pytrace=False)
    from guiagent.screen.display import VirtualDisplay

    with VirtualDisplay(guiagent_options.size, dpi=guiagent_options.dpi) as display:
        yield display


@pytest.fixture(scope="session")
def guiagent_display(request: pytest.FixtureRequest, guiagent_options: GuiOptions) -> str:
    """The X display name this session's tests run on."""
    if guiagent_options.display:
        return guiagent_options.display
    display: VirtualDisplay = request.getfixturevalue("virtual_display")
    return display.name


@pytest.fixture()
def desktop(request: pytest.FixtureRequest, guiagent_display: str,
            guiagent_options: GuiOptions) -> Iterator[RecordedDesktop]:
    """A Desktop on this session's display that records the test's steps; programs started
    with ``desktop.launch(...)`` are ended (by process group id) when the test finishes."""
    from guiagent.desktop.expect import using_desktop
    from guiagent.testing.steps import RecordedDesktop, StepLog, artefact_directory

    options = guiagent_options
    recorder = StepLog(artefact_directory(options.output, request.node.nodeid),
                        thumbnails=options.report is not None, video=options.video != "off")
    # On a virtual display nobody can press the abort hotkey or park the mouse in a corner.
    safety: dict[str, Any] = {} if options.display else {"abort_hotkey": None, "failsafe": False}
    instance = RecordedDesktop(guiagent_display, recorder=recorder, base_dir=request.path.parent,
                               expect_timeout=options.timeout, **safety)
    request.node.stash[_DESKTOP] = instance
    try:
        with using_desktop(instance):
            yield instance
    finally:
        instance.close()


# -- failure artefacts -----------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    instance = item.stash.get(_DESKTOP, None)
    if instance is None or report.when != "call":
        return report
    try:
        _attach_artefacts(item, call, report, instance)
    except Exception as exc:  # artefacts must never hide the test's own outcome
        report.sections.append(("guiagent", f"could not write the test's pictures: {exc!r}"))
    return report


def _attach_artefacts(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport,
                      instance: RecordedDesktop) -> None:
    options = _options(item.config)
    recorder = instance.recorder
    assert recorder is not None
    failed = report.failed
    screenshot: Path | None = None
    if failed and call.excinfo is not None:
        screenshot = instance.failure_screenshot(call.excinfo.value)
    elif recorder.wants_frames:
        recorder.add_step("the screen when the test ended", "screen", instance.capture())
    video = None
    if options.video == "on" or (options.video == "retain-on-failure" and failed):
        video = recorder.write_video()
    if screenshot is not None:
        _add_property(item, report, "guiagent_screenshot", str(screenshot))
        report.sections.append(("guiagent", f"annotated screenshot: {screenshot}"))
        if item.config.pluginmanager.hasplugin("html"):
            _add_html_extra(report, screenshot)
    if video is not None:
        _add_property(item, report, "guiagent_video", str(video))
        report.sections.append(("guiagent", f"video: {video}"))
    # Plain data: pytest-xdist serialises it with the report to the controller.
    report.guiagent = {  # type: ignore[attr-defined]
        "steps": recorder.to_json(),
        "screenshot": str(screenshot) if screenshot else None,
        "video": str(video) if video else None,
        "display": instance.display_name,
        "worker": os.environ.get("PYTEST_XDIST_WORKER"),
    }


def _add_property(item: pytest.Item, report: pytest.TestReport, name: str, value: str) -> None:
    """A user property on this report and the item (junitxml reads the teardown report's)."""
    item.user_properties.append((name, value))
    report.user_properties.append((name, value))


def _add_html_extra(report: pytest.TestReport, screenshot: Path) -> None:
    """Show the screenshot in pytest-html's report (its ``extras`` format, a plain dict)."""
    thumbnail = screenshot.with_suffix(".jpg")
    picture = thumbnail if thumbnail.exists() else screenshot
    extra = {"name": "guiagent screenshot", "format_type": "image",
             "content": base64.b64encode(picture.read_bytes()).decode("ascii"),
             "mime_type": "image/jpeg" if picture.suffix == ".jpg" else "image/png",
             "extension": picture.suffix.lstrip(".")}
    report.extras = [*getattr(report, "extras", []), extra]  # type: ignore[attr-defined]


# -- the HTML report -------------------------------------------------------------------------
class HtmlReportCollector:
    """Collects every test's reports (in the controller under xdist) and writes the report."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = time.time()
        self.entries: dict[str, TestEntry] = {}
        self.written: Path | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from guiagent.testing.report import TestEntry

        entry = self.entries.setdefault(report.nodeid, TestEntry(report.nodeid))
        longrepr = report.longreprtext if (report.failed or report.skipped) else ""
        entry.update(report.when, report.outcome, report.duration, longrepr,
                     getattr(report, "guiagent", None))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from guiagent.testing.report import write_report

        self.written = write_report(self.path, list(self.entries.values()), started=self.started,
                                    duration_s=time.time() - self.started)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.written is not None:
            terminalreporter.write_sep("-", f"guiagent report: {self.written}")
