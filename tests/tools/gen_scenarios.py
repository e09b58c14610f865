#!/usr/bin/env python3
"""Writes the generated scenario folders under tests/.

Each scenario gets input.json, cassette.json (requests with the signature that
botocore computes for them, responses from the real Textract fixtures) and
expected.json (from camunda_shape.py) or expected-error.json (messages written
out here, as the spec of what users read).

Run: python3 tests/tools/gen_scenarios.py  (needs botocore). Review the diff
before committing: these files are the tests' expectations.
"""

import base64
import datetime
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
import camunda_shape  # noqa: E402
import summary_shape  # noqa: E402
from botocore_signer import ACCESS_KEY, SECRET_KEY, sign  # noqa: E402

TESTS = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIXTURES = os.path.join(TESTS, "fixtures", "textract")
WHEN = "2026-01-15T09:30:00Z"
HTTP_DATE = "Thu, 15 Jan 2026 09:30:01 GMT"
GENERATED_MARK = ".generated"

# A 1x1 PNG.
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        body = json.load(f)
    body.pop("ResponseMetadata", None)  # client-side only, never on the wire
    return body


def auth(token=None):
    a = {"type": "credentials", "accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
    if token:
        a["sessionToken"] = token
    return a


def base_input(region="us-east-1", **input_fields):
    data = {"executionType": "SYNC", "documentLocationType": "S3",
            "documentS3Bucket": "textract-demo-docs", "documentName": "paystubs/2025-12.png"}
    data.update(input_fields)
    return {"authentication": auth(), "configuration": {"region": region}, "input": data}


def response(status, body, request_id, *, body_ref=None, extra_headers=()):
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("Date", HTTP_DATE),
               ("x-amzn-RequestId", request_id)] + list(extra_headers)
    recorded = {"status": status, "headers": dict(headers)}
    if body_ref:
        recorded["body"] = {"file": body_ref}
    elif body is not None:
        recorded["body"] = {"json": body}
    return recorded, headers


def textract_call(operation, body_obj, region, *, endpoint=None, token=None, access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                  when=WHEN):
    url = (endpoint.rstrip("/") if endpoint else "https://textract.%s.amazonaws.com" % region) + "/"
    body = compact(body_obj).encode()
    headers = {"content-type": "application/x-amz-json-1.1", "x-amz-target": "Textract." + operation,
               "content-length": str(len(body))}
    signed, _, _ = sign("POST", url, headers, body, region, "textract", when, token,
                        access_key=access_key, secret_key=secret_key)
    return {"method": "POST", "url": url,
            "headers": {"content-type": headers["content-type"], "x-amz-target": headers["x-amz-target"]},
            "body": {"json": body_obj}, "expectSigned": signed}


def analyze_body(document, features, query=None, queries=None):
    body = {"Document": document, "FeatureTypes": features}
    if query or queries:
        body["QueriesConfig"] = {"Queries": ([{"Text": query}] if query else []) + list(queries or [])}
    return body


def s3_doc(bucket="textract-demo-docs", name="paystubs/2025-12.png", version=None):
    obj = {"Bucket": bucket, "Name": name}
    if version:
        obj["Version"] = version
    return {"S3Object": obj}


SCENARIOS = {}


def scenario(name, description, inp, *, interactions=(), expected=None, error=None, options=None, documents=None,
             files=None):
    """documents: {document id: bytes} for the scenario's document store; files: {relative path: bytes}."""
    options = dict(options or {})
    files = dict(files or {})
    if documents:
        options["documents"] = "documents"
        files.update({"documents/" + doc_id: data for doc_id, data in documents.items()})
    SCENARIOS[name] = dict(description=description, input=inp, interactions=list(interactions),
                           expected=expected, error=error, options=options, files=files)


def sync_ok(name, description, inp, request, fixture_name, request_id, options=None):
    body = fixture(fixture_name)
    recorded, headers = response(200, None, request_id, body_ref="../fixtures/textract/" + fixture_name)
    scenario(name, description, inp,
             interactions=[{"request": request, "response": recorded}],
             expected=camunda_shape.sync_result(200, headers, body), options=options)


def aws_error(name, description, status, code, message, request_id, *, kind, retryable, expect_message,
              header_code=None, attempts=1):
    inp = base_input(analyzeTables=True)
    req = textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["TABLES"]), "us-east-1")
    extra = [("x-amzn-ErrorType", header_code)] if header_code else []
    body = {"__type": code, "message": message} if code else None
    recorded, _ = response(status, body, request_id, extra_headers=extra)
    if code is None:
        recorded["body"] = {"text": message}
        recorded["headers"]["Content-Type"] = "text/html"
    scenario(name, description, inp, interactions=[{"request": req, "response": recorded}] * attempts,
             error={"kind": kind, "code": expect_message[0], "message": expect_message[1], "retryable": retryable})


def validation(name, description, inp, violations):
    msg = "Found constraints violated while validating input: " + "".join(
        "\n - Property: %s: Validation failed. Original message: %s" % v for v in violations)
    scenario(name, description, inp,
             error={"kind": "invalid-input", "code": "ValidationFailed", "message": msg, "retryable": False})


# ---- SYNC successes -------------------------------------------------------------------------------

ALL5 = ["TABLES", "FORMS", "QUERIES", "SIGNATURES", "LAYOUT"]
q = "What is the YTD Gross Pay?"
sync_ok("sync-s3-all-features", "SYNC on an S3 object with all five features and a query (paystub, 662 blocks)",
        base_input(analyzeTables=True, analyzeForms=True, analyzeQueries=True, analyzeSignatures=True,
                   analyzeLayout=True, query=q),
        textract_call("AnalyzeDocument", analyze_body(s3_doc(), ALL5, q), "us-east-1"),
        "paystub-response.json", "req-sync-all-0001")

sync_ok("sync-s3-version", "SYNC on a versioned S3 object: Version goes into S3Object",
        base_input(region="eu-west-1", analyzeForms=True, analyzeTables=True,
                   documentName="applications/employment.png", documentVersion="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"),
        textract_call("AnalyzeDocument",
                      analyze_body(s3_doc(name="applications/employment.png",
                                          version="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"), ["TABLES", "FORMS"]),
                      "eu-west-1"),
        "employment-application.json", "req-sync-version-0001")

token_input = base_input(analyzeQueries=True, query="What is the applicant's name?")
token_input["authentication"] = auth("FwoGZXIvYXdzEXAMPLETOKEN//////////wEaDExampleSessionToken=")
sync_ok("sync-s3-session-token", "SYNC with temporary credentials: X-Amz-Security-Token is sent and signed",
        token_input,
        textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["QUERIES"], "What is the applicant's name?"),
                      "us-east-1", token="FwoGZXIvYXdzEXAMPLETOKEN//////////wEaDExampleSessionToken="),
        "queries_sample.json", "req-sync-token-0001")

override_input = base_input(analyzeLayout=True, analyzeSignatures=True)
override_input["configuration"]["endpoint"] = "http://127.0.0.1:4566"
sync_ok("sync-endpoint-override",
        "SYNC through configuration.endpoint: a local AWS peer over plain HTTP, which the operator allows by name",
        override_input,
        textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["SIGNATURES", "LAYOUT"]), "us-east-1",
                      endpoint="http://127.0.0.1:4566"),
        "request_for_verification_of_employment.json", "req-sync-endpoint-0001",
        options={"allowHosts": ["127.0.0.1:4566"]})

# A saved awsCredential: its authentication wins over `authentication`; configuration.region
# (v8's "Region" beside the credential, "Overrides the default region in the selected
# credential") wins over the credential's region, which is the fallback.
SAVED_CREDENTIAL = {"type": "credentials", "accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
cred_input = base_input(region="us-east-1", analyzeForms=True)
cred_input["authentication"] = {"type": "credentials", "accessKey": "AKIDIGNORED", "secretKey": "ignored"}
cred_input["awsCredential"] = {"authentication": SAVED_CREDENTIAL, "region": "eu-central-1"}
sync_ok("sync-aws-credential-region-override",
        "awsCredential's authentication wins over authentication; configuration.region overrides its region",
        cred_input,
        textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["FORMS"]), "us-east-1"),
        "form1005-response.json", "req-sync-cred-0001")
fallback_input = base_input(analyzeForms=True)
del fallback_input["authentication"], fallback_input["configuration"]
fallback_input["awsCredential"] = {"authentication": SAVED_CREDENTIAL, "region": "eu-central-1"}
sync_ok("sync-aws-credential-region-fallback",
        "Without configuration.region, the awsCredential's own region applies",
        fallback_input,
        textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["FORMS"]), "eu-central-1"),
        "form1005-response.json", "req-sync-cred-0002")
no_region_input = base_input(region="eu-west-3", analyzeTables=True)
del no_region_input["authentication"]
no_region_input["awsCredential"] = {"authentication": SAVED_CREDENTIAL}
sync_ok("sync-aws-credential-without-region",
        "A credential without a region (v8's default region is optional) runs in configuration.region",
        no_region_input,
        textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["TABLES"]), "eu-west-3"),
        "employment-application.json", "req-sync-cred-0003")

png_b64 = base64.b64encode(PNG_1PX).decode()
png_input = base_input(analyzeTables=True, documentLocationType="UPLOADED")
del png_input["input"]["documentS3Bucket"], png_input["input"]["documentName"]
png_input["input"]["document"] = {"camunda.document.type": "inline", "content": png_b64, "name": "scan.png",
                                  "contentType": "image/png"}
sync_ok("sync-inline-png", "SYNC on an inline Camunda document: its bytes go in Document.Bytes",
        png_input,
        textract_call("AnalyzeDocument", analyze_body({"Bytes": png_b64}, ["TABLES"]), "us-east-1"),
        "multi-page-forms-samples-2-page.json", "req-sync-inline-0001")

# Templates v4-v6 hide the execution type when the document source is "Camunda Document":
# the model writes none, and the document runs in real time (v7+ writes SYNC itself).
v4_input = base_input(analyzeTables=True, documentLocationType="UPLOADED")
del v4_input["input"]["documentS3Bucket"], v4_input["input"]["documentName"], v4_input["input"]["executionType"]
v4_input["input"]["document"] = {"camunda.document.type": "inline", "content": png_b64, "name": "scan.png",
                                 "contentType": "image/png"}
sync_ok("sync-uploaded-without-execution-type",
        "An uploaded document and no executionType (templates v4-v6 hide it) runs SYNC, needing no bucket",
        v4_input,
        textract_call("AnalyzeDocument", analyze_body({"Bytes": png_b64}, ["TABLES"]), "us-east-1"),
        "multi-page-forms-samples-2-page.json", "req-sync-inline-0002")

# Lenient binding: enums in any case, one-element arrays, string booleans, unknown keys.
lenient = {"authentication": [auth()], "configuration": {"region": "us-east-1", "unknownKey": 1},
           "input": {"executionType": "sync", "documentLocationType": ["s3"],
                     "documentS3Bucket": "textract-demo-docs", "documentName": ["paystubs/2025-12.png"],
                     "analyzeTables": "true", "analyzeForms": [True], "analyzeLayout": "false", "somethingNew": {}}}
sync_ok("sync-lenient-binding", "Camunda's binding rules: case-insensitive enums, one-element arrays, coerced booleans",
        lenient,
        textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["TABLES", "FORMS"]), "us-east-1"),
        "employment-application.json", "req-sync-lenient-0001")

# ---- SYNC refusals offline -------------------------------------------------------------------------

text_input = base_input(analyzeTables=True, documentLocationType="UPLOADED")
text_input["input"]["document"] = {"camunda.document.type": "inline",
                                   "content": base64.b64encode(b"This is a text file, not a scan.").decode(),
                                   "name": "notes.txt"}
scenario("sync-inline-not-an-image", "A non-image inline document is refused before any network call", text_input,
         error={"kind": "invalid-input", "code": "UnsupportedDocumentType", "retryable": False,
                "message": "The document 'notes.txt' is not a PNG, JPEG, PDF or TIFF file (it starts with bytes "
                           "54 68 69 73 20 69 73 20); Textract cannot analyse it"})

two_docs = base_input(analyzeTables=True, documentLocationType="UPLOADED")
two_docs["input"]["document"] = [{"camunda.document.type": "inline", "content": png_b64}] * 2
scenario("sync-two-documents", "A list of two documents is an input error", two_docs,
         error={"kind": "invalid-input", "code": "TooManyDocuments", "retryable": False,
                "message": "Exactly one document can be analysed per execution, but 2 were given"})

# ---- AWS errors -------------------------------------------------------------------------------------

aws_error("sync-access-denied", "AccessDeniedException is unauthorized and not retryable", 400,
          "AccessDeniedException",
          "User: arn:aws:iam::123456789012:user/camunda is not authorized to perform: textract:AnalyzeDocument",
          "req-denied-0001", kind="unauthorized", retryable=False,
          expect_message=("AccessDeniedException",
                          "Amazon Textract returned AccessDeniedException (HTTP 400): User: "
                          "arn:aws:iam::123456789012:user/camunda is not authorized to perform: "
                          "textract:AnalyzeDocument. Check the access key, the secret key and the IAM policy. "
                          "(request id req-denied-0001)"))
aws_error("sync-unsupported-document", "UnsupportedDocumentException explains SYNC's limits and points to POLLING",
          400, "com.amazonaws.textract#UnsupportedDocumentException", "Request has unsupported document format",
          "req-unsupported-0001", kind="invalid-input", retryable=False,
          expect_message=("UnsupportedDocumentException",
                          "Amazon Textract returned UnsupportedDocumentException (HTTP 400): Request has unsupported "
                          "document format. Real-time (SYNC) analysis takes only PNG or JPEG images and single-page "
                          "PDF or TIFF documents; use the POLLING execution type for multi-page documents. "
                          "(request id req-unsupported-0001)"))
aws_error("sync-throttled", "ThrottlingException on every attempt: retried 3 times, then throttled and retryable",
          400, "ThrottlingException", "Rate exceeded", "req-throttle-0001", kind="throttled", retryable=True,
          attempts=3,
          expect_message=("ThrottlingException",
                          "Amazon Textract returned ThrottlingException (HTTP 400): Rate exceeded. Gave up after 3 "
                          "attempts. (request id req-throttle-0001)"))
aws_error("sync-server-error", "HTTP 500 with an HTML body on every attempt: retried 3 times, then upstream",
          500, None, "<html><body>Internal Server Error</body></html>", "req-500-0001", kind="upstream",
          retryable=True, attempts=3,
          # The HTML body is not an AWS error: it is never echoed to the tenant.
          expect_message=("Http500",
                          "Amazon Textract returned HTTP 500: gave up after 3 attempts. (request id req-500-0001)"))

# ---- validation ---------------------------------------------------------------------------------------

BLANK = "must not be blank"
validation("validation-everything-missing", "An empty SYNC task lists every violation at once",
           {"input": {"executionType": "SYNC"}},
           [("authentication", "Authentication is required"), ("configuration.region", BLANK),
            ("input.documentS3Bucket", BLANK), ("input.documentName", BLANK),
            ("input.analyzeTypes", "At least one analyze type should be selected")])
blank = base_input(analyzeTables=True, documentS3Bucket="  ", documentName="")
blank["authentication"]["secretKey"] = ""
blank["configuration"]["region"] = " "
validation("validation-blank-fields", "Blank secret key, region, bucket and key", blank,
           [("authentication.secretKey", BLANK), ("configuration.region", BLANK),
            ("input.documentS3Bucket", BLANK), ("input.documentName", BLANK)])
validation("validation-no-feature", "No analyze type selected", base_input(),
           [("input.analyzeTypes", "At least one analyze type should be selected")])
validation("validation-query-missing", "analyzeQueries without a query", base_input(analyzeQueries=True, query="  "),
           [("input.query", "The 'query' field must be provided when 'analyzeQueries' is set to true.")])
cred_blank = base_input(analyzeTables=True)
cred_blank["awsCredential"] = {"authentication": {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}, "region": ""}
cred_blank["configuration"]["region"] = ""
validation("validation-aws-credential-no-region",
           "A credential without a region needs configuration.region, which is then required", cred_blank,
           [("configuration.region",
             "must not be blank when the AWS credential has no region (this region overrides the credential's)")])
validation("validation-async-options", "ASYNC: malformed token and tag, half a notification pair, a prefix with no bucket",
           base_input(executionType="ASYNC", analyzeTables=True, clientRequestToken="not a token!",
                      jobTag="t" * 65, notificationChannelSnsTopicArn="arn:aws:sns:us-east-1:123456789012:done",
                      outputConfigS3Prefix="results/"),
           [("input.clientRequestToken", 'must match "^[a-zA-Z0-9-_]{1,64}$"'),
            ("input.jobTag", 'must match "^[a-zA-Z0-9_.\\-:]{1,64}$"'),
            ("input.validNotificationProperties",
             "Either both notification values role ARN and topic ARN must be filled in or none of them."),
            ("input.validOutputConfigProperties", "Output S3 bucket must be filled in if output S3 prefix is filled in")])
bad_enum = base_input(analyzeTables=True, executionType="LATER")
bad_enum["configuration"]["endpoint"] = "ftp://files.example.com"
validation("validation-bad-values", "An unknown execution type and a non-HTTP endpoint", bad_enum,
           [("input.executionType", "must be one of SYNC, POLLING, ASYNC, FETCH (got 'LATER')"),
            ("configuration.endpoint",
             "must be an http(s) URL such as https://textract.us-east-1.amazonaws.com (unsupported scheme)")])
chain = base_input(analyzeTables=True)
chain["authentication"] = {"type": "defaultCredentialsChain"}
scenario("validation-default-chain-saas", "The default credentials chain is refused in SaaS, before any call", chain,
         error={"kind": "invalid-input", "code": "DefaultCredentialsChainNotSupported", "retryable": False,
                "message": "The default credentials chain is not supported in SaaS."})
scenario("validation-not-json", "Input that is not a JSON object", "[1, 2]",
         error={"kind": "invalid-input", "code": "MalformedInput", "retryable": False,
                "message": "The connector input is not valid JSON: the input must be a JSON object"})


# ---- POLLING, ASYNC, FETCH -----------------------------------------------------------------------------

# The token the connector generates in replay, where wasi:random yields bytes 0, 1, 2, ...
JOB_ID = "a0c8a2f4-6d7b-4e8e-9c3f-2f1b5e7d9a10"
POLL_BUDGET_MS = 500


class Timeline:
    """The connector's clock in replay, step by step: wasi:random yields bytes
    0, 1, 2, ... (tokens, then retry jitter), and time moves only when the
    connector sleeps, as its documented schedule says: the poll interval
    doubles up to its cap within the window (the last wait is what is left of
    it); a retry waits a uniform fraction (from the next random u64) of
    min(20 s, 1 s x 2^(attempt-1))."""

    def __init__(self, interval=2.0, max_interval=30.0, timeout=600.0):
        self.t = 0.0
        self.byte = 0
        self.interval = interval
        self.max_interval = max_interval
        self.timeout = timeout
        self.poll_start = None

    def u64(self):
        value = 0
        for _ in range(8):
            value = (value << 8) | (self.byte % 256)
            self.byte += 1
        return value

    def token(self):
        return "tc-%016x%016x" % (self.u64(), self.u64())

    def retry_sleep(self, attempt):
        ceiling = min(20.0, 2.0 ** (attempt - 1))
        self.t += ceiling * ((self.u64() >> 11) / float(1 << 53))

    def poll_sleep(self):
        if self.poll_start is None:
            self.poll_start = self.t
        waited = self.t - self.poll_start
        self.t += min(self.interval, self.timeout - waited)

    def in_progress(self):
        self.interval = min(self.interval * 2, self.max_interval)

    def when(self):
        base = datetime.datetime.strptime(WHEN, "%Y-%m-%dT%H:%M:%SZ")
        return (base + datetime.timedelta(seconds=int(self.t + 1e-9))).strftime("%Y-%m-%dT%H:%M:%SZ")


def transient(answer):
    status, body = answer[0], answer[1]
    code = body.get("__type", "") if isinstance(body, dict) else ""
    return status in (500, 502, 503, 504, 429) or code in ("ThrottlingException", "ProvisionedThroughputExceededException")


def start_body(token, features=("TABLES", "FORMS"), extra=None, query=None, location=None, queries=None):
    body = {"DocumentLocation": location or s3_doc(), "FeatureTypes": list(features)}
    if query or queries:
        body["QueriesConfig"] = {"Queries": ([{"Text": query}] if query else []) + list(queries or [])}
    body["ClientRequestToken"] = token
    body.update(extra or {})
    return body


def get_body(next_token=None, job_id=JOB_ID):
    body = {"JobId": job_id, "MaxResults": 1000}
    if next_token:
        body["NextToken"] = next_token
    return body


def split_pages(fixture_name, status="SUCCEEDED"):
    """A multi-page fixture as GetDocumentAnalysis pages (one per document page)."""
    body = fixture(fixture_name)
    by_page = {}
    for b in body["Blocks"]:
        by_page.setdefault(b.get("Page", 1), []).append(b)
    numbers = sorted(by_page)
    result = []
    for i, n in enumerate(numbers):
        page = {"DocumentMetadata": body["DocumentMetadata"], "JobStatus": status}
        if i + 1 < len(numbers):
            page["NextToken"] = "page-%d-of-%d-token" % (i + 2, len(numbers))
        page["Blocks"] = by_page[n]
        page["AnalyzeDocumentModelVersion"] = body.get("AnalyzeDocumentModelVersion", "1.0")
        result.append(page)
    return result


def polling_input(**extra):
    return base_input(executionType="POLLING", analyzeTables=True, analyzeForms=True, **extra)


def job_scenario(name, description, inp, steps, *, expected_pages=None, error=None, timeline=None,
                 start_location=None, documents=None, options=None, start_features=("TABLES", "FORMS"),
                 start_queries=None):
    """steps: ("start" | "poll" | "page", (status, body)[, next_token]) in order. Retries
    of a transient failure are consecutive steps of the same kind; their waits and
    the poll waits move the timeline, and each request is signed at its time."""
    tl = timeline or Timeline()
    token = tl.token()
    interactions, last_headers, previous, attempt = [], None, None, 1
    for i, step in enumerate(steps):
        kind, answer = step[0], step[1]
        if previous is not None and previous[0] == kind and transient(previous[1]):
            tl.retry_sleep(attempt)
            attempt += 1
        else:
            attempt = 1
            if kind == "poll":
                tl.poll_sleep()
        if kind == "s3":
            req = step[2](tl.when(), token)
        elif kind == "start":
            req = textract_call("StartDocumentAnalysis",
                                start_body(token, start_features, location=start_location, queries=start_queries),
                                "us-east-1",
                                when=tl.when())
        else:
            req = textract_call("GetDocumentAnalysis", get_body(step[2] if kind == "page" else None), "us-east-1",
                                when=tl.when())
        if kind == "poll" and answer[1].get("JobStatus") == "IN_PROGRESS":
            tl.in_progress()
        if kind == "s3":
            interactions.append({"request": req, "response": s3_recorded(answer)})
        else:
            recorded, headers = response(answer[0], answer[1], "req-%s-%04d" % (name, i + 1))
            interactions.append({"request": req, "response": recorded})
            last_headers = headers
        previous = (kind, answer)
    expected = None
    if expected_pages is not None:
        expected = camunda_shape.polling_result(200, last_headers, expected_pages)
    scenario(name, description, inp, interactions=interactions, expected=expected, error=error,
             options={"budgetMs": POLL_BUDGET_MS, **(options or {})}, documents=documents)


STARTED = (200, {"JobId": JOB_ID})
IN_PROGRESS = (200, {"JobStatus": "IN_PROGRESS"})

pages = split_pages("gib_multi_page_table_merge.json")
pages[0]["Warnings"] = [{"ErrorCode": "UNSUPPORTED_FONT", "Pages": [1]}]
pages[2]["Warnings"] = [{"ErrorCode": "LOW_RESOLUTION", "Pages": [3]}]
job_scenario("polling-three-pages", "IN_PROGRESS twice, then SUCCEEDED over three result pages; "
             "warnings from two pages are merged", polling_input(),
             [("start", STARTED), ("poll", IN_PROGRESS), ("poll", IN_PROGRESS), ("poll", (200, pages[0])),
              ("page", (200, pages[1]), pages[0]["NextToken"]), ("page", (200, pages[2]), pages[1]["NextToken"])],
             expected_pages=pages)

partial = split_pages("multi-page-forms-samples-2-page.json", status="PARTIAL_SUCCESS")
partial[-1]["StatusMessage"] = "Some pages could not be processed."
partial[-1]["Warnings"] = [{"ErrorCode": "PAGE_PROCESSING_FAILED", "Pages": [3]}]
job_scenario("polling-partial-success", "PARTIAL_SUCCESS is a result, with its status message and warnings",
             polling_input(), [("start", STARTED), ("poll", (200, partial[0])),
                               ("page", (200, partial[1]), partial[0]["NextToken"])],
             expected_pages=partial)

failed = fixture("test-failed-response.json")
job_scenario("polling-failed", "FAILED ends the run at once: an input error with the job id and status message",
             polling_input(), [("start", STARTED), ("poll", IN_PROGRESS), ("poll", (200, failed))],
             error={"kind": "invalid-input", "code": "JobFailed", "retryable": False,
                    "message": "Textract job %s FAILED: Dummy Status Message" % JOB_ID})

throttled = (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
single = split_pages("employment-application.json")
job_scenario("polling-start-throttled-twice", "Start is throttled twice, then succeeds: every attempt carries the "
             "same generated ClientRequestToken, so no second job can start", polling_input(),
             [("start", throttled), ("start", throttled), ("start", STARTED), ("poll", (200, single[0]))],
             expected_pages=single)

job_scenario("polling-get-503-then-success", "A 503 on GetDocumentAnalysis is retried", polling_input(),
             [("start", STARTED), ("poll", (503, {"__type": "ServiceUnavailableException",
                                                 "message": "Service unavailable"})),
              ("poll", (200, single[0]))], expected_pages=single)

server_error = (500, {"__type": "InternalServerError", "message": "Internal server error"})
job_scenario("polling-retries-exhausted", "Start fails with 500 three times: the error stays upstream and retryable",
             polling_input(), [("start", server_error)] * 3,
             error={"kind": "upstream", "code": "InternalServerError", "retryable": True,
                    "message": "Amazon Textract returned InternalServerError (HTTP 500): Internal server error. "
                               "Gave up after 3 attempts. (request id req-polling-retries-exhausted-0003)"})


def window_polls(interval, max_interval, timeout):
    """How many polls a job that never finishes gets within the window."""
    count, waited = 0, 0.0
    while waited < timeout:
        waited += min(interval, timeout - waited)
        count += 1
        interval = min(interval * 2, max_interval)
    return count


n = window_polls(2.0, 30.0, 600.0)
job_scenario("polling-window-exhausted", "The job stays IN_PROGRESS for the whole default 10-minute window, "
             "simulated on the replay clock: a retryable error names the job id and the wait",
             polling_input(), [("start", STARTED)] + [("poll", IN_PROGRESS)] * n,
             error={"kind": "upstream", "code": "PollTimeout", "retryable": True,
                    "message": "Textract job %s is still IN_PROGRESS after waiting 10m over %d polls "
                               "(advanced.pollTimeout 10m); collect it later with a FETCH task, or allow a longer "
                               "pollTimeout" % (JOB_ID, n)})

custom = polling_input()
custom["advanced"] = {"pollInterval": "PT5S", "maxPollInterval": "PT10S", "pollTimeout": "PT20S"}
n = window_polls(5.0, 10.0, 20.0)
job_scenario("polling-custom-window", "advanced.pollInterval/maxPollInterval/pollTimeout: polls at 5, 15 and 20 s",
             custom, [("start", STARTED)] + [("poll", IN_PROGRESS)] * n,
             timeline=Timeline(interval=5.0, max_interval=10.0, timeout=20.0),
             error={"kind": "upstream", "code": "PollTimeout", "retryable": True,
                    "message": "Textract job %s is still IN_PROGRESS after waiting 20s over %d polls "
                               "(advanced.pollTimeout 20s); collect it later with a FETCH task, or allow a longer "
                               "pollTimeout" % (JOB_ID, n)})

ASYNC_ALL = dict(clientRequestToken="order-4711_retry-1", jobTag="invoices:2026.01",
                 kmsKeyId="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                 notificationChannelRoleArn="arn:aws:iam::123456789012:role/TextractSNS",
                 notificationChannelSnsTopicArn="arn:aws:sns:us-east-1:123456789012:AmazonTextract-done",
                 outputConfigS3Bucket="textract-results", outputConfigS3Prefix="jobs/2026/")
async_req = textract_call("StartDocumentAnalysis", start_body("order-4711_retry-1", ("TABLES", "QUERIES"), {
    "JobTag": "invoices:2026.01", "KMSKeyId": ASYNC_ALL["kmsKeyId"],
    "NotificationChannel": {"SNSTopicArn": ASYNC_ALL["notificationChannelSnsTopicArn"],
                            "RoleArn": ASYNC_ALL["notificationChannelRoleArn"]},
    "OutputConfig": {"S3Bucket": "textract-results", "S3Prefix": "jobs/2026/"}}, "What is the total?"), "us-east-1")
async_rec, async_headers = response(200, {"JobId": JOB_ID}, "req-async-0000000001")
scenario("async-all-options", "ASYNC with every optional field: one Start, the job id back",
         base_input(executionType="ASYNC", analyzeTables=True, analyzeQueries=True, query="What is the total?",
                    **ASYNC_ALL),
         interactions=[{"request": async_req, "response": async_rec}],
         expected=camunda_shape.async_result(200, async_headers, JOB_ID))
min_rec, min_headers = response(200, {"JobId": JOB_ID}, "req-async-0000000002")
scenario("async-minimal", "ASYNC without options: a generated ClientRequestToken, no NotificationChannel or OutputConfig",
         base_input(executionType="ASYNC", analyzeTables=True, analyzeForms=True),
         interactions=[{"request": textract_call("StartDocumentAnalysis", start_body(Timeline().token()), "us-east-1"),
                        "response": min_rec}],
         expected=camunda_shape.async_result(200, min_headers, JOB_ID))

NOTIFY = ("input.validNotificationProperties",
          "Either both notification values role ARN and topic ARN must be filled in or none of them.")
validation("async-validation-notification-role-only", "ASYNC: a role ARN without a topic",
           base_input(executionType="ASYNC", analyzeTables=True,
                      notificationChannelRoleArn="arn:aws:iam::123456789012:role/TextractSNS"), [NOTIFY])
validation("async-validation-notification-topic-only", "ASYNC: a topic ARN without a role",
           base_input(executionType="ASYNC", analyzeTables=True,
                      notificationChannelSnsTopicArn="arn:aws:sns:us-east-1:123456789012:done"), [NOTIFY])
validation("async-validation-prefix-without-bucket", "ASYNC: an output prefix with no bucket",
           base_input(executionType="ASYNC", analyzeTables=True, outputConfigS3Prefix="results/"),
           [("input.validOutputConfigProperties", "Output S3 bucket must be filled in if output S3 prefix is filled in")])
validation("async-validation-token-pattern", "ASYNC: a ClientRequestToken with characters outside [a-zA-Z0-9-_]",
           base_input(executionType="ASYNC", analyzeTables=True, clientRequestToken="order 4711/retry"),
           [("input.clientRequestToken", 'must match "^[a-zA-Z0-9-_]{1,64}$"')])
validation("async-validation-token-length", "ASYNC: a ClientRequestToken longer than 64 characters",
           base_input(executionType="ASYNC", analyzeTables=True, clientRequestToken="t" * 65),
           [("input.clientRequestToken", 'must match "^[a-zA-Z0-9-_]{1,64}$"')])
validation("async-validation-tag-pattern", "ASYNC: a JobTag with characters outside [a-zA-Z0-9_.\\-:]",
           base_input(executionType="ASYNC", analyzeTables=True, jobTag="invoices/2026"),
           [("input.jobTag", 'must match "^[a-zA-Z0-9_.\\-:]{1,64}$"')])
validation("async-validation-tag-length", "ASYNC: a JobTag longer than 64 characters",
           base_input(executionType="ASYNC", analyzeTables=True, jobTag="t" * 65),
           [("input.jobTag", 'must match "^[a-zA-Z0-9_.\\-:]{1,64}$"')])
bad_advanced = polling_input()
bad_advanced["advanced"] = {"pollInterval": "2 seconds", "maxPollInterval": "PT1S", "pollTimeout": "PT0S",
                            "maxAttempts": 0}
validation("polling-validation-advanced", "Bad advanced polling settings", bad_advanced,
           [("advanced.pollInterval", "must be a positive ISO-8601 duration such as PT2S (got '2 seconds')"),
            ("advanced.pollTimeout", "must be a positive ISO-8601 duration such as PT2S (got 'PT0S')"),
            ("advanced.maxPollInterval", "must not be shorter than advanced.pollInterval"),
            ("advanced.maxAttempts", "must be a whole number from 1 to 10")])


def fetch_input(job_id=JOB_ID):
    inp = base_input(executionType="FETCH", jobId=job_id)
    for k in ("documentLocationType", "documentS3Bucket", "documentName"):
        inp["input"].pop(k)
    return inp


forms = split_pages("multi-page-forms-samples-2-page.json")


def fetch_scenario(name, description, steps, expected_pages=None, error=None):
    """FETCH: no start, no token, no poll wait: pages are read at once."""
    interactions, last_headers = [], None
    for i, step in enumerate(steps):
        req = textract_call("GetDocumentAnalysis", get_body(step[1] if len(step) > 1 else None), "us-east-1")
        recorded, last_headers = response(step[0][0], step[0][1], "req-%s-%04d" % (name, i + 1))
        interactions.append({"request": req, "response": recorded})
    expected = camunda_shape.polling_result(200, last_headers, expected_pages) if expected_pages else None
    scenario(name, description, fetch_input(), interactions=interactions, expected=expected, error=error,
             options={"budgetMs": POLL_BUDGET_MS})


fetch_scenario("fetch-succeeded", "FETCH collects a finished job by id, in the POLLING shape",
               [((200, forms[0]),), ((200, forms[1]), forms[0]["NextToken"])], expected_pages=forms)
fetch_scenario("fetch-in-progress", "FETCH of a job still running is a retryable error that says so",
               [(IN_PROGRESS,)],
               error={"kind": "upstream", "code": "JobInProgress", "retryable": True,
                      "message": "Textract job %s is still IN_PROGRESS; fetch its results again later" % JOB_ID})


validation("fetch-validation-job-id", "FETCH needs a well-formed job id", fetch_input("not/a job"),
           [("input.jobId", 'must match "^[a-zA-Z0-9-_]{1,64}$"')])


# ---- documents and S3 -----------------------------------------------------------------------------------

from urllib.parse import quote  # noqa: E402

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
STAGING_BUCKET = "textract-staging"
VERSION = "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"


def object_url(bucket, key, query=None, region="us-east-1"):
    """S3 addressing, written again from the S3 docs: virtual-hosted for DNS-safe
    names without dots, path style otherwise; the key percent-encoded once."""
    path = quote(key, safe="/-_.~")
    q = "?" + query if query else ""
    dns_safe = 3 <= len(bucket) <= 63 and all(c.islower() or c.isdigit() or c == "-" for c in bucket) \
        and not bucket.startswith("-") and not bucket.endswith("-")
    if dns_safe:
        return "https://%s.s3.%s.amazonaws.com/%s%s" % (bucket, region, path, q)
    return "https://s3.%s.amazonaws.com/%s/%s%s" % (region, bucket, path, q)


def body_of(data):
    try:
        return {"text": data.decode("ascii")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def s3_call(method, bucket, key, when, *, data=b"", content_type=None, query=None, json_body=None):
    url = object_url(bucket, key, query)
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if method == "PUT":
        headers["content-length"] = str(len(data))
    signed, _, _ = sign(method, url, headers, data, "us-east-1", "s3", when, s3=True)
    req = {"method": method, "url": url, "expectSigned": signed}
    if content_type:
        req["headers"] = {"content-type": content_type}
    if data:
        # A stored result is compared byte for byte: its size and sha256 are in the task's result.
        req["body"] = {"text": data.decode("utf-8")} if json_body is not None else body_of(data)
    return req


def s3_ok(request_id, version=None, status=200):
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": "host-id-" + request_id}
    if version:
        headers["x-amz-version-id"] = version
    if status == 200:
        headers["ETag"] = '"9b2cf535f27731c974343645a3985328"'
    return (status, None, headers)


def s3_error(status, code, message, request_id):
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
           '<RequestId>%s</RequestId></Error>' % (code, message, request_id))
    return (status, xml, {"x-amz-request-id": request_id, "Content-Type": "application/xml"})


def s3_recorded(answer):
    status, body, headers = answer
    recorded = {"status": status, "headers": headers}
    if body:
        recorded["body"] = {"text": body}
    return recorded


def staged_key(token, file_name, prefix="textract-connector/"):
    return "%s%s/%s" % (prefix, token, file_name)


def uploaded_input(execution, document, bucket=STAGING_BUCKET, **extra):
    inp = base_input(executionType=execution, documentLocationType="UPLOADED", analyzeTables=True,
                     analyzeForms=True, **extra)
    inp["input"]["documentS3Bucket"] = bucket
    del inp["input"]["documentName"]
    inp["input"]["document"] = document
    return inp


def camunda_doc(doc_id, data, file_name, content_hash=None):
    import hashlib
    return {"camunda.document.type": "camunda", "storeId": "in-memory", "documentId": doc_id,
            "contentHash": content_hash or hashlib.sha256(data).hexdigest(),
            "metadata": {"contentType": "application/pdf", "size": len(data), "fileName": file_name,
                         "expiresAt": None, "processDefinitionId": "invoice-process", "processInstanceKey": 2251799813685249}}


tl = Timeline()
token = Timeline().token()
key = staged_key(token, "scan report.pdf")
location = {"S3Object": {"Bucket": STAGING_BUCKET, "Name": key, "Version": VERSION}}
single = split_pages("employment-application.json")
job_scenario("polling-camunda-document-staged",
             "POLLING on a Camunda document: uploaded to documentS3Bucket (versioned), analysed from there, "
             "and the staged version deleted at the end",
             uploaded_input("POLLING", camunda_doc("doc-7f3a", PDF, "scan report.pdf")),
             [("s3", s3_ok("put-0001", VERSION),
               lambda when, tok: s3_call("PUT", STAGING_BUCKET, key, when, data=PDF, content_type="application/pdf")),
              ("start", STARTED), ("poll", (200, single[0])),
              ("s3", s3_ok("del-0001", VERSION, status=204),
               lambda when, tok: s3_call("DELETE", STAGING_BUCKET, key, when, query="versionId=" + quote(VERSION, safe="")))],
             start_location=location, expected_pages=single, documents={"doc-7f3a": PDF})

job_scenario("polling-staged-document-deleted-on-failure",
             "The staged copy is deleted when the job fails too, and the job's error is what the task reports",
             uploaded_input("POLLING", camunda_doc("doc-7f3a", PDF, "scan report.pdf")),
             [("s3", s3_ok("put-0002"),
               lambda when, tok: s3_call("PUT", STAGING_BUCKET, key, when, data=PDF, content_type="application/pdf")),
              ("start", STARTED), ("poll", (200, failed)),
              ("s3", s3_ok("del-0002", status=204),
               lambda when, tok: s3_call("DELETE", STAGING_BUCKET, key, when))],
             start_location={"S3Object": {"Bucket": STAGING_BUCKET, "Name": key}},
             error={"kind": "invalid-input", "code": "JobFailed", "retryable": False,
                    "message": "Textract job %s FAILED: Dummy Status Message" % JOB_ID},
             documents={"doc-7f3a": PDF})

odd_prefix = "uploads 2026+/ü/"
odd_key = staged_key(token, "in box_scan ü+100%.pdf", prefix=odd_prefix)
odd_bucket = "my.staging.bucket"
odd_input = uploaded_input("POLLING", {"camunda.document.type": "inline", "name": "in box/scan ü+100%.pdf",
                                       "content": base64.b64encode(PDF).decode(), "contentType": "application/pdf"},
                           bucket=odd_bucket)
odd_input["advanced"] = {"documentS3Prefix": "uploads 2026+/ü"}
job_scenario("polling-staging-odd-key",
             "A staged key with spaces, '+', '%', unicode and nested '/', in a dotted bucket (path style): "
             "the URL is encoded once and botocore's S3 signature over it matches",
             odd_input,
             [("s3", s3_ok("put-0003"),
               lambda when, tok: s3_call("PUT", odd_bucket, odd_key, when, data=PDF, content_type="application/pdf")),
              ("start", STARTED), ("poll", (200, single[0])),
              ("s3", s3_ok("del-0003", status=204), lambda when, tok: s3_call("DELETE", odd_bucket, odd_key, when))],
             start_location={"S3Object": {"Bucket": odd_bucket, "Name": odd_key}}, expected_pages=single)

job_scenario("polling-staging-no-such-bucket", "Staging into a bucket that does not exist: a plain NoSuchBucket error",
             uploaded_input("POLLING", camunda_doc("doc-7f3a", PDF, "scan report.pdf"), bucket="missing-bucket"),
             [("s3", s3_error(404, "NoSuchBucket", "The specified bucket does not exist", "put-0004"),
               lambda when, tok: s3_call("PUT", "missing-bucket", key, when, data=PDF, content_type="application/pdf"))],
             error={"kind": "invalid-input", "code": "NoSuchBucket", "retryable": False,
                    "message": "Amazon S3 returned NoSuchBucket (HTTP 404): The bucket 'missing-bucket' does not exist "
                               "(or is in another account). (request id put-0004)"},
             documents={"doc-7f3a": PDF})

png = PNG_1PX
png_key = staged_key(token, "scan.png")
async_png = uploaded_input("ASYNC", {"camunda.document.type": "inline", "name": "scan.png",
                                     "content": base64.b64encode(png).decode(), "contentType": "image/png"})


def async_job(name, description, inp, pre_steps, location, *, documents=None, staged=None, error=None, options=None):
    tl = Timeline()
    tok = tl.token()
    interactions = []
    for i, (answer, builder) in enumerate(pre_steps):
        recorded = s3_recorded(answer)
        interactions.append({"request": builder(tl.when(), tok), "response": recorded})
    if error is None:
        req = textract_call("StartDocumentAnalysis", start_body(tok, location=location), "us-east-1", when=tl.when())
        recorded, headers = response(200, {"JobId": JOB_ID}, "req-%s-start" % name)
        interactions.append({"request": req, "response": recorded})
        expected = camunda_shape.async_result(200, headers, JOB_ID)
        if staged:
            expected["stagedDocument"] = staged
    else:
        expected = None
    scenario(name, description, inp, interactions=interactions, expected=expected, error=error,
             options=options, documents=documents)


async_job("async-inline-document-staged", "ASYNC on an inline image: staged and left in place for Textract; "
          "the result names the staged object", async_png,
          [(s3_ok("put-0005"), lambda when, tok: s3_call("PUT", STAGING_BUCKET, png_key, when, data=png,
                                                         content_type="image/png"))],
          {"S3Object": {"Bucket": STAGING_BUCKET, "Name": png_key}},
          staged={"bucket": STAGING_BUCKET, "key": png_key, "versionId": None})

async_job("async-document-access-denied", "Staging without s3:PutObject: a plain AccessDenied error", async_png,
          [(s3_error(403, "AccessDenied", "Access Denied", "put-0006"),
            lambda when, tok: s3_call("PUT", STAGING_BUCKET, png_key, when, data=png, content_type="image/png"))],
          None,
          error={"kind": "unauthorized", "code": "AccessDenied", "retryable": False,
                 "message": "Amazon S3 returned AccessDenied (HTTP 403): Access to s3://%s/%s was denied: the "
                            "credentials need s3:PutObject, s3:GetObject and s3:DeleteObject on it. Check the access "
                            "key, the secret key and the IAM policy. (request id put-0006)" % (STAGING_BUCKET, png_key)})

EXTERNAL_URL = "https://docs.example.com/scans/invoice%202026.pdf?X-Amz-Signature=abc"


def external_get(data, status=200):
    req = {"method": "GET", "url": EXTERNAL_URL}
    resp = {"status": status, "headers": {"Content-Type": "application/pdf"}, "body": body_of(data)}
    return {"request": req, "response": resp}


ext_key = staged_key(token, "invoice%202026.pdf")
ext_doc = {"camunda.document.type": "external", "url": EXTERNAL_URL}
ext_input = uploaded_input("ASYNC", ext_doc)
tl2 = Timeline()
tok2 = tl2.token()
ext_start = textract_call("StartDocumentAnalysis",
                          start_body(tok2, location={"S3Object": {"Bucket": STAGING_BUCKET, "Name": ext_key}}), "us-east-1")
ext_rec, ext_headers = response(200, {"JobId": JOB_ID}, "req-async-external-start")
ext_expected = camunda_shape.async_result(200, ext_headers, JOB_ID)
ext_expected["stagedDocument"] = {"bucket": STAGING_BUCKET, "key": ext_key, "versionId": None}
scenario("async-external-document", "ASYNC on an external document: fetched over wasi-http (its host allowed by the "
         "operator), staged, analysed", ext_input,
         interactions=[external_get(PDF),
                       {"request": s3_call("PUT", STAGING_BUCKET, ext_key, WHEN, data=PDF, content_type="application/pdf"),
                        "response": s3_recorded(s3_ok("put-0007"))},
                       {"request": ext_start, "response": ext_rec}],
         expected=ext_expected, options={"allowHosts": ["docs.example.com"]})

sync_ext = base_input(analyzeTables=True, documentLocationType="UPLOADED")
del sync_ext["input"]["documentS3Bucket"], sync_ext["input"]["documentName"]
sync_ext["input"]["document"] = [{"camunda.document.type": "external", "url": EXTERNAL_URL.replace("invoice%202026.pdf", "scan.png"), "name": "scan.png"}]
png_b64 = base64.b64encode(png).decode()
sync_body = fixture("employment-application.json")
rec, hdrs = response(200, None, "req-sync-external-0001", body_ref="../fixtures/textract/employment-application.json")
scenario("sync-external-document", "SYNC on an external document (a one-element list): fetched, then sent as Bytes",
         sync_ext,
         interactions=[{"request": {"method": "GET", "url": EXTERNAL_URL.replace("invoice%202026.pdf", "scan.png")},
                        "response": {"status": 200, "headers": {"Content-Type": "image/png"}, "body": body_of(png)}},
                       {"request": textract_call("AnalyzeDocument", analyze_body({"Bytes": png_b64}, ["TABLES"]), "us-east-1"),
                        "response": rec}],
         expected=camunda_shape.sync_result(200, hdrs, sync_body), options={"allowHosts": ["docs.example.com"]})
scenario("sync-external-document-denied", "An external document whose host the operator did not allow: refused "
         "before any call (ExternalDocumentNotAllowed), and nothing is called", sync_ext,
         error={"kind": "invalid-input", "code": "ExternalDocumentNotAllowed", "retryable": False,
                "message": "The external document's host 'docs.example.com' is not one the operator allows "
                           "(--allow-host); documents are downloaded only from those hosts"})

sync_cam = base_input(analyzeForms=True, documentLocationType="UPLOADED")
del sync_cam["input"]["documentS3Bucket"], sync_cam["input"]["documentName"]
sync_cam["input"]["document"] = camunda_doc("doc-png-1", png, "scan.png")
rec, hdrs = response(200, None, "req-sync-camunda-0001", body_ref="../fixtures/textract/employment-application.json")
scenario("sync-camunda-document", "SYNC on a document from the runtime's document store (hash checked)", sync_cam,
         interactions=[{"request": textract_call("AnalyzeDocument", analyze_body({"Bytes": png_b64}, ["FORMS"]), "us-east-1"),
                        "response": rec}],
         expected=camunda_shape.sync_result(200, hdrs, sync_body), documents={"doc-png-1": png})
bad_hash = json.loads(json.dumps(sync_cam))
bad_hash["input"]["document"]["contentHash"] = "0" * 64
import hashlib  # noqa: E402
scenario("sync-camunda-document-hash-mismatch", "A document whose bytes do not match its contentHash is refused",
         bad_hash, documents={"doc-png-1": png},
         error={"kind": "invalid-input", "code": "DocumentHashMismatch", "retryable": False,
                "message": "The bytes of document 'doc-png-1' do not match its contentHash (expected %s, got %s)"
                           % ("0" * 64, hashlib.sha256(png).hexdigest())})
missing_doc = json.loads(json.dumps(sync_cam))
missing_doc["input"]["document"]["documentId"] = "doc-expired"
scenario("sync-camunda-document-missing", "A document the store does not have", missing_doc, documents={"doc-png-1": png},
         error={"kind": "invalid-input", "code": "DocumentNotFound", "retryable": False,
                "message": "The document store has no document 'doc-expired' (it may have expired)"})

# documentReturnFormat DOCUMENT (templates v7+): the result goes to the document store and the task
# returns its reference. textract-host's folder store (`--documents`) names a document by the SHA-256
# of its bytes, so the reference pins the stored JSON: the SYNC result above, byte for byte (the
# oracle's render is the component's exact text), stored at the replay clock's time.
as_document = json.loads(json.dumps(sync_cam))
as_document["documentReturnFormat"] = {"choice": "DOCUMENT"}
stored_result = camunda_shape.render(camunda_shape.sync_result(200, hdrs, sync_body)).encode()
stored_hash = hashlib.sha256(stored_result).hexdigest()
scenario("sync-result-as-document", "documentReturnFormat DOCUMENT: the JSON result is stored in the document "
         "store (here the folder store, which names it by its SHA-256) and the task returns its reference",
         as_document,
         interactions=[{"request": textract_call("AnalyzeDocument", analyze_body({"Bytes": png_b64}, ["FORMS"]), "us-east-1"),
                        "response": rec}],
         expected={"camunda.document.type": "camunda", "storeId": "local", "documentId": stored_hash,
                   "contentHash": stored_hash,
                   "metadata": {"contentType": "application/json", "size": len(stored_result),
                                "fileName": "textract-result-20260115T093000Z.json"}},
         documents={"doc-png-1": png})
no_store = base_input(analyzeTables=True)
no_store["documentReturnFormat"] = {"choice": "DOCUMENT"}
rec_no_store, _ = response(200, None, "req-sync-no-store-0001", body_ref="../fixtures/textract/employment-application.json")
scenario("sync-result-as-document-no-store", "documentReturnFormat DOCUMENT in a runtime without a document store: "
         "the analysis runs, then a plain input error says to choose JSON (never an internal error)", no_store,
         interactions=[{"request": textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["TABLES"]), "us-east-1"),
                        "response": rec_no_store}],
         error={"kind": "invalid-input", "code": "DocumentCreateUnsupported", "retryable": False,
                "message": "documentReturnFormat DOCUMENT stores the result in the runtime's document store, but "
                           "the runtime cannot: this runtime has no document store (see --documents). Choose the "
                           "JSON return format, or run the task where a document store is available"})

polling_cam = uploaded_input("POLLING", camunda_doc("doc-7f3a", PDF, "scan report.pdf"))
polling_cam["input"].pop("documentS3Bucket")
validation("polling-document-needs-bucket", "POLLING on a document needs documentS3Bucket to stage it", polling_cam,
           [("input.documentS3Bucket", "must not be blank: POLLING and ASYNC upload the document to this bucket first")])

# Results too large for a process variable.
offload_input = polling_input()
offload_input["advanced"] = {"resultS3Bucket": "textract-results", "maxResultBytes": 100000}
offload_pages = split_pages("gib_multi_page_table_merge.json")
full = camunda_shape.polling_result(200, response(200, None, "req-polling-result-offloaded-0004")[1], offload_pages)
full_text = camunda_shape.render(full).encode()
result_key = "textract-connector/results/%s.json" % JOB_ID
summary = dict(full)
summary["blocks"] = None
summary["blockCount"] = sum(len(p["Blocks"]) for p in offload_pages)
summary["resultS3Object"] = {"bucket": "textract-results", "key": result_key, "bytes": len(full_text),
                             "sha256": hashlib.sha256(full_text).hexdigest()}
job_scenario("polling-result-offloaded", "A POLLING result over advanced.maxResultBytes goes to resultS3Bucket; the "
             "task returns its non-block fields, the block count and where the JSON is (bytes, sha256)",
             offload_input,
             [("start", STARTED), ("poll", (200, offload_pages[0])),
              ("page", (200, offload_pages[1]), offload_pages[0]["NextToken"]),
              ("page", (200, offload_pages[2]), offload_pages[1]["NextToken"]),
              ("s3", s3_ok("put-result-0001"),
               lambda when, tok: s3_call("PUT", "textract-results", result_key, when, data=full_text,
                                         content_type="application/json", json_body=json.loads(full_text)))])
SCENARIOS["polling-result-offloaded"]["expected"] = summary

below = base_input(analyzeTables=True)
below["advanced"] = {"resultS3Bucket": "textract-results", "maxResultBytes": 10 * 1024 * 1024}
rec, hdrs = response(200, None, "req-sync-below-0001", body_ref="../fixtures/textract/employment-application.json")
scenario("sync-result-below-threshold", "A SYNC result under advanced.maxResultBytes is returned whole, nothing stored",
         below, interactions=[{"request": textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["TABLES"]), "us-east-1"),
                               "response": rec}],
         expected=camunda_shape.sync_result(200, hdrs, sync_body))
above = base_input(analyzeTables=True)
above["advanced"] = {"resultS3Bucket": "textract-results", "resultS3Prefix": "camunda/results",
                     "maxResultBytes": 50000}
rec, hdrs = response(200, None, "req-sync-above-0001", body_ref="../fixtures/textract/employment-application.json")
sync_full = camunda_shape.sync_result(200, hdrs, sync_body)
sync_text = camunda_shape.render(sync_full).encode()
sync_key = "camunda/results/req-sync-above-0001.json"
sync_summary = dict(sync_full)
sync_summary["blocks"] = None
sync_summary["blockCount"] = len(sync_body["Blocks"])
sync_summary["resultS3Object"] = {"bucket": "textract-results", "key": sync_key, "bytes": len(sync_text),
                                  "sha256": hashlib.sha256(sync_text).hexdigest()}
scenario("sync-result-offloaded", "A SYNC result over advanced.maxResultBytes goes to S3 under resultS3Prefix", above,
         interactions=[{"request": textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["TABLES"]), "us-east-1"),
                        "response": rec},
                       {"request": s3_call("PUT", "textract-results", sync_key, WHEN, data=sync_text,
                                           content_type="application/json", json_body=json.loads(sync_text)),
                        "response": s3_recorded(s3_ok("put-result-0002"))}],
         expected=sync_summary)


# ---- the default credentials chain (self-managed mode) ------------------------------------------------

def chain_input(region="us-east-1", **extra):
    inp = base_input(region=region, analyzeTables=True, **extra)
    inp["authentication"] = {"type": "defaultCredentialsChain"}
    if region is None:
        del inp["configuration"]["region"]
    return inp


def chain_sync(name, description, inp, pre, creds, *, region="us-east-1", files=None, env=None, aws_dir=True):
    """pre: interactions before the AnalyzeDocument call; creds: (key, secret, token) it must be signed with."""
    key, secret, token = creds
    rec, hdrs = response(200, None, "req-%s-0001" % name, body_ref="../fixtures/textract/employment-application.json")
    call = textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["TABLES"]), region, access_key=key,
                         secret_key=secret, token=token)
    options = {"selfManaged": True, "env": env or {}}
    if aws_dir:
        options["awsConfigDir"] = "aws"
    scenario(name, description, inp, interactions=pre + [{"request": call, "response": rec}],
             expected=camunda_shape.sync_result(200, hdrs, fixture("employment-application.json")),
             options=options, documents=None, files=files)


def sts_form(pairs):
    return "&".join("%s=%s" % (quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)


def sts_credentials_xml(action, key, secret, token):
    return ('<%sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><%sResult><Credentials>'
            '<AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken>'
            '<Expiration>2026-01-15T10:30:00Z</Expiration></Credentials></%sResult>'
            '<ResponseMetadata><RequestId>sts-req-1</RequestId></ResponseMetadata></%sResponse>'
            % (action, action, key, secret, token, action, action))


def sts_call(form, region="us-east-1", signer=None):
    url = "https://sts.%s.amazonaws.com/" % region
    body = form.encode()
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8", "content-length": str(len(body))}
    req = {"method": "POST", "url": url, "headers": {"content-type": headers["content-type"]}, "body": {"text": form}}
    if signer:
        signed, _, _ = sign("POST", url, headers, body, region, "sts", WHEN, None, access_key=signer[0], secret_key=signer[1])
        req["expectSigned"] = signed
    return req


def xml_response(text, status=200):
    return {"status": status, "headers": {"Content-Type": "text/xml", "x-amzn-RequestId": "sts-req-1"}, "body": {"text": text}}


ENV_CREDS = ("AKIAENVIRONMENTEXAMPLE", "env/secret/EXAMPLEKEY", "env-session-token")
PROFILE_FILE = b"[default]\naws_access_key_id = AKIAPROFILEEXAMPLE\naws_secret_access_key = profile/secret/EXAMPLEKEY\n\n[dev]\naws_access_key_id = AKIADEVPROFILEEXAMPLE\naws_secret_access_key = dev/secret/EXAMPLEKEY\n\n[base]\naws_access_key_id = AKIABASEPROFILEEXAMPLE\naws_secret_access_key = base/secret/EXAMPLEKEY\n"
CONFIG_FILE = b"[default]\nregion = eu-west-1\n\n[profile dev]\nregion = eu-central-1\n\n[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/textract-ops\nsource_profile = base\n"
AWS_FILES = {"aws/credentials": PROFILE_FILE, "aws/config": CONFIG_FILE}

chain_sync("chain-environment-first", "Self-managed, default chain: the environment's keys win over the profile files",
           chain_input(), [], ENV_CREDS, files=AWS_FILES,
           env={"AWS_ACCESS_KEY_ID": ENV_CREDS[0], "AWS_SECRET_ACCESS_KEY": ENV_CREDS[1], "AWS_SESSION_TOKEN": ENV_CREDS[2]})
chain_sync("chain-profile-and-its-region", "The [default] profile of the granted credentials file; the region comes "
           "from the config file when the input names none", chain_input(region=None), [],
           ("AKIAPROFILEEXAMPLE", "profile/secret/EXAMPLEKEY", None), region="eu-west-1", files=AWS_FILES)
chain_sync("chain-named-profile-env-region", "AWS_PROFILE picks the profile; AWS_REGION beats the profile's region",
           chain_input(region=None), [], ("AKIADEVPROFILEEXAMPLE", "dev/secret/EXAMPLEKEY", None),
           region="ap-southeast-2", files=AWS_FILES, env={"AWS_PROFILE": "dev", "AWS_REGION": "ap-southeast-2"})

ROLE_CREDS = ("ASIAROLEEXAMPLE", "role/secret/EXAMPLEKEY", "role-session-token")
assume_form = sts_form([("Action", "AssumeRole"), ("Version", "2011-06-15"),
                        ("RoleArn", "arn:aws:iam::123456789012:role/textract-ops"), ("RoleSessionName", "textract-connector")])
chain_sync("chain-profile-assume-role", "A profile with role_arn + source_profile: STS AssumeRole signed with the "
           "source profile's keys, then Textract with the role's session", chain_input(),
           [{"request": sts_call(assume_form, signer=("AKIABASEPROFILEEXAMPLE", "base/secret/EXAMPLEKEY")),
             "response": xml_response(sts_credentials_xml("AssumeRole", *ROLE_CREDS))}],
           ROLE_CREDS, files=AWS_FILES, env={"AWS_PROFILE": "ops"})

WEB_CREDS = ("ASIAWEBIDENTITYEXAMPLE", "web/secret/EXAMPLEKEY", "web-session-token")
web_form = sts_form([("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"),
                     ("RoleArn", "arn:aws:iam::123456789012:role/textract-web"), ("RoleSessionName", "textract-connector"),
                     ("WebIdentityToken", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXh0cmFjdCJ9.c2lnbmF0dXJl")])
chain_sync("chain-web-identity", "AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN: an unsigned STS "
           "AssumeRoleWithWebIdentity with the token file's contents, before any profile", chain_input(),
           [{"request": sts_call(web_form), "response": xml_response(sts_credentials_xml("AssumeRoleWithWebIdentity", *WEB_CREDS))}],
           WEB_CREDS, files=dict(AWS_FILES, **{"tokens/web-identity": b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXh0cmFjdCJ9.c2lnbmF0dXJl\n"}),
           env={"AWS_WEB_IDENTITY_TOKEN_FILE": "tokens/web-identity", "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/textract-web"})

CONTAINER_CREDS = ("ASIACONTAINEREXAMPLE", "container/secret/EXAMPLEKEY", "container-session-token")
metadata_json = lambda c: {"AccessKeyId": c[0], "SecretAccessKey": c[1], "Token": c[2], "Expiration": "2026-01-15T10:30:00Z"}
chain_sync("chain-container", "ECS container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI with the token "
           "from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", chain_input(),
           [{"request": {"method": "GET", "url": "http://169.254.170.2/v2/credentials/task-7f3a",
                         "expectSigned": {"authorization": "ecs-container-token"}},
             "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": {"json": metadata_json(CONTAINER_CREDS)}}}],
           CONTAINER_CREDS, files={"tokens/ecs": b"ecs-container-token\n"},
           env={"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/task-7f3a",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "tokens/ecs"}, aws_dir=False)

IMDS_CREDS = ("ASIAIMDSEXAMPLE", "imds/secret/EXAMPLEKEY", "imds-session-token")
imds = "http://169.254.169.254"
chain_sync("chain-instance-metadata", "EC2 IMDSv2: a PUT for the token, then the role, then its credentials",
           chain_input(),
           [{"request": {"method": "PUT", "url": imds + "/latest/api/token",
                         "headers": {"x-aws-ec2-metadata-token-ttl-seconds": "21600"}},
             "response": {"status": 200, "headers": {}, "body": {"text": "imds-session-AQAEAExample=="}}},
            {"request": {"method": "GET", "url": imds + "/latest/meta-data/iam/security-credentials/",
                         "headers": {"x-aws-ec2-metadata-token": "imds-session-AQAEAExample=="}},
             "response": {"status": 200, "headers": {}, "body": {"text": "textract-instance-role"}}},
            {"request": {"method": "GET", "url": imds + "/latest/meta-data/iam/security-credentials/textract-instance-role",
                         "headers": {"x-aws-ec2-metadata-token": "imds-session-AQAEAExample=="}},
             "response": {"status": 200, "headers": {}, "body": {"json": dict(metadata_json(IMDS_CREDS), Code="Success")}}}],
           IMDS_CREDS, aws_dir=False)

scenario("chain-nothing-found", "Every source fails: the error lists each one and why, in order, and no secret",
         chain_input(),
         interactions=[
             {"request": sts_call(sts_form([("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"),
                                            ("RoleArn", "arn:aws:iam::123456789012:role/textract-web"),
                                            ("RoleSessionName", "textract-connector"), ("WebIdentityToken", "expired-token")])),
              "response": xml_response('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                                       '<Code>ExpiredTokenException</Code><Message>Token expired: current date/time 1768469400 must be '
                                       'before the expiration date/time 1768465800</Message></Error><RequestId>sts-req-2</RequestId>'
                                       '</ErrorResponse>', status=400)},
             {"request": {"method": "PUT", "url": imds + "/latest/api/token",
                          "headers": {"x-aws-ec2-metadata-token-ttl-seconds": "21600"}},
              "response": {"status": 404, "headers": {}}}],
         error={"kind": "unauthorized", "code": "NoCredentials", "retryable": False,
                "message": "The default credentials chain found no AWS credentials. Tried: "
                           "1. environment variables: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not; "
                           "2. web identity: STS AssumeRoleWithWebIdentity for arn:aws:iam::123456789012:role/textract-web "
                           "failed: AWS STS returned ExpiredTokenException (HTTP 400): Token expired: current date/time "
                           "1768469400 must be before the expiration date/time 1768465800. Check the access key, the "
                           "secret key and the IAM policy. (request id sts-req-2); "
                           "3. shared config files: profile 'default' has no aws_access_key_id and aws_secret_access_key; "
                           "4. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                           "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set; "
                           "5. EC2 instance metadata (IMDSv2): http://169.254.169.254/latest/api/token answered HTTP 404"},
         options={"selfManaged": True, "awsConfigDir": "aws",
                  "env": {"AWS_SECRET_ACCESS_KEY": "TOPSECRET/never/printed", "AWS_WEB_IDENTITY_TOKEN_FILE": "tokens/web",
                          "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/textract-web"}},
         files={"aws/config": b"[default]\nregion = us-east-1\n", "tokens/web": b"expired-token"})


# ---- the summary (issue 13) ----------------------------------------------------------------------------
# Expected summaries come from summary_shape.py, an independent model of the README's rules.

def with_summary(name, blocks):
    expected = SCENARIOS[name]["expected"]
    expected["summary"] = summary_shape.summary(blocks)


paystub = fixture("paystub-response.json")
summary_in = base_input(analyzeTables=True, analyzeForms=True, analyzeQueries=True, analyzeSignatures=True,
                        analyzeLayout=True, query=q)
summary_in["advanced"] = {"summary": True}
sync_ok("sync-summary-paystub", "advanced.summary on the pay stub (all five features): Camunda's fields unchanged, "
        "then the summary: lines and layout, key-values, tables, queries by alias, the signature",
        summary_in, textract_call("AnalyzeDocument", analyze_body(s3_doc(), ALL5, q), "us-east-1"),
        "paystub-response.json", "req-sync-summary-0001")
with_summary("sync-summary-paystub", paystub["Blocks"])

form1005 = fixture("form1005-response.json")
no_blocks = base_input(analyzeTables=True, analyzeForms=True, analyzeQueries=True, analyzeSignatures=True,
                       analyzeLayout=True, query="What is the form type?")
no_blocks["advanced"] = {"summary": True, "blocks": False}
sync_ok("sync-summary-without-blocks", "advanced.blocks false: blocks null, the summary of the 1,045-block form "
        "alone (a result that fits a process variable)", no_blocks,
        textract_call("AnalyzeDocument", analyze_body(s3_doc(), ALL5, "What is the form type?"), "us-east-1"),
        "form1005-response.json", "req-sync-noblocks-0001")
SCENARIOS["sync-summary-without-blocks"]["expected"]["blocks"] = None
with_summary("sync-summary-without-blocks", form1005["Blocks"])

table_pages = split_pages("gib_multi_page_table_merge.json")
table_in = polling_input()
table_in["advanced"] = {"summary": True}
job_scenario("polling-summary-multi-page-table", "POLLING with the summary over three result pages of a table "
             "that Textract split across pages: each page's part is its own table, as Textract sent it",
             table_in, [("start", STARTED), ("poll", (200, table_pages[0])),
                        ("page", (200, table_pages[1]), table_pages[0]["NextToken"]),
                        ("page", (200, table_pages[2]), table_pages[1]["NextToken"])],
             expected_pages=table_pages)
with_summary("polling-summary-multi-page-table", [b for p in table_pages for b in p["Blocks"]])

query_pages = split_pages("queries_sample.json")
QUERIES = []
for b in fixture("queries_sample.json")["Blocks"]:
    if b["BlockType"] == "QUERY":
        entry = {"text": b["Query"]["Text"], "alias": b["Query"]["Alias"]}
        if len(QUERIES) % 3 == 1:
            entry["pages"] = ["1"]
        elif len(QUERIES) % 3 == 2:
            entry["pages"] = ["*"]
        QUERIES.append(entry)
queries_in = base_input(executionType="POLLING", analyzeQueries=True, queries=QUERIES)
queries_in["advanced"] = {"summary": True}
job_scenario("polling-summary-queries", "Nine queries with aliases and pages (input.queries) go to "
             "StartDocumentAnalysis as Textract's Query shape; the summary answers them by alias, one without an "
             "answer", queries_in, [("start", STARTED), ("poll", (200, query_pages[0]))],
             expected_pages=query_pages, start_features=("QUERIES",),
             start_queries=[{k.capitalize(): v for k, v in entry.items()} for entry in QUERIES])
with_summary("polling-summary-queries", query_pages[0]["Blocks"])

validation("validation-queries", "input.queries: a blank text, a character Textract refuses, an alias used twice, "
           "a page that is no page",
           base_input(analyzeQueries=True, queries=[
               {"text": " "}, {"text": "Wie hoch ist der Bruttolohn für März?", "alias": "brutto"},
               {"text": "What is the net pay?", "alias": "net", "pages": ["1"]},
               {"text": "What is the gross pay?", "alias": "net"},
               {"text": "What is the tax?", "pages": ["0"]}]),
           [("input.queries[0].text", BLANK),
            ("input.queries[1].text", "must hold only ASCII letters, digits, spaces and punctuation (Textract's "
                                      "rule for queries); found 'ü'"),
            ("input.queries[3].alias", "must be unique: 'net' already names the query of input.queries[2].alias "
                                       "(the summary lists queries by alias, or by text when there is none)"),
            ("input.queries[4].pages", "'0' is not a page: use \"N\", \"N-M\" or \"N-*\" with pages from 1 to "
                                       "3000, or \"*\" for every page")])


def write_all():
    for name in sorted(os.listdir(TESTS)):
        path = os.path.join(TESTS, name)
        if os.path.isfile(os.path.join(path, GENERATED_MARK)):
            shutil.rmtree(path)
    for name, s in SCENARIOS.items():
        path = os.path.join(TESTS, name)
        os.makedirs(path)
        open(os.path.join(path, GENERATED_MARK), "w").write("written by tests/tools/gen_scenarios.py\n")
        inp = s["input"] if isinstance(s["input"], str) else json.dumps(s["input"], indent=2, ensure_ascii=False)
        open(os.path.join(path, "input.json"), "w").write(inp + "\n")
        options = dict(s["options"])
        options = {"description": s["description"], **options}
        open(os.path.join(path, "scenario.json"), "w").write(json.dumps(options, indent=2) + "\n")
        for rel, data in s["files"].items():
            os.makedirs(os.path.dirname(os.path.join(path, rel)), exist_ok=True)
            open(os.path.join(path, rel), "wb").write(data)
        if s["interactions"]:
            cassette = {"recordedAt": WHEN, "interactions": s["interactions"]}
            open(os.path.join(path, "cassette.json"), "w").write(json.dumps(cassette, indent=2, ensure_ascii=False) + "\n")
        if s["expected"] is not None:
            # Indented, order-preserving, with Java float tokens verbatim.
            text = camunda_shape.render(s["expected"])
            open(os.path.join(path, "expected.json"), "w").write(raw_floats(text) + "\n")
        else:
            open(os.path.join(path, "expected-error.json"), "w").write(json.dumps(s["error"], indent=2) + "\n")
    print("wrote %d scenarios" % len(SCENARIOS))


def raw_floats(compact_text):
    """Indents compact JSON without touching number tokens."""
    out, depth, in_str, esc = [], 0, False, False
    for ch in compact_text:
        if in_str:
            out.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
            out.append(ch)
        elif ch in "{[":
            depth += 1
            out.append(ch + "\n" + " " * depth)
        elif ch in "}]":
            depth -= 1
            out.append("\n" + " " * depth + ch)
        elif ch == ",":
            out.append(",\n" + " " * depth)
        elif ch == ":":
            out.append(": ")
        else:
            out.append(ch)
    return "".join(out)


if __name__ == "__main__":
    write_all()
