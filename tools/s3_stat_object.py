"""s3_stat_object: the gateway's own route, one JSON message (tools/gateway.py)."""

from tools import gateway


class S3StatObject(gateway.GatewayTool):
    tool_name = "s3_stat_object"
