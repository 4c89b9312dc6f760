"""s3_upload_files: store every Dify file of a files parameter, each as
s3_upload_file stores one (the gateway fetches its URL; the plugin streams it
only when the gateway cannot reach it), under prefix + its filename or the
keys of s3_keys in order. One JSON message {bucket, files, failed}: a file
that failed is listed with the gateway's code and leaves nothing."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

from dify_plugin.entities.tool import ToolInvokeMessage

from tools import gateway, s3_upload_file


def key_list(value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return [str(k) for k in value]
    text = str(value).strip()
    if text.startswith("["):
        return [str(k) for k in json.loads(text)]
    return [k.strip() for k in text.split(",") if k.strip()]


def in_folder(prefix: str, name: str) -> str:
    base = prefix.rstrip("/")
    return f"{base}/{name}" if base else name


class S3UploadFiles(gateway.GatewayTool):
    tool_name = "s3_upload_files"

    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        gw = self.gateway()
        files = tool_parameters.get("files") or []
        if not isinstance(files, list):
            files = [files]
        if not files:
            raise gateway.GatewayError("MISSING_FILE", "Missing required parameter: files")
        params = gateway.strip_aliases({k: v for k, v in tool_parameters.items() if k not in ("files", "s3_keys", "prefix")})
        keys = key_list(tool_parameters.get("s3_keys"))
        prefix = str(tool_parameters.get("prefix") or "")
        stored: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        bucket = None
        for index, file in enumerate(files):
            name = getattr(file, "filename", None)
            if keys is not None:
                key = keys[index] if index < len(keys) else None
            else:
                key = in_folder(prefix, name) if name else None
            if key is None:
                failed.append({"filename": name, "code": "MISSING_KEY", "message": f"No key for file {index + 1}: name it, or give s3_keys"})
                continue
            try:
                answer = s3_upload_file.upload_one(gw, file, {**params, "s3_key": key})
            except gateway.GatewayError as err:
                failed.append({"filename": name, "code": err.code, "message": err.message})
                continue
            bucket = answer.get("bucket", bucket)
            stored.append(answer)
        yield self.create_json_message({"bucket": bucket, "files": stored, "failed": failed})
        for answer in stored:
            if answer.get("presigned_url"):
                yield self.create_link_message(str(answer["presigned_url"]))
