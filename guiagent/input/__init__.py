"""Acting on the desktop: typed actions, the Executor with every safety check, input backends."""

from guiagent.input.actions import Action, ActionRecord, Executor, ExecutorSettings

__all__ = ["Action", "ActionRecord", "Executor", "ExecutorSettings"]
