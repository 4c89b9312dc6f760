"""src/dify_plugin/interfaces/tool/__init__.py re-exports these from .tool"""

from dify_plugin.interfaces.tool.tool import Tool, ToolProvider

__all__ = ["Tool", "ToolProvider"]
