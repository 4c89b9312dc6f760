"""s3_delete_object: the gateway's own route, one JSON message (tools/gateway.py)."""

from tools import gateway


class S3DeleteObject(gateway.GatewayTool):
    tool_name = "s3_delete_object"
