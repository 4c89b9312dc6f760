"""s3_copy_object: the gateway's own route, one JSON message (tools/gateway.py)."""

from tools import gateway


class S3CopyObject(gateway.GatewayTool):
    tool_name = "s3_copy_object"
