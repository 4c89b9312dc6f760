"""A stand-in for the dify_plugin SDK, for the tests only: just the interface
the plugin's tool and provider classes use, mirroring the SDK's source at
langgenius/dify-plugin-sdks commit 28d1d223b68572f137f67526135b5ba97a33f3ad
(python package src/dify_plugin, August 2026): the same module paths, class
and method names, message shapes and parameter conversion. The real SDK
needs Python 3.12 and pydantic and is not installable here; this runs on
3.11 with the standard library. The plugin's classes must run unchanged on
either. Nothing here ships in the plugin package (test/ is in .difyignore).
"""

from dify_plugin.interfaces.tool import Tool, ToolProvider

__all__ = ["Tool", "ToolProvider"]
