//! `textract-host worker` end to end: the real binary, as separate processes,
//! against the strict Camunda REST stand-in (testkit::camunda) and a local AWS
//! stand-in. Every test checks what reached the cluster (completions, failures,
//! their exact bodies), what reached AWS, and that the stand-in saw no request
//! that breaks the API's schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::worker::{
    assert_same, assert_strict, basic_auth_cluster, events, job, job_input, scenario, Worker, BASIC_AUTH_ENV,
};
use serde_json::{json, Value};
use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};
use textract_host::testkit::aws_standin::{Answer, AwsStandIn};
use textract_host::testkit::camunda::{AuthMode, CamundaStandIn, JobState, StandInConfig};

#[test]
fn sync_jobs_complete_with_no_variables_or_the_result_under_result_variable() {
    let s = scenario("sync-s3-all-features");
    let aws = AwsStandIn::start(s.answer()).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let with_variable = cluster.create_job(job(job_input(&s, &aws), &[("resultVariable", "textract")]));
    let without = cluster.create_job(job(job_input(&s, &aws), &[]));

    let mut worker = Worker::start(&cluster, &aws, &["--once", "--concurrency", "2"], &[]);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());

    let completions = cluster.completions();
    assert_eq!(completions.len(), 2, "{}", worker.log());
    let body = |key: &str| completions.iter().find(|c| c.key == key).unwrap().body.clone();
    assert_same(&body(&with_variable)["variables"]["textract"], &s.expected);
    assert_eq!(body(&with_variable)["variables"].as_object().unwrap().len(), 1);
    assert_eq!(body(&without), json!({"variables": {}}));
    assert!(cluster.failures().is_empty());

    let seen = aws.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/"));
        assert_eq!(request.target.as_deref(), Some("Textract.AnalyzeDocument"));
        assert!(request.authorization, "every AWS call is signed");
        let sent: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(sent["Document"]["S3Object"], json!({"Bucket": "textract-demo-docs", "Name": "paystubs/2025-12.png"}));
    }
    assert_strict(&cluster);

    let log = worker.log();
    let finished = events(&log, "job-finished");
    assert_eq!(finished.len(), 2, "{log}");
    assert!(finished.iter().any(|l| l.contains(&format!("job={with_variable} ")) && l.contains("tenant=<default>") && l.contains("outcome=completed")), "{log}");
    assert!(!log.contains("wJalrXUtnFEMI"), "a credential reached the log:\n{log}");
    assert!(!log.contains("paystubs/2025-12.png"), "variables reached the log:\n{log}");
}

#[test]
fn errors_fail_the_job_spending_a_retry_only_when_a_retry_can_help() {
    let s = scenario("sync-s3-all-features");
    let aws = AwsStandIn::start(Answer::json(
        400,
        r#"{"__type":"AccessDeniedException","Message":"User is not authorized to perform: textract:AnalyzeDocument"}"#,
    ))
    .unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let denied = cluster.create_job(job(job_input(&s, &aws), &[("retryBackoff", "PT1M")]));
    let mut worker = Worker::start(&cluster, &aws, &["--once"], &[]);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());
    let failures = cluster.failures();
    assert_eq!(failures.len(), 1, "{}", worker.log());
    assert_eq!(failures[0].key, denied);
    assert_eq!(failures[0].body["retries"], json!(0), "a refusal is an incident at once");
    assert_eq!(failures[0].body["retryBackOff"], json!(0));
    let message = failures[0].body["errorMessage"].as_str().unwrap();
    assert!(message.starts_with("AccessDeniedException: "), "{message}");
    assert!(matches!(cluster.job(&denied).unwrap().state, JobState::Incident { .. }));

    // Throttling: the connector retries inside the execution, then the job spends one retry.
    aws.set_answer(Answer::json(400, r#"{"__type":"ThrottlingException","Message":"Rate exceeded"}"#));
    let throttled = cluster.create_job(job(job_input(&s, &aws), &[("retryBackoff", "PT1M")]));
    let mut worker = Worker::start(&cluster, &aws, &["--once"], &[]);
    assert_eq!(worker.wait(Duration::from_secs(120)), 0, "{}", worker.log());
    let failure = cluster.failures().into_iter().find(|f| f.key == throttled).unwrap();
    assert_eq!(failure.body["retries"], json!(2));
    assert_eq!(failure.body["retryBackOff"], json!(60_000));
    assert!(failure.body["errorMessage"].as_str().unwrap().starts_with("ThrottlingException: "));
    assert!(matches!(cluster.job(&throttled).unwrap().state, JobState::FailedBackoff { .. }));
    assert!(cluster.completions().is_empty());
    assert_strict(&cluster);
}

#[test]
fn a_job_never_runs_past_its_deadline() {
    let s = scenario("sync-s3-all-features");
    let mut slow = s.answer();
    slow.delay = Duration::from_secs(20);
    let aws = AwsStandIn::start(slow).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let key = cluster.create_job(job(job_input(&s, &aws), &[]));
    let started = Instant::now();
    let mut worker = Worker::start(&cluster, &aws, &["--once", "--job-timeout", "3s"], &[]);
    assert_eq!(worker.wait(Duration::from_secs(30)), 0, "{}", worker.log());
    // Cut at the deadline, not when AWS answers 20 s later: the failure is not stale.
    assert!(started.elapsed() < Duration::from_secs(20), "{}", worker.log());
    let failures = cluster.failures();
    assert_eq!(failures.len(), 1, "{}", worker.log());
    assert_eq!(failures[0].key, key);
    assert!(!failures[0].stale, "the failure arrived after the job's deadline");
    assert!(failures[0].body["errorMessage"].as_str().unwrap().starts_with("TimeLimitExceeded: "));
    assert_eq!(failures[0].body["retries"], json!(2), "running out of time is worth a retry");
    assert!(cluster.completions().is_empty());
    assert_strict(&cluster);
}

#[test]
fn basic_auth_is_sent_and_never_logged() {
    let s = scenario("sync-s3-all-features");
    let aws = AwsStandIn::start(s.answer()).unwrap();
    let cluster = basic_auth_cluster();
    cluster.create_job(job(job_input(&s, &aws), &[]));
    let env = BASIC_AUTH_ENV;
    let mut worker = Worker::start(&cluster, &aws, &["--once"], &env);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());
    assert_eq!(cluster.completions().len(), 1, "{}", worker.log());
    assert!(cluster.auth_seen().basic >= 2, "activation and completion both authenticated");
    assert!(!worker.log().contains("pa55-w0rd"));
    assert_strict(&cluster);

    // A wrong password: --once reports the refusal and exits 1, without the password.
    let env = [("CAMUNDA_BASIC_AUTH_USERNAME", "demo"), ("CAMUNDA_BASIC_AUTH_PASSWORD", "wrong-secret")];
    let mut worker = Worker::start(&cluster, &aws, &["--once"], &env);
    assert_eq!(worker.wait(Duration::from_secs(30)), 1, "{}", worker.log());
    let log = worker.log();
    assert!(log.contains("HTTP 401"), "{log}");
    assert!(!log.contains("wrong-secret"), "{log}");
}

#[test]
fn oauth_tokens_are_cached_and_fetched_again_once_on_a_401() {
    let s = scenario("sync-s3-all-features");
    let aws = AwsStandIn::start(s.answer()).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig {
        auth: AuthMode::OAuth {
            client_id: "worker-client".into(),
            client_secret: "client-s3cret".into(),
            audience: "zeebe-api".into(),
            token_ttl: Duration::from_secs(3600),
        },
        ..StandInConfig::default()
    })
    .unwrap();
    let oauth_url = cluster.oauth_url();
    let env = [
        ("CAMUNDA_CLIENT_ID", "worker-client"),
        ("CAMUNDA_CLIENT_SECRET", "client-s3cret"),
        ("CAMUNDA_OAUTH_URL", oauth_url.as_str()),
        ("CAMUNDA_TOKEN_AUDIENCE", "zeebe-api"),
    ];
    let first = cluster.create_job(job(job_input(&s, &aws), &[]));
    let worker = Worker::start(&cluster, &aws, &["--concurrency", "1"], &env);
    assert!(cluster.wait_until(|snap| snap.completions.len() == 1, Duration::from_secs(60)), "{}", worker.log());
    assert_eq!(cluster.token_requests(), 1, "one token for every call so far");

    cluster.expire_tokens_now();
    let second = cluster.create_job(job(job_input(&s, &aws), &[]));
    assert!(cluster.wait_until(|snap| snap.completions.len() == 2, Duration::from_secs(60)), "{}", worker.log());
    assert_eq!(cluster.token_requests(), 2, "a 401 fetches one new token");
    let keys: Vec<String> = cluster.completions().into_iter().map(|c| c.key).collect();
    assert_eq!(keys, vec![first, second]);
    assert!(cluster.auth_seen().bearer >= 4);
    worker.signal("TERM");
    let mut worker = worker;
    assert_eq!(worker.wait(Duration::from_secs(30)), 0);
    assert!(!worker.log().contains("client-s3cret"));
    // The one refusal is the expired token's, which the worker answered with a new one.
    let violations = cluster.violations();
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert_eq!(violations[0].status, Some(401));
}

#[test]
fn a_cluster_that_is_away_is_waited_out_with_one_line_per_change() {
    let s = scenario("sync-s3-all-features");
    let aws = AwsStandIn::start(s.answer()).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    cluster.create_job(job(job_input(&s, &aws), &[]));
    cluster.fail_next(4, 503);
    let mut worker = Worker::start(&cluster, &aws, &["--once"], &[]);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());
    assert_eq!(cluster.completions().len(), 1, "{}", worker.log());
    let log = worker.log();
    assert_eq!(events(&log, "cluster-away").len(), 1, "{log}");
    assert_eq!(events(&log, "cluster-back").len(), 1, "{log}");
    assert!(events(&log, "cluster-back")[0].contains("attempts=4"), "{log}");
}

#[test]
fn shutdown_lets_running_jobs_finish_within_the_grace_and_leaves_the_rest() {
    let s = scenario("sync-s3-all-features");
    let mut slow = s.answer();
    slow.delay = Duration::from_secs(2);
    let aws = AwsStandIn::start(slow).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let keys: Vec<String> = (0..2).map(|_| cluster.create_job(job(job_input(&s, &aws), &[]))).collect();
    let mut worker = Worker::start(&cluster, &aws, &["--concurrency", "2", "--shutdown-grace", "20s"], &[]);
    assert!(cluster.wait_until(|snap| snap.activations == 2, Duration::from_secs(30)), "{}", worker.log());
    worker.signal("TERM");
    assert_eq!(worker.wait(Duration::from_secs(30)), 0, "{}", worker.log());
    let done: Vec<String> = cluster.completions().into_iter().map(|c| c.key).collect();
    assert_eq!(done.len(), 2, "{}", worker.log());
    assert!(keys.iter().all(|k| done.contains(k)));
    assert_eq!(cluster.activations(), 2, "nothing more was activated after the signal");

    // A grace shorter than the work: the job is left to its broker timeout, not completed.
    let mut slower = s.answer();
    slower.delay = Duration::from_secs(30);
    aws.set_answer(slower);
    let left = cluster.create_job(job(job_input(&s, &aws), &[]));
    let mut worker = Worker::start(&cluster, &aws, &["--shutdown-grace", "1s"], &[]);
    assert!(cluster.wait_until(|snap| snap.activations == 3, Duration::from_secs(30)), "{}", worker.log());
    let signalled = Instant::now();
    worker.signal("INT");
    assert_eq!(worker.wait(Duration::from_secs(15)), 0, "{}", worker.log());
    assert!(signalled.elapsed() < Duration::from_secs(10));
    assert!(matches!(cluster.job(&left).unwrap().state, JobState::Activated { .. }));
    assert_eq!(cluster.completions().len(), 2);
    assert!(events(&worker.log(), "worker-grace-over")[0].contains("left_to_timeout=1"));
    assert_strict(&cluster);
}

#[test]
fn camunda_documents_are_read_through_the_cluster() {
    let s = scenario("sync-camunda-document");
    let aws = AwsStandIn::start(s.answer()).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let bytes = std::fs::read(common::workspace().join("tests/sync-camunda-document/documents/doc-png-1")).unwrap();
    let reference = cluster.put_document("doc-png-1", &bytes);
    let mut input = job_input(&s, &aws);
    input["input"]["document"] = reference;
    let key = cluster.create_job(job(input, &[("resultVariable", "out")]));
    let mut worker = Worker::start(&cluster, &aws, &["--once"], &[]);
    assert_eq!(worker.wait(Duration::from_secs(60)), 0, "{}", worker.log());
    let completions = cluster.completions();
    assert_eq!(completions.len(), 1, "{}\n{:?}", worker.log(), cluster.failures());
    assert_eq!(completions[0].key, key);
    assert_same(&completions[0].body["variables"]["out"], &s.expected);
    let sent: Value = serde_json::from_slice(&aws.seen()[0].body).unwrap();
    use base64::Engine as _;
    assert_eq!(
        sent["Document"]["Bytes"],
        json!(base64::engine::general_purpose::STANDARD.encode(&bytes))
    );
    assert_strict(&cluster);
}

#[test]
fn metrics_and_health_are_served() {
    let s = scenario("sync-s3-all-features");
    let aws = AwsStandIn::start(s.answer()).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    cluster.create_job(job(job_input(&s, &aws), &[]));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let address = format!("127.0.0.1:{port}");
    let mut worker = Worker::start(&cluster, &aws, &["--metrics", &address], &[]);
    assert!(cluster.wait_until(|snap| snap.completions.len() == 1, Duration::from_secs(60)), "{}", worker.log());
    let get = |path: &str| -> String {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    };
    let health = get("/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let metrics = get("/metrics");
    for line in [
        "textract_worker_jobs_activated_total{tenant=\"<default>\"} 1",
        "textract_worker_jobs_completed_total{tenant=\"<default>\"} 1",
        "textract_worker_execution_duration_seconds_count 1",
        "textract_worker_executions_in_flight 0",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    worker.signal("TERM");
    assert_eq!(worker.wait(Duration::from_secs(30)), 0);
}

#[test]
fn three_workers_complete_300_jobs_exactly_once_even_when_one_is_killed() {
    let s = scenario("sync-s3-all-features");
    let mut answer = s.answer();
    answer.delay = Duration::from_millis(20);
    let aws = AwsStandIn::start(answer).unwrap();
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let input = job_input(&s, &aws);
    let keys: Vec<String> = (0..300).map(|_| cluster.create_job(job(input.clone(), &[]))).collect();
    let args = ["--concurrency", "2", "--job-timeout", "4s"];
    let mut workers: Vec<Worker> = (0..3).map(|_| Worker::start(&cluster, &aws, &args, &[])).collect();
    assert!(cluster.wait_until(|snap| snap.completions.len() >= 30, Duration::from_secs(120)));
    workers[0].signal("KILL");
    workers[0].wait(Duration::from_secs(10));
    let all_done = cluster.wait_until(
        |snap| snap.jobs.iter().all(|j| j.state == JobState::Completed),
        Duration::from_secs(300),
    );
    assert!(all_done, "not every job completed; logs:\n{}\n{}", workers[1].log(), workers[2].log());
    for w in &workers[1..] {
        w.signal("TERM");
    }
    for w in &mut workers[1..] {
        assert_eq!(w.wait(Duration::from_secs(30)), 0);
    }
    let counts = cluster.completion_count_per_job();
    assert_eq!(counts.len(), 300);
    for key in &keys {
        assert_eq!(counts.get(key), Some(&1), "job {key} was completed {:?} times", counts.get(key));
    }
    assert!(cluster.completions().iter().all(|c| !c.stale));
    assert_strict(&cluster);
}
