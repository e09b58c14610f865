//! The connector runtime's semantics in `textract-host worker`, end to end
//! through the strict Camunda stand-in: secrets from each tenant's own source
//! and never shown, FEEL result and error expressions, and tenant lanes that
//! keep one tenant's flood from starving another.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::worker::{assert_same, assert_strict, job, job_input, scenario, Worker};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use textract_host::testkit::aws_standin::{Answer, AwsStandIn};
use textract_host::testkit::camunda::{CamundaStandIn, JobState, StandInConfig};

/// A fresh folder for one test's policy and secrets files.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("worker-runtime-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The scenario's input with its credentials and bucket as secret placeholders.
fn with_placeholders(input: &Value) -> Value {
    let mut input = input.clone();
    input["authentication"]["accessKey"] = json!("{{secrets.AWS_KEY}}");
    input["authentication"]["secretKey"] = json!("{{ secrets.AWS_SECRET }}");
    input["input"]["documentS3Bucket"] = json!("secrets.BUCKET");
    input
}

fn bucket_sent(aws: &AwsStandIn, index: usize) -> Value {
    let body: Value = serde_json::from_slice(&aws.seen()[index].body).unwrap();
    body["Document"]["S3Object"]["Bucket"].clone()
}

fn tenant_job(variables: Value, tenant: &str, headers: &[(&str, &str)]) -> textract_host::testkit::camunda::JobSpec {
    let mut spec = job(variables, headers);
    spec.tenant_id = tenant.to_string();
    spec
}

#[test]
fn secrets_come_from_the_jobs_tenant_and_are_never_shown() {
    let s = scenario("sync-s3-all-features");
    let aws = AwsStandIn::start(s.answer()).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig {
        multi_tenancy: true,
        ..StandInConfig::default()
    })
    .unwrap();
    let dir = folder("secrets");
    write(&dir, "a.json", r#"{"AWS_KEY": "AKIDEXAMPLE", "AWS_SECRET": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "BUCKET": "textract-demo-docs"}"#);
    write(&dir, "b.json", r#"{"AWS_KEY": "AKIDTENANTB", "AWS_SECRET": "tenant-b-secret-key-value", "BUCKET": "tenant-b-private-docs"}"#);
    let config = write(
        &dir,
        "tenants.toml",
        &format!(
            "[tenants.\"tenant-a\"]\nsecrets_file = \"a.json\"\nallowed_hosts = [\"{0}\"]\n\n[tenants.\"tenant-b\"]\nsecrets_file = \"b.json\"\nallowed_hosts = [\"{0}\"]\n",
            aws.authority()
        ),
    );
    let input = with_placeholders(&job_input(&s, &aws));
    let a = cluster.create_job(tenant_job(input.clone(), "tenant-a", &[("resultVariable", "textract")]));
    // The variables claim another tenant; the job's tenant decides whose secrets are used.
    let mut claims_a = input.clone();
    claims_a["tenantId"] = json!("tenant-a");
    let b = cluster.create_job(tenant_job(claims_a, "tenant-b", &[]));
    let mut unknown = input.clone();
    unknown["input"]["documentName"] = json!("{{secrets.NOPE}}");
    let missing = cluster.create_job(tenant_job(unknown, "tenant-a", &[]));

    let mut worker = Worker::start_with(&cluster, &["--once", "--tenant-config", &config], &[]);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());

    let completions = cluster.completions();
    let completed = |key: &str| completions.iter().find(|c| c.key == key).map(|c| c.body.clone());
    assert_same(&completed(&a).unwrap()["variables"]["textract"], &s.expected);
    assert_eq!(completed(&b).unwrap(), json!({"variables": {}}));
    let failure = cluster.failures().into_iter().find(|f| f.key == missing).unwrap();
    assert_eq!(
        failure.body,
        json!({"retries": 0, "errorMessage": "Secret with name 'NOPE' is not available", "retryBackOff": 0})
    );
    let mut buckets: Vec<Value> = (0..2).map(|i| bucket_sent(&aws, i)).collect();
    buckets.sort_by_key(|v| v.to_string());
    assert_eq!(buckets, vec![json!("tenant-b-private-docs"), json!("textract-demo-docs")]);
    let signed_with_b = aws.seen().iter().any(|r| bucket_sent_is(r, "tenant-b-private-docs"));
    assert!(signed_with_b);
    let log = worker.log();
    for secret in ["wJalrXUtnFEMI", "tenant-b-secret-key-value", "tenant-b-private-docs"] {
        assert!(!log.contains(secret), "{secret} reached the log:\n{log}");
    }
    assert_strict(&cluster);

    // A secret in an error message is masked.
    aws.set_answer(Answer::json(
        400,
        r#"{"__type":"InvalidS3ObjectException","Message":"Unable to get object metadata from S3. Check object key, region and/or access permissions for tenant-b-private-docs."}"#,
    ));
    let masked = cluster.create_job(tenant_job(input, "tenant-b", &[]));
    let mut worker = Worker::start_with(&cluster, &["--once", "--tenant-config", &config], &[]);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());
    let failure = cluster.failures().into_iter().find(|f| f.key == masked).unwrap();
    let message = failure.body["errorMessage"].as_str().unwrap();
    assert!(message.contains("access permissions for ***."), "{message}");
    assert!(!worker.log().contains("tenant-b-private-docs"));
    std::fs::remove_dir_all(dir).ok();
}

fn bucket_sent_is(request: &textract_host::testkit::aws_standin::Seen, bucket: &str) -> bool {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    body["Document"]["S3Object"]["Bucket"] == json!(bucket)
}

#[test]
fn self_managed_secrets_come_from_the_environment_under_a_prefix_and_saas_has_none() {
    let s = scenario("sync-s3-all-features");
    let aws = AwsStandIn::start(s.answer()).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let env = [
        ("TEXTRACT_TEST_SECRET_AWS_KEY", "AKIDEXAMPLE"),
        ("TEXTRACT_TEST_SECRET_AWS_SECRET", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        ("TEXTRACT_TEST_SECRET_BUCKET", "textract-demo-docs"),
    ];
    let input = with_placeholders(&job_input(&s, &aws));
    let key = cluster.create_job(job(input.clone(), &[("resultVariable", "out")]));
    let args = ["--once", "--self-managed", "--secrets-env-prefix", "TEXTRACT_TEST_SECRET_"];
    let mut worker = Worker::start(&cluster, &aws, &args, &env);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());
    let completion = cluster.completions().into_iter().find(|c| c.key == key).unwrap();
    assert_same(&completion.body["variables"]["out"], &s.expected);
    assert_eq!(bucket_sent(&aws, 0), json!("textract-demo-docs"));

    // SaaS mode never reads the host's environment.
    let saas = cluster.create_job(job(input, &[]));
    let mut worker = Worker::start(&cluster, &aws, &["--once", "--secrets-env-prefix", "TEXTRACT_TEST_SECRET_"], &env);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());
    let failure = cluster.failures().into_iter().find(|f| f.key == saas).unwrap();
    assert_eq!(failure.body["errorMessage"], json!("Secret with name 'AWS_KEY' is not available"));
    assert_eq!(failure.body["retries"], json!(0));
    assert_strict(&cluster);
}

#[test]
fn result_and_error_expressions_shape_the_reply() {
    let s = scenario("sync-s3-all-features");
    let aws = AwsStandIn::start(s.answer()).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let input = job_input(&s, &aws);
    let error_expression = r#"=if error.code = "UnsupportedDocumentException" then bpmnError("UNSUPPORTED_DOCUMENT", error.message, {textractError: error.code})
        else if error.kind = "throttled" then jobError("Textract is throttling us", {}, job.retries - 1, @"PT1M")
        else null"#;
    let first_line = cluster.create_job(job(
        input.clone(),
        &[
            ("resultExpression", r#"={firstLine: response.blocks[blockType = "LINE"][1].text, pages: response.documentMetadata.pages}"#),
            ("errorExpression", error_expression),
        ],
    ));
    let broken = cluster.create_job(job(input.clone(), &[("resultExpression", "={firstLine: response.blocks[")]));
    let mut worker = Worker::start(&cluster, &aws, &["--once", "--concurrency", "2"], &[]);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());
    let completion = cluster.completions().into_iter().find(|c| c.key == first_line).unwrap();
    let first = s.expected["blocks"].as_array().unwrap().iter().find(|b| b["blockType"] == "LINE").unwrap()["text"].clone();
    assert_eq!(completion.body, json!({"variables": {"firstLine": first, "pages": 1}}));
    let failure = cluster.failures().into_iter().find(|f| f.key == broken).unwrap();
    assert_eq!(failure.body["retries"], json!(0));
    let message = failure.body["errorMessage"].as_str().unwrap();
    assert!(message.starts_with(r#"The resultExpression "={firstLine: response.blocks[" failed: it does not parse"#), "{message}");

    // UnsupportedDocument becomes a BPMN error.
    aws.set_answer(Answer::json(400, r#"{"__type":"UnsupportedDocumentException","Message":"Request has unsupported document format"}"#));
    let unsupported = cluster.create_job(job(input.clone(), &[("errorExpression", error_expression)]));
    let mut worker = Worker::start(&cluster, &aws, &["--once"], &[]);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());
    let thrown = cluster.errors().into_iter().find(|e| e.key == unsupported).unwrap();
    assert_eq!(thrown.body["errorCode"], json!("UNSUPPORTED_DOCUMENT"));
    assert_eq!(thrown.body["variables"], json!({"textractError": "UnsupportedDocumentException"}));
    assert!(thrown.body["errorMessage"].as_str().unwrap().contains("unsupported document format"));
    assert!(matches!(cluster.job(&unsupported).unwrap().state, JobState::ErrorThrown { .. }));

    // Throttling becomes the expression's own jobError: its retries and a PT1M backoff.
    aws.set_answer(Answer::json(400, r#"{"__type":"ThrottlingException","Message":"Rate exceeded"}"#));
    let throttled = cluster.create_job(job(input, &[("errorExpression", error_expression), ("retryBackoff", "PT5S")]));
    let mut worker = Worker::start(&cluster, &aws, &["--once"], &[]);
    assert_eq!(worker.wait(Duration::from_secs(120)), 0, "{}", worker.log());
    let failure = cluster.failures().into_iter().find(|f| f.key == throttled).unwrap();
    assert_eq!(
        failure.body,
        json!({"retries": 2, "errorMessage": "Textract is throttling us", "retryBackOff": 60_000, "variables": {}})
    );
    assert_strict(&cluster);
}

#[test]
fn one_tenants_flood_of_slow_jobs_does_not_starve_another() {
    let s = scenario("sync-s3-all-features");
    let mut slow = s.answer();
    slow.delay = Duration::from_secs(3);
    let slow_aws = AwsStandIn::start(slow).unwrap();
    let fast_aws = AwsStandIn::start(s.answer()).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig {
        multi_tenancy: true,
        ..StandInConfig::default()
    })
    .unwrap();
    let dir = folder("flood");
    let config = write(
        &dir,
        "tenants.toml",
        &format!(
            "[tenants.\"tenant-a\"]\nallowed_hosts = [\"{}\"]\nconcurrency = 2\n\n[tenants.\"tenant-b\"]\nallowed_hosts = [\"{}\"]\nconcurrency = 2\n",
            slow_aws.authority(),
            fast_aws.authority()
        ),
    );
    let a_input = job_input(&s, &slow_aws);
    let b_input = job_input(&s, &fast_aws);
    // Tenant A's input pointed at tenant B's host: not A's to call (created first, so it runs early).
    let crossing = cluster.create_job(tenant_job(b_input.clone(), "tenant-a", &[]));
    let a_jobs: Vec<String> = (0..50).map(|_| cluster.create_job(tenant_job(a_input.clone(), "tenant-a", &[]))).collect();
    let b_jobs: Vec<String> = (0..10).map(|_| cluster.create_job(tenant_job(b_input.clone(), "tenant-b", &[]))).collect();
    // A tenant the policy does not name: never activated.
    let c_job = cluster.create_job(tenant_job(b_input, "tenant-c", &[]));

    let worker = Worker::start_with(&cluster, &["--tenant-config", &config, "--concurrency", "4"], &[]);
    let started = Instant::now();
    let mut most_a_at_once = 0;
    let b_done = loop {
        let snapshot = cluster.snapshot();
        let a_active = snapshot
            .jobs
            .iter()
            .filter(|j| j.tenant_id == "tenant-a" && matches!(j.state, JobState::Activated { .. }))
            .count();
        most_a_at_once = most_a_at_once.max(a_active);
        let b_completed = b_jobs
            .iter()
            .filter(|k| snapshot.job(k).is_some_and(|j| j.state == JobState::Completed))
            .count();
        if b_completed == b_jobs.len() {
            break started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "tenant B starved:\n{}", worker.log());
        std::thread::sleep(Duration::from_millis(20));
    };
    // Ten fast jobs two at a time, while tenant A's fifty take 3 s each two at a time (75 s).
    assert!(b_done < Duration::from_secs(20), "tenant B took {b_done:?}");
    assert!(most_a_at_once <= 2, "tenant A held {most_a_at_once} jobs at once, its share is 2");
    let a_completed = a_jobs.iter().filter(|k| cluster.job(k).unwrap().state == JobState::Completed).count();
    assert!(a_completed < 20, "tenant A is still working through its flood ({a_completed} done)");
    assert_eq!(cluster.job(&c_job).unwrap().activations, 0, "tenant C is not in the policy");
    assert!(cluster.wait_until(
        |snap| snap.failures.iter().any(|f| f.key == crossing),
        Duration::from_secs(60)
    ));
    let failure = cluster.failures().into_iter().find(|f| f.key == crossing).unwrap();
    assert_eq!(failure.body["retries"], json!(0), "{}", failure.body);
    worker.signal("KILL");
    assert_strict(&cluster);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_tenant_policy_with_an_unknown_key_stops_the_worker_at_start() {
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let dir = folder("bad-policy");
    let config = write(&dir, "tenants.toml", "[tenants.\"tenant-a\"]\nmode = \"saas\"\nmax_memroy = \"1GiB\"\n");
    let mut worker = Worker::start_with(&cluster, &["--tenant-config", &config], &[]);
    assert_eq!(worker.wait(Duration::from_secs(30)), 1);
    let log = worker.log();
    assert!(log.contains("max_memroy") && log.contains("line 3"), "{log}");
    assert_eq!(cluster.activation_requests(), 0);
    std::fs::remove_dir_all(dir).ok();
}
