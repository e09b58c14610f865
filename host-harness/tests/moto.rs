//! The end-to-end tier: the built component, run by `textract-host --live`,
//! against a moto server that verifies every SigV4 signature. `.ci/run` starts
//! moto, prepares it with `tests/moto/setup.py` and sets `TEXTRACT_MOTO_CONFIG`.
//! Without it these tests are reported as ignored; `make test` runs them (with
//! `--ignored`) when it is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::moto::{self, config, task};
use serde_json::{json, Value};
use std::process::Command;

struct Outcome {
    code: i32,
    json: Value,
    stderr: String,
}

fn run(config: &Value, input: &Value) -> Outcome {
    common::harness(); // a clear failure on a stale component
    let path = common::temp_path("moto-input", "json");
    std::fs::write(&path, input.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_textract-host"))
        .env("TEXTRACT_COMPONENT", common::component_path())
        .args(["run", "--live", "--input", path.to_str().unwrap()])
        .args(["--allow-host", &moto::host(config)])
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Outcome {
        code: out.status.code().unwrap_or(-1),
        json,
        stderr,
    }
}

/// The size of an object on moto, through boto3 (-1 when absent).
fn object_size(bucket: &str, key: &str) -> i64 {
    let python = std::env::var("TEXTRACT_MOTO_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = common::workspace().join("tests/moto/check_object.py");
    let out = Command::new(python)
        .arg(script)
        .args([&std::env::var("TEXTRACT_MOTO_CONFIG").unwrap(), bucket, key])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

const PDF_B64: &str =
    "JVBERi0xLjQKMSAwIG9iaiA8PCAvVHlwZSAvQ2F0YWxvZyA+PiBlbmRvYmoKdHJhaWxlciA8PCAvUm9vdCAxIDAgUiA+PgolJUVPRgo=";
const PDF_LEN: i64 = 77;

#[test]
#[ignore = "needs moto: TEXTRACT_MOTO_CONFIG (set by .ci/run)"]
fn polling_runs_to_completion_and_tolerates_moto_page_counts() {
    let c = config();
    let out = run(
        &c,
        &task(
            &c,
            "full",
            json!({"executionType": "POLLING", "documentS3Bucket": "connector-docs",
        "documentName": "invoices/invoice-1.pdf", "analyzeTables": true, "analyzeForms": true}),
        ),
    );
    assert_eq!(out.code, 0, "{} {}", out.json, out.stderr);
    assert_eq!(out.json["jobStatus"], "SUCCEEDED");
    assert_eq!(out.json["nextToken"], Value::Null);
    assert!(out.json["blocks"].is_array());
    // moto sends DocumentMetadata.Pages as {"Pages": n}: read as the number.
    assert!(
        out.json["documentMetadata"]["pages"].is_i64(),
        "{}",
        out.json["documentMetadata"]
    );
    assert!(out.stderr.contains("SUCCEEDED"), "{}", out.stderr);
}

#[test]
#[ignore = "needs moto: TEXTRACT_MOTO_CONFIG (set by .ci/run)"]
fn async_with_every_optional_field() {
    let c = config();
    let out = run(
        &c,
        &task(
            &c,
            "full",
            json!({"executionType": "ASYNC", "documentS3Bucket": "connector-docs",
        "documentName": c["oddKey"], "analyzeTables": true, "analyzeQueries": true, "query": "What is the total?",
        "clientRequestToken": "e2e-async-1", "jobTag": "e2e:async.1",
        "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "notificationChannelRoleArn": "arn:aws:iam::123456789012:role/TextractSNS",
        "notificationChannelSnsTopicArn": "arn:aws:sns:us-east-1:123456789012:textract-done",
        "outputConfigS3Bucket": "connector-results", "outputConfigS3Prefix": "jobs/"}),
        ),
    );
    assert_eq!(out.code, 0, "{} {}", out.json, out.stderr);
    assert!(
        out.json["jobId"].as_str().is_some_and(|j| !j.is_empty()),
        "{}",
        out.json
    );
}

#[test]
#[ignore = "needs moto: TEXTRACT_MOTO_CONFIG (set by .ci/run)"]
fn documents_are_staged_and_analysed() {
    let c = config();
    let file_name = "scan report 2026.pdf";
    let document = json!({"camunda.document.type": "inline", "name": file_name, "content": PDF_B64});
    // ASYNC leaves the staged object for Textract: it must be in S3 under the odd key.
    let out = run(
        &c,
        &task(
            &c,
            "full",
            json!({"executionType": "ASYNC", "documentLocationType": "UPLOADED",
        "documentS3Bucket": "connector-staging", "document": document, "analyzeForms": true,
        "clientRequestToken": "e2e-staged-1"}),
        ),
    );
    assert_eq!(out.code, 0, "{} {}", out.json, out.stderr);
    let staged = &out.json["stagedDocument"];
    assert_eq!(staged["key"], format!("textract-connector/e2e-staged-1/{file_name}"));
    assert_eq!(
        object_size("connector-staging", staged["key"].as_str().unwrap()),
        PDF_LEN
    );

    // POLLING deletes its staged copy at the end.
    let mut input = task(
        &c,
        "full",
        json!({"executionType": "POLLING", "documentLocationType": "UPLOADED",
        "documentS3Bucket": "connector-staging", "document": document, "analyzeForms": true,
        "clientRequestToken": "e2e-staged-2"}),
    );
    input["advanced"] = json!({"documentS3Prefix": "in box/2026 q1"});
    let out = run(&c, &input);
    assert_eq!(out.code, 0, "{} {}", out.json, out.stderr);
    assert_eq!(out.json["jobStatus"], "SUCCEEDED");
    assert!(out.stderr.contains("deleted the staged"), "{}", out.stderr);
    assert_eq!(
        object_size("connector-staging", &format!("in box/2026 q1/e2e-staged-2/{file_name}")),
        -1
    );
}

/// moto's own SigV4 check re-encodes some key characters differently from AWS
/// and rejects botocore itself on them (`tests/moto/setup.py` probes it). On
/// every probe the connector must get exactly botocore's verdict.
#[test]
#[ignore = "needs moto: TEXTRACT_MOTO_CONFIG (set by .ci/run)"]
fn odd_keys_get_the_same_verdict_from_moto_as_botocore() {
    let c = config();
    let probes = c["botocoreKeyProbes"].as_object().unwrap();
    assert!(probes.values().any(|v| v == "accepted"));
    let mut report = Vec::new();
    for (i, (name, botocore)) in probes.iter().enumerate() {
        let document = json!({"camunda.document.type": "inline", "name": name, "content": PDF_B64});
        let out = run(
            &c,
            &task(
                &c,
                "full",
                json!({"executionType": "ASYNC", "documentLocationType": "UPLOADED",
            "documentS3Bucket": "connector-staging", "document": document, "analyzeForms": true,
            "clientRequestToken": format!("probe-{i}")}),
            ),
        );
        let ours = if out.code == 0 {
            "accepted".to_string()
        } else {
            out.json["error"]["code"].as_str().unwrap_or("?").to_string()
        };
        report.push(format!("{name:?}: botocore {botocore}, connector {ours}"));
        assert_eq!(botocore.as_str(), Some(ours.as_str()), "{name:?}: {}", out.json);
        if ours == "accepted" {
            // File names become one key segment: a '/' in them is replaced.
            let key = format!("textract-connector/probe-{i}/{}", name.replace('/', "_"));
            assert_eq!(out.json["stagedDocument"]["key"], key);
            assert_eq!(object_size("connector-staging", &key), PDF_LEN);
        }
    }
    println!("{}", report.join("\n"));
}

#[test]
#[ignore = "needs moto: TEXTRACT_MOTO_CONFIG (set by .ci/run)"]
fn large_results_are_stored_under_odd_keys() {
    let c = config();
    let mut input = task(
        &c,
        "full",
        json!({"executionType": "POLLING", "documentS3Bucket": "connector-docs",
        "documentName": c["oddKey"], "analyzeTables": true}),
    );
    input["advanced"] =
        json!({"resultS3Bucket": "connector-results", "resultS3Prefix": "results 2026/q1 runs", "maxResultBytes": 1});
    let out = run(&c, &input);
    assert_eq!(out.code, 0, "{} {}", out.json, out.stderr);
    let stored = &out.json["resultS3Object"];
    assert!(
        stored["key"].as_str().unwrap().starts_with("results 2026/q1 runs/"),
        "{stored}"
    );
    assert_eq!(
        object_size("connector-results", stored["key"].as_str().unwrap()),
        stored["bytes"].as_i64().unwrap()
    );
}

#[test]
#[ignore = "needs moto: TEXTRACT_MOTO_CONFIG (set by .ci/run)"]
fn a_session_token_from_sts_assume_role_is_accepted() {
    let c = config();
    let out = run(
        &c,
        &task(
            &c,
            "temporary",
            json!({"executionType": "POLLING", "documentS3Bucket": "connector-docs",
        "documentName": "invoices/invoice-1.pdf", "analyzeForms": true}),
        ),
    );
    assert_eq!(out.code, 0, "{} {}", out.json, out.stderr);
    assert_eq!(out.json["jobStatus"], "SUCCEEDED");
}

#[test]
#[ignore = "needs moto: TEXTRACT_MOTO_CONFIG (set by .ci/run)"]
fn a_wrong_secret_is_unauthorized_and_never_printed() {
    let c = config();
    let mut input = task(
        &c,
        "full",
        json!({"executionType": "ASYNC", "documentS3Bucket": "connector-docs",
        "documentName": "invoices/invoice-1.pdf", "analyzeTables": true}),
    );
    let wrong = "WrongSecretKeyValue0123456789abcdefGHIJ";
    input["authentication"]["secretKey"] = json!(wrong);
    let out = run(&c, &input);
    assert_eq!(out.code, 3, "{}", out.json);
    let e = &out.json["error"];
    assert_eq!(
        (e["kind"].as_str(), e["code"].as_str(), e["retryable"].as_bool()),
        (Some("unauthorized"), Some("SignatureDoesNotMatch"), Some(false)),
        "{e}"
    );
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with("Amazon Textract returned SignatureDoesNotMatch (HTTP 403)"),
        "{message}"
    );
    assert!(!message.contains('<'), "a plain message, not XML: {message}");
    let printed = format!("{}{}", out.json, out.stderr);
    assert!(
        !printed.contains(wrong) && !printed.contains(c["full"]["secretKey"].as_str().unwrap()),
        "a secret was printed"
    );
}

#[test]
#[ignore = "needs moto: TEXTRACT_MOTO_CONFIG (set by .ci/run)"]
fn a_key_without_textract_permission_is_access_denied() {
    let c = config();
    let out = run(
        &c,
        &task(
            &c,
            "s3Only",
            json!({"executionType": "ASYNC", "documentS3Bucket": "connector-docs",
        "documentName": "invoices/invoice-1.pdf", "analyzeTables": true}),
        ),
    );
    assert_eq!(out.code, 3, "{}", out.json);
    let e = &out.json["error"];
    assert_eq!(
        (e["kind"].as_str(), e["code"].as_str()),
        (Some("unauthorized"), Some("AccessDenied")),
        "{e}"
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("not authorized to perform: textract:"),
        "{e}"
    );
}
