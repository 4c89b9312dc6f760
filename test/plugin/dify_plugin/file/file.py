"""src/dify_plugin/file/file.py: File. The SDK's `.blob` downloads the whole
file into memory with httpx; the plugin's tools never use it, so here it fails."""

from __future__ import annotations

from dataclasses import dataclass

from dify_plugin.file.constants import DIFY_FILE_IDENTITY
from dify_plugin.file.entities import FileType


@dataclass
class File:
    url: str
    type: FileType
    mime_type: str | None = None
    filename: str | None = None
    extension: str | None = None
    size: int | None = None
    dify_model_identity: str = DIFY_FILE_IDENTITY

    @property
    def blob(self) -> bytes:
        raise AssertionError("File.blob reads a whole file into memory: the plugin's tools must stream instead")
