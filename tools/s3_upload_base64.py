"""s3_upload_base64: the gateway's own route, one JSON message (tools/gateway.py)."""

from tools import gateway


class S3UploadBase64(gateway.GatewayTool):
    tool_name = "s3_upload_base64"
