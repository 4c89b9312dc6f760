"""s3_list_objects: the gateway's own route, one JSON message (tools/gateway.py)."""

from tools import gateway


class S3ListObjects(gateway.GatewayTool):
    tool_name = "s3_list_objects"
