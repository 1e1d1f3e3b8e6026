"""A boto3 job for credential-server tests: S3 calls in a loop through the container-credentials provider.

CHILD_SECONDS: how long to run at most. CHILD_UNTIL_KEYS / CHILD_UNTIL_CALLS: stop sooner, once this many distinct
access keys were used and this many calls made (both, when both are given), and, with CHILD_STOP_FILE, once that file
exists (the test creates it when what it waits for has happened): tests wait for rotations and events, not for a time a
busy machine may need more of. CHILD_BUCKET: bucket to use (created if missing).
CHILD_CLOCK_SHIFT_SECONDS: moves the clock botocore's credential code reads (and only that: signing keeps the real
time). Tests issue credentials that live seconds, not an hour; shifting botocore's credential clock back by
(15 min - lifetime/4) makes its fixed 15-minute refresh window start a quarter of a lifetime before expiry, where a
1-hour credential puts it in production.
Prints one JSON line: calls, errors, the first error, distinct access keys used, and the server's answered requests
for the profile (read from its /metrics).
"""
import datetime
import json
import os
import sys
import time
import types
import urllib.request

shift = float(os.environ.get("CHILD_CLOCK_SHIFT_SECONDS", "0"))
if shift:
    import botocore.credentials as _bc

    class _ShiftedDateTime(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime.now(tz) + datetime.timedelta(seconds=shift)

    _shim = types.ModuleType("datetime")
    _shim.__dict__.update({k: getattr(datetime, k) for k in dir(datetime) if not k.startswith("__")})
    _shim.datetime = _ShiftedDateTime
    _bc.datetime = _shim

import boto3  # noqa: E402

seconds = float(os.environ.get("CHILD_SECONDS", "5"))
until_keys = int(os.environ.get("CHILD_UNTIL_KEYS", "0"))
until_calls = int(os.environ.get("CHILD_UNTIL_CALLS", "0"))
stop_file = os.environ.get("CHILD_STOP_FILE")
until = until_keys > 0 or until_calls > 0 or stop_file is not None


def done():
    if not until or len(keys) < until_keys or calls < until_calls:
        return False
    return stop_file is None or os.path.exists(stop_file)


bucket = os.environ.get("CHILD_BUCKET", "child-bucket")
session = boto3.session.Session()
credentials = session.get_credentials()  # the object the client signs with
s3 = session.client("s3")
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
calls = 0
errors = 0
keys = set()
first_error = None
deadline = time.time() + seconds
i = 0
while time.time() < deadline and not done():
    key = f"obj-{i % 16}"
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 64)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        calls += 2
        if body != b"x" * 64:
            errors += 1
        keys.add(credentials.get_frozen_credentials().access_key)
    except Exception as e:  # noqa: BLE001
        errors += 1
        first_error = first_error or f"{type(e).__name__}: {e}"
    i += 1
    time.sleep(0.01)


def served_requests():
    uri = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if not uri:
        return None
    origin = uri.split("/profiles/")[0]
    profile = uri.split("/profiles/")[1]
    token = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    if token is None:
        with open(os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]) as f:
            token = f.read()
    req = urllib.request.Request(origin + "/metrics", headers={"Authorization": token})
    text = urllib.request.urlopen(req, timeout=5).read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("aws_refresh_server_requests_total{") and f'profile="{profile}"' in line and 'status="200"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


print(
    json.dumps(
        {"calls": calls, "errors": errors, "firstError": first_error, "keys": len(keys), "served": served_requests()}
    )
)
sys.exit(1 if errors else 0)
