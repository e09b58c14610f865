//! Shared by the worker's integration tests: the recorded SYNC scenarios
//! the jobs replay, the worker binary as a child process (on a component
//! precompiled once per test binary, so no process spends seconds compiling
//! it), and the checks every worker test makes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use textract_host::engine::{EngineSettings, Harness};
use textract_host::testkit::aws_standin::{Answer, AwsStandIn};
use textract_host::testkit::camunda::{AuthMode, CamundaStandIn, JobSpec, StandInConfig};
use textract_host::transport::cassette::Cassette;

/// The component compiled to native code for `--no-pooling`, once per test process.
/// One file per test binary, under cargo's own scratch folder (`cargo clean`
/// removes it): a name per process id left a 2 MB file in /tmp after every run,
/// since statics are never dropped. Written under a private name and renamed into
/// place, so concurrent processes of one binary never read a half-written file.
fn precompiled() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        super::harness(); // a clear failure on a stale component
        let exe = std::env::current_exe().unwrap();
        let stem = exe.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join(format!("{stem}.cwasm"));
        let partial = dir.join(format!("{stem}.{}.partial", std::process::id()));
        let settings = EngineSettings {
            pooling: false,
            ..EngineSettings::default()
        };
        Harness::compile(&super::component_path(), &partial, &settings).unwrap();
        std::fs::rename(&partial, &path).unwrap();
        path
    })
    .clone()
}

/// The worker's environment for `basic_auth_cluster`.
pub const BASIC_AUTH_ENV: [(&str, &str); 2] =
    [("CAMUNDA_BASIC_AUTH_USERNAME", "demo"), ("CAMUNDA_BASIC_AUTH_PASSWORD", "pa55-w0rd")];

/// A stand-in cluster that requires basic auth (`demo` / `pa55-w0rd`).
pub fn basic_auth_cluster() -> CamundaStandIn {
    CamundaStandIn::start_in_thread(StandInConfig {
        auth: AuthMode::Basic {
            user: "demo".into(),
            password: "pa55-w0rd".into(),
        },
        ..StandInConfig::default()
    })
    .unwrap()
}

pub const JOB_TYPE: &str = "io.camunda:aws-textract:1";

/// The recorded SYNC scenario the worker's jobs replay against the AWS stand-in:
/// its input, the body AWS answered, and the exact result.
pub struct Scenario {
    pub input: Value,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub expected: Value,
}

impl Scenario {
    /// What AWS answered in the recording, headers and all.
    pub fn answer(&self) -> Answer {
        Answer {
            headers: self.headers.clone(),
            ..Answer::json(200, self.body.clone())
        }
    }
}

pub fn scenario(name: &str) -> Scenario {
    let dir = super::workspace().join("tests").join(name);
    let read = |f: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap() };
    let cassette = Cassette::load(&dir.join("cassette.json")).unwrap();
    let response = &cassette.interactions[0].response;
    let body = response.body.bytes(&dir).unwrap();
    let headers = response
        .headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
        .filter_map(|(name, value)| value.as_str().map(|v| (name.clone(), v.to_string())))
        .collect();
    Scenario {
        input: read("input.json"),
        body,
        headers,
        expected: read("expected.json"),
    }
}

/// The scenario's input, sent to the AWS stand-in.
pub fn job_input(s: &Scenario, aws: &AwsStandIn) -> Value {
    let mut input = s.input.clone();
    input["configuration"]["endpoint"] = json!(aws.endpoint());
    input
}

pub fn job(variables: Value, headers: &[(&str, &str)]) -> JobSpec {
    let mut spec = JobSpec::new(JOB_TYPE, variables);
    spec.custom_headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
    spec
}

pub struct Worker {
    pub child: Child,
    pub log: PathBuf,
}

impl Worker {
    /// A worker of `cluster` that may call `aws` (`--allow-host`).
    pub fn start(cluster: &CamundaStandIn, aws: &AwsStandIn, args: &[&str], env: &[(&str, &str)]) -> Worker {
        let mut all = vec!["--allow-host", aws.authority().leak() as &str];
        all.extend_from_slice(args);
        Worker::start_with(cluster, &all, env)
    }

    /// A worker of `cluster` with exactly these flags.
    pub fn start_with(cluster: &CamundaStandIn, args: &[&str], env: &[(&str, &str)]) -> Worker {
        let log = super::temp_path("worker", "log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_textract-host"));
        for (name, _) in std::env::vars() {
            if name.starts_with("CAMUNDA_") || name.starts_with("ZEEBE_") || name.starts_with("AWS_") {
                command.env_remove(name);
            }
        }
        command
            .env("TEXTRACT_COMPONENT", super::component_path())
            .args(["worker", "--component"])
            .arg(precompiled())
            .envs(env.iter().copied())
            .args(["--camunda-url", &cluster.url()])
            .args(["--poll-timeout", "1s", "--no-pooling"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        Worker {
            child: command.spawn().unwrap(),
            log,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit; its exit code.
    pub fn wait(&mut self, limit: Duration) -> i32 {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if started.elapsed() > limit {
                self.child.kill().ok();
                panic!("the worker did not exit within {limit:?}; its log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} failed");
    }
}

/// One `textract-host worker --once` of `cluster` with these flags, waited for
/// up to `limit`: its exit code and log.
pub fn run_once(cluster: &CamundaStandIn, args: &[&str], limit: Duration) -> (i32, String) {
    let mut all = vec!["--once"];
    all.extend_from_slice(args);
    let mut worker = Worker::start_with(cluster, &all, &[]);
    let code = worker.wait(limit);
    (code, worker.log())
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_file(&self.log).ok();
    }
}

pub fn events(log: &str, event: &str) -> Vec<String> {
    let needle = format!("event={event} ");
    log.lines().filter(|l| l.contains(&needle) || l.ends_with(&format!("event={event}"))).map(str::to_string).collect()
}

/// The result is the recorded scenario's: the same JSON, with numbers equal to
/// the last bit a JSON round trip keeps (the stand-in parses and stores the
/// completion), and the `Content-Length` a live answer has and the recording lacks.
pub fn assert_same(got: &Value, want: &Value) {
    let mut got = got.clone();
    for headers in ["httpHeaders", "allHttpHeaders"] {
        if let Some(h) = got["sdkHttpMetadata"][headers].as_object_mut() {
            h.remove("Content-Length");
        }
    }
    let mut diffs = Vec::new();
    same("$", want, &got, &mut diffs);
    assert!(diffs.is_empty(), "the result differs: {:#?}", &diffs[..diffs.len().min(10)]);
}

fn same(path: &str, want: &Value, got: &Value, diffs: &mut Vec<String>) {
    match (want, got) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            if (a - b).abs() > 1e-12 * a.abs().max(b.abs()) {
                diffs.push(format!("{path}: expected {a}, completed {b}"));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same(&format!("{path}[{i}]"), x, y, diffs);
            }
        }
        (Value::Object(a), Value::Object(b)) if a.len() == b.len() => {
            for (k, x) in a {
                match b.get(k) {
                    Some(y) => same(&format!("{path}.{k}"), x, y, diffs),
                    None => diffs.push(format!("{path}.{k}: missing")),
                }
            }
        }
        _ if want == got => {}
        _ => diffs.push(format!("{path}: expected {want}, completed {got}")),
    }
}

pub fn assert_strict(cluster: &CamundaStandIn) {
    let violations = cluster.violations();
    assert!(violations.is_empty(), "requests that break the API: {violations:#?}");
}

