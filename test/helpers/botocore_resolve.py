"""What botocore (the AWS CLI v1, boto3) makes of AWS profiles, for tests that compare this library's choices to it.

argv[1]: a JSON list of queries {"profile": NAME, "env": {VAR: value or null}, "frozen": bool}. Each is answered by a
new botocore Session(profile=NAME) in the environment given (on top of this process's). Prints one JSON list, one
answer per query: {"method": botocore's credential method or null, "accessKey": the access key id it would sign
with} or {"error": the exception's class name, "message": its text}. The access key id is given for static and
process credentials, and for any with "frozen" (which fetches them: roles call STS, SSO the portal). Never prints a
secret key or a token.
"""
import json
import os
import sys

import botocore.session

LOCAL = ("shared-credentials-file", "config-file", "custom-process")

answers = []
base = dict(os.environ)
for q in json.loads(sys.argv[1]):
    os.environ.clear()
    os.environ.update(base)
    for k, v in (q.get("env") or {}).items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        session = botocore.session.Session(profile=q["profile"])
        creds = session.get_credentials()
        if creds is None:
            answers.append({"method": None})
            continue
        answer = {"method": creds.method}
        if q.get("frozen") or creds.method in LOCAL:
            answer["accessKey"] = creds.get_frozen_credentials().access_key
        answers.append(answer)
    except Exception as e:  # noqa: BLE001 - the class name is the answer
        answers.append({"error": type(e).__name__, "message": str(e)})
print(json.dumps(answers))
