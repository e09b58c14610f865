"""SigV4 by botocore, an independent signer, at a fixed time.

Scenario cassettes assert the exact `authorization` header the connector
sends; these values come from here, never from the connector's own signer.
"""

import datetime
from types import SimpleNamespace
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def parse_time(rfc3339):
    return datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ")


def sign(method, url, headers, body, region, service, when, token=None,
         access_key=ACCESS_KEY, secret_key=SECRET_KEY, s3=False):
    """Returns (signed headers dict, canonical request, string to sign).

    `headers` are the request's own headers (lower-case names), `when` an
    RFC 3339 UTC time. S3 uses S3SigV4Auth (single encoding, payload hash header).
    """
    creds = Credentials(access_key, secret_key, token)
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    if s3:
        # The connector always signs S3 payloads (x-amz-content-sha256 = the body's hash).
        request.context["client_config"] = SimpleNamespace(s3={"payload_signing_enabled": True})
        request.context["payload_signing_enabled"] = True
    auth_cls = botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth
    auth = auth_cls(creds, service, region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=parse_time(when)):
        auth.add_auth(request)
        authorization = request.headers["Authorization"]
        # Recompute the canonical request and string to sign for the record, as
        # they were before the authorization header was added.
        del request.headers["Authorization"]
        canonical = auth.canonical_request(request)
        string_to_sign = auth.string_to_sign(request, canonical)
        request.headers["Authorization"] = authorization
    signed = {
        "authorization": request.headers["Authorization"],
        "x-amz-date": request.headers["X-Amz-Date"],
    }
    if token:
        signed["x-amz-security-token"] = request.headers["X-Amz-Security-Token"]
    if s3:
        signed["x-amz-content-sha256"] = request.headers["X-Amz-Content-SHA256"]
    return signed, canonical, string_to_sign
