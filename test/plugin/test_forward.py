"""endpoints/forward.py against the running gateway, through werkzeug's test client.

Run by test/dify-plugin.test.ts with GATEWAY_URL and API_KEY set; it exits 0
only when every test passes.
"""

import json
import os
import sys
import unittest
import uuid
from pathlib import Path

from werkzeug import Request
from werkzeug.test import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from endpoints.forward import CHUNK_BYTES, DIFY_BODY_CAP, ForwardEndpoint  # noqa: E402

GATEWAY_URL = os.environ["GATEWAY_URL"]
API_KEY = os.environ["API_KEY"]
MiB = 1024 * 1024


def client(**settings):
    endpoint = ForwardEndpoint()

    @Request.application
    def app(request):
        return endpoint._invoke(request, {}, settings)

    return Client(app)


def key(name):
    return f"plugin/{uuid.uuid4()}/{name}"


class Relay(unittest.TestCase):
    def setUp(self):
        self.dify = client(service_url=GATEWAY_URL + "/", api_key=API_KEY)

    def upload(self, name, data, content_type="application/octet-stream"):
        res = self.dify.post(f"/upload/file?s3_key={name}", data=data, headers={"Content-Type": content_type})
        self.assertEqual(res.status_code, 201, res.get_data(as_text=True))
        return res.get_json()

    def test_raw_upload_then_download_streams_in_small_chunks(self):
        name = key("big.bin")
        data = os.urandom(3 * MiB + 17)
        answer = self.upload(name, data)
        self.assertEqual(answer["size"], len(data))
        res = self.dify.get(f"/download/file?s3_key={name}", buffered=False)
        self.assertEqual(res.status_code, 200)
        self.assertTrue(res.headers["Content-Disposition"].startswith("attachment;"))
        self.assertEqual(res.headers["Content-Length"], str(len(data)))
        chunks = list(res.response)
        self.assertGreater(len(chunks), 1, "streamed, not one message")
        self.assertTrue(all(len(c) <= CHUNK_BYTES < MiB for c in chunks), [len(c) for c in chunks])
        self.assertEqual(b"".join(chunks), data)
        res.close()

    def test_multipart_upload_keeps_fields_and_filename(self):
        name = key("form.txt")
        res = self.dify.post("/upload/file", data={"s3_key": name, "file": (__import__("io").BytesIO(b"form body"), "x.txt", "text/plain")})
        self.assertEqual(res.status_code, 201, res.get_data(as_text=True))
        self.assertEqual(res.get_json()["key"], name)
        self.assertEqual(res.get_json()["content_type"], "text/plain")

    def test_json_tools_and_query_string(self):
        name = key("b64.txt")
        res = self.dify.post("/upload/base64", json={"s3_key": name, "file_base64": "aGVsbG8="})
        self.assertEqual(res.status_code, 201, res.get_data(as_text=True))
        res = self.dify.get(f"/download/base64?s3_key={name}")
        self.assertEqual(res.get_json()["content_base64"], "aGVsbG8=")
        res = self.dify.post("/download/base64", json={"s3_key": name})
        self.assertEqual(res.get_json()["size"], 5)
        res = self.dify.post("/presign", json={"s3_key": name, "method": "PUT", "content_type": "text/plain"})
        self.assertEqual(res.status_code, 200)
        self.assertEqual(res.get_json()["headers"], {"Content-Type": "text/plain"})

    def test_head_keeps_the_gateway_headers(self):
        name = key("head.txt")
        self.upload(name, b"0123456789", "text/plain")
        res = self.dify.head(f"/download/file?s3_key={name}")
        self.assertEqual(res.status_code, 200)
        self.assertEqual(res.headers["Content-Length"], "10")
        self.assertTrue(res.headers["Content-Type"].startswith("text/plain"))
        self.assertEqual(res.get_data(), b"")

    def test_range_and_conditional_headers_pass_through(self):
        name = key("range.txt")
        etag = self.upload(name, b"0123456789")["etag"]
        res = self.dify.get(f"/download/file?s3_key={name}", headers={"Range": "bytes=2-4"})
        self.assertEqual(res.status_code, 206)
        self.assertEqual(res.get_data(), b"234")
        self.assertEqual(res.headers["Content-Range"], "bytes 2-4/10")
        res = self.dify.get(f"/download/file?s3_key={name}", headers={"If-None-Match": etag})
        self.assertEqual(res.status_code, 304)

    def test_errors_are_relayed_as_json(self):
        res = self.dify.get(f"/download/file?s3_key={key('missing.txt')}")
        self.assertEqual(res.status_code, 404)
        self.assertEqual(res.get_json()["code"], "NOT_FOUND")

    def test_strips_the_hook_prefix_if_present(self):
        name = key("hook.txt")
        self.upload(name, b"via hook")
        res = self.dify.get(f"/e/3f2a9c/download/file?s3_key={name}")
        self.assertEqual(res.status_code, 200)
        self.assertEqual(res.get_data(), b"via hook")

    def test_a_body_cut_at_10_mib_is_413_and_stores_nothing(self):
        name = key("cut.bin")
        res = self.dify.post(f"/upload/file?s3_key={name}", data=b"x" * DIFY_BODY_CAP)
        self.assertEqual(res.status_code, 413)
        body = res.get_json()
        self.assertEqual(body["code"], "PAYLOAD_TOO_LARGE")
        self.assertIn("presign", body["message"])
        self.assertEqual(self.dify.head(f"/download/file?s3_key={name}").status_code, 404)

    def test_a_body_shorter_than_its_content_length_is_413(self):
        name = key("short.bin")
        res = self.dify.post(
            f"/upload/file?s3_key={name}",
            input_stream=__import__("io").BytesIO(b"y" * 1000),
            environ_overrides={"CONTENT_LENGTH": str(20 * MiB)},
        )
        self.assertEqual(res.status_code, 413)
        self.assertEqual(self.dify.head(f"/download/file?s3_key={name}").status_code, 404)

    def test_just_under_the_cap_goes_through(self):
        name = key("under.bin")
        answer = self.upload(name, b"z" * (DIFY_BODY_CAP - 1))
        self.assertEqual(answer["size"], DIFY_BODY_CAP - 1)


class Keys(unittest.TestCase):
    def test_without_api_key_setting_the_callers_key_passes_through(self):
        dify = client(service_url=GATEWAY_URL)
        self.assertEqual(dify.get("/download/base64?s3_key=x").status_code, 401)
        res = dify.get("/download/base64?s3_key=x", headers={"X-API-Key": API_KEY})
        self.assertEqual(res.status_code, 404)
        res = dify.get("/download/base64?s3_key=x", headers={"Authorization": f"Bearer {API_KEY}"})
        self.assertEqual(res.status_code, 404)

    def test_with_api_key_setting_the_callers_key_is_replaced(self):
        dify = client(service_url=GATEWAY_URL, api_key=API_KEY)
        res = dify.get("/download/base64?s3_key=x", headers={"Authorization": "Bearer wrong"})
        self.assertEqual(res.status_code, 404)

    def test_a_wrong_api_key_setting_is_the_gateways_401(self):
        res = client(service_url=GATEWAY_URL, api_key="wrong").get("/download/base64?s3_key=x")
        self.assertEqual(res.status_code, 401)
        self.assertEqual(res.get_json()["code"], "UNAUTHORIZED")


class Misconfigured(unittest.TestCase):
    def test_no_service_url(self):
        res = client(api_key=API_KEY).get("/download/file?s3_key=x")
        self.assertEqual(res.status_code, 503)
        self.assertIn("service_url", res.get_json()["message"])

    def test_unreachable_gateway(self):
        res = client(service_url="http://127.0.0.1:9", api_key=API_KEY).get("/download/file?s3_key=x")
        self.assertEqual(res.status_code, 503)
        self.assertEqual(res.get_json()["code"], "UPSTREAM_UNAVAILABLE")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    print(json.dumps({"ran": result.testsRun, "failures": len(result.failures), "errors": len(result.errors), "skipped": len(result.skipped)}))
    sys.exit(0 if result.wasSuccessful() and not result.skipped else 1)
