#!/usr/bin/env python3
"""Signs every request of corpus.json with botocore, an independent SigV4
implementation, at a fixed time, and writes expected.json: for each request the
URL, the exact body, the canonical request, the string to sign and the
authorization header. tests/oracle.rs signs the same corpus with the
connector's signing module and must match byte for byte.

.ci/run regenerates expected.json with a fresh botocore and fails on any diff,
so the committed file can never drift from botocore.

Usage: python3 tests/oracle/sign.py [--check]
"""

import json
import os
import sys
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from botocore_signer import sign  # noqa: E402

WHEN = "2026-01-15T09:30:00Z"


def suffix(region):
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def textract_url(entry):
    if entry.get("endpoint"):
        return entry["endpoint"].rstrip("/") + "/"
    return "https://textract.%s.%s/" % (entry["region"], suffix(entry["region"]))


def s3_url(entry):
    bucket, region = entry["bucket"], entry["region"]
    path = quote(entry["key"], safe="/-_.~")
    query = "?" + entry["query"] if entry.get("query") else ""
    if entry.get("endpoint"):
        return "%s/%s/%s%s" % (entry["endpoint"].rstrip("/"), bucket, path, query)
    dns_safe = (3 <= len(bucket) <= 63 and all(c.islower() or c.isdigit() or c == "-" for c in bucket)
                and not bucket.startswith("-") and not bucket.endswith("-"))
    if dns_safe:
        return "https://%s.s3.%s.%s/%s%s" % (bucket, region, suffix(region), path, query)
    return "https://s3.%s.%s/%s/%s%s" % (region, suffix(region), bucket, path, query)


def expected_for(entry):
    if entry["service"] == "textract":
        body_text = json.dumps(entry["body"], separators=(",", ":"), ensure_ascii=False)
        body = body_text.encode()
        url, method = textract_url(entry), "POST"
        headers = {"content-type": "application/x-amz-json-1.1",
                   "x-amz-target": "Textract." + entry["operation"], "content-length": str(len(body))}
        s3 = False
    else:
        body_text = entry.get("bodyText") or ""
        body = body_text.encode()
        url, method = s3_url(entry), entry["method"]
        headers = {}
        if entry.get("contentType"):
            headers["content-type"] = entry["contentType"]
        if method == "PUT":
            headers["content-length"] = str(len(body))
        s3 = True
    signed, canonical, string_to_sign = sign(method, url, headers, body, entry["region"], entry["service"], WHEN,
                                             entry.get("sessionToken"), s3=s3)
    return {"name": entry["name"], "method": method, "url": url, "headers": headers, "bodyText": body_text,
            "canonicalRequest": canonical, "stringToSign": string_to_sign, "signed": signed}


def main():
    with open(os.path.join(HERE, "corpus.json")) as f:
        corpus = json.load(f)
    expected = [expected_for(e) for e in corpus]
    text = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    path = os.path.join(HERE, "expected.json")
    if "--check" in sys.argv:
        with open(path) as f:
            if f.read() != text:
                sys.exit("tests/oracle/expected.json differs from what botocore computes now: regenerate and review it")
        print("oracle: %d requests match botocore" % len(expected))
        return
    with open(path, "w") as f:
        f.write(text)
    print("oracle: wrote %d requests" % len(expected))


if __name__ == "__main__":
    main()
