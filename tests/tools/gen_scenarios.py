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
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
import camunda_shape  # noqa: E402
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


def textract_call(operation, body_obj, region, *, endpoint=None, token=None, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
    url = (endpoint.rstrip("/") if endpoint else "https://textract.%s.amazonaws.com" % region) + "/"
    body = compact(body_obj).encode()
    headers = {"content-type": "application/x-amz-json-1.1", "x-amz-target": "Textract." + operation,
               "content-length": str(len(body))}
    signed, _, _ = sign("POST", url, headers, body, region, "textract", WHEN, token,
                        access_key=access_key, secret_key=secret_key)
    return {"method": "POST", "url": url,
            "headers": {"content-type": headers["content-type"], "x-amz-target": headers["x-amz-target"]},
            "body": {"json": body_obj}, "expectSigned": signed}


def analyze_body(document, features, query=None):
    body = {"Document": document, "FeatureTypes": features}
    if query:
        body["QueriesConfig"] = {"Queries": [{"Text": query}]}
    return body


def s3_doc(bucket="textract-demo-docs", name="paystubs/2025-12.png", version=None):
    obj = {"Bucket": bucket, "Name": name}
    if version:
        obj["Version"] = version
    return {"S3Object": obj}


SCENARIOS = {}


def scenario(name, description, inp, *, interactions=(), expected=None, error=None, options=None):
    SCENARIOS[name] = dict(description=description, input=inp, interactions=list(interactions),
                           expected=expected, error=error, options=options or {})


def sync_ok(name, description, inp, request, fixture_name, request_id):
    body = fixture(fixture_name)
    recorded, headers = response(200, None, request_id, body_ref="../fixtures/textract/" + fixture_name)
    scenario(name, description, inp,
             interactions=[{"request": request, "response": recorded}],
             expected=camunda_shape.sync_result(200, headers, body))


def aws_error(name, description, status, code, message, request_id, *, kind, retryable, expect_message,
              header_code=None):
    inp = base_input(analyzeTables=True)
    req = textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["TABLES"]), "us-east-1")
    extra = [("x-amzn-ErrorType", header_code)] if header_code else []
    body = {"__type": code, "message": message} if code else None
    recorded, _ = response(status, body, request_id, extra_headers=extra)
    if code is None:
        recorded["body"] = {"text": message}
        recorded["headers"]["Content-Type"] = "text/html"
    scenario(name, description, inp, interactions=[{"request": req, "response": recorded}],
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
sync_ok("sync-endpoint-override", "SYNC through configuration.endpoint (a local AWS peer over plain HTTP)",
        override_input,
        textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["SIGNATURES", "LAYOUT"]), "us-east-1",
                      endpoint="http://127.0.0.1:4566"),
        "request_for_verification_of_employment.json", "req-sync-endpoint-0001")

cred_input = base_input(region="us-east-1", analyzeForms=True)
cred_input["authentication"] = {"type": "credentials", "accessKey": "AKIDIGNORED", "secretKey": "ignored"}
cred_input["awsCredential"] = {"authentication": {"type": "credentials", "accessKey": ACCESS_KEY, "secretKey": SECRET_KEY},
                               "region": "eu-central-1"}
sync_ok("sync-aws-credential-wins", "awsCredential wins over authentication and configuration.region",
        cred_input,
        textract_call("AnalyzeDocument", analyze_body(s3_doc(), ["FORMS"]), "eu-central-1"),
        "form1005-response.json", "req-sync-cred-0001")

png_b64 = base64.b64encode(PNG_1PX).decode()
png_input = base_input(analyzeTables=True, documentLocationType="UPLOADED")
del png_input["input"]["documentS3Bucket"], png_input["input"]["documentName"]
png_input["input"]["document"] = {"camunda.document.type": "inline", "content": png_b64, "name": "scan.png",
                                  "contentType": "image/png"}
sync_ok("sync-inline-png", "SYNC on an inline Camunda document: its bytes go in Document.Bytes",
        png_input,
        textract_call("AnalyzeDocument", analyze_body({"Bytes": png_b64}, ["TABLES"]), "us-east-1"),
        "multi-page-forms-samples-2-page.json", "req-sync-inline-0001")

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
aws_error("sync-throttled", "ThrottlingException is throttled and retryable", 400, "ThrottlingException",
          "Rate exceeded", "req-throttle-0001", kind="throttled", retryable=True,
          expect_message=("ThrottlingException",
                          "Amazon Textract returned ThrottlingException (HTTP 400): Rate exceeded. "
                          "(request id req-throttle-0001)"))
aws_error("sync-server-error", "HTTP 500 with an HTML body is an upstream, retryable error", 500, None,
          "<html><body>Internal Server Error</body></html>", "req-500-0001", kind="upstream", retryable=True,
          expect_message=("Http500",
                          "Amazon Textract returned HTTP 500: <html><body>Internal Server Error</body></html>. "
                          "(request id req-500-0001)"))

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
validation("validation-aws-credential-region", "awsCredential's region must not be blank", cred_blank,
           [("awsCredential.region", BLANK)])
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
