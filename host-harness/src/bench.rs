//! `textract-bench [--quick]`: measures the component against its baselines in
//! one run and prints one table, ratios beside absolute figures. Every
//! comparison runs side by side in this process (or a child it starts now),
//! after a warm-up; min, median and max are printed because this machine is noisy.
//!
//! 1. size of the release component and its imports;
//! 2. start-up: compiling, loading a `.cwasm`, instantiating (pooled vs on-demand);
//! 3. one SYNC call on a recorded 1,045-block response, after waiting for a quiet
//!    machine and in several rounds to show the spread: (a) the component through
//!    the harness, with its parts; (b) the same core natively, on a warm heap and in
//!    fresh processes (the component's instance starts fresh every time), the
//!    three interleaved call by call so that the machine's drift hits all alike; (c)
//!    aws-sdk-textract natively against a local server replaying the bytes; (d) the
//!    component live against that server;
//! 4. a POLLING merge of 100 pages × 1,000 blocks, replayed;
//! 5. `run-many` over replayed SYNC inputs at concurrency 1, 2 and 4;
//! 6. `textract-host worker`: 1,000 SYNC jobs through the Camunda stand-in, AWS
//!    answered by a local stand-in, at concurrency 1, 2 and 4, with the worker's
//!    peak memory.
//!
//! `--quick` runs a reduced version (no SDK build, fewer iterations) for CI;
//! `--sync` runs only the size and section 3, to try one lever at a time;
//! `--worker` only the size and section 6; `--profile` only (a), repeatedly, for
//! `perf record` (`make profile`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use textract_host::engine::{EngineSettings, ExecOptions, ExecutionClock, Harness, Timings, KEEP_RESIDENT_BYTES};
use textract_host::testkit::aws_standin::{Answer, AwsStandIn};
use textract_host::testkit::camunda::{CamundaStandIn, JobSpec, StandInConfig};
use textract_host::transport::cassette::Cassette;
use textract_host::transport::egress::EgressPolicy;
use textract_host::transport::{Mode, Replayer};

struct Stats {
    min: Duration,
    median: Duration,
    p99: Duration,
    max: Duration,
}

fn stats(mut times: Vec<Duration>) -> Stats {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Stats {
        min: times[0],
        median: at(0.5),
        p99: at(0.99),
        max: times[times.len() - 1],
    }
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// CPU seconds this process has used (all threads).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

struct Report {
    lines: Vec<String>,
}

impl Report {
    fn section(&mut self, title: &str) {
        self.lines.push(String::new());
        self.lines.push(format!("## {title}"));
        println!("\n## {title}");
    }

    fn row(&mut self, what: &str, figure: String) {
        let line = format!("{what:<58} {figure}");
        println!("{line}");
        self.lines.push(line);
    }
}

fn workspace() -> PathBuf {
    textract_host::workspace_root()
}

fn sync_input(endpoint: Option<&str>) -> String {
    let mut v = json!({
        "authentication": {"accessKey": "AKIDEXAMPLE", "secretKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
        "configuration": {"region": "us-east-1"},
        "input": {"executionType": "SYNC", "documentS3Bucket": "textract-demo-docs", "documentName": "paystubs/2025-12.png",
                  "analyzeTables": true, "analyzeForms": true}
    });
    if let Some(e) = endpoint {
        v["configuration"]["endpoint"] = json!(e);
    }
    v.to_string()
}

const SYNC_REQUEST_BODY: &str = r#"{"Document":{"S3Object":{"Bucket":"textract-demo-docs","Name":"paystubs/2025-12.png"}},"FeatureTypes":["TABLES","FORMS"]}"#;

fn response_body() -> String {
    std::fs::read_to_string(workspace().join("tests/fixtures/textract/form1005-response.json")).unwrap()
}

fn sync_cassette(body: &str) -> Cassette {
    serde_json::from_value(json!({"recordedAt": "2026-01-15T09:30:00Z", "interactions": [{
        "request": {"method": "POST", "url": "https://textract.us-east-1.amazonaws.com/",
                    "headers": {"x-amz-target": "Textract.AnalyzeDocument"}, "body": {"text": SYNC_REQUEST_BODY}},
        "response": {"status": 200, "headers": {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "req-bench"},
                     "body": {"text": body}}
    }]}))
    .unwrap()
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1 answering every request with `body`.
fn serve(body: String) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = Arc::new(body);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let (mut length, mut close) = (0usize, false);
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end().to_ascii_lowercase();
                        if h.is_empty() {
                            break;
                        }
                        if let Some(v) = h.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        close |= h == "connection: close";
                    }
                    let mut sink = vec![0; length];
                    if reader.read_exact(&mut sink).is_err() {
                        return;
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-requestid: req-bench\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    if writer
                        .write_all(head.as_bytes())
                        .and_then(|_| writer.write_all(body.as_bytes()))
                        .is_err()
                        || close
                    {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// The connector's core natively, on an in-memory response.
struct NativeHttp(Vec<u8>);

impl textract_connector::platform::http::HttpClient for NativeHttp {
    fn send(
        &mut self,
        _: &textract_connector::platform::http::HttpRequest,
    ) -> textract_connector::error::Result<textract_connector::platform::http::HttpResponse> {
        Ok(textract_connector::platform::http::HttpResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/x-amz-json-1.1".into()),
                ("x-amzn-requestid".into(), "req-bench".into()),
            ],
            body: self.0.clone(),
        })
    }
}

struct NativePlatform;

impl textract_connector::Platform for NativePlatform {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn monotonic(&self) -> Duration {
        Duration::ZERO
    }
    fn sleep(&mut self, _: Duration) {}
    fn random_u64(&mut self) -> u64 {
        4
    }
    fn progress(&mut self, _: &str) {}
    fn env(&self, _: &str) -> Option<String> {
        None
    }
    fn read_file(&self, _: &str) -> Result<Vec<u8>, String> {
        Err("none".into())
    }
    fn operator_allows(&self, _: &str, _: u16) -> bool {
        false
    }
    fn memory_limit(&self) -> Option<u64> {
        None
    }
}

struct NoDocuments;

impl textract_connector::platform::documents::DocumentStore for NoDocuments {
    fn read(
        &mut self,
        _: Option<&str>,
        _: &str,
        _: Option<&str>,
    ) -> Result<Vec<u8>, textract_connector::platform::documents::StoreError> {
        Err(textract_connector::platform::documents::StoreError::NotFound)
    }
}

/// Runs `f` `n` times after `warm` warm-ups: per-call wall times and CPU seconds.
fn measure(n: usize, warm: usize, mut f: impl FnMut()) -> (Stats, f64) {
    measure_prepared(n, warm, || (), |()| f())
}

/// As `measure`, with what each call needs made by `prepare`, outside the timing.
fn measure_prepared<P>(n: usize, warm: usize, mut prepare: impl FnMut() -> P, mut f: impl FnMut(P)) -> (Stats, f64) {
    for _ in 0..warm {
        f(prepare());
    }
    let (mut times, mut cpu) = (Vec::with_capacity(n), 0.0);
    for _ in 0..n {
        let p = prepare();
        let ((), time, c) = timed(|| f(p));
        times.push(time);
        cpu += c;
    }
    (stats(times), cpu)
}

/// One call of `f`: what it returns, its wall time and its CPU seconds.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, f64) {
    let (cpu, t) = (cpu_seconds(), Instant::now());
    let out = f();
    let time = t.elapsed();
    (out, time, cpu_seconds() - cpu)
}

/// A fresh replayer of `cassette`. Made before the clock starts: copying the
/// cassette (and its 1 MB body) is the bench's setup, not the component's work.
fn replayer(cassette: &Cassette) -> Arc<Mutex<Replayer>> {
    Arc::new(Mutex::new(Replayer::new(cassette.clone(), ".".into())))
}

/// One SYNC execution of the component, answered by `replayer`; its timings.
fn replay_sync(
    rt: &tokio::runtime::Runtime,
    harness: &Harness,
    input: &str,
    replayer: Arc<Mutex<Replayer>>,
    start: u64,
) -> Timings {
    let e = rt
        .block_on(harness.execute(
            input,
            ExecOptions::replay(
                Mode::Replay(replayer),
                EgressPolicy::implied_by(input),
                ExecutionClock::pinned(start),
            ),
        ))
        .unwrap();
    assert!(e.outcome.is_ok(), "{:?}", e.outcome);
    e.timings
}

/// One SYNC execution of the core, natively, on the recorded body.
fn native_call(input: &str, body: &[u8]) {
    let mut http = NativeHttp(body.to_vec());
    let mut platform = NativePlatform;
    let mut documents = NoDocuments;
    let mut ctx = textract_connector::Context {
        http: &mut http,
        platform: &mut platform,
        documents: &mut documents,
        mode: textract_connector::RuntimeMode::Saas,
    };
    textract_connector::execute(&mut ctx, input).unwrap();
}

/// Minor page faults of this process so far.
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            after.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// `--native-once`: one native call in this fresh process, as the component's
/// instance gets it (a heap nothing has warmed); prints microseconds and faults.
fn native_once() {
    let input = sync_input(None);
    let body = response_body().into_bytes();
    let faults = minor_faults();
    let t = Instant::now();
    native_call(&input, &body);
    let elapsed = t.elapsed();
    println!("{} {}", elapsed.as_micros(), minor_faults() - faults);
}

/// (b) on fresh memory: one child process, one call; its time and page faults.
fn fresh_native() -> (Duration, u64) {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(&exe).arg("--native-once").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    let us: u64 = it.next().and_then(|v| v.parse().ok()).expect("native-once output");
    let faults = it.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (Duration::from_micros(us), faults)
}

/// The calling thread pinned to the CPU it is on, until dropped (then its
/// previous affinity is restored).
struct Pinned {
    cpu: Option<usize>,
    previous: Option<libc::cpu_set_t>,
}

impl Pinned {
    fn here() -> Pinned {
        // SAFETY: plain libc calls on the calling thread (pid 0) with a cpu_set_t
        // that lives on this stack; failures leave the thread as it was.
        unsafe {
            let mut previous: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            if libc::sched_getaffinity(0, size, &mut previous) != 0 {
                return Pinned { cpu: None, previous: None };
            }
            let Ok(cpu) = usize::try_from(libc::sched_getcpu()) else {
                return Pinned { cpu: None, previous: None };
            };
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            if libc::sched_setaffinity(0, size, &one) != 0 {
                return Pinned { cpu: None, previous: None };
            }
            Pinned {
                cpu: Some(cpu),
                previous: Some(previous),
            }
        }
    }

    fn describe(&self) -> String {
        match self.cpu {
            Some(cpu) => format!("pinned to CPU {cpu} (fresh processes too)"),
            None => "not pinned (sched_setaffinity refused): figures may be noisier".into(),
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(previous) = &self.previous {
            // SAFETY: as in `here`.
            unsafe {
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), previous);
            }
        }
    }
}

/// One round of section 3: (a), (b) on a warm heap and (b) in a fresh process,
/// interleaved call by call, so that whatever else slows this machine down
/// during the round slows all three alike.
#[derive(Default)]
struct SyncRound {
    a: Vec<Duration>,
    a_cpu: f64,
    parts: Vec<Timings>,
    warm: Vec<Duration>,
    warm_cpu: f64,
    fresh: Vec<Duration>,
    fresh_faults: u64,
}

fn sync_round<P>(
    iterations: usize,
    fresh_every: usize,
    mut prepare: impl FnMut() -> P,
    mut a: impl FnMut(P) -> Timings,
    mut b: impl FnMut(),
) -> SyncRound {
    for _ in 0..10 {
        a(prepare());
        b();
    }
    let mut round = SyncRound::default();
    let mut faults = Vec::new();
    for i in 0..iterations {
        let p = prepare();
        let (parts, time, cpu) = timed(|| a(p));
        round.parts.push(parts);
        round.a.push(time);
        round.a_cpu += cpu;
        let ((), time, cpu) = timed(&mut b);
        round.warm.push(time);
        round.warm_cpu += cpu;
        if i % fresh_every == 0 {
            let (time, f) = fresh_native();
            round.fresh.push(time);
            faults.push(f);
        }
    }
    faults.sort_unstable();
    round.fresh_faults = faults[faults.len() / 2];
    round
}

fn median(times: &[Duration]) -> Duration {
    stats(times.to_vec()).median
}

/// `--profile`: (a) alone, 2,000 times, so that a sampling profiler sees little
/// but the component's SYNC call (the engine writes a perf map when asked to).
fn profile_sync() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let harness = Harness::load(&textract_host::default_component_path()).unwrap();
    let body = response_body();
    let (input, cassette) = (sync_input(None), sync_cassette(&body));
    let start = cassette.replay_time(None).unwrap();
    let (a, _) = measure_prepared(
        2000,
        20,
        || replayer(&cassette),
        |p| {
            replay_sync(&rt, &harness, &input, p, start);
        },
    );
    println!("(a) {}", triple(&a));
}

/// Waits (up to `limit_s` seconds) until the other processes leave this
/// machine's CPUs nearly idle, so timings are not someone else's; says how it went.
fn wait_for_quiet(limit_s: u64) -> String {
    let sample = || -> Option<(u64, u64)> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = text
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let idle = cpu.get(3)? + cpu.get(4).copied().unwrap_or(0);
        Some((cpu.iter().sum(), idle))
    };
    let started = Instant::now();
    let mut busy = 1.0;
    while started.elapsed() < Duration::from_secs(limit_s) {
        let Some((t0, i0)) = sample() else {
            return "unknown (no /proc/stat)".into();
        };
        std::thread::sleep(Duration::from_millis(500));
        let Some((t1, i1)) = sample() else {
            return "unknown (no /proc/stat)".into();
        };
        busy = 1.0 - (i1 - i0) as f64 / (t1 - t0).max(1) as f64;
        if busy < 0.10 {
            return format!(
                "quiet ({:.0}% busy) after {:.1} s",
                busy * 100.0,
                started.elapsed().as_secs_f64()
            );
        }
    }
    format!(
        "still {:.0}% busy after {limit_s} s: figures may be noisy",
        busy * 100.0
    )
}

fn triple(s: &Stats) -> String {
    format!("min {} / median {} / max {}", ms(s.min), ms(s.median), ms(s.max))
}

fn main() {
    if std::env::args().any(|a| a == "--native-once") {
        return native_once();
    }
    if std::env::args().any(|a| a == "--profile") {
        return profile_sync();
    }
    let quick = std::env::args().any(|a| a == "--quick");
    // `--sync`: sizes and section 3 only, for trying one lever at a time.
    let only_sync = std::env::args().any(|a| a == "--sync");
    let profile = if cfg!(debug_assertions) {
        "debug host (figures are not representative)"
    } else {
        "release host"
    };
    let mut r = Report {
        lines: vec![format!(
            "# textract-connector benchmark ({}, {profile})",
            if quick { "quick" } else { "full" }
        )],
    };
    println!("{}", r.lines[0]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let component = textract_host::default_component_path();

    // 1. Size.
    r.section("1. Size");
    let size = std::fs::metadata(&component).unwrap().len();
    r.row(
        "release component",
        format!(
            "{size} bytes ({:.0} KB; target ≤ 400 KB: {})",
            size as f64 / 1024.0,
            if size <= 400 * 1024 { "met" } else { "missed" }
        ),
    );
    let t = Instant::now();
    let harness = Harness::load_with(&component, EngineSettings::default()).unwrap();
    let compile_time = t.elapsed();
    let imports = harness.imports();
    r.row("imports", format!("{}: {}", imports.len(), imports.join(", ")));

    // `--worker`: sizes and section 6 only.
    if std::env::args().any(|a| a == "--worker") {
        worker_section(&mut r, &component, quick);
        write_report(&r, "target/bench-worker.txt");
        return;
    }

    if !only_sync {
        // 2. Start-up.
        r.section("2. Start-up");
        r.row("compile the component (Cranelift) and link", ms(compile_time));
        let cwasm = std::env::temp_dir().join(format!("textract-bench-{}.cwasm", std::process::id()));
        Harness::compile(&component, &cwasm, &EngineSettings::default()).unwrap();
        let (load, _) = measure(if quick { 3 } else { 10 }, 1, || {
            Harness::load_with(&cwasm, EngineSettings::default()).unwrap();
        });
        r.row(
            "load a precompiled .cwasm and link",
            format!("median {}", ms(load.median)),
        );
        let n = if quick { 200 } else { 2000 };
        let mut medians = Vec::new();
        for (pooling, keep_resident) in [(true, KEEP_RESIDENT_BYTES), (false, 0), (true, 0)] {
            let h = Harness::load_with(
                &cwasm,
                EngineSettings {
                    pooling,
                    keep_resident,
                    ..EngineSettings::default()
                },
            )
            .unwrap();
            let (s, _) = measure(n, 100, || rt.block_on(h.instantiate_only()).unwrap());
            medians.push(s.median);
            r.row(
                &format!(
                    "instantiate and drop, {} ({n}×)",
                    match (pooling, keep_resident) {
                        (false, _) => "on demand".to_string(),
                        (true, 0) => "pooled, nothing kept resident".to_string(),
                        (true, k) => format!("pooled, {} MiB kept resident", k >> 20),
                    }
                ),
                format!(
                    "median {} / p99 {} (min {}, max {})",
                    us(s.median),
                    us(s.p99),
                    us(s.min),
                    us(s.max)
                ),
            );
        }
        r.row(
            "pooled / on-demand (median)",
            format!(
                "{:.2}× (pooled target ≤ 50 µs: {})",
                medians[0].as_secs_f64() / medians[1].as_secs_f64(),
                if medians[0] <= Duration::from_micros(50) {
                    "met"
                } else {
                    "missed"
                }
            ),
        );
        std::fs::remove_file(&cwasm).ok();
    }

    // 3. SYNC call cost.
    r.section("3. SYNC call, 1,045-block AnalyzeDocument response");
    r.row("machine before timing", wait_for_quiet(if quick { 3 } else { 60 }));
    let body = response_body();
    let iterations = if quick { 20 } else { 300 };
    let rounds = if quick { 1 } else { 5 };
    let input = sync_input(None);
    let cassette = sync_cassette(&body);
    let start = cassette.replay_time(None).unwrap();
    let body_bytes = body.as_bytes().to_vec();
    let mut summary = Vec::new();
    let (mut all_a, mut all_fresh, mut all_warm) = (Vec::new(), Vec::new(), Vec::new());
    // One thread does all of section 3's work (the engine's tasks too, on a
    // current-thread runtime), pinned to one CPU, and the fresh processes inherit
    // the pin: on this 2-vCPU machine a thread that moves between CPUs finds its
    // caches cold, which alone moved medians by up to 2× from run to run.
    let pinned = Pinned::here();
    r.row("timing thread", pinned.describe());
    let rt1 = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for round in 1..=rounds {
        let SyncRound {
            a,
            a_cpu,
            parts,
            warm,
            warm_cpu,
            fresh,
            fresh_faults,
        } = sync_round(
            iterations,
            if quick { 4 } else { 3 },
            || replayer(&cassette),
            |p| replay_sync(&rt1, &harness, &input, p, start),
            || native_call(&input, &body_bytes),
        );
        let label = if rounds > 1 {
            format!("round {round}: ")
        } else {
            String::new()
        };
        let per_call = |cpu: f64| cpu * 1e3 / iterations as f64;
        r.row(
            &format!("{label}(a) component via harness, in-memory response"),
            format!("{} | CPU {:.2} ms/call", triple(&stats(a.clone())), per_call(a_cpu)),
        );
        let median_of = |f: &dyn Fn(&Timings) -> Duration| median(&parts.iter().map(f).collect::<Vec<_>>());
        r.row(
            &format!("{label}    parts of (a), medians"),
            format!(
                "instantiate {} · host answers the request {} · guest (body in, work, result out) {} · drop {}",
                ms(median_of(&|t| t.instantiate)),
                ms(median_of(&|t| t.http)),
                ms(median_of(&|t| t.call.saturating_sub(t.http))),
                ms(median_of(&|t| t.drop)),
            ),
        );
        r.row(
            &format!("{label}(b) the same core natively, warm heap"),
            format!("{} | CPU {:.2} ms/call", triple(&stats(warm.clone())), per_call(warm_cpu)),
        );
        r.row(
            &format!("{label}(b) the same core natively, fresh process"),
            format!("{} | {fresh_faults} page faults (median)", triple(&stats(fresh.clone()))),
        );
        let vs_fresh = median(&a).as_secs_f64() / median(&fresh).as_secs_f64();
        let vs_warm = median(&a).as_secs_f64() / median(&warm).as_secs_f64();
        r.row(
            &format!("{label}(a)/(b) median: fresh | warm | CPU warm"),
            format!(
                "{vs_fresh:.2}× | {vs_warm:.2}× | {:.2}× (target ≤ 1.5× against fresh: {})",
                a_cpu / warm_cpu.max(1e-9),
                if vs_fresh <= 1.5 { "met" } else { "missed" }
            ),
        );
        summary.push((vs_fresh, vs_warm));
        all_a.extend(a);
        all_fresh.extend(fresh);
        all_warm.extend(warm);
    }
    // The resident pages trade a memset at every teardown for no page faults
    // in the next execution: measured both ways rather than assumed.
    let cold = Harness::load_with(
        &component,
        EngineSettings {
            keep_resident: 0,
            ..EngineSettings::default()
        },
    )
    .unwrap();
    let (a0, _) = measure_prepared(
        iterations,
        10,
        || replayer(&cassette),
        |p| {
            replay_sync(&rt1, &cold, &input, p, start);
        },
    );
    drop(pinned);
    r.row(
        "(a) with nothing kept resident in the pool",
        format!(
            "{} (the rounds above keep {} MiB)",
            triple(&a0),
            KEEP_RESIDENT_BYTES >> 20
        ),
    );
    if rounds > 1 {
        let spread = |f: fn(&(f64, f64)) -> f64| {
            let v: Vec<f64> = summary.iter().map(f).collect();
            let lo = v.iter().cloned().fold(f64::MAX, f64::min);
            let hi = v.iter().cloned().fold(f64::MIN, f64::max);
            format!("{lo:.2}–{hi:.2}×")
        };
        r.row(
            "(a)/(b) over the rounds: fresh | warm",
            format!("{} | {}", spread(|x| x.0), spread(|x| x.1)),
        );
        let (a, fresh, warm) = (median(&all_a), median(&all_fresh), median(&all_warm));
        let vs_fresh = a.as_secs_f64() / fresh.as_secs_f64();
        r.row(
            "all rounds together: (a) | (b) fresh | (b) warm, medians",
            format!(
                "{} | {} | {}: (a)/(b) {vs_fresh:.2}× fresh, {:.2}× warm (target ≤ 1.5× against fresh: {})",
                ms(a),
                ms(fresh),
                ms(warm),
                a.as_secs_f64() / warm.as_secs_f64(),
                if vs_fresh <= 1.5 { "met" } else { "missed" }
            ),
        );
    }

    if only_sync {
        write_report(&r, "target/bench-sync.txt");
        return;
    }

    // What `advanced.summary` (issue 13) costs on this call: the plain and the
    // summarised input side by side, in the component (a) and natively (b).
    {
        let summarised = {
            let mut v: Value = serde_json::from_str(&input).unwrap();
            v["advanced"] = json!({"summary": true});
            v.to_string()
        };
        let component = |input: &str| {
            measure_prepared(
                iterations,
                10,
                || replayer(&cassette),
                |p| {
                    replay_sync(&rt, &harness, input, p, start);
                },
            )
        };
        let (a_plain, _) = component(&input);
        let (a_summary, a_cpu) = component(&summarised);
        let (b_plain, _) = measure(iterations, 10, || native_call(&input, &body_bytes));
        let (b_summary, b_cpu) = measure(iterations, 10, || native_call(&summarised, &body_bytes));
        let cost = |with: &Stats, without: &Stats| {
            let (w, o) = (with.median.as_secs_f64(), without.median.as_secs_f64());
            format!("{:+.2} ms ({:+.0}%)", (w - o) * 1e3, (w / o - 1.0) * 100.0)
        };
        r.row(
            "(a) component, with advanced.summary",
            format!(
                "{} | CPU {:.2} ms/call",
                triple(&a_summary),
                a_cpu * 1e3 / iterations as f64
            ),
        );
        r.row(
            "(b) the same core natively, with advanced.summary",
            format!(
                "{} | CPU {:.2} ms/call",
                triple(&b_summary),
                b_cpu * 1e3 / iterations as f64
            ),
        );
        r.row(
            "the summary's cost, median against plain: (a) | (b)",
            format!("{} | {}", cost(&a_summary, &a_plain), cost(&b_summary, &b_plain)),
        );
    }

    let port = serve(body.clone());
    let endpoint = format!("http://127.0.0.1:{port}");
    let live_input = sync_input(Some(&endpoint));
    let (d, d_cpu) = measure(iterations, 10, || {
        let mut policy = EgressPolicy::implied_by(&live_input);
        // The local stand-in is admitted the way an operator would: by name.
        policy.allow(&format!("127.0.0.1:{port}"));
        let mut o = ExecOptions::replay(Mode::Live, policy, ExecutionClock::real());
        o.deterministic_random = false;
        let e = rt.block_on(harness.execute(&live_input, o)).unwrap();
        assert!(e.outcome.is_ok(), "{:?}", e.outcome);
    });
    r.row(
        "(d) component via harness, live against a local server",
        format!("{} | CPU {:.2} ms/call", triple(&d), d_cpu * 1e3 / iterations as f64),
    );
    let sdk = workspace().join("target/sdk/release/sdk-baseline");
    if quick || !sdk.is_file() {
        r.row(
            "(c) aws-sdk-textract natively, same server",
            "skipped (make bench builds bench/sdk-baseline)".into(),
        );
    } else {
        let out = std::process::Command::new(&sdk)
            .args([&endpoint, &iterations.to_string()])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("sdk-baseline: {}", String::from_utf8_lossy(&out.stderr)));
        let c = stats(
            v["wall_us"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| Duration::from_micros(x.as_u64().unwrap()))
                .collect(),
        );
        let c_cpu = v["cpu_s"].as_f64().unwrap();
        r.row(
            "(c) aws-sdk-textract natively, same server",
            format!("{} | CPU {:.2} ms/call", triple(&c), c_cpu * 1e3 / iterations as f64),
        );
        let ratio = d.median.as_secs_f64() / c.median.as_secs_f64();
        r.row(
            "(d)/(c) wall, median | CPU",
            format!(
                "{ratio:.2}× | {:.2}× (target ≤ 1.0: {})",
                d_cpu / c_cpu.max(1e-9),
                if ratio <= 1.0 { "met" } else { "missed" }
            ),
        );
    }

    // 4. POLLING merge.
    r.section("4. POLLING merge, replayed");
    let pages = if quick { 10 } else { 100 };
    let (merge_cassette, merge_input) =
        textract_host::testkit::generated::big_polling_job(&response_body(), pages, 1000).unwrap();
    let merge_start = merge_cassette.replay_time(None).unwrap();
    let replayer = Arc::new(Mutex::new(Replayer::new(merge_cassette, ".".into())));
    let t = Instant::now();
    let e = rt
        .block_on(harness.execute(
            &merge_input,
            ExecOptions::replay(
                Mode::Replay(replayer),
                EgressPolicy::implied_by(&merge_input),
                ExecutionClock::pinned(merge_start),
            ),
        ))
        .unwrap();
    let took = t.elapsed();
    let out = e.outcome.unwrap();
    let ratio = e.peak_memory_bytes as f64 / out.len() as f64;
    r.row(
        &format!("{pages} pages × 1,000 blocks"),
        format!(
            "{} ({:.0} blocks/s, replay included)",
            ms(took),
            (pages * 1000) as f64 / took.as_secs_f64()
        ),
    );
    r.row(
        "guest peak memory / merged output",
        format!(
            "{:.1} MB / {:.1} MB = {ratio:.2}× (target ≤ 2.5: {})",
            e.peak_memory_bytes as f64 / 1e6,
            out.len() as f64 / 1e6,
            if ratio <= 2.5 { "met" } else { "missed" }
        ),
    );

    // 5. Throughput.
    r.section("5. Throughput: run-many over replayed SYNC inputs");
    let count = if quick { 40 } else { 1000 };
    let small = r#"{"DocumentMetadata":{"Pages":1},"Blocks":[{"BlockType":"LINE","Confidence":99.12999725341797,"Text":"Hello","Id":"b1"}],"AnalyzeDocumentModelVersion":"1.0"}"#;
    let host = std::env::current_exe().unwrap().with_file_name("textract-host");
    for (label, response) in [
        ("1-block response", small.to_string()),
        ("1,045-block response", body.clone()),
    ] {
        let dir = std::env::temp_dir().join(format!("textract-bench-many-{}", std::process::id()));
        let (inputs, cassettes) = (dir.join("inputs"), dir.join("cassettes"));
        std::fs::create_dir_all(&inputs).unwrap();
        std::fs::create_dir_all(&cassettes).unwrap();
        let cassette_text = serde_json::to_string(&sync_cassette(&response)).unwrap();
        for i in 0..count {
            std::fs::write(inputs.join(format!("task-{i:04}.json")), &input).unwrap();
            std::fs::write(cassettes.join(format!("task-{i:04}.json")), &cassette_text).unwrap();
        }
        for concurrency in [1, 2, 4] {
            let out = std::process::Command::new(&host)
                .env("TEXTRACT_COMPONENT", &component)
                .args([
                    "run-many",
                    "--inputs",
                    inputs.to_str().unwrap(),
                    "--output",
                    dir.join(format!("out-{concurrency}")).to_str().unwrap(),
                ])
                .args([
                    "--replay-dir",
                    cassettes.to_str().unwrap(),
                    "--concurrency",
                    &concurrency.to_string(),
                ])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let last = text.lines().last().unwrap_or("").to_string();
            assert!(last.contains(&format!("{count} ok")), "run-many: {last}");
            r.row(
                &format!("{label}, concurrency {concurrency}, {count} executions"),
                last.split("; ").skip(1).collect::<Vec<_>>().join("; "),
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }
    r.row("target", "≥ 1,000 executions/s (see the rows above)".into());

    worker_section(&mut r, &component, quick);

    write_report(
        &r,
        if quick {
            "target/bench-quick.txt"
        } else {
            "target/bench.txt"
        },
    );
}

/// 6. The worker: jobs/s over the Camunda stand-in at concurrency 1, 2 and 4.
fn worker_section(r: &mut Report, component: &std::path::Path, quick: bool) {
    r.section("6. Worker: SYNC jobs through the Camunda stand-in, 1,045-block answers from a local AWS");
    let host = std::env::current_exe().unwrap().with_file_name("textract-host");
    let jobs = if quick { 40 } else { 1000 };
    let aws = AwsStandIn::start(Answer::json(200, response_body())).unwrap();
    let cwasm = std::env::temp_dir().join(format!("textract-bench-worker-{}.cwasm", std::process::id()));
    Harness::compile(component, &cwasm, &EngineSettings::default()).unwrap();
    let job_input: Value = serde_json::from_str(&sync_input(Some(&aws.endpoint()))).unwrap();
    for concurrency in [1, 2, 4] {
        let (jobs_per_s, peak) = worker_run(&host, &cwasm, &aws, &job_input, jobs, concurrency);
        r.row(
            &format!("concurrency {concurrency}, {jobs} jobs"),
            format!("{jobs_per_s:.1} jobs/s; worker peak RSS {peak}"),
        );
    }
    std::fs::remove_file(&cwasm).ok();
}

/// Runs one worker process until `jobs` jobs are completed; jobs/s from its
/// start, and the peak RSS it reports when stopped.
fn worker_run(
    host: &std::path::Path,
    cwasm: &std::path::Path,
    aws: &AwsStandIn,
    input: &Value,
    jobs: usize,
    concurrency: usize,
) -> (f64, String) {
    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    for _ in 0..jobs {
        cluster.create_job(JobSpec::new(textract_host::worker::JOB_TYPE, input.clone()));
    }
    let log = std::env::temp_dir().join(format!("textract-bench-worker-{}.log", std::process::id()));
    let started = Instant::now();
    let child = std::process::Command::new(host)
        .args(["worker", "--component", cwasm.to_str().unwrap(), "--camunda-url", &cluster.url()])
        .args(["--allow-host", &aws.authority(), "--concurrency", &concurrency.to_string()])
        .args(["--poll-timeout", "1s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let done = cluster.wait_until(|s| s.completions.len() >= jobs, Duration::from_secs(600));
    let elapsed = started.elapsed();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut child = child;
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    std::fs::remove_file(&log).ok();
    assert!(done, "the worker did not complete {jobs} jobs: {}", text.lines().last().unwrap_or(""));
    let peak = text
        .lines()
        .rev()
        .find(|l| l.contains("event=worker-stopped"))
        .and_then(|l| l.split("peak_rss_mib=").nth(1))
        .map_or("unknown".to_string(), |m| format!("{} MiB", m.trim()));
    (jobs as f64 / elapsed.as_secs_f64(), peak)
}

fn write_report(r: &Report, relative: &str) {
    let path = workspace().join(relative);
    std::fs::write(&path, r.lines.join("\n") + "\n").ok();
    println!("\n(report written to {})", path.display());
}
