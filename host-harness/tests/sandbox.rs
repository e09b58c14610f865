//! The runtime's sandbox: each limit stops the execution that passes it, and
//! only that one; SaaS grants nothing; self-managed grants exactly the AWS
//! environment; precompiled components and `run-many` work. The misbehaving
//! guest is `host-harness/fixtures/sandbox-guest` (`make fixture`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::Value;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use textract_host::engine::sandbox::{Grants, RuntimeMode};
use textract_host::engine::{EngineSettings, ExecOptions, Execution, ExecutionClock, Harness};
use textract_host::limits::Limits;
use textract_host::transport::cassette::Cassette;
use textract_host::transport::egress::EgressPolicy;
use textract_host::transport::{Mode, Replayer};

fn fixture_path() -> std::path::PathBuf {
    common::workspace().join("target/wasm32-wasip2/release/sandbox_guest.wasm")
}

fn fixture() -> &'static Harness {
    static FIXTURE: OnceLock<Harness> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = fixture_path();
        assert!(
            path.is_file(),
            "no {}: run `make fixture` (make test does)",
            path.display()
        );
        Harness::load(&path).unwrap()
    })
}

fn options(limits: Limits, policy: EgressPolicy) -> ExecOptions {
    let mut o = ExecOptions::replay(Mode::Live, policy, ExecutionClock::real());
    o.limits = limits;
    o
}

async fn behave(input: &str, options: ExecOptions) -> Execution {
    fixture().execute(input, options).await.unwrap()
}

fn error_code(e: &Execution) -> (String, String) {
    let err = e.outcome.as_ref().expect_err("expected the execution to be stopped");
    (err.kind.clone(), err.code.clone())
}

#[test]
fn each_limit_stops_only_the_execution_that_passes_it() {
    let rt = common::runtime();
    rt.block_on(async {
        let small = Limits {
            max_memory: 64 << 20,
            timeout: Duration::from_secs(2),
            max_requests: 5,
            ..Limits::default()
        };
        let mut allowed = EgressPolicy::default();
        allowed.allow("127.0.0.1:9");
        let started = Instant::now();
        let (alloc, spin, sleep, denied, requests, ok1, ok2, ok3) = tokio::join!(
            behave("allocate", options(small, EgressPolicy::deny_all())),
            behave("loop", options(small, EgressPolicy::deny_all())),
            behave("sleep", options(small, EgressPolicy::deny_all())),
            behave("call denied.example.com", options(small, EgressPolicy::deny_all())),
            behave("requests", options(small, allowed)),
            behave("ok", options(small, EgressPolicy::deny_all())),
            behave("ok", options(Limits::default(), EgressPolicy::deny_all())),
            behave("ok", options(Limits::default(), EgressPolicy::deny_all())),
        );
        let elapsed = started.elapsed();

        assert_eq!(
            error_code(&alloc),
            ("limit-exceeded".into(), "MemoryLimitExceeded".into())
        );
        assert!(alloc
            .outcome
            .as_ref()
            .unwrap_err()
            .message
            .contains("memory limit of 67108864 bytes"));
        assert!(alloc.peak_memory_bytes <= 64 << 20);
        let message = &alloc.outcome.as_ref().unwrap_err().message;
        assert!(
            !message.contains('\n') && !message.contains("wasm backtrace"),
            "{message}"
        );

        assert_eq!(error_code(&spin), ("limit-exceeded".into(), "TimeLimitExceeded".into()));
        assert!(spin
            .outcome
            .as_ref()
            .unwrap_err()
            .message
            .contains("time limit of 2.0 s"));
        // A guest waiting in the host is stopped by the same deadline.
        assert_eq!(
            error_code(&sleep),
            ("limit-exceeded".into(), "TimeLimitExceeded".into())
        );

        let err = denied.outcome.as_ref().unwrap_err();
        assert_eq!(err.code, "CallFailed");
        assert!(err.message.contains("HttpRequestDenied"), "{}", err.message);
        assert_eq!(denied.journal.denied, vec!["GET http://denied.example.com/"]);

        assert_eq!(
            error_code(&requests),
            ("limit-exceeded".into(), "RequestLimitExceeded".into())
        );
        assert_eq!(requests.journal.sent.len(), 5);

        for ok in [&ok1, &ok2, &ok3] {
            assert_eq!(ok.outcome.as_deref(), Ok(r#"{"ok":true}"#));
        }
        assert!(elapsed < Duration::from_secs(20), "the limits took {elapsed:?} to act");
    });
    // The process and the engine are unharmed: the same harness runs on.
    let again = rt.block_on(behave("ok", options(Limits::default(), EgressPolicy::deny_all())));
    assert_eq!(again.outcome.as_deref(), Ok(r#"{"ok":true}"#));
}

#[test]
fn saas_grants_no_files_and_no_environment() {
    let rt = common::runtime();
    let files = rt.block_on(behave(
        "read-file",
        options(Limits::default(), EgressPolicy::deny_all()),
    ));
    let files: Value = serde_json::from_str(files.outcome.as_ref().unwrap()).unwrap();
    assert!(files["listRoot"].as_str().unwrap().starts_with("err:"), "{files}");
    assert!(files["awsCredentials"].as_str().unwrap().starts_with("err:"), "{files}");
    let env = rt.block_on(behave("read-env", options(Limits::default(), EgressPolicy::deny_all())));
    assert_eq!(env.outcome.as_deref(), Ok(r#"{"env":[]}"#));
}

#[test]
fn self_managed_grants_only_aws_variables_and_the_config_folder() {
    let dir = std::env::temp_dir().join(format!("textract-aws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let credentials = "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s\n";
    std::fs::write(dir.join("credentials"), credentials).unwrap();
    let grant = |input: &str| {
        let mut o = options(Limits::default(), EgressPolicy::deny_all());
        o.runtime = RuntimeMode::SelfManaged;
        o.grants = Grants {
            env: vec![
                ("AWS_REGION".into(), "eu-west-1".into()),
                ("HOME".into(), "/root".into()),
                ("PATH".into(), "/bin".into()),
            ],
            aws_config_dir: Some(dir.clone()),
        };
        common::runtime().block_on(behave(input, o))
    };
    assert_eq!(grant("read-env").outcome.as_deref(), Ok(r#"{"env":["AWS_REGION"]}"#));
    let files: Value = serde_json::from_str(grant("read-file").outcome.as_ref().unwrap()).unwrap();
    assert_eq!(files["awsCredentials"], format!("ok:{}", credentials.len()), "{files}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_response_over_the_size_limit_stops_the_execution() {
    let dir = common::workspace().join("tests/sync-s3-all-features");
    let input = std::fs::read_to_string(dir.join("input.json")).unwrap();
    let cassette = Cassette::load(&dir.join("cassette.json")).unwrap();
    let replayer = Arc::new(Mutex::new(Replayer::new(cassette, dir.clone())));
    let mut o = ExecOptions::replay(
        Mode::Replay(replayer),
        EgressPolicy::implied_by(&input),
        ExecutionClock::pinned(1_768_469_400),
    );
    o.limits.max_response_bytes = 100_000;
    let e = common::runtime()
        .block_on(common::harness().execute(&input, o))
        .unwrap();
    assert_eq!(
        error_code(&e),
        ("limit-exceeded".into(), "ResponseSizeLimitExceeded".into())
    );
    assert!(e
        .outcome
        .unwrap_err()
        .message
        .contains("larger than the limit of 100000 bytes"));
}

/// Per-execution start-up, pooled against on-demand, measured side by side.
#[test]
fn pooled_instantiation_is_measured_against_on_demand() {
    let path = common::component_path();
    common::harness();
    let rt = common::runtime();
    let mut report = Vec::new();
    for pooling in [true, false] {
        let harness = Harness::load_with(
            &path,
            EngineSettings {
                pooling,
                ..EngineSettings::default()
            },
        )
        .unwrap();
        let mut times: Vec<Duration> = (0..300)
            .map(|_| {
                let t = Instant::now();
                rt.block_on(harness.instantiate_only()).unwrap();
                t.elapsed()
            })
            .collect();
        times.sort();
        report.push(format!(
            "{}: median {:.1} µs, p99 {:.1} µs",
            if pooling { "pooled" } else { "on-demand" },
            times[times.len() / 2].as_secs_f64() * 1e6,
            times[times.len() * 99 / 100].as_secs_f64() * 1e6
        ));
    }
    println!("instantiation (debug host, 300 each): {}", report.join("; "));
}

fn host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_textract-host"))
}

#[test]
fn a_precompiled_component_runs_like_the_wasm() {
    common::harness();
    let cwasm = std::env::temp_dir().join(format!("textract-{}.cwasm", std::process::id()));
    let compiled = host()
        .args([
            "compile",
            "--component",
            common::component_path().to_str().unwrap(),
            "--output",
            cwasm.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        compiled.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let dir = common::workspace().join("tests/sync-s3-version");
    let run = |component: &str| {
        host()
            .args([
                "run",
                "--component",
                component,
                "--input",
                dir.join("input.json").to_str().unwrap(),
            ])
            .args(["--replay", dir.join("cassette.json").to_str().unwrap()])
            .output()
            .unwrap()
    };
    let from_cwasm = run(cwasm.to_str().unwrap());
    let from_wasm = run(common::component_path().to_str().unwrap());
    assert_eq!(
        from_cwasm.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&from_cwasm.stderr)
    );
    assert_eq!(from_cwasm.stdout, from_wasm.stdout);
    std::fs::remove_file(&cwasm).ok();
}

#[test]
fn run_many_gives_each_input_its_own_result_and_a_summary() {
    common::harness();
    let base = std::env::temp_dir().join(format!("textract-many-{}", std::process::id()));
    let (inputs, cassettes, output) = (base.join("inputs"), base.join("cassettes"), base.join("output"));
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::create_dir_all(&cassettes).unwrap();
    let scenarios = [
        "sync-s3-version",
        "polling-three-pages",
        "async-all-options",
        "validation-no-feature",
        "sync-access-denied",
    ];
    for name in scenarios {
        let dir = common::workspace().join("tests").join(name);
        std::fs::copy(dir.join("input.json"), inputs.join(format!("{name}.json"))).unwrap();
        if dir.join("cassette.json").is_file() {
            // File bodies are relative to the cassette: point them back at the fixtures.
            let text = std::fs::read_to_string(dir.join("cassette.json")).unwrap().replace(
                "\"../fixtures/",
                &format!("\"{}/", common::workspace().join("tests/fixtures").display()),
            );
            std::fs::write(cassettes.join(format!("{name}.json")), text).unwrap();
        } else {
            std::fs::write(cassettes.join(format!("{name}.json")), "{\"interactions\":[]}").unwrap();
        }
    }
    let out = host()
        .env("TEXTRACT_COMPONENT", common::component_path())
        .args([
            "run-many",
            "--inputs",
            inputs.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ])
        .args(["--replay-dir", cassettes.to_str().unwrap(), "--concurrency", "3"])
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
        table.contains("5 executions: 3 ok, 2 errors, 0 failed to run"),
        "{table}"
    );
    assert!(
        table.contains("invalid-input/ValidationFailed") && table.contains("unauthorized/AccessDeniedException"),
        "{table}"
    );
    for (name, file) in [
        ("sync-s3-version", "sync-s3-version.json"),
        ("polling-three-pages", "polling-three-pages.json"),
        ("async-all-options", "async-all-options.json"),
        ("validation-no-feature", "validation-no-feature.error.json"),
        ("sync-access-denied", "sync-access-denied.error.json"),
    ] {
        let written: Value = serde_json::from_str(&std::fs::read_to_string(output.join(file)).unwrap()).unwrap();
        let dir = common::workspace().join("tests").join(name);
        let expected: Value = match std::fs::read_to_string(dir.join("expected.json")) {
            Ok(text) => serde_json::from_str(&text).unwrap(),
            Err(_) => {
                serde_json::json!({"error": serde_json::from_str::<Value>(&std::fs::read_to_string(dir.join("expected-error.json")).unwrap()).unwrap()})
            }
        };
        assert_eq!(written, expected, "{name}");
    }
    std::fs::remove_dir_all(&base).ok();
}

/// Runs the fixture through the CLI on one behaviour: exit code, stdout, stderr.
fn run_fixture(behaviour: &str) -> (Option<i32>, String, String) {
    let input = std::env::temp_dir().join(format!("textract-fixture-{behaviour}-{}", std::process::id()));
    std::fs::write(&input, behaviour).unwrap();
    fixture();
    let out = host()
        .args(["run", "--live", "--component", fixture_path().to_str().unwrap()])
        .args(["--input", input.to_str().unwrap()])
        .output()
        .unwrap();
    std::fs::remove_file(&input).ok();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_trap_tells_the_tenant_one_plain_line_and_the_operator_everything() {
    let (code, stdout, stderr) = run_fixture("trap");
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        stdout,
        "{\"error\":{\"kind\":\"internal\",\"code\":\"GuestTrap\",\"message\":\"The connector stopped unexpectedly \
         (wasm trap: wasm `unreachable` instruction executed); the runtime's log has the details\",\"retryable\":false}}\n"
    );
    assert!(!stdout.contains("wasm backtrace") && !stdout.contains("0x"));
    // The operator's log has the backtrace, every line marked as the runtime's.
    assert!(stderr.contains("wasm backtrace"), "{stderr}");
    assert!(stderr.contains("wasm `unreachable` instruction executed"), "{stderr}");
    assert!(
        stderr
            .lines()
            .all(|l| l.starts_with("textract-host: runtime: guest trap: ")),
        "{stderr}"
    );

    // The library's caller gets the same one line.
    let e = common::runtime().block_on(behave("trap", options(Limits::default(), EgressPolicy::deny_all())));
    let err = e.outcome.unwrap_err();
    assert_eq!(
        (err.kind.as_str(), err.code.as_str(), err.retryable),
        ("internal", "GuestTrap", false)
    );
    assert!(
        !err.message.contains('\n') && !err.message.contains("0x"),
        "{}",
        err.message
    );
}

#[test]
fn guest_stderr_reaches_the_operator_with_its_control_characters_escaped() {
    let (code, stdout, stderr) = run_fixture("stderr");
    assert_eq!((code, stdout.as_str()), (Some(0), "{\"ok\":true}\n"), "{stderr}");
    assert_eq!(
        stderr,
        "textract: job \\u{1b}[2K\\rtextract-host: egress denied: nothing\nbell \\u{7} no newline\n"
    );
}
