"""The model-backed planner (guiagent.agent.planner): a VLM rewrites a command the parser could not
read into the command language; only parse_commands reads its answer, and the agent runs the
steps only after confirmation (or --yes).

Unit tests use a scripted runtime; the end-to-end ones a tiny random-weight Qwen2-VL checkpoint
built offline, made to say a known plan with a logits processor (ForcedText), through the real
runtime (tokenizer, image processor, generate) and, for the CLI, through `guiagent do`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import guiagent.grounding as grounding
from guiagent import VirtualDisplay
from guiagent.agent.language import (
    ClickStep,
    CommandError,
    OpenStep,
    PressStep,
    ScrollStep,
    Step,
    TargetRef,
    TypeStep,
    WaitForStep,
    WaitStep,
    parse_commands,
    plan,
)
from guiagent.agent.loop import Agent, AgentOptions
from guiagent.agent.planner import (
    EXAMPLES,
    FORMS,
    PlannerSettings,
    PlanRefused,
    VlmPlanner,
    parse_plan,
    planning_prompt,
)
from guiagent.geometry import Size
from guiagent.grounding.vlm import ModelHandle, VlmGrounder
from guiagent.grounding.vlm.base import Generation
from guiagent.grounding.vlm.families import get_family
from guiagent.screen.capture import Frame

COMMAND = 'say "hello world" to the editor and send it'
PLAN = 'type "hello world"\npress enter\nscroll down 2\nwait 0.1 seconds\nEND'
PLANNED: list[Step] = [TypeStep("hello world"), PressStep("enter"), ScrollStep("down", 2), WaitStep(0.1)]


class ScriptedRuntime:
    """Answers from a list and remembers what it was asked."""

    name = "scripted"

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def generate(self, messages: Sequence[Any], images: Sequence[Any], *,
                 max_new_tokens: int = 64) -> Generation:
        self.calls.append({"messages": list(messages), "images": list(images),
                           "max_new_tokens": max_new_tokens})
        return Generation(self.answers.pop(0), None)


def _error(command: str) -> CommandError:
    with pytest.raises(CommandError) as info:
        parse_commands(command)
    return info.value


def _screen() -> Frame:
    """A 3840x2160 BGRA capture (noise)."""
    rng = np.random.default_rng(3)
    return Frame(rng.integers(0, 255, (2160, 3840, 4), dtype=np.uint8))


def _planner(*answers: str, **settings: Any) -> tuple[VlmPlanner, ScriptedRuntime]:
    runtime = ScriptedRuntime(*answers)
    handle = ModelHandle(runtime, get_family("qwen25vl"))
    return VlmPlanner(handle, capture=_screen, settings=PlannerSettings(**settings)), runtime


@pytest.fixture()
def isolated_grounders(monkeypatch: pytest.MonkeyPatch) -> None:
    """A "vlm" grounder registered during the test is gone afterwards."""
    monkeypatch.setattr(grounding, "_FACTORIES", dict(grounding._FACTORIES))
    monkeypatch.setattr(grounding, "_INSTANCES", dict(grounding._INSTANCES))


# -- the prompt ------------------------------------------------------------------------------


def test_every_form_and_example_the_model_is_shown_parses() -> None:
    fill = {"TARGET": '"OK"', "TEXT": "x", "KEY": "ctrl+s", "PROGRAM": "mousepad", " N": " 3"}
    for form in FORMS.splitlines():
        line = form
        for word, value in fill.items():
            line = line.replace(word, value)
        assert len(parse_commands(line)) == 1, form
    for request, answer in EXAMPLES:
        with pytest.raises(CommandError):
            parse_commands(request)  # each example is a request the parser alone cannot read
        assert len(parse_plan(answer + "\nEND", request)) == len(answer.splitlines())


def test_the_prompt_says_the_command_what_the_parser_read_the_forms_and_examples() -> None:
    command = 'click "File" then florp the report'
    prompt = planning_prompt(command, _error(command), max_steps=7)
    assert prompt.count(f"Request: {command}") == 2  # stated first, and again after the examples
    assert "could not read: 'florp the report'" in prompt and 'It did read: click "File"' in prompt
    assert FORMS in prompt and all(answer in prompt for _, answer in EXAMPLES)
    assert "At most 7 steps" in prompt and "END" in prompt and "CANNOT" in prompt


# -- parsing the answer ----------------------------------------------------------------------


def test_a_good_plan_becomes_typed_steps_and_the_model_saw_a_downsampled_screen() -> None:
    answer = ('Steps:\n```text\n1. click "File"\n2) click the "Save As…" item\n- type "report.pdf"\n'
              "* press Enter\n`wait for \"Saved\" up to 5 seconds`\nEND\n```")
    planner, runtime = _planner(answer.replace("Steps:\n", ""))
    command = "save the document as report.pdf"
    steps, proposed = plan(command, planner)
    assert proposed
    assert steps == [ClickStep(TargetRef('"File"')), ClickStep(TargetRef('the "Save As…" item')),
                     TypeStep("report.pdf"), PressStep("enter"),
                     WaitForStep(TargetRef('"Saved"'), timeout=5.0)]
    [call] = runtime.calls
    [image] = call["images"]
    # the family's rule capped at ~1M pixels: a 3840x2160 screen becomes 1316x728 (multiples of 28)
    assert (image.width, image.height) == (1316, 728)
    assert image.width * image.height <= 1_003_520
    content = call["messages"][-1]["content"]
    assert content[0] == {"type": "image"} and command in content[-1]["text"]
    assert call["max_new_tokens"] == PlannerSettings().max_new_tokens
    # a header line is not a step: the whole plan is refused, nothing is guessed
    with pytest.raises(PlanRefused, match="line 1 'Steps:'"):
        plan(command, _planner(answer)[0])


def test_a_plan_with_a_line_that_does_not_parse_is_refused_with_the_model_raw_text() -> None:
    raw = 'click "File"\nmake it pretty\npress ctrl+s\nEND'
    planner, _ = _planner(raw)
    with pytest.raises(PlanRefused) as info:
        plan("tidy up the file", planner)
    error = info.value
    assert error.raw == raw and isinstance(error, CommandError) and error.exit_code == 2
    assert [(n, line) for n, line, _ in error.failed] == [(2, "make it pretty")]
    message = str(error)
    assert message.startswith("could not understand 'tidy up the file', and the steps a model "
                              "proposed were refused: the model's plan has 1 line(s)")
    assert "line 2 'make it pretty': no action 'make'" in message
    assert "nothing was done" in message and repr(raw) in message


@pytest.mark.parametrize(("raw", "settings", "reason"), [
    ("press tab\n" * 21 + "END", {}, "21 lines, more than the 20 steps"),
    ('press tab, press tab, press tab\nclick "OK" and press enter\nEND', {"max_steps": 4},
     "5 steps, more than the 4"),
    ('type "' + "a" * 2100 + '"\nEND', {}, "characters long, over the 2000"),
    ('click "File"\nclick "Save', {}, "does not end with a line END"),  # cut off mid-answer
    ('click "File"\nEND\nclick "Quit"\nEND', {}, "more after END: 'click \"Quit\"'"),
    ("CANNOT: there is no printer on this screen", {}, "could not plan it: there is no printer"),
    ("```\n```", {}, "proposed no steps"),
    ("END", {}, "proposed no steps"),
])
def test_over_long_cut_off_or_declined_plans_are_refused(raw: str, settings: dict[str, Any],
                                                        reason: str) -> None:
    planner, _ = _planner(raw, **settings)
    with pytest.raises(PlanRefused, match="nothing was done") as info:
        planner.propose("do the thing", _error("do the thing"))
    assert reason in str(info.value) and info.value.raw == raw


def test_twenty_steps_are_allowed() -> None:
    steps = parse_plan("press tab\n" * 20 + "END", "do the thing")
    assert steps == [PressStep("tab")] * 20


def test_planned_steps_type_only_text_the_command_gives_and_open_only_programs_it_names() -> None:
    command = "start galculator and log in as Bob"
    assert parse_plan('open galculator\ntype "bob" into "User"\nEND', command) == [
        OpenStep("galculator"), TypeStep("bob", TargetRef('"User"'))]
    with pytest.raises(PlanRefused, match="types 'hunter2', which the command does not contain"):
        parse_plan('type "Bob" into "User"\ntype "hunter2" into "Password"\nEND', command)
    with pytest.raises(PlanRefused, match="starts 'xterm', which the command does not name"):
        parse_plan("open xterm\nEND", command)
    with pytest.raises(PlanRefused, match="which the command does not name"):
        parse_plan("open galculator --evil\nEND", command)  # arguments the command did not give
    with pytest.raises(PlanRefused, match="which the command does not name"):
        parse_plan("open calc\nEND", "open the calculator app")  # a word, not part of one
    allowed = PlannerSettings(allow_new_text=True)
    assert parse_plan('type "2026-11-22"\nEND', "fill in today's date", allowed) == [TypeStep("2026-11-22")]


def test_the_planner_uses_the_registered_vlm_grounder_model(isolated_grounders: None) -> None:
    with pytest.raises(CommandError, match="no vision-language model is configured"):
        VlmPlanner().propose("florp", _error("florp"))
    runtime = ScriptedRuntime("press f5\nEND")
    handle = ModelHandle(runtime, get_family("qwen2vl"))
    grounding.register_grounder("vlm", lambda: VlmGrounder(handle))
    planner = VlmPlanner()  # no screen: the model gets the text alone
    assert planner.propose("refresh the page", _error("refresh the page")) == [PressStep("f5")]
    assert planner.handle is handle and runtime.calls[0]["images"] == []


# -- the agent: proposed steps run only after confirmation -----------------------------------


@pytest.mark.display
def test_the_agent_runs_proposed_steps_only_after_confirmation(desktop: Any) -> None:
    asked: list[list[Step]] = []

    def refuse(steps: list[Step]) -> bool:
        asked.append(steps)
        return False

    planner, _ = _planner(PLAN, PLAN, PLAN)
    agent = Agent(desktop, AgentOptions(dry_run=True), planner=planner, confirm=refuse)
    with pytest.raises(CommandError, match="not confirmed") as info:
        agent.run(COMMAND)
    assert asked == [PLANNED] and 'type \'hello world\'' in str(info.value)
    assert agent.executor.history == []  # nothing ran, not even in dry run

    agent = Agent(desktop, AgentOptions(dry_run=True), planner=planner, confirm=lambda steps: True)
    report = agent.run(COMMAND)
    assert report.proposed and [r.step for r in report.steps] == PLANNED
    assert [r.status for r in report.steps] == ["dry-run"] * 4
    assert agent.executor.history and not any(r.performed for r in agent.executor.history)

    shown: list[str] = []
    agent = Agent(desktop, AgentOptions(dry_run=True, assume_yes=True), planner=planner,
                  confirm=refuse, echo=shown.append)
    report = agent.run(COMMAND)
    assert report.proposed and len(asked) == 1  # --yes: not asked, but the steps are shown
    assert "1. type 'hello world'\n2. press enter" in shown[0]
    assert not any(r.performed for r in agent.executor.history)


# -- end to end with a tiny random-weight Qwen2-VL checkpoint --------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from guiagent.grounding.vlm.synthetic import build_checkpoint

    path = tmp_path_factory.mktemp("planner") / "tiny-qwen2vl"
    build_checkpoint(path, "qwen2_vl")
    return path


@pytest.fixture()
def forced_plan(monkeypatch: pytest.MonkeyPatch, isolated_grounders: None) -> Iterator[list[Any]]:
    """Every TransformersRuntime generation emits PLAN (the random model's own choice is
    overridden token by token); yields what each call returned."""
    from guiagent.grounding.vlm.runtime import TransformersRuntime
    from guiagent.grounding.vlm.synthetic import ForcedText

    original = TransformersRuntime.generate
    calls: list[Any] = []

    def generate(self: TransformersRuntime, messages: Sequence[Any], images: Sequence[Any], *,
                 max_new_tokens: int = 64, logits_processors: Sequence[Any] = ()) -> Generation:
        result = original(self, messages, images, max_new_tokens=max_new_tokens,
                          logits_processors=[ForcedText(self.tokenizer, PLAN)])
        calls.append((images, result))
        return result

    monkeypatch.setattr(TransformersRuntime, "generate", generate)
    yield calls


def test_a_tiny_checkpoint_proposes_a_forced_plan_through_the_real_runtime(
        tiny_model: Path, forced_plan: list[Any]) -> None:
    from guiagent.grounding.vlm import load_model

    handle = load_model(tiny_model, device="cpu")
    planner = VlmPlanner(handle, capture=_screen)
    steps, proposed = plan(COMMAND, planner)
    assert proposed and steps == PLANNED
    generation = planner.last_generation
    assert generation is not None and generation.text == PLAN
    # the checkpoint's own image processor fed the vision tower the size we downsampled to
    assert planner.last_image is not None
    [processed] = generation.processed_sizes
    assert processed == Size(planner.last_image.width, planner.last_image.height)
    assert processed.area <= 1_003_520 and generation.visual_tokens == processed.area // (28 * 28)


def _do(*args: str) -> list[str]:
    return ["do", COMMAND, "--dry-run", "--no-failsafe", *args]


@pytest.mark.display
def test_cli_runs_planned_steps_in_dry_run_with_yes(
        tiny_model: Path, forced_plan: list[Any], vdisplay: VirtualDisplay,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from guiagent.cli.main import main
    from guiagent.input.actions import Executor

    def no_input(*_args: Any) -> None:
        raise AssertionError("a dry run sent input")

    monkeypatch.setattr(Executor, "_perform", no_input)
    code = main(_do("--display", vdisplay.name, "--yes", "--json", "--model", str(tiny_model),
                    "--device", "cpu"))
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["proposed_by_planner"] and report["dry_run"] and report["ok"]
    assert [s["step"] for s in report["steps"]] == [s.to_dict() for s in PLANNED]
    assert [s["status"] for s in report["steps"]] == ["dry-run"] * 4
    [(images, _generation)] = forced_plan  # one model call: the plan (no target needed grounding)
    assert images[0].width * images[0].height <= 1_003_520  # the 3840x2160 screen, downsampled


@pytest.mark.display
def test_cli_asks_before_running_planned_steps(
        tiny_model: Path, forced_plan: list[Any], vdisplay: VirtualDisplay,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from guiagent.cli.main import main

    args = _do("--display", vdisplay.name, "--json", "--model", str(tiny_model), "--device", "cpu")

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # not a terminal: nobody to ask
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no report: nothing ran
    assert "the model proposed these steps:\n1. type 'hello world'\n2. press enter" in err
    assert "stdin is not a terminal" in err and "not confirmed" in err

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and "not confirmed" in err

    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "run them? [y/N]" in err
    report = json.loads(out)
    assert report["proposed_by_planner"] and [s["status"] for s in report["steps"]] == ["dry-run"] * 4


def test_without_a_model_an_unreadable_command_fails_as_before(
        isolated_grounders: None, capsys: pytest.CaptureFixture[str]) -> None:
    from guiagent.cli.main import main

    assert main(_do("--display", ":9999", "--yes")) == 2  # fails before opening the display
    err = capsys.readouterr().err
    assert "could not understand step 1" in err and "no action 'say'" in err
    assert not grounding.vlm_configured()


@pytest.mark.display
def test_cli_refuses_what_a_random_model_really_says(tiny_model: Path, vdisplay: VirtualDisplay) -> None:
    # No forcing: the random weights answer garbage (or nothing), which is not a plan.
    result = subprocess.run(
        [sys.executable, "-m", "guiagent", *_do("--display", vdisplay.name, "--yes", "--model",
                                                 str(tiny_model), "--device", "cpu")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "DISPLAY": vdisplay.name})
    assert result.returncode == 2, result.stderr
    assert "the model said" in result.stderr and "nothing was done" in result.stderr
    assert "Traceback" not in result.stderr and "proposed these steps" not in result.stderr
