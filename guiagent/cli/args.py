"""Argument helpers shared by every command group of the ``guiagent`` command."""

from __future__ import annotations

import argparse


def region_argument(text: str) -> tuple[int, int, int, int]:
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"region must be x,y,width,height in pixels, got {text!r}") from None
    if len(values) != 4 or values[2] <= 0 or values[3] <= 0:
        raise argparse.ArgumentTypeError(f"region must be x,y,width,height (positive size), got {text!r}")
    return values[0], values[1], values[2], values[3]
