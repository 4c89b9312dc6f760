"""The gateway as the Dify tool plugin's tools call it (docs/API.md).

One small HTTP client on the standard library (no dependency beyond
dify_plugin), and the base class every tool in tools/ derives from: it sends
the tool's parameters to the tool's own route and answers one JSON message,
plus a link message for a presigned URL. Tools that move files override
_invoke. Errors raise GatewayError with the gateway's code and message.

A tool module imports this module, not its names: Dify's loader takes every
Tool subclass it finds in a tool module, and there must be exactly one.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Generator, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage

TIMEOUT_SECONDS = 600
CHUNK_BYTES = 256 * 1024
DEFAULT_BLOB_LIMIT_MIB = 15

# each tool's own route (the OpenAPI operation of the tool registry)
ROUTES: dict[str, tuple[str, str]] = {
    "s3_upload_base64": ("POST", "/upload/base64"),
    "s3_download_base64": ("GET", "/download/base64"),
    "s3_presign": ("POST", "/presign"),
    "s3_list_objects": ("GET", "/list"),
    "s3_stat_object": ("GET", "/stat"),
    "s3_delete_object": ("POST", "/delete"),
    "s3_copy_object": ("POST", "/copy"),
}


class GatewayError(Exception):
    """The gateway refused the call, or could not be reached: its code and message."""

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def present(params: Mapping[str, Any]) -> dict[str, Any]:
    """Dify sends None or "" for blank optional fields: absent."""
    return {k: v for k, v in params.items() if v is not None and v != ""}


class Gateway:
    def __init__(self, credentials: Mapping[str, Any]) -> None:
        url = str(credentials.get("gateway_url") or "").strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise GatewayError("INVALID_PARAMETER", f"The gateway URL must be an http(s) URL (got {url!r})")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.base_path = parts.path
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.api_key = str(credentials.get("api_key") or "").strip()
        limit = str(credentials.get("blob_limit_mib") or "").strip()
        try:
            self.blob_limit = int(float(limit) * 1024 * 1024) if limit else DEFAULT_BLOB_LIMIT_MIB * 1024 * 1024
        except ValueError as exc:
            raise GatewayError("INVALID_PARAMETER", f"blob_limit_mib must be a number of MiB (got {limit!r})") from exc

    def _connection(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=TIMEOUT_SECONDS)

    def open(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: bytes | Iterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
        """Send a request; the caller reads the answer and closes the connection."""
        target = self.base_path + path
        if query:
            target += "?" + urlencode({k: str(v).lower() if isinstance(v, bool) else v for k, v in present(query).items()})
        sent = dict(headers or {})
        if self.api_key:
            sent["Authorization"] = f"Bearer {self.api_key}"
        if body is not None and not isinstance(body, bytes | bytearray) and "Content-Length" not in sent:
            sent["Transfer-Encoding"] = "chunked"
        connection = self._connection()
        try:
            connection.request(method, target, body=body, headers=sent, encode_chunked="Transfer-Encoding" in sent)
            return connection.getresponse(), connection
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise GatewayError("UPSTREAM_UNAVAILABLE", f"The gateway at {self.origin} is not reachable: {exc}") from exc

    def call(self, method: str, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON call: parameters in the query (GET) or a JSON body (POST); the JSON answer, or GatewayError."""
        if method == "GET":
            response, connection = self.open("GET", path, query=params)
        else:
            payload = json.dumps(present(params)).encode()
            response, connection = self.open(method, path, body=payload, headers={"Content-Type": "application/json", "Content-Length": str(len(payload))})
        try:
            return answer_json(response)
        finally:
            connection.close()


def answer_json(response: http.client.HTTPResponse) -> dict[str, Any]:
    text = response.read()
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {}
    if response.status >= 400:
        raise GatewayError(str(body.get("code") or f"HTTP_{response.status}"), str(body.get("message") or text[:200]), response.status)
    return body


def strip_aliases(params: Mapping[str, Any]) -> dict[str, Any]:
    """botos3's parameter names (generate_presign_url, presign_expiry) → the gateway's."""
    out = present(params)
    if "generate_presign_url" in out:
        out.setdefault("generate_presigned_url", out.pop("generate_presign_url"))
    if "presign_expiry" in out:
        out.setdefault("presigned_expiration", out.pop("presign_expiry"))
    return out


class GatewayTool(Tool):
    """A tool that calls its route with its parameters and answers the gateway's JSON."""

    tool_name = ""

    def gateway(self) -> Gateway:
        return Gateway(self.runtime.credentials)

    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        method, path = ROUTES[self.tool_name]
        answer = self.gateway().call(method, path, strip_aliases(tool_parameters))
        yield from self.answer(answer)

    def answer(self, answer: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        yield self.create_json_message(answer)
        link = answer.get("presigned_url") or (answer.get("url") if self.tool_name == "s3_presign" else None)
        if link:
            yield self.create_link_message(str(link))
