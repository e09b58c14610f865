//! The harness itself: the component's imports, the egress policy, the CLI's
//! contract (exit codes, output), and record/live against a local server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{json, Value};
use std::process::Command;
use std::sync::{Arc, Mutex};
use textract_host::engine::{ExecOptions, ExecutionClock};
use textract_host::transport::cassette::Cassette;
use textract_host::transport::egress::EgressPolicy;
use textract_host::transport::{Mode, Replayer};

/// Every import the built component may have, and why.
const ALLOWED_IMPORTS: &[(&str, &str)] = &[
    (
        "wasi:http/outgoing-handler@0.2.12",
        "the connector's only way out: every AWS call",
    ),
    (
        "textract:connector/document-store@0.1.0",
        "Camunda documents of type camunda",
    ),
    (
        "textract:connector/runtime@0.1.0",
        "SaaS or self-managed, told by the host",
    ),
    (
        "wasi:filesystem/types@0.2.12",
        "the AWS config files granted in self-managed mode (SaaS grants no preopens)",
    ),
    (
        "wasi:filesystem/preopens@0.2.12",
        "the AWS config files granted in self-managed mode (SaaS grants no preopens)",
    ),
    ("wasi:http/types@0.2.12", "requests, responses and their bodies"),
    ("wasi:io/poll@0.2.12", "waiting for a response"),
    ("wasi:io/error@0.2.12", "stream errors"),
    ("wasi:io/streams@0.2.12", "request and response bodies"),
    (
        "wasi:clocks/monotonic-clock@0.2.12",
        "wasi-http timeouts; poll intervals",
    ),
    ("wasi:clocks/wall-clock@0.2.12", "x-amz-date for SigV4"),
    (
        "wasi:cli/stderr@0.2.12",
        "progress lines on long jobs (and std's panic output)",
    ),
    (
        "wasi:cli/stdout@0.2.12",
        "linked by Rust's std; the connector never writes to it",
    ),
    ("wasi:cli/stdin@0.2.12", "linked by Rust's std; never read"),
    (
        "wasi:cli/environment@0.2.12",
        "linked by Rust's std; empty in SaaS mode",
    ),
    ("wasi:cli/exit@0.2.12", "linked by Rust's std (abort)"),
    ("wasi:cli/terminal-input@0.2.12", "linked by Rust's std stdio"),
    ("wasi:cli/terminal-output@0.2.12", "linked by Rust's std stdio"),
    ("wasi:cli/terminal-stdin@0.2.12", "linked by Rust's std stdio"),
    ("wasi:cli/terminal-stdout@0.2.12", "linked by Rust's std stdio"),
    ("wasi:cli/terminal-stderr@0.2.12", "linked by Rust's std stdio"),
    (
        "wasi:random/random@0.2.12",
        "retry jitter and generated ClientRequestTokens",
    ),
    ("wasi:random/insecure-seed@0.2.12", "HashMap's seed in Rust's std"),
];

#[test]
fn component_imports_only_the_allowlist() {
    let imports = common::harness().imports();
    let unexpected: Vec<&String> = imports
        .iter()
        .filter(|i| !ALLOWED_IMPORTS.iter().any(|(name, _)| name == i))
        .collect();
    assert!(unexpected.is_empty(), "imports outside the allowlist: {unexpected:?}");
    for needed in ["wasi:http/outgoing-handler@0.2.12", "wasi:clocks/wall-clock@0.2.12"] {
        assert!(imports.iter().any(|i| i == needed), "{needed} missing from {imports:?}");
    }
    for forbidden in ["wasi:sockets", "wasi:http/incoming-handler"] {
        assert!(
            !imports.iter().any(|i| i.starts_with(forbidden)),
            "{forbidden} imported: {imports:?}"
        );
    }
}

fn sync_input(endpoint: Option<&str>) -> String {
    let mut input = json!({
        "authentication": {"accessKey": "AKIDEXAMPLE", "secretKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
        "configuration": {"region": "us-east-1"},
        "input": {"executionType": "SYNC", "documentS3Bucket": "bucket", "documentName": "a.png", "analyzeTables": true}
    });
    if let Some(e) = endpoint {
        input["configuration"]["endpoint"] = json!(e);
    }
    input.to_string()
}

#[test]
fn a_denied_host_is_an_ordinary_guest_error_not_a_trap() {
    let rt = common::runtime();
    let replayer = Arc::new(Mutex::new(Replayer::new(Cassette::default(), ".".into())));
    let execution = rt
        .block_on(common::harness().execute(
            &sync_input(None),
            ExecOptions::replay(
                Mode::Replay(replayer),
                EgressPolicy::deny_all(),
                ExecutionClock::pinned(1_768_469_400),
            ),
        ))
        .unwrap();
    let err = execution.outcome.unwrap_err();
    assert_eq!(
        (err.kind.as_str(), err.code.as_str(), err.retryable),
        ("invalid-input", "EgressDenied", false)
    );
    assert!(
        err.message.contains("textract.us-east-1.amazonaws.com"),
        "{}",
        err.message
    );
    assert_eq!(
        execution.journal.denied,
        vec!["POST https://textract.us-east-1.amazonaws.com/"]
    );
    assert!(execution.journal.sent.is_empty() && execution.journal.problems.is_empty());
}

fn host() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_textract-host"));
    cmd.env("TEXTRACT_COMPONENT", common::component_path());
    cmd
}

fn scenario(name: &str, file: &str) -> String {
    common::workspace()
        .join("tests")
        .join(name)
        .join(file)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn cli_exit_codes_and_output() {
    common::harness(); // fails early, with a clear message, on a stale component

    // 0: the result on stdout.
    let ok = host()
        .args(["run", "--input", &scenario("sync-s3-version", "input.json")])
        .args(["--replay", &scenario("sync-s3-version", "cassette.json")])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    let result: Value = serde_json::from_slice(&ok.stdout).unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(scenario("sync-s3-version", "expected.json")).unwrap()).unwrap();
    assert_eq!(result, expected);
    assert_eq!(
        ok.stdout.iter().filter(|b| **b == b'\n').count(),
        1,
        "compact output is one line"
    );

    // 3: the connector error on stdout; --pretty indents.
    let err = host()
        .args([
            "run",
            "--pretty",
            "--input",
            &scenario("sync-access-denied", "input.json"),
        ])
        .args(["--replay", &scenario("sync-access-denied", "cassette.json")])
        .output()
        .unwrap();
    assert_eq!(err.status.code(), Some(3));
    let printed: Value = serde_json::from_slice(&err.stdout).unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(scenario("sync-access-denied", "expected-error.json")).unwrap())
            .unwrap();
    assert_eq!(printed, json!({ "error": expected }));
    assert!(String::from_utf8_lossy(&err.stdout).contains("\n  \"error\""));

    // 1: harness failures, one line on stderr.
    let missing = host()
        .args(["run", "--input", "/nonexistent/input.json", "--live"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot read input file /nonexistent/input.json"),
        "{stderr}"
    );

    // 1: a request the cassette does not hold, with a readable diff.
    let miss = host()
        .args(["run", "--input", &scenario("sync-s3-all-features", "input.json")])
        .args(["--replay", &scenario("sync-s3-version", "cassette.json")])
        .output()
        .unwrap();
    assert_eq!(miss.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&miss.stderr);
    assert!(
        stderr.contains("cassette miss: POST https://textract.us-east-1.amazonaws.com/"),
        "{stderr}"
    );
    assert!(
        stderr.contains("url: recorded https://textract.eu-west-1.amazonaws.com/"),
        "{stderr}"
    );

    // 1: an interaction left unused.
    let unused = host()
        .args(["run", "--input", &scenario("validation-no-feature", "input.json")])
        .args(["--replay", &scenario("sync-s3-version", "cassette.json")])
        .output()
        .unwrap();
    assert_eq!(unused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unused.stderr).contains("was never requested"));

    // 1: a component that does not load.
    let bad = host()
        .args(["run", "--input", &scenario("sync-s3-version", "input.json"), "--live"])
        .args(["--component", &scenario("sync-s3-version", "input.json")])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot load component"));
}

#[test]
fn record_then_replay_and_live_against_a_local_endpoint() {
    common::harness();
    let body = br#"{"DocumentMetadata":{"Pages":1},"Blocks":[{"BlockType":"LINE","Confidence":99.12999725341797,"Text":"Hello","Id":"b1"}],"AnalyzeDocumentModelVersion":"1.0"}"#.to_vec();
    let headers = || {
        vec![
            ("content-type", "application/x-amz-json-1.1".to_string()),
            ("x-amzn-RequestId", "req-local-1".to_string()),
        ]
    };
    let (port, server) = common::serve(vec![(200, headers(), body.clone()), (200, headers(), body.clone())]);
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = std::env::temp_dir().join(format!("textract-record-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let input_path = dir.join("input.json");
    let input = sync_input(Some(&endpoint)).replace(
        "\"secretKey\"",
        "\"sessionToken\":\"SECRET-SESSION-TOKEN\",\"secretKey\"",
    );
    std::fs::write(&input_path, &input).unwrap();
    let cassette_path = dir.join("cassette.json");
    let allow = format!("127.0.0.1:{port}");

    // In SaaS mode a local endpoint is refused offline unless the operator allows it.
    let refused = host()
        .args(["run", "--input", input_path.to_str().unwrap(), "--live"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(3));
    let error: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(error["error"]["code"], "EndpointNotAllowed");

    let recorded = host()
        .args([
            "run",
            "--input",
            input_path.to_str().unwrap(),
            "--allow-host",
            &allow,
            "--record",
            cassette_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        recorded.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&recorded.stderr)
    );
    let live = host()
        .args([
            "run",
            "--input",
            input_path.to_str().unwrap(),
            "--allow-host",
            &allow,
            "--live",
        ])
        .output()
        .unwrap();
    assert_eq!(live.status.code(), Some(0), "{}", String::from_utf8_lossy(&live.stderr));
    assert_eq!(recorded.stdout, live.stdout);
    let result: Value = serde_json::from_slice(&live.stdout).unwrap();
    assert_eq!(result["blocks"][0]["text"], "Hello");
    assert_eq!(result["sdkResponseMetadata"]["requestId"], "req-local-1");

    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.request_line, "POST / HTTP/1.1");
        let header = |name: &str| request.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(header("x-amz-target"), Some("Textract.AnalyzeDocument"));
        assert_eq!(header("host"), Some(format!("127.0.0.1:{port}").as_str()));
        assert_eq!(header("x-amz-security-token"), Some("SECRET-SESSION-TOKEN"));
        assert!(header("authorization")
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    }

    let text = std::fs::read_to_string(&cassette_path).unwrap();
    for secret in [
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI",
        "SECRET-SESSION-TOKEN",
        "AWS4-HMAC-SHA256",
    ] {
        assert!(!text.contains(secret), "the cassette leaks {secret}: {text}");
    }
    let cassette: Cassette = serde_json::from_str(&text).unwrap();
    assert!(cassette.recorded_at.is_some());
    assert_eq!(cassette.interactions.len(), 1);

    let replayed = host()
        .args([
            "run",
            "--input",
            input_path.to_str().unwrap(),
            "--allow-host",
            &allow,
            "--replay",
            cassette_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        replayed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    assert_eq!(replayed.stdout, live.stdout);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn polling_merge_of_100_000_blocks_peaks_under_two_and_a_half_times_its_output() {
    let (pages, per_page) = (100, 1000);
    let response =
        std::fs::read_to_string(common::workspace().join("tests/fixtures/textract/form1005-response.json")).unwrap();
    let (cassette, input) = textract_host::testkit::generated::big_polling_job(&response, pages, per_page).unwrap();
    let replayer = Arc::new(Mutex::new(Replayer::new(cassette, ".".into())));
    let rt = common::runtime();
    let started = std::time::Instant::now();
    let execution = rt
        .block_on(common::harness().execute(
            &input,
            ExecOptions::replay(
                Mode::Replay(replayer.clone()),
                EgressPolicy::implied_by(&input),
                ExecutionClock::pinned(1_768_469_400),
            ),
        ))
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        execution.journal.problems.is_empty(),
        "{:?}",
        execution.journal.problems
    );
    assert!(replayer.lock().unwrap().unused().is_empty());
    let output = execution.outcome.unwrap();
    let result: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(result["blocks"].as_array().unwrap().len(), pages * per_page);
    assert_eq!(
        result["blocks"][pages * per_page - 1]["id"],
        format!("block-{}-{}", pages - 1, per_page - 1)
    );
    assert_eq!(result["nextToken"], Value::Null);
    let ratio = execution.peak_memory_bytes as f64 / output.len() as f64;
    println!(
        "polling merge: {} blocks, output {:.1} MB, guest peak memory {:.1} MB ({ratio:.2}x the output), {:.2} s",
        pages * per_page,
        output.len() as f64 / 1e6,
        execution.peak_memory_bytes as f64 / 1e6,
        elapsed.as_secs_f64()
    );
    assert!(ratio <= 2.5, "peak memory is {ratio:.2}x the output");
    // Progress lines name the job, its status and what has been fetched so far.
    assert!(
        execution.stderr.contains("textract: started job big-job"),
        "{}",
        execution.stderr
    );
    assert!(
        execution
            .stderr
            .contains("textract: job big-job results: page 50, 50000 blocks so far"),
        "{}",
        execution.stderr
    );
    assert!(
        execution
            .stderr
            .contains("textract: job big-job SUCCEEDED: 100 result page(s), 100000 blocks"),
        "{}",
        execution.stderr
    );
}

#[test]
fn long_polls_write_progress_lines() {
    let dir = common::workspace().join("tests/polling-three-pages");
    let input = std::fs::read_to_string(dir.join("input.json")).unwrap();
    let cassette = Cassette::load(&dir.join("cassette.json")).unwrap();
    let time = textract_host::transport::cassette::parse_rfc3339_utc(cassette.recorded_at.as_deref().unwrap()).unwrap();
    let replayer = Arc::new(Mutex::new(Replayer::new(cassette, dir.clone())));
    let execution = common::runtime()
        .block_on(common::harness().execute(
            &input,
            ExecOptions::replay(
                Mode::Replay(replayer),
                EgressPolicy::implied_by(&input),
                ExecutionClock::pinned(time),
            ),
        ))
        .unwrap();
    assert!(execution.outcome.is_ok());
    let lines: Vec<&str> = execution.stderr.lines().collect();
    assert_eq!(
        lines,
        vec![
            "textract: started job a0c8a2f4-6d7b-4e8e-9c3f-2f1b5e7d9a10",
            "textract: job a0c8a2f4-6d7b-4e8e-9c3f-2f1b5e7d9a10 IN_PROGRESS, poll 1, 2s elapsed, next poll in 4s",
            "textract: job a0c8a2f4-6d7b-4e8e-9c3f-2f1b5e7d9a10 IN_PROGRESS, poll 2, 6s elapsed, next poll in 8s",
            "textract: job a0c8a2f4-6d7b-4e8e-9c3f-2f1b5e7d9a10 SUCCEEDED: 3 result page(s), 988 blocks",
        ]
    );
}

fn run_with_documents(input: &Value, documents: &std::path::Path) -> textract_host::engine::Execution {
    let input = input.to_string();
    let replayer = Arc::new(Mutex::new(Replayer::new(Cassette::default(), ".".into())));
    let mut options = ExecOptions::replay(
        Mode::Replay(replayer),
        EgressPolicy::implied_by(&input),
        ExecutionClock::pinned(1_768_469_400),
    );
    options.documents = Some(textract_host::engine::documents::FolderStore::shared(documents.to_path_buf()));
    common::runtime()
        .block_on(common::harness().execute(&input, options))
        .unwrap()
}

fn document_input(execution: &str, document_id: &str) -> Value {
    json!({
        "authentication": {"accessKey": "AKIDEXAMPLE", "secretKey": "secret"},
        "configuration": {"region": "us-east-1"},
        "input": {"executionType": execution, "documentLocationType": "UPLOADED", "documentS3Bucket": "staging-bucket",
                  "analyzeTables": true,
                  "document": {"camunda.document.type": "camunda", "documentId": document_id, "metadata": {"fileName": "big"}}}
    })
}

#[test]
fn the_document_store_serves_one_folder_and_documents_over_aws_limits_are_refused() {
    let dir = std::env::temp_dir().join(format!("textract-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(10 * 1024 * 1024 + 1, 0);
    std::fs::write(dir.join("big-png"), &png).unwrap();
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(10 * 1024 * 1024 + 1, b' ');
    std::fs::write(dir.join("big-pdf"), &pdf).unwrap();
    std::fs::write(dir.parent().unwrap().join("outside-the-store"), b"%PDF-1.7").unwrap();

    // SYNC: 10 MB for everything, refused before any call.
    let e = run_with_documents(&document_input("SYNC", "big-pdf"), &dir);
    let err = e.outcome.unwrap_err();
    assert_eq!(err.code, "DocumentTooLarge");
    assert!(
        err.message
            .contains("over the limit of 10485760 bytes: real-time (SYNC) analysis"),
        "{}",
        err.message
    );
    assert!(e.journal.sent.is_empty());

    // ASYNC: images are limited to 10 MB too, before any upload.
    let e = run_with_documents(&document_input("ASYNC", "big-png"), &dir);
    let err = e.outcome.unwrap_err();
    assert_eq!(err.code, "DocumentTooLarge");
    assert!(
        err.message.contains("PNG and JPEG images up to 10 MB"),
        "{}",
        err.message
    );
    assert!(e.journal.sent.is_empty());

    // POLLING: a PDF over 10 MB is fine (500 MB): it is uploaded, whole.
    let e = run_with_documents(&document_input("POLLING", "big-pdf"), &dir);
    let put = &e.journal.sent[0];
    assert_eq!(put.method, "PUT");
    assert!(
        put.url
            .starts_with("https://staging-bucket.s3.us-east-1.amazonaws.com/textract-connector/tc-"),
        "{}",
        put.url
    );
    assert_eq!(put.body.len(), pdf.len());
    assert_eq!(put.header("content-type"), Some("application/pdf"));

    // The store is the folder and nothing else.
    let e = run_with_documents(&document_input("SYNC", "../outside-the-store"), &dir);
    assert_eq!(e.outcome.unwrap_err().code, "DocumentAccessDenied");
    let e = run_with_documents(&document_input("SYNC", "no-such-document"), &dir);
    assert_eq!(e.outcome.unwrap_err().code, "DocumentNotFound");
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_file(dir.parent().unwrap().join("outside-the-store")).ok();
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    common::harness();
    for (name, code) in [("sync-s3-version", 0), ("sync-access-denied", 3)] {
        let mut child = host()
            .args(["run", "--input", &scenario(name, "input.json")])
            .args(["--replay", &scenario(name, "cassette.json")])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // `textract-host run ... | head -c0`: the reader is gone before the result is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!((out.status.code(), stderr.as_ref()), (Some(code), ""), "{name}");
    }
}

const NOT_UTF8_ERROR: &str = r#"{"error":{"kind":"invalid-input","code":"InputNotUtf8","message":"The input is not UTF-8 text (invalid byte at offset 29)","retryable":false}}
"#;

#[test]
fn input_that_is_not_utf8_is_the_tenants_error_and_the_guest_never_runs() {
    let dir = std::env::temp_dir().join(format!("textract-latin1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let latin1: &[u8] = b"{\"input\":{\"documentName\":\"caf\xe9.pdf\"}}";
    let path = dir.join("latin1.json");
    std::fs::write(&path, latin1).unwrap();
    // No component at all: a run that needed the guest would fail with exit 1.
    let never_loaded = ["--component", "/nonexistent/never-loaded.wasm"];

    let from_file = host()
        .args(["run", "--live", "--input", path.to_str().unwrap()])
        .args(never_loaded)
        .output()
        .unwrap();
    let from_stdin = {
        let mut child = host()
            .args(["run", "--live", "--input", "-"])
            .args(never_loaded)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), latin1).unwrap();
        child.wait_with_output().unwrap()
    };
    for out in [from_file, from_stdin] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!((out.status.code(), stderr.as_ref()), (Some(3), ""));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), NOT_UTF8_ERROR);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn run_many_writes_an_input_that_is_not_utf8_as_its_error_and_goes_on() {
    common::harness();
    let base = std::env::temp_dir().join(format!("textract-many-latin1-{}", std::process::id()));
    let (inputs, cassettes, output) = (base.join("inputs"), base.join("cassettes"), base.join("output"));
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::create_dir_all(&cassettes).unwrap();
    std::fs::write(
        inputs.join("latin1.json"),
        b"{\"input\":{\"documentName\":\"caf\xe9.pdf\"}}",
    )
    .unwrap();
    std::fs::copy(
        scenario("validation-no-feature", "input.json"),
        inputs.join("validation-no-feature.json"),
    )
    .unwrap();
    std::fs::write(cassettes.join("validation-no-feature.json"), "{\"interactions\":[]}").unwrap();
    let out = host()
        .args([
            "run-many",
            "--inputs",
            inputs.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ])
        .args(["--replay-dir", cassettes.to_str().unwrap()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("2 executions: 0 ok, 2 errors, 0 failed to run"),
        "{table}"
    );
    assert!(table.contains("invalid-input/InputNotUtf8"), "{table}");
    assert_eq!(
        std::fs::read_to_string(output.join("latin1.error.json")).unwrap(),
        NOT_UTF8_ERROR
    );
    let other: Value =
        serde_json::from_str(&std::fs::read_to_string(output.join("validation-no-feature.error.json")).unwrap())
            .unwrap();
    assert_eq!(other["error"]["code"], "ValidationFailed");
    std::fs::remove_dir_all(&base).ok();
}

/// Self-managed container credentials from a local endpoint, recorded: the
/// cassette keeps no credential of the chain (the authorization token, the
/// answer's keys, a cookie) nor of the signed call, and still replays.
#[test]
fn recording_container_credentials_redacts_them_and_replays() {
    common::harness();
    let credentials = br#"{"AccessKeyId":"ASIASECRETCONTAINERID","SecretAccessKey":"SECRET-CONTAINER-KEY","Token":"SECRET-CONTAINER-SESSION","Expiration":"2099-01-01T00:00:00Z"}"#.to_vec();
    let analysis = br#"{"DocumentMetadata":{"Pages":1},"Blocks":[],"AnalyzeDocumentModelVersion":"1.0"}"#.to_vec();
    let (port, server) = common::serve(vec![
        (
            200,
            vec![
                ("content-type", "application/json".to_string()),
                ("set-cookie", "session=SECRET-COOKIE; HttpOnly".to_string()),
            ],
            credentials,
        ),
        (
            200,
            vec![
                ("content-type", "application/x-amz-json-1.1".to_string()),
                ("x-amzn-RequestId", "req-container-1".to_string()),
            ],
            analysis,
        ),
    ]);
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = std::env::temp_dir().join(format!("textract-record-container-{port}"));
    std::fs::create_dir_all(dir.join("no-aws-config")).unwrap();
    let input_path = dir.join("input.json");
    let mut input: Value = serde_json::from_str(&sync_input(Some(&endpoint))).unwrap();
    input["authentication"] = json!({"type": "defaultCredentialsChain"});
    std::fs::write(&input_path, input.to_string()).unwrap();
    let cassette_path = dir.join("cassette.json");
    let run = |transport: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_textract-host"));
        // Only the grants under test: none of this machine's own AWS settings.
        cmd.env_clear()
            .env("TEXTRACT_COMPONENT", common::component_path())
            .env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("{endpoint}/v2/credentials/task-1"),
            )
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "SECRET-CONTAINER-AUTH")
            .args(["run", "--self-managed", "--input", input_path.to_str().unwrap()])
            .args(["--aws-config-dir", dir.join("no-aws-config").to_str().unwrap()])
            .args(["--allow-host", &format!("127.0.0.1:{port}")])
            .args([transport, cassette_path.to_str().unwrap()])
            .output()
            .unwrap()
    };

    let recorded = run("--record");
    assert_eq!(
        recorded.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&recorded.stderr)
    );
    let seen = server.join().unwrap();
    assert_eq!(seen[0].request_line, "GET /v2/credentials/task-1 HTTP/1.1");
    let header = |i: usize, name: &str| seen[i].headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(header(0, "authorization").as_deref(), Some("SECRET-CONTAINER-AUTH"));
    assert_eq!(
        header(1, "x-amz-security-token").as_deref(),
        Some("SECRET-CONTAINER-SESSION")
    );

    let text = std::fs::read_to_string(&cassette_path).unwrap();
    for secret in ["SECRET", "ASIASECRETCONTAINERID", "AWS4-HMAC-SHA256"] {
        assert!(!text.contains(secret), "the cassette leaks {secret}: {text}");
    }
    let cassette: Cassette = serde_json::from_str(&text).unwrap();
    assert_eq!(cassette.interactions.len(), 2);

    let replayed = run("--replay");
    assert_eq!(
        replayed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    assert_eq!(replayed.stdout, recorded.stdout);
    std::fs::remove_dir_all(&dir).ok();
}

/// A server whose every answer announces `size` bytes and streams them until
/// the client goes away.
fn endless_body_server(size: u64) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                let _ = stream.read(&mut buf);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {size}\r\n\r\n"
                );
                let chunk = vec![b' '; 1 << 20];
                let mut sent = 0u64;
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                while sent < size {
                    let n = chunk.len().min((size - sent) as usize);
                    if stream.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    sent += n as u64;
                }
            });
        }
    });
    port
}

/// A server whose every answer announces `size` bytes, sends half of them and
/// hangs up: a body cut in half.
fn half_body_server(size: usize) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {size}\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&vec![b' '; size / 2]);
        }
    });
    port
}

#[test]
fn a_body_cut_in_half_is_one_plain_line_even_when_the_host_captures_backtraces() {
    // An operator who runs the host with RUST_BACKTRACE=1 had the host's stack
    // backtrace (its paths, crates and versions) in the tenant's error message:
    // the guest passed the host's debug text of the stream error on in full.
    let port = half_body_server(100_000);
    let input = common::temp_path("textract-half-body", "json");
    std::fs::write(&input, sync_input(Some(&format!("http://127.0.0.1:{port}")))).unwrap();
    let out = host()
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .args(["run", "--live", "--allow-host"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    std::fs::remove_file(&input).ok();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        error["error"],
        json!({
            "kind": "upstream",
            "code": "ConnectionError",
            "message": format!(
                "Reading the response from 127.0.0.1:{port} failed: hyper error: error reading a body from connection. \
                 Gave up after 3 attempts."
            ),
            "retryable": true,
        })
    );
}

/// The child's peak resident memory (VmHWM), read until it exits.
fn run_measuring_peak(mut cmd: Command) -> (std::process::Output, u64) {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let peak = Arc::new(Mutex::new(0u64));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(text) = std::fs::read_to_string(&status_path) {
                    let hwm = text
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
                    if let Some(kb) = hwm {
                        let mut p = peak.lock().unwrap();
                        *p = (*p).max(kb * 1024);
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.join().unwrap();
    let peak = *peak.lock().unwrap();
    (out, peak)
}

#[test]
fn a_400_mb_response_never_grows_the_host_past_the_executions_memory() {
    // Before bodies were streamed, a guest limited to 64 MiB pushed the host to
    // ~800 MiB: each response was collected in full, twice, up to 512 MiB.
    let port = endless_body_server(400 * 1024 * 1024);
    let dir = std::env::temp_dir().join(format!("textract-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("input.json");
    std::fs::write(&input, sync_input(Some(&format!("http://127.0.0.1:{port}")))).unwrap();
    let mut cmd = host();
    cmd.args(["run", "--live", "--max-memory", "64MiB", "--allow-host"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--input")
        .arg(&input);
    let (out, peak) = run_measuring_peak(cmd);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "limit-exceeded", "{error}");
    println!(
        "host peak RSS for a 400 MB response at --max-memory 64MiB: {} MiB",
        peak >> 20
    );
    // The host itself (a debug build with the component loaded) is ~70 MiB;
    // the execution adds at most about its own memory limit.
    assert!(peak > 0 && peak < 200 << 20, "host peak {} MiB", peak >> 20);
    std::fs::remove_dir_all(&dir).ok();
}
