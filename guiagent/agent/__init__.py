"""Natural-language commands: the command language, the capture-ground-act-verify loop, the
planner and skills."""

from guiagent.agent.language import CommandError, parse_commands
from guiagent.agent.loop import Agent, AgentOptions, RunReport, StepFailed, do, run_skill

__all__ = ["Agent", "AgentOptions", "CommandError", "RunReport", "StepFailed", "do", "parse_commands",
           "run_skill"]
