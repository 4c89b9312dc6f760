"""s3_download_base64: one JSON message with content_base64; above the blob
limit the gateway's too_large JSON (with a presigned URL) instead, so that the
plugin never holds more than that."""

from collections.abc import Generator
from typing import Any

from dify_plugin.entities.tool import ToolInvokeMessage

from tools import gateway


class S3DownloadBase64(gateway.GatewayTool):
    tool_name = "s3_download_base64"

    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        gw = self.gateway()
        params = gateway.strip_aliases(tool_parameters)
        params["max_bytes"] = gw.blob_limit
        yield from self.answer(gw.call("GET", "/download/base64", params))
