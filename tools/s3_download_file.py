"""s3_download_file: the object as a Dify file (a blob message with its
filename and MIME type) up to the blob limit; a larger object as a link to a
presigned URL plus its metadata as JSON — never a failure for size. The
gateway's max_bytes decides, so no more than the limit is ever read."""

from collections.abc import Generator
from typing import Any

from dify_plugin.entities.tool import ToolInvokeMessage

from tools import gateway


def filename_of(key: str) -> str:
    name = [segment for segment in key.split("/") if segment]
    return name[-1] if name else "download"


class S3DownloadFile(gateway.GatewayTool):
    tool_name = "s3_download_file"

    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        gw = self.gateway()
        params = gateway.strip_aliases(tool_parameters)
        presign = str(params.pop("generate_presigned_url", "")).lower() in ("true", "1", "yes")
        key = str(params.get("s3_key") or params.get("filename") or "").lstrip("/")
        query = {**params, "max_bytes": gw.blob_limit}
        response, connection = gw.open("GET", "/download/file", query=query)
        try:
            content_type = response.getheader("Content-Type") or "application/octet-stream"
            if response.status >= 400 or content_type.startswith("application/json"):
                answer = gateway.answer_json(response)
                # above the blob limit: the link and what it points at
                if answer.get("presigned_url"):
                    yield self.create_link_message(str(answer["presigned_url"]))
                yield self.create_json_message(answer)
                return
            blob = response.read(gw.blob_limit + 1)
        finally:
            connection.close()
        if len(blob) > gw.blob_limit:
            raise gateway.GatewayError("PAYLOAD_TOO_LARGE", "The gateway sent more than the blob limit")
        yield self.create_blob_message(blob, meta={"mime_type": content_type.split(";")[0].strip(), "filename": filename_of(key)})
        if presign:
            url = gw.call("POST", "/presign", {"s3_key": key, "expires_in": params.get("presigned_expiration")})
            yield self.create_link_message(str(url["url"]))
