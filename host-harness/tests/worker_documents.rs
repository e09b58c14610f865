//! `textract-host worker` with `documentReturnFormat` DOCUMENT, end to end: the
//! real binary against the strict Camunda REST stand-in and a local AWS stand-in.
//! The result goes to the cluster's document API (`POST /v2/documents`) and the
//! job completes with the reference.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::worker::{assert_same, assert_strict, basic_auth_cluster, job, job_input, scenario, Worker, BASIC_AUTH_ENV};
use serde_json::{json, Value};
use std::time::Duration;
use textract_host::engine::{ExecOptions, ExecutionClock};
use textract_host::testkit::aws_standin::AwsStandIn;
use textract_host::transport::egress::EgressPolicy;
use textract_host::transport::Mode;

#[test]
fn a_document_reference_is_the_result_and_the_cluster_stores_the_json() {
    let s = scenario("sync-s3-all-features");
    let aws = AwsStandIn::start(s.answer()).unwrap();
    let cluster = basic_auth_cluster();
    let plain_input = job_input(&s, &aws);
    let mut document_input = plain_input.clone();
    document_input["documentReturnFormat"] = json!({"choice": "DOCUMENT"});
    let as_document = cluster.create_job(job(document_input, &[("resultVariable", "textract")]));
    let as_json = cluster.create_job(job(plain_input.clone(), &[("resultVariable", "textract")]));

    let env = BASIC_AUTH_ENV;
    let mut worker = Worker::start(&cluster, &aws, &["--once", "--concurrency", "2"], &env);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());

    let completions = cluster.completions();
    assert_eq!(completions.len(), 2, "{}\n{:?}", worker.log(), cluster.failures());
    let variables = |key: &str| completions.iter().find(|c| c.key == key).unwrap().body["variables"].clone();
    let plain = variables(&as_json)["textract"].clone();
    assert_same(&plain, &s.expected);

    // The DOCUMENT job completes with {resultVariable: <the cluster's reference>}, nothing else.
    let completed = variables(&as_document);
    assert_eq!(completed.as_object().unwrap().len(), 1, "{completed}");
    let reference = &completed["textract"];
    let id = reference["documentId"].as_str().unwrap();
    assert_eq!(cluster.document_ids(), vec![id.to_string()]);
    assert_eq!(reference, &cluster.document_reference(id).unwrap(), "the reference as the cluster answered it");
    assert_eq!(reference["camunda.document.type"], "camunda");
    assert_eq!(reference["storeId"], "in-memory");

    // The stored document is the JSON result, byte for byte: the bytes the same job
    // without DOCUMENT produces (its completion is parsed JSON, so the bytes come from
    // the same execution in-process), and the same values as that completion.
    let stored = cluster.document(id).unwrap();
    assert_eq!(String::from_utf8(stored.clone()).unwrap(), json_result(&plain_input, &aws));
    assert_eq!(serde_json::from_slice::<Value>(&stored).unwrap(), plain);
    assert_eq!(
        reference["contentHash"],
        textract_connector::platform::documents::sha256_hex(&stored)
    );
    let metadata = &reference["metadata"];
    assert_eq!(metadata["contentType"], "application/json");
    assert_eq!(metadata["size"], stored.len());
    let name = metadata["fileName"].as_str().unwrap();
    assert!(name.starts_with("textract-result-") && name.ends_with("Z.json"), "{name}");

    assert!(cluster.auth_seen().basic >= 4, "activation, upload and both completions authenticated");
    assert!(!worker.log().contains("pa55-w0rd"));
    assert_strict(&cluster);
}

/// The result text of `input` (no DOCUMENT) against the AWS stand-in, as the worker's engine runs it.
fn json_result(input: &Value, aws: &AwsStandIn) -> String {
    let input = input.to_string();
    let mut policy = EgressPolicy::implied_by(&input);
    policy.allow(&aws.authority());
    let mut options = ExecOptions::replay(Mode::Live, policy, ExecutionClock::real());
    options.deterministic_random = false;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let execution = rt.block_on(common::harness().execute(&input, options)).unwrap();
    execution.outcome.unwrap()
}
