"""One generic relay for every endpoint of the plugin.

Dify calls this with the request that reached /e/<hook_id>/<path>; it sends
the same method, path, query and body to the gateway at the `service_url`
setting, with the `api_key` setting as a Bearer key, and streams the answer
back in chunks well under 1 MiB (Dify caps one non-streamed message near
2.5 MiB). Dify's daemon cuts request bodies at 10 MiB without saying so: a cut
body is answered 413 here and never reaches the gateway.

Only the standard library and werkzeug: the relay adds nothing to install.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from werkzeug import Request, Response
from werkzeug.exceptions import ClientDisconnected

try:
    from dify_plugin import Endpoint
except ImportError:  # outside Dify's plugin runtime (the tests)

    class Endpoint:  # type: ignore[no-redef]
        def __init__(self, session: object = None) -> None:
            self.session = session


DIFY_BODY_CAP = 10 * 1024 * 1024
CHUNK_BYTES = 256 * 1024
TIMEOUT_SECONDS = 600

# what a tool call means; connection-level and Dify-internal headers stay here
REQUEST_HEADERS = (
    "content-type", "accept", "range", "if-match", "if-none-match",
    "if-modified-since", "if-unmodified-since",
)
CALLER_KEY_HEADERS = ("authorization", "x-api-key")
RESPONSE_HEADERS = (
    "content-type", "content-length", "content-disposition", "content-range",
    "etag", "last-modified", "accept-ranges", "allow", "retry-after",
    "www-authenticate", "x-presigned-url", "x-presigned-expires-in",
)


def error(status: int, code: str, message: str) -> Response:
    body = {"statusCode": status, "code": code, "error": http.client.responses.get(status, "Error"), "message": message}
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


def gateway_path(path: str) -> str:
    # the daemon passes the path after /e/<hook_id>; strip the prefix if it is still there
    return re.sub(r"^/e/[^/]+(?=/)", "", path) or "/"


def read_body(r: Request) -> bytes | Response:
    declared = r.content_length
    try:
        data = r.stream.read(DIFY_BODY_CAP + 1)
    except ClientDisconnected:  # werkzeug: the body ended before its Content-Length
        data, declared = b"", DIFY_BODY_CAP
    if (declared is not None and len(data) < declared) or len(data) >= DIFY_BODY_CAP:
        return error(
            413, "PAYLOAD_TOO_LARGE",
            "Dify's endpoint gateway cuts request bodies at 10 MiB, so this upload would be stored truncated; "
            "nothing was stored. Upload large files with a presigned URL (POST /presign with method PUT) "
            "or call the gateway directly.",
        )
    return data


def relay(response: http.client.HTTPResponse, connection: http.client.HTTPConnection) -> Iterator[bytes]:
    try:
        while chunk := response.read(CHUNK_BYTES):
            yield chunk
    finally:
        connection.close()


class ForwardEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        base = urlsplit(str(settings.get("service_url") or "").strip().rstrip("/"))
        if base.scheme not in ("http", "https") or not base.hostname:
            return error(503, "UPSTREAM_UNAVAILABLE", "The plugin's service_url setting must be the gateway's http(s) URL")

        body = b""
        if r.method not in ("GET", "HEAD"):
            read = read_body(r)
            if isinstance(read, Response):
                return read
            body = read

        headers = {name: r.headers[name] for name in REQUEST_HEADERS if name in r.headers}
        api_key = str(settings.get("api_key") or "").strip()
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        else:
            headers.update({name: r.headers[name] for name in CALLER_KEY_HEADERS if name in r.headers})
        if r.method not in ("GET", "HEAD"):
            headers["Content-Length"] = str(len(body))

        target = base.path + gateway_path(r.path)
        query = r.query_string.decode("latin-1")
        if query:
            target += "?" + query
        connection_class = http.client.HTTPSConnection if base.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(base.hostname, base.port, timeout=TIMEOUT_SECONDS)
        try:
            connection.request(r.method, target, body=body if r.method not in ("GET", "HEAD") else None, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            return error(503, "UPSTREAM_UNAVAILABLE", f"The gateway at {base.scheme}://{base.netloc} is not reachable: {exc}")

        answer_headers = [(name, value) for name, value in response.getheaders() if name.lower() in RESPONSE_HEADERS]
        if r.method == "HEAD" or response.status in (204, 304):
            connection.close()
            return Response(None, status=response.status, headers=answer_headers)  # None: keeps the gateway's Content-Length
        return Response(relay(response, connection), status=response.status, headers=answer_headers, direct_passthrough=True)
