"""``guiagent mcp``: the desktop as Model Context Protocol tools for LLM agents.

Screenshots within every client's limits with their mapping to the screen, elements with refs,
ECP grounding of targets, and input through the Executor's safety checks. Coordinates in and out
of every tool are pixels of the last screenshot image; the server converts to the screen.
"""

from guiagent.mcp.images import EncodedImage, ImageMapping, encode_image, fit_size
from guiagent.mcp.server import build_server
from guiagent.mcp.session import DesktopSession, ServerOptions, ToolOutput
from guiagent.mcp.transport import check_http_access, is_loopback, parse_http_address, run_http

__all__ = [
    "DesktopSession",
    "EncodedImage",
    "ImageMapping",
    "ServerOptions",
    "ToolOutput",
    "build_server",
    "check_http_access",
    "encode_image",
    "fit_size",
    "is_loopback",
    "parse_http_address",
    "run_http",
]
