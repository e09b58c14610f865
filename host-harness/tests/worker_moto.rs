//! `textract-host worker` end to end with moto as AWS: jobs taken from the
//! strict Camunda stand-in (testkit::camunda) by the real binary, which calls a
//! moto server that verifies every SigV4 signature (`--allow-host` admits its
//! loopback endpoint). The gating is moto.rs's: `.ci/run` starts moto, prepares
//! it with `tests/moto/setup.py` and sets `TEXTRACT_MOTO_CONFIG`; without it
//! these tests are reported as ignored, and `make test` runs them (with
//! `--ignored`) when it is set.
//!
//! moto 5 serves StartDocumentAnalysis and GetDocumentAnalysis (and S3, IAM,
//! STS) but not AnalyzeDocument, which it answers with an HTTP 500 page. So
//! the SYNC job here proves what the worker makes of an AWS that fails: a
//! retry spent with the task's backoff. SYNC completions are proven against
//! the local AWS stand-in in worker.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::moto::{self, config, task};
use common::worker::{self, assert_strict, job};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;
use textract_host::testkit::camunda::{CamundaStandIn, JobState, StandInConfig};

/// One `textract-host worker --once` against the stand-in: its exit code and log.
fn run_once(cluster: &CamundaStandIn, config: &Value, concurrency: usize) -> (i32, String) {
    let concurrency = concurrency.to_string();
    worker::run_once(
        cluster,
        &["--allow-host", &moto::host(config), "--concurrency", &concurrency],
        Duration::from_secs(120),
    )
}

/// What moto itself answers botocore for a POLLING analysis of the same object.
fn motos_own_analysis(bucket: &str, key: &str) -> Value {
    const SCRIPT: &str = r#"
import json, sys, boto3
c = json.load(open(sys.argv[1]))
t = boto3.client("textract", endpoint_url=c["endpoint"], region_name=c["region"],
                 aws_access_key_id=c["full"]["accessKey"], aws_secret_access_key=c["full"]["secretKey"])
job = t.start_document_analysis(DocumentLocation={"S3Object": {"Bucket": sys.argv[2], "Name": sys.argv[3]}},
                                FeatureTypes=["TABLES", "FORMS"])["JobId"]
r = t.get_document_analysis(JobId=job, MaxResults=1000)
pages = r["DocumentMetadata"]["Pages"]
print(json.dumps({"pages": pages["Pages"] if isinstance(pages, dict) else pages,
                  "jobStatus": r["JobStatus"], "blocks": len(r.get("Blocks", []))}))
"#;
    let python = std::env::var("TEXTRACT_MOTO_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .args([
            "-c",
            SCRIPT,
            &std::env::var("TEXTRACT_MOTO_CONFIG").unwrap(),
            bucket,
            key,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "boto3 against moto: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn finished(log: &str, outcome: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("event=job-finished ") && l.contains(&format!("outcome={outcome} ")))
        .count()
}

fn assert_no_secret(log: &str, config: &Value) {
    for identity in ["full", "s3Only"] {
        let secret = config[identity]["secretKey"].as_str().unwrap();
        assert!(!log.contains(secret), "a secret key reached the worker's log:\n{log}");
    }
}

#[test]
#[ignore = "needs moto: TEXTRACT_MOTO_CONFIG (set by .ci/run)"]
fn polling_and_async_jobs_complete_with_motos_answer() {
    let c = config();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let polling = json!({"executionType": "POLLING", "documentS3Bucket": "connector-docs",
                         "documentName": "invoices/invoice-1.pdf", "analyzeTables": true, "analyzeForms": true});
    let polled = cluster.create_job(job(
        task(&c, "full", polling.clone()),
        &[("resultVariable", "textract")],
    ));
    let started = cluster.create_job(job(
        task(
            &c,
            "full",
            json!({"executionType": "ASYNC", "documentS3Bucket": "connector-docs",
                                     "documentName": "invoices/invoice-1.pdf", "analyzeForms": true}),
        ),
        &[("resultVariable", "started"), ("retryBackoff", "PT30S")],
    ));
    let quiet = cluster.create_job(job(task(&c, "full", polling), &[]));

    let (code, log) = run_once(&cluster, &c, 3);
    assert_eq!(code, 0, "{log}");
    let completions = cluster.completions();
    assert_eq!(completions.len(), 3, "{log}\nfailures: {:#?}", cluster.failures());
    let body = |key: &str| completions.iter().find(|r| r.key == key).unwrap().body.clone();

    // POLLING: the whole result under resultVariable, as moto answered it.
    let vars = body(&polled)["variables"].clone();
    assert_eq!(vars.as_object().unwrap().len(), 1, "{vars}");
    let result = &vars["textract"];
    let keys: Vec<&str> = result.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "sdkResponseMetadata",
            "sdkHttpMetadata",
            "documentMetadata",
            "jobStatus",
            "nextToken",
            "blocks",
            "warnings",
            "statusMessage",
            "analyzeDocumentModelVersion"
        ]
    );
    let moto = motos_own_analysis("connector-docs", "invoices/invoice-1.pdf");
    assert_eq!(result["jobStatus"], moto["jobStatus"]);
    assert_eq!(result["jobStatus"], "SUCCEEDED");
    // moto sends DocumentMetadata.Pages as {"Pages": n}: the connector reads the number.
    assert_eq!(
        result["documentMetadata"]["pages"], moto["pages"],
        "{}",
        result["documentMetadata"]
    );
    assert!(result["documentMetadata"]["pages"].is_i64());
    assert_eq!(
        result["blocks"].as_array().unwrap().len() as i64,
        moto["blocks"].as_i64().unwrap()
    );
    assert_eq!(result["nextToken"], Value::Null);
    assert_eq!(result["sdkHttpMetadata"]["httpStatusCode"], 200);
    let request_id = result["sdkResponseMetadata"]["requestId"].as_str().unwrap();
    assert!(!request_id.is_empty());
    assert_eq!(result["sdkHttpMetadata"]["httpHeaders"]["x-amzn-RequestId"], request_id);

    // ASYNC: moto's job id under its own variable.
    let vars = body(&started)["variables"].clone();
    assert_eq!(vars.as_object().unwrap().len(), 1, "{vars}");
    let job_id = vars["started"]["jobId"].as_str().unwrap();
    assert_eq!(job_id.len(), 36, "moto's job ids are UUIDs: {job_id}");

    // Without resultVariable: no variables, as Camunda's connector runtime does.
    assert_eq!(body(&quiet), json!({"variables": {}}));

    for key in [&polled, &started, &quiet] {
        assert_eq!(cluster.job(key).unwrap().state, JobState::Completed);
    }
    assert!(cluster.failures().is_empty());
    assert_eq!(finished(&log, "completed"), 3, "{log}");
    assert!(
        log.contains("SUCCEEDED"),
        "the guest's progress lines reach the log:\n{log}"
    );
    assert_no_secret(&log, &c);
    assert_strict(&cluster);
}

#[test]
#[ignore = "needs moto: TEXTRACT_MOTO_CONFIG (set by .ci/run)"]
fn a_sync_job_that_moto_cannot_answer_spends_one_retry_after_the_backoff() {
    let c = config();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let key = cluster.create_job(job(
        task(
            &c,
            "full",
            json!({"executionType": "SYNC", "documentS3Bucket": "connector-docs",
                                     "documentName": "invoices/invoice-1.pdf", "analyzeTables": true}),
        ),
        &[("resultVariable", "textract"), ("retryBackoff", "PT30S")],
    ));
    let (code, log) = run_once(&cluster, &c, 1);
    assert_eq!(code, 0, "{log}");
    let failures = cluster.failures();
    assert_eq!(failures.len(), 1, "{log}");
    assert_eq!(failures[0].key, key);
    // moto answers AnalyzeDocument with HTTP 500: the connector tries 3 times, then the
    // job spends one of its 3 retries and waits the task's retryBackoff.
    assert_eq!(
        failures[0].body,
        json!({"retries": 2,
               "errorMessage": "Http500: Amazon Textract returned HTTP 500: gave up after 3 attempts.",
               "retryBackOff": 30_000})
    );
    assert!(matches!(
        cluster.job(&key).unwrap().state,
        JobState::FailedBackoff { .. }
    ));
    assert!(cluster.completions().is_empty());
    assert_eq!(finished(&log, "failed"), 1, "{log}");
    assert_no_secret(&log, &c);
    assert_strict(&cluster);
}

#[test]
#[ignore = "needs moto: TEXTRACT_MOTO_CONFIG (set by .ci/run)"]
fn jobs_a_retry_cannot_fix_become_incidents_at_once() {
    let c = config();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let headers = [("resultVariable", "textract"), ("retryBackoff", "PT30S")];
    // An identity that may use S3 but not Textract.
    let denied = cluster.create_job(job(
        task(
            &c,
            "s3Only",
            json!({"executionType": "POLLING", "documentS3Bucket": "connector-docs",
                                       "documentName": "invoices/invoice-1.pdf", "analyzeForms": true}),
        ),
        &headers,
    ));
    // A document to stage in a bucket that does not exist.
    let document = json!({"camunda.document.type": "inline", "name": "scan.pdf",
        "content": "JVBERi0xLjQKMSAwIG9iaiA8PCAvVHlwZSAvQ2F0YWxvZyA+PiBlbmRvYmoKdHJhaWxlciA8PCAvUm9vdCAxIDAgUiA+PgolJUVPRgo="});
    let no_bucket = cluster.create_job(job(
        task(
            &c,
            "full",
            json!({"executionType": "POLLING", "documentLocationType": "UPLOADED",
                                     "documentS3Bucket": "connector-missing", "document": document,
                                     "analyzeForms": true}),
        ),
        &headers,
    ));
    let (code, log) = run_once(&cluster, &c, 2);
    assert_eq!(code, 0, "{log}");
    let failures = cluster.failures();
    assert_eq!(failures.len(), 2, "{log}");
    let body = |key: &str| failures.iter().find(|r| r.key == key).unwrap().body.clone();

    // Refused credentials: retries 0 and no backoff, whatever the task's header says.
    let refused = body(&denied);
    assert_eq!(refused.as_object().unwrap().len(), 3, "{refused}");
    assert_eq!((&refused["retries"], &refused["retryBackOff"]), (&json!(0), &json!(0)));
    let message = refused["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("AccessDenied: Amazon Textract returned AccessDenied (HTTP 403): User: arn:aws:iam::"),
        "{message}"
    );
    assert!(
        message.contains("/s3-only is not authorized to perform: textract:StartDocumentAnalysis. "),
        "{message}"
    );
    assert!(message.ends_with(')') && message.contains("(request id "), "{message}");

    // Bad input: the bucket is named by the task, and a retry would find it missing again.
    assert_eq!(
        body(&no_bucket),
        json!({"retries": 0,
               "errorMessage": "NoSuchBucket: Amazon S3 returned NoSuchBucket (HTTP 404): The bucket \
                                'connector-missing' does not exist (or is in another account).",
               "retryBackOff": 0})
    );

    for key in [&denied, &no_bucket] {
        assert!(
            matches!(cluster.job(key).unwrap().state, JobState::Incident { .. }),
            "{key}"
        );
    }
    assert!(cluster.completions().is_empty());
    assert_eq!(finished(&log, "incident"), 2, "{log}");
    assert_no_secret(&log, &c);
    assert_strict(&cluster);
}
