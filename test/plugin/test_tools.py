"""The Dify tool plugin's classes (provider/, tools/) against the running
gateway on a real S3, loaded the way dify_plugin loads them (one subclass of
Tool or ToolProvider per source file) over the SDK stand-in in this folder.

Run by test/dify-plugin.test.ts with GATEWAY_URL, API_KEY, FILE_PORT (the
origin the gateway may fetch file URLs from) and DOWN_URL (nothing listens
there); it prints a JSON summary line and exits 0 only when every test passes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import threading
import unittest
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the dify_plugin stand-in
sys.path.insert(0, str(ROOT))  # the plugin's root, as Dify runs it

import yaml  # noqa: E402
from dify_plugin import Tool, ToolProvider  # noqa: E402
from dify_plugin.entities.invoke_message import InvokeMessage  # noqa: E402
from dify_plugin.errors.tool import ToolProviderCredentialValidationError  # noqa: E402

GATEWAY_URL = os.environ["GATEWAY_URL"]
API_KEY = os.environ["API_KEY"]
FILE_PORT = int(os.environ["FILE_PORT"])
DOWN_URL = os.environ["DOWN_URL"]
MiB = 1024 * 1024
CREDENTIALS = {"gateway_url": GATEWAY_URL, "api_key": API_KEY}
Type = InvokeMessage.MessageType


def load_subclass(source: str, parent: type) -> type:
    """dify_plugin.core.utils.class_loader.load_single_subclass_from_source: exactly one subclass in the module's names."""
    module_name = source.removesuffix(".py").replace("/", ".")
    spec = importlib.util.spec_from_file_location(module_name, ROOT / source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    found = [x for x in vars(module).values() if isinstance(x, type) and x is not parent and issubclass(x, parent)]
    if len(found) != 1:
        raise AssertionError(f"{source}: {len(found)} subclasses of {parent.__name__} (Dify needs exactly one)")
    return found[0]


PROVIDER_YAML = yaml.safe_load((ROOT / "provider" / "s3_gateway.yaml").read_text())
PROVIDER = load_subclass(PROVIDER_YAML["extra"]["python"]["source"], ToolProvider)
TOOLS = {}
for tool_file in PROVIDER_YAML["tools"]:
    doc = yaml.safe_load((ROOT / tool_file).read_text())
    TOOLS[doc["identity"]["name"]] = load_subclass(doc["extra"]["python"]["source"], Tool)


class Files(BaseHTTPRequestHandler):
    """Serves generated files as Dify serves file URLs; records who fetched what.

    HTTP/1.1 with keep-alive, as Dify's API (gunicorn) answers. An HTTP/1.0
    server that closes the connection while the gateway holds the body back
    trips an assertion in undici 7 (nodejs/undici#5360, fixed in undici 8,
    which needs Node 22.19): see the closing note of this change.
    """

    protocol_version = "HTTP/1.1"
    files: dict[str, bytes] = {}
    fetched: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802
        name = self.path.split("?")[0].rsplit("/", 1)[-1]
        data = self.files.get(name)
        self.fetched.append((name, self.headers.get("User-Agent", "")))
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf" if name.endswith(".pdf") else "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        for i in range(0, len(data), 256 * 1024):
            self.wfile.write(data[i : i + 256 * 1024])

    def log_message(self, *args: object) -> None:
        pass


def serve(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


ALLOWED = serve(FILE_PORT)  # the gateway may fetch from here (FILE_URL_ALLOWED_ORIGINS)
UNREACHABLE = serve(0)  # the gateway may not: the plugin must stream the file itself


def dify_file(server: ThreadingHTTPServer, name: str, data: bytes, mime: str = "application/pdf") -> dict:
    Files.files[name] = data
    return {
        "dify_model_identity": "__dify__file__",
        "url": f"http://127.0.0.1:{server.server_address[1]}/files/{uuid.uuid4()}/{name}?timestamp=1&nonce=2&sign=3",
        "filename": name,
        "mime_type": mime,
        "extension": "." + name.rsplit(".", 1)[-1],
        "size": len(data),
        "type": "document",
    }


def run(tool: str, params: dict, credentials: dict | None = None) -> list[InvokeMessage]:
    return list(TOOLS[tool].from_credentials(credentials or CREDENTIALS).invoke(dict(params)))


def key(name: str) -> str:
    return f"plugin-tools/{uuid.uuid4()}/{name}"


def only_json(messages: list[InvokeMessage]) -> dict:
    found = [m.message.json_object for m in messages if m.type == Type.JSON]
    assert len(found) == 1, messages
    return found[0]


class Provider(unittest.TestCase):
    def test_accepts_the_gateway_with_its_key(self) -> None:
        PROVIDER().validate_credentials(CREDENTIALS)

    def test_a_wrong_key_says_so(self) -> None:
        with self.assertRaisesRegex(ToolProviderCredentialValidationError, "refused the API key"):
            PROVIDER().validate_credentials({"gateway_url": GATEWAY_URL, "api_key": "wrong-key-0123456789"})

    def test_a_gateway_that_is_down_says_so(self) -> None:
        with self.assertRaisesRegex(ToolProviderCredentialValidationError, "not reachable"):
            PROVIDER().validate_credentials({"gateway_url": DOWN_URL, "api_key": API_KEY})

    def test_a_url_that_is_no_url_says_so(self) -> None:
        with self.assertRaisesRegex(ToolProviderCredentialValidationError, "http"):
            PROVIDER().validate_credentials({"gateway_url": "dify-s3-gateway:3000"})


class Tools(unittest.TestCase):
    def test_upload_file_is_fetched_by_the_gateway_not_the_plugin(self) -> None:
        data = os.urandom(300_000)
        name = f"{uuid.uuid4()}.pdf"
        target = key("report.pdf")
        Files.fetched.clear()
        messages = run("s3_upload_file", {"file": dify_file(ALLOWED, name, data), "s3_key": target, "generate_presign_url": True})
        answer = only_json(messages)
        self.assertEqual(answer["key"], target)
        self.assertEqual(answer["size"], len(data))
        self.assertEqual(answer["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(answer["content_type"], "application/pdf")
        self.assertEqual([ua for n, ua in Files.fetched if n == name], ["dify-s3-gateway"], "one fetch, by the gateway")
        links = [m.message.text for m in messages if m.type == Type.LINK]
        self.assertEqual(len(links), 1, "botos3's generate_presign_url gives a link")
        self.assertEqual(json.loads(json.dumps(run("s3_stat_object", {"s3_key": target})[0].message.json_object))["size"], len(data))

    def test_upload_file_streams_through_the_plugin_when_the_gateway_cannot_reach_the_file(self) -> None:
        data = os.urandom(3 * MiB + 5)
        name = f"{uuid.uuid4()}.bin"
        messages = run("s3_upload_file", {"file": dify_file(UNREACHABLE, name, data, "application/x-test"), "filename": key("fallback.bin")})
        answer = only_json(messages)
        self.assertEqual(answer["size"], len(data))
        self.assertEqual(answer["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(answer["content_type"], "application/x-test")

    def test_upload_file_without_a_name_takes_the_file_s(self) -> None:
        name = f"{uuid.uuid4()}.pdf"
        answer = only_json(run("s3_upload_file", {"file": dify_file(ALLOWED, name, b"%PDF-1.4 tiny")}))
        self.assertEqual(answer["key"], name)

    def test_upload_files_stores_each_file_of_a_files_parameter(self) -> None:
        prefix = key("batch")
        first = os.urandom(1000)
        second = os.urandom(2 * MiB)
        files = [dify_file(ALLOWED, f"{uuid.uuid4()}.pdf", first), dify_file(UNREACHABLE, f"{uuid.uuid4()}.bin", second, "application/x-test")]
        messages = run("s3_upload_files", {"files": files, "prefix": prefix})
        answer = only_json(messages)
        self.assertEqual(answer["failed"], [])
        self.assertEqual([f["key"] for f in answer["files"]], [f"{prefix}/{f['filename']}" for f in files])
        self.assertEqual([f["sha256"] for f in answer["files"]], [hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()])

    def test_upload_files_lists_a_file_that_failed_and_stores_the_rest(self) -> None:
        good = key("good.txt")
        files = [dify_file(ALLOWED, f"{uuid.uuid4()}.txt", b"good"), dify_file(ALLOWED, f"{uuid.uuid4()}.txt", b"bad")]
        answer = only_json(run("s3_upload_files", {"files": files, "s3_keys": json.dumps([good, "x/../y"])}))
        self.assertEqual([f["key"] for f in answer["files"]], [good])
        self.assertEqual([(f["filename"], f["code"]) for f in answer["failed"]], [(files[1]["filename"], "INVALID_KEY")])

    def test_download_file_small_is_a_blob_with_its_name_and_type(self) -> None:
        target = key("docs/summary.pdf")
        only_json(run("s3_upload_base64", {"s3_key": target, "file_base64": "JVBERi0xLjQK", "content_type": "application/pdf"}))
        messages = run("s3_download_file", {"s3_key": target})
        blobs = [m for m in messages if m.type == Type.BLOB]
        self.assertEqual(len(blobs), 1)
        self.assertEqual(blobs[0].message.blob, b"%PDF-1.4\n")
        self.assertEqual(blobs[0].meta, {"mime_type": "application/pdf", "filename": "summary.pdf"})
        with_link = run("s3_download_file", {"filename": target, "generate_presigned_url": "true", "presign_expiry": 120})
        self.assertEqual([m.type for m in with_link], [Type.BLOB, Type.LINK])

    def test_download_file_over_the_blob_limit_is_a_link_and_json_never_a_failure(self) -> None:
        data = os.urandom(20 * MiB)
        name = f"{uuid.uuid4()}.bin"
        target = key("big.bin")
        only_json(run("s3_upload_file", {"file": dify_file(ALLOWED, name, data), "s3_key": target}))
        messages = run("s3_download_file", {"s3_key": target})
        self.assertEqual([m.type for m in messages], [Type.LINK, Type.JSON])
        meta = messages[1].message.json_object
        self.assertEqual(meta["too_large"], True)
        self.assertEqual(meta["size"], 20 * MiB)
        self.assertEqual(messages[0].message.text, meta["presigned_url"])
        lowered = run("s3_download_file", {"s3_key": target}, {**CREDENTIALS, "blob_limit_mib": "32"})
        self.assertEqual([m.type for m in lowered], [Type.BLOB], "a credential raises the limit")
        self.assertEqual(hashlib.sha256(lowered[0].message.blob).hexdigest(), hashlib.sha256(data).hexdigest())

    def test_download_base64_is_one_json_message(self) -> None:
        target = key("b64.txt")
        only_json(run("s3_upload_base64", {"s3_key": target, "file_base64": "aGVsbG8="}))
        messages = run("s3_download_base64", {"s3_key": target})
        self.assertEqual(len(messages), 1)
        self.assertEqual(only_json(messages)["content_base64"], "aGVsbG8=")

    def test_list_copy_delete_and_presign(self) -> None:
        base = key("ops")
        only_json(run("s3_upload_base64", {"s3_key": f"{base}/a.txt", "file_base64": "YQ=="}))
        listed = only_json(run("s3_list_objects", {"prefix": f"{base}/", "delimiter": "", "max_keys": 10}))
        self.assertEqual([o["key"] for o in listed["objects"]], [f"{base}/a.txt"])
        copied = only_json(run("s3_copy_object", {"source_key": f"{base}/a.txt", "s3_key": f"{base}/b.txt", "move": True}))
        self.assertTrue(copied["moved"])
        presigned = run("s3_presign", {"s3_key": f"{base}/b.txt", "method": "GET", "expires_in": 60})
        self.assertEqual([m.type for m in presigned], [Type.JSON, Type.LINK])
        deleted = only_json(run("s3_delete_object", {"keys": f"{base}/b.txt"}))
        self.assertEqual(deleted["deleted"], [f"{base}/b.txt"])
        after = only_json(run("s3_list_objects", {"prefix": f"{base}/"}))
        self.assertEqual(after["objects"], [])

    def test_errors_carry_the_gateway_s_code_and_message(self) -> None:
        with self.assertRaisesRegex(Exception, r"^NOT_FOUND: No such object"):
            run("s3_stat_object", {"s3_key": key("none")})
        with self.assertRaisesRegex(Exception, r"^NOT_FOUND"):
            run("s3_download_file", {"s3_key": key("none")})
        with self.assertRaisesRegex(Exception, r"^INVALID_KEY"):
            run("s3_download_base64", {"s3_key": "a/../b"})
        with self.assertRaisesRegex(Exception, r"^UNAUTHORIZED"):
            run("s3_list_objects", {}, {"gateway_url": GATEWAY_URL, "api_key": "wrong-key-0123456789"})
        with self.assertRaisesRegex(Exception, r"^UPSTREAM_UNAVAILABLE: The gateway at"):
            run("s3_list_objects", {}, {"gateway_url": DOWN_URL})
        with self.assertRaisesRegex(Exception, r"^MISSING_FILE"):
            run("s3_upload_file", {"s3_key": key("x")})


if __name__ == "__main__":
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stderr).run(unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__]))
    print(json.dumps({"ran": result.testsRun, "failures": len(result.failures), "errors": len(result.errors), "skipped": len(result.skipped)}))
    sys.exit(0 if result.wasSuccessful() else 1)
