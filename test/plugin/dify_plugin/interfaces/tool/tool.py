"""src/dify_plugin/interfaces/tool/tool.py: Tool (with ToolLike's create_*
helpers) and ToolProvider, as the SDK defines them; Generic[T] instead of
the SDK's PEP 695 `class ToolLike[T: InvokeMessage]` (Python 3.12)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Mapping
from typing import Any, Generic, TypeVar

from dify_plugin.entities.invoke_message import InvokeMessage
from dify_plugin.entities.tool import ToolInvokeMessage, ToolRuntime
from dify_plugin.file.constants import DIFY_FILE_IDENTITY
from dify_plugin.file.entities import FileType
from dify_plugin.file.file import File

T = TypeVar("T", bound=InvokeMessage)


class ToolLike(ABC, Generic[T]):
    response_type: type[T]

    def create_text_message(self, text: str) -> T:
        return self.response_type(type=InvokeMessage.MessageType.TEXT, message=InvokeMessage.TextMessage(text=text))

    def create_json_message(self, json: Mapping | list) -> T:
        return self.response_type(type=InvokeMessage.MessageType.JSON, message=InvokeMessage.JsonMessage(json_object=json))

    def create_link_message(self, link: str) -> T:
        return self.response_type(type=InvokeMessage.MessageType.LINK, message=InvokeMessage.TextMessage(text=link))

    def create_blob_message(self, blob: bytes, meta: dict | None = None) -> T:
        return self.response_type(type=InvokeMessage.MessageType.BLOB, message=InvokeMessage.BlobMessage(blob=blob), meta=meta)

    @classmethod
    def _convert_parameters(cls, tool_parameters: dict) -> dict:
        """Dify file objects become File, lists of them lists of File (the SDK's rule)."""
        for parameter, value in tool_parameters.items():
            if isinstance(value, dict) and value.get("dify_model_identity") == DIFY_FILE_IDENTITY:
                tool_parameters[parameter] = _file(value)
            elif isinstance(value, list) and value and all(isinstance(item, dict) and item.get("dify_model_identity") == DIFY_FILE_IDENTITY for item in value):
                tool_parameters[parameter] = [_file(item) for item in value]
        return tool_parameters


def _file(value: dict) -> File:
    return File(
        url=value["url"],
        mime_type=value.get("mime_type"),
        type=FileType(value.get("type")),
        filename=value.get("filename"),
        extension=value.get("extension"),
        size=value.get("size"),
    )


class ToolProvider:
    def validate_credentials(self, credentials: dict) -> None:
        return self._validate_credentials(credentials)

    def _validate_credentials(self, credentials: dict) -> None:
        raise NotImplementedError("The tool you are using does not support credentials validation, please implement `_validate_credentials` method")


class Tool(ToolLike[ToolInvokeMessage]):
    runtime: ToolRuntime

    def __init__(self, runtime: ToolRuntime, session: Any) -> None:
        self.runtime = runtime
        self.session = session
        self.response_type = ToolInvokeMessage

    @classmethod
    def from_credentials(cls, credentials: dict, user_id: str | None = None) -> Tool:
        return cls(runtime=ToolRuntime(credentials=credentials, user_id=user_id, session_id=None), session=None)

    @abstractmethod
    def _invoke(self, tool_parameters: dict) -> Generator[ToolInvokeMessage, None, None]:
        pass

    def invoke(self, tool_parameters: dict) -> Generator[ToolInvokeMessage, None, None]:
        tool_parameters = self._convert_parameters(tool_parameters)
        return self._invoke(tool_parameters)
