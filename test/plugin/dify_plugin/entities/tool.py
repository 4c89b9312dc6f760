"""src/dify_plugin/entities/tool.py: ToolRuntime and ToolInvokeMessage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dify_plugin.entities.invoke_message import InvokeMessage


@dataclass
class ToolRuntime:
    credentials: dict[str, Any]
    user_id: str | None
    session_id: str | None


class ToolInvokeMessage(InvokeMessage):
    pass
