"""s3_presign: the gateway's own route, one JSON message (tools/gateway.py)."""

from tools import gateway


class S3Presign(gateway.GatewayTool):
    tool_name = "s3_presign"
