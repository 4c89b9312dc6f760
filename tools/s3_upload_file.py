"""s3_upload_file: store a Dify file. The gateway fetches the file's URL
itself (/upload/url, streamed server-side), so no byte passes through the
plugin; only when the gateway cannot reach Dify's files (FETCH_FAILED,
URL_NOT_ALLOWED) does the plugin stream the file to /upload/file itself, in
chunks, never holding it whole. One JSON message, plus a link for a
presigned URL."""

from __future__ import annotations

import http.client
from collections.abc import Generator, Iterator
from typing import Any
from urllib.parse import urlsplit

from dify_plugin.entities.tool import ToolInvokeMessage

from tools import gateway

# the gateway could not fetch the file: the plugin, which Dify gave the URL to, fetches it
NOT_REACHABLE_BY_GATEWAY = ("FETCH_FAILED", "URL_NOT_ALLOWED")


def upload_params(params: dict[str, Any], file: Any) -> dict[str, Any]:
    out = dict(params)
    if "s3_key" not in out and "filename" not in out and getattr(file, "filename", None):
        out["filename"] = file.filename
    if "content_type" not in out and getattr(file, "mime_type", None):
        out["content_type"] = file.mime_type
    return out


def file_chunks(url: str) -> tuple[Iterator[bytes], int | None, http.client.HTTPConnection]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise gateway.GatewayError("MISSING_FILE", f"The file's URL is not an http(s) URL ({parts.scheme or 'relative'}): set FILES_URL in Dify")
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = cls(parts.hostname, parts.port, timeout=gateway.TIMEOUT_SECONDS)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", target or "/")
        response = connection.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        raise gateway.GatewayError("FETCH_FAILED", f"The file could not be fetched: {exc}") from exc
    if response.status >= 400:
        connection.close()
        raise gateway.GatewayError("FETCH_FAILED", f"The file's URL answered HTTP {response.status}")
    length = response.getheader("Content-Length")

    def chunks() -> Iterator[bytes]:
        while chunk := response.read(gateway.CHUNK_BYTES):
            yield chunk

    return chunks(), int(length) if length and length.isdigit() else None, connection


def stream_through(gw: gateway.Gateway, url: str, params: dict[str, Any]) -> dict[str, Any]:
    chunks, length, source = file_chunks(url)
    try:
        headers = {"Content-Type": "application/octet-stream"}
        if length is not None:
            headers["Content-Length"] = str(length)
        response, connection = gw.open("POST", "/upload/file", query=params, body=chunks, headers=headers)
        try:
            return gateway.answer_json(response)
        finally:
            connection.close()
    finally:
        source.close()


def upload_one(gw: gateway.Gateway, file: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    """One Dify file: fetched by the gateway, or streamed through here when it cannot reach Dify's files."""
    if file is None or not getattr(file, "url", None):
        raise gateway.GatewayError("MISSING_FILE", "Missing required parameter: file")
    params = upload_params(parameters, file)
    try:
        return gw.call("POST", "/upload/url", {**params, "file_url": file.url})
    except gateway.GatewayError as err:
        if err.code not in NOT_REACHABLE_BY_GATEWAY:
            raise
        return stream_through(gw, file.url, params)


class S3UploadFile(gateway.GatewayTool):
    tool_name = "s3_upload_file"

    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        params = gateway.strip_aliases({k: v for k, v in tool_parameters.items() if k != "file"})
        yield from self.answer(upload_one(self.gateway(), tool_parameters.get("file"), params))


