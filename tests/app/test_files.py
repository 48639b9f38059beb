"""Files: a presigned upload into the owner's prefix and a presigned download, against a moto S3 server on loopback;
other users get 404; the signed POST policy holds every condition S3 enforces; hostile names and the caps refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from tests.app.tokens import admin_token, user_token
from tests.harness import free_port

REGION = "eu-west-1"
BUCKET = "groundwork-files-tests"
ACCESS_KEY = "AKIAFILESTESTS000000"
SECRET_KEY = "files-tests-secret-key-" + "s" * 17
MAX_BYTES = 1000
OWNER_MAX_BYTES = 2500


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    yield endpoint, client
    server.stop()


@pytest.fixture(scope="module")
def app(postgres, start_app, s3_endpoint):
    endpoint, _ = s3_endpoint
    return start_app(
        postgres.url(),
        FILES_BUCKET=BUCKET,
        FILES_ENDPOINT_URL=endpoint,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        FILES_MAX_BYTES=str(MAX_BYTES),
        FILES_OWNER_MAX_BYTES=str(OWNER_MAX_BYTES),
        FILES_CONTENT_TYPES="text/plain,image/png",
    )


@pytest.fixture
def http(app):
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        yield client


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _user() -> str:
    return f"files-{uuid.uuid4()}"


def _create(http, token: str, name: str = "notes.txt", content_type: str = "text/plain", size: int = 11):
    return http.post("/files", json={"name": name, "content_type": content_type, "size": size}, headers=_auth(token))


def _upload(upload: dict, content: bytes, content_type: str = "text/plain") -> httpx.Response:
    """The browser's form POST: the policy's fields, then the file."""
    fields = {**upload["fields"], "Content-Type": content_type}
    return httpx.post(upload["url"], data=fields, files={"file": ("x", content, content_type)}, timeout=10)


def _policy(upload: dict) -> dict:
    return json.loads(base64.b64decode(upload["fields"]["policy"]))


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def test_round_trip_upload_read_delete(http, s3_endpoint):
    _, s3 = s3_endpoint
    user = _user()
    content = b"hello files"
    created = _create(http, user_token(user), size=len(content))
    assert created.status_code == 201, created.text
    body = created.json()
    uploaded = _upload(body["upload"], content)
    assert uploaded.status_code in (200, 201, 204), uploaded.text

    described = http.get(f"/files/{body['id']}", headers=_auth(user_token(user)))
    assert described.status_code == 200, described.text
    doc = described.json()
    assert {k: doc[k] for k in ("id", "name", "size", "content_type")} == {
        "id": body["id"],
        "name": "notes.txt",
        "size": len(content),
        "content_type": "text/plain",
    }
    downloaded = httpx.get(doc["download_url"], timeout=10)
    assert downloaded.status_code == 200
    assert downloaded.content == content
    assert downloaded.headers["content-disposition"].startswith("attachment")

    object_key = body["upload"]["fields"]["key"]
    assert s3.get_object(Bucket=BUCKET, Key=object_key)["Body"].read() == content
    deleted = http.delete(f"/files/{body['id']}", headers=_auth(user_token(user)))
    assert deleted.status_code == 204, deleted.text
    assert http.get(f"/files/{body['id']}", headers=_auth(user_token(user))).status_code == 404
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=object_key).get("KeyCount") == 0


def test_another_users_file_is_404_for_read_and_delete(http, app):
    owner, other = _user(), _user()
    created = _create(http, user_token(owner))
    assert created.status_code == 201, created.text
    file_id = created.json()["id"]
    read = http.get(f"/files/{file_id}", headers=_auth(user_token(other)))
    deleted = http.delete(f"/files/{file_id}", headers=_auth(user_token(other)))
    missing = http.get(f"/files/{uuid.uuid4()}", headers=_auth(user_token(other)))
    assert (read.status_code, deleted.status_code) == (404, 404)
    # The same answer as for an id nobody has: it tells nothing about other users' files.
    assert read.json() == missing.json()
    assert http.get(f"/files/{file_id}", headers=_auth(user_token(owner))).status_code == 200
    # An admin's token reads any file, each access logged.
    assert http.get(f"/files/{file_id}", headers=_auth(admin_token())).status_code == 200
    assert http.get("/files/not-a-uuid", headers=_auth(user_token(owner))).status_code == 404


def test_signed_policy_holds_key_size_type_and_expiry(http):
    """moto's POST handler enforces none of a policy's conditions (nor its signature); S3 does. The policy S3 would
    check is asserted here, with its signature verified, so a condition cannot go missing unnoticed."""
    user = _user()
    before = time.time()
    created = _create(http, user_token(user), content_type="image/png", size=321)
    assert created.status_code == 201, created.text
    upload = created.json()["upload"]
    fields = upload["fields"]
    policy = _policy(upload)
    conditions = policy["conditions"]
    owner_prefix = f"users/{hashlib.sha256(user.encode()).hexdigest()}/"
    assert fields["key"] == owner_prefix + created.json()["id"]
    assert ["eq", "$key", fields["key"]] in conditions
    assert {"key": fields["key"]} in conditions
    assert {"bucket": BUCKET} in conditions
    assert ["content-length-range", 321, 321] in conditions
    assert ["eq", "$Content-Type", "image/png"] in conditions
    expires = time.mktime(time.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert expires <= before + 300 + 2
    # SigV4 POST: the signature is the HMAC of the base64 policy under the day's signing key.
    _, day, region, service, _ = fields["x-amz-credential"].split("/")
    key = _sign(("AWS4" + SECRET_KEY).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _sign(key, part)
    assert hmac.new(key, fields["policy"].encode(), hashlib.sha256).hexdigest() == fields["x-amz-signature"]


@pytest.mark.parametrize(
    "name",
    ["../x", "a/b", "a\\b", "a\x00b", "x" * 10_000, "\u202etxt.exe", "invoice\u200f.pdf", "\u2066x", ".", "..", ""],
)
def test_hostile_names_are_refused(http, postgres, name):
    user = _user()
    refused = _create(http, user_token(user), name=name)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "name"
    assert postgres.query("SELECT count(*) FROM stored_files WHERE owner = %s", (user,)) == [(0,)]


@pytest.mark.parametrize(
    ("content_type", "size", "field"),
    [
        ("text/html", 10, "content_type"),
        ("TEXT/PLAIN", 10, "content_type"),
        ("text/plain", 0, "size"),
        ("text/plain", MAX_BYTES + 1, "size"),
        ("text/plain", "10", "size"),
        ("text/plain", True, "size"),
    ],
)
def test_types_and_sizes_outside_the_settings_are_refused(http, content_type, size, field):
    refused = _create(http, user_token(_user()), content_type=content_type, size=size)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == field


HOSTILE_BODIES = [
    ("a size of 5,000 digits", b'{"name": "a.txt", "content_type": "text/plain", "size": ' + b"1" * 5000 + b"}", 422),
    ("nested 30,000 deep", b'{"name": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", 400),
    ("an unknown field with an unpaired surrogate", b'{"name": "a", "content_type": "text/plain", "\\ud800": 1}', 422),
    ("a name with an unpaired surrogate", b'{"name": "a\\udc00.txt", "content_type": "text/plain", "size": 3}', 422),
    ("a key twice", b'{"name": "a", "name": "b", "content_type": "text/plain", "size": 3}', 422),
    ("NaN", b'{"name": "a", "content_type": "text/plain", "size": NaN}', 400),
]


@pytest.mark.parametrize(("case", "body", "status"), HOSTILE_BODIES, ids=[case[0] for case in HOSTILE_BODIES])
def test_hostile_bodies_get_a_json_4xx_and_write_nothing(http, postgres, case, body, status):
    user = _user()
    headers = {**_auth(user_token(user)), "Content-Type": "application/json"}
    refused = http.post("/files", content=body, headers=headers)
    assert refused.status_code == status, refused.text
    assert refused.json()["error"]["code"] in ("invalid_json", "validation_error")
    assert postgres.query("SELECT count(*) FROM stored_files WHERE owner = %s", (user,)) == [(0,)]


def test_per_owner_cap(http):
    user = _user()
    first = _create(http, user_token(user), size=MAX_BYTES)
    second = _create(http, user_token(user), size=MAX_BYTES)
    assert (first.status_code, second.status_code) == (201, 201)
    over = _create(http, user_token(user), size=OWNER_MAX_BYTES - 2 * MAX_BYTES + 1)
    assert over.status_code == 413, over.text
    assert over.json()["error"]["code"] == "quota_exceeded"
    # Another owner is not affected, and the cap frees up as files are deleted.
    assert _create(http, user_token(_user()), size=MAX_BYTES).status_code == 201
    exact = _create(http, user_token(user), size=OWNER_MAX_BYTES - 2 * MAX_BYTES)
    assert exact.status_code == 201, exact.text
    assert http.delete(f"/files/{first.json()['id']}", headers=_auth(user_token(user))).status_code == 204
    assert _create(http, user_token(user), size=MAX_BYTES).status_code == 201


def test_scopes_are_required_with_an_issuer_scope_set(http):
    # HS256 user tokens act on their own files without scopes; a missing token is a 401.
    assert http.post("/files", json={"name": "a", "content_type": "text/plain", "size": 1}).status_code == 401
    assert http.get(f"/files/{uuid.uuid4()}").status_code == 401


def test_openapi_lists_the_file_routes_with_their_limits(http):
    spec = http.get("/openapi.json").json()
    schema = spec["paths"]["/files"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["size"]["maximum"] == MAX_BYTES
    assert schema["properties"]["content_type"]["enum"] == ["text/plain", "image/png"]
    assert set(spec["paths"]["/files/{file_id}"]) == {"get", "delete"}


def test_smoke_files_check_round_trips_through_the_service(app):
    """`infra smoke`'s files check against the real service and S3 server: every step's status is reported."""
    from cli.smoke.check import SmokeOptions, run_smoke
    from cli.smoke.endpoint import from_url
    from tests.cli.smoke.untimed import UNTIMED

    target = from_url(app.base_url, token=admin_token(), expect_redirect=False)
    report = run_smoke(target, SmokeOptions(gates=UNTIMED, requests=5, concurrency=1))
    (files,) = [c for c in report.checks if c.name == "files"]
    assert files.status == "pass", files.summary
    steps = [(s["step"], s["status"]) for s in files.data["steps"]]
    assert steps == [("create", 201), ("upload", 204), ("describe", 200), ("download", 200), ("delete", 204)]
