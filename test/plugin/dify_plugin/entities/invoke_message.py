"""src/dify_plugin/entities/invoke_message.py: InvokeMessage (pydantic there, dataclasses here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


@dataclass
class InvokeMessage:
    class MessageType(Enum):
        TEXT = "text"
        FILE = "file"
        BLOB = "blob"
        JSON = "json"
        LINK = "link"
        IMAGE = "image"
        IMAGE_LINK = "image_link"
        VARIABLE = "variable"
        BLOB_CHUNK = "blob_chunk"
        LOG = "log"
        RETRIEVER_RESOURCES = "retriever_resources"

    @dataclass
    class TextMessage:
        text: str

    @dataclass
    class JsonMessage:
        json_object: Mapping | list

    @dataclass
    class BlobMessage:
        blob: bytes

    type: MessageType
    message: Any
    meta: dict | None = None

    def __post_init__(self) -> None:
        # the SDK's pydantic model refuses a wrong payload type; so does this
        expected = {
            InvokeMessage.MessageType.TEXT: InvokeMessage.TextMessage,
            InvokeMessage.MessageType.LINK: InvokeMessage.TextMessage,
            InvokeMessage.MessageType.JSON: InvokeMessage.JsonMessage,
            InvokeMessage.MessageType.BLOB: InvokeMessage.BlobMessage,
        }.get(self.type)
        if expected is not None and not isinstance(self.message, expected):
            raise TypeError(f"{self.type} needs a {expected.__name__}")
        if self.type == InvokeMessage.MessageType.BLOB and not isinstance(self.message.blob, bytes):
            raise TypeError("a blob message needs bytes")
        if self.type == InvokeMessage.MessageType.JSON and not isinstance(self.message.json_object, Mapping | list):
            raise TypeError("a JSON message needs a mapping or a list")
