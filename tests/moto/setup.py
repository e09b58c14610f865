#!/usr/bin/env python3
"""Prepares a moto server for the end-to-end tier, then turns on its SigV4
enforcement. Writes the identities and names the tests use to a JSON file.

Usage: setup.py ENDPOINT OUTPUT.json
"""

import json
import sys
import urllib.request

import boto3

REGION = "us-east-1"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ODD_KEY = "in box/2026+/scan ü 100%.pdf"
# Object keys to check moto's own SigV4 verifier with: botocore's verdict on each
# is recorded, and the connector must get the same one.
KEY_PROBES = ["nested/a/b/plain.pdf", "with space.pdf", "plus+sign.pdf", "unicode-ü.pdf", "percent%.pdf",
              "paren(1).pdf", "tilde~dash-under_score.pdf", "equals=amp&.pdf"]


def client(service, endpoint, **creds):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=creds.get("key", "admin"), aws_secret_access_key=creds.get("secret", "admin"),
                        aws_session_token=creds.get("token"))


def user_with_policy(iam, name, actions):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=name + "-policy", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"accessKey": key["AccessKeyId"], "secretKey": key["SecretAccessKey"]}


def main():
    endpoint, output = sys.argv[1], sys.argv[2]
    iam = client("iam", endpoint)
    full = user_with_policy(iam, "textract-connector", ["textract:*", "s3:*", "sts:AssumeRole"])
    s3_only = user_with_policy(iam, "s3-only", ["s3:*"])

    role = iam.create_role(RoleName="textract-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }))["Role"]
    iam.put_role_policy(RoleName="textract-role", PolicyName="textract-role-policy", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["textract:*", "s3:*"], "Resource": "*"}],
    }))
    sts = client("sts", endpoint, key=full["accessKey"], secret=full["secretKey"])
    assumed = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="textract-e2e")["Credentials"]
    temporary = {"accessKey": assumed["AccessKeyId"], "secretKey": assumed["SecretAccessKey"],
                 "sessionToken": assumed["SessionToken"]}

    s3 = client("s3", endpoint)
    for bucket in ("connector-docs", "connector-staging", "connector-results"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="connector-docs", Key="invoices/invoice-1.pdf", Body=PDF)
    s3.put_object(Bucket="connector-docs", Key=ODD_KEY, Body=PDF)

    # From here on, every request must carry a valid signature of a known identity.
    request = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request).read()

    s3_full = client("s3", endpoint, key=full["accessKey"], secret=full["secretKey"])
    probes = {}
    for key in KEY_PROBES:
        try:
            s3_full.put_object(Bucket="connector-results", Key="probe/" + key, Body=b"{}")
            s3_full.delete_object(Bucket="connector-results", Key="probe/" + key)
            probes[key] = "accepted"
        except Exception as e:  # noqa: BLE001 - recorded, not raised
            probes[key] = getattr(e, "response", {}).get("Error", {}).get("Code", str(e))

    with open(output, "w") as f:
        json.dump({"endpoint": endpoint, "region": REGION, "full": full, "s3Only": s3_only,
                   "temporary": temporary, "oddKey": ODD_KEY, "botocoreKeyProbes": probes}, f,
                  indent=2, ensure_ascii=False)
    print("moto: ready at %s (auth enforced)" % endpoint)


if __name__ == "__main__":
    main()
