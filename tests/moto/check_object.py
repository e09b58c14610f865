#!/usr/bin/env python3
"""Prints the size of an S3 object on the moto server (-1 when it is absent).

Usage: check_object.py CONFIG.json BUCKET KEY
"""

import json
import sys

import boto3
import botocore.exceptions


def main():
    config = json.load(open(sys.argv[1]))
    creds = config["full"]
    s3 = boto3.client("s3", endpoint_url=config["endpoint"], region_name=config["region"],
                      aws_access_key_id=creds["accessKey"], aws_secret_access_key=creds["secretKey"])
    try:
        print(s3.head_object(Bucket=sys.argv[2], Key=sys.argv[3])["ContentLength"])
    except botocore.exceptions.ClientError:
        print(-1)


if __name__ == "__main__":
    main()
