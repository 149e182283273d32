"""The ``guiagent`` command line: one module per command group, ``main`` ties them together."""

from guiagent.cli.main import main

__all__ = ["main"]
