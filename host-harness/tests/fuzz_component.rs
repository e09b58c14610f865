//! The fuzzing tier through the real component (issue 10, "Hostile tenants"): a
//! few thousand generated hostile inputs (mutations of every `tests/*/input.json`
//! and `examples/*/input.json`) run through the built component in replay, with
//! the scenario's own cassette (so lightly mutated inputs still get real answers
//! until their requests diverge) or an empty one (every request misses and the
//! guest sees a wasi-http error). Each must end without a trap or any other
//! `internal` outcome, without a harness panic or error, and on its own: within
//! the execution's time and request limits.
//!
//! The native tier (`tests/fuzz.rs`) covers far more inputs against a fake AWS;
//! this one proves the same rules hold across the WIT boundary and wasi-http,
//! where a request the runtime refuses (a control character in a header, over
//! 128 KiB of headers, a malformed authority) becomes the guest's problem.
//! `FUZZ_COMPONENT_CASES` (default 2,000) and `FUZZ_SEED` choose the run;
//! `FUZZ_ONLY=N` runs case N alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../tests/support/fuzz.rs"]
mod support;

mod common;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{clip, env_number, set_path, Rng};
use textract_host::engine::sandbox::{Grants, RuntimeMode};
use textract_host::engine::{ExecOptions, ExecutionClock};
use textract_host::limits::Limits;
use textract_host::testkit::scenario::{ScenarioOptions, ScratchDocuments};
use textract_host::transport::cassette::{Body, Cassette};
use textract_host::transport::egress::EgressPolicy;
use textract_host::transport::{Mode, Replayer};

const DEFAULT_SEED: u64 = 0x7E57_F022_2026_0010;
const DEFAULT_CASES: usize = 2_000;
/// Far above what a replayed execution needs (milliseconds), far below a real hang.
const TIME_LIMIT: Duration = Duration::from_secs(20);

/// A scenario folder: its input and what its runtime needs.
struct Seed {
    dir: PathBuf,
    text: String,
    value: Option<Value>,
    options: ScenarioOptions,
    cassette: Option<Cassette>,
    /// When the recording ends with the job IN_PROGRESS: the same cassette with
    /// that answer repeated past the request limit, a job that never finishes.
    endless: Option<Cassette>,
    /// A copy of the scenario's documents folder: results stored as documents
    /// (documentReturnFormat DOCUMENT) land there, never in the source tree.
    documents: Option<ScratchDocuments>,
}

/// Repeats the last IN_PROGRESS GetDocumentAnalysis answer past the request limit.
fn never_finishing(cassette: &Cassette) -> Option<Cassette> {
    let last = cassette.interactions.last()?;
    let polls =
        last.request.headers.get("x-amz-target").and_then(Value::as_str) == Some("Textract.GetDocumentAnalysis");
    let running = matches!(&last.response.body, Body::Json(v) if v["JobStatus"] == "IN_PROGRESS");
    if !(polls && running) {
        return None;
    }
    let mut endless = cassette.clone();
    let copies = Limits::default().max_requests + 100;
    endless.interactions.extend(std::iter::repeat_n(last.clone(), copies));
    Some(endless)
}

fn seeds() -> Vec<Seed> {
    let root = common::workspace();
    let mut seeds = Vec::new();
    for folder in ["tests", "examples"] {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for dir in entries.flatten().map(|e| e.path()) {
            let Ok(text) = std::fs::read_to_string(dir.join("input.json")) else {
                continue;
            };
            let options: ScenarioOptions = std::fs::read_to_string(dir.join("scenario.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            // Signatures are asserted by the scenarios; here they would only turn the
            // answers to mutated (or later-timed) requests into misses.
            let cassette = Cassette::load(&dir.join("cassette.json")).ok().map(|mut c| {
                c.interactions.iter_mut().for_each(|i| i.request.expect_signed.clear());
                c
            });
            let endless = cassette.as_ref().and_then(never_finishing);
            let documents = options.documents.as_ref().map(|d| ScratchDocuments::copy_of(&dir.join(d)).unwrap());
            seeds.push(Seed {
                endless,
                documents,
                value: serde_json::from_str(&text).ok(),
                text,
                options,
                cassette,
                dir,
            });
        }
    }
    seeds.sort_by(|a, b| a.dir.cmp(&b.dir));
    seeds
}

const ENDPOINTS: &[&str] = &[
    "http://127.0.0.1:http://6001/",
    "https://[::1",
    "https://[::1]:4566",
    "http://[::1]]:80",
    "https://host:99999",
    "https://host:",
    "https://ho st",
    "https://host\r\nx-injected: 1",
    "https://user@host",
    "https://host:443:443",
    "https://host%2F",
    "http://0x7f.1:80",
    "https://ünicode.example",
    "https://textract.us-east-1.amazonaws.com",
    "https://textract.us-east-1.amazonaws.com:443/base/",
    "https://textract-fips.us-east-1.amazonaws.com",
    "http://169.254.169.254",
    "http://127.0.0.1:9",
    "localhost:4566",
    "https://evil.amazonaws.com.evil.com",
];

const STRINGS: &[&str] = &[
    "",
    " ",
    "\r\n",
    "a\u{0}b\u{1b}[31m\u{7f}",
    "value\r\nx-injected: 1",
    "ünïcödé 🦀",
    "../../etc/passwd",
    "?x=1#y",
    "%zz",
];

fn long(n: usize, c: char) -> String {
    c.to_string().repeat(n)
}

struct Gen {
    rng: Rng,
    /// Raw JSON no `Value` holds (`1e400`, deep nesting), spliced in at render.
    raws: Vec<String>,
}

impl Gen {
    fn raw(&mut self, token: String) -> Value {
        self.raws.push(token);
        Value::String(format!("\u{1}raw{}\u{1}", self.raws.len() - 1))
    }

    fn render(&self, v: &Value) -> String {
        let mut text = serde_json::to_string(v).unwrap();
        for (id, token) in self.raws.iter().enumerate() {
            text = text.replace(&format!("\"\\u0001raw{id}\\u0001\""), token);
        }
        text
    }

    fn hostile(&mut self) -> Value {
        match self.rng.below(16) {
            0 => Value::Null,
            1 => json!(true),
            2 => json!(-1),
            3 => json!(u64::MAX),
            4 => json!([]),
            5 => json!({}),
            6 => json!(["x"]),
            7 => self.raw("1e400".into()),
            8 => self.raw(format!("{}1{}", "[".repeat(2_000), "]".repeat(2_000))),
            9 => self.raw(format!("\"{}\"", long(200 * 1024, 'A'))),
            10 => self.raw(format!("\"{}\"", long(128 * 1024 + 4096, 'k'))),
            11 => self.raw("\"\\ud800\"".into()),
            _ => json!(*self.rng.pick(STRINGS)),
        }
    }

    fn document(&mut self) -> Value {
        let doc = match self.rng.below(3) {
            0 => json!({
                "camunda.document.type": "inline",
                "content": *self.rng.pick(&[
                    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
                    "JVBERi0xLjQKJSVFT0YK",
                    "SUkqAGZ1enp0aWZm",
                    "R0lGODlhZnV6eg==",
                    "not base64!",
                    "",
                ]),
                "name": *self.rng.pick(&["scan.png", "", "../../x.pdf", "a\r\nb.pdf", "ü.pdf"]),
            }),
            1 => json!({
                "camunda.document.type": "external",
                "url": *self.rng.pick(&[
                    "https://docs.example.com/scans/scan.png",
                    "http://127.0.0.1:http://6001/",
                    "https://[::1",
                    "file:///etc/passwd",
                    "https://docs.example.com/a b.pdf",
                    "https://docs.example.com/\r\nx: y",
                    "http://169.254.169.254/latest/meta-data/",
                    "https://user:pw@docs.example.com/a.png",
                ]),
            }),
            _ => json!({
                "camunda.document.type": "camunda",
                "storeId": "in-memory",
                "documentId": *self.rng.pick(&["doc-png-1", "doc-7f3a", "doc-missing", "../../etc/passwd", "", "a/../../b"]),
                "contentHash": *self.rng.pick(&["6b7fa434f92a8b80aab02d9bf1a12e49ffcae424e4013a1c4f68b67e3d2bbcd0", "x"]),
            }),
        };
        match self.rng.below(6) {
            0 => json!([doc]),
            1 => json!([doc.clone(), doc]),
            _ => doc,
        }
    }

    fn mutate(&mut self, root: &mut Value) {
        let (path, value): (Vec<&str>, Value) = match self.rng.below(14) {
            0 | 1 => (vec!["configuration", "endpoint"], json!(*self.rng.pick(ENDPOINTS))),
            2 => (
                vec!["authentication", "sessionToken"],
                match self.rng.below(3) {
                    0 => self.raw(format!("\"{}\"", long(128 * 1024 + 4096, 'T'))),
                    1 => json!("tok\r\nen"),
                    _ => json!("FwoGZXIvYXdzEFuzz"),
                },
            ),
            3 => (
                vec!["authentication", "accessKey"],
                match self.rng.below(3) {
                    0 => self.raw(format!("\"{}\"", long(200 * 1024, 'A'))),
                    1 => json!("AK\r\nx-injected: 1"),
                    _ => json!("AKIDEXAMPLE"),
                },
            ),
            4 | 5 => (
                vec!["input", "executionType"],
                json!(*self.rng.pick(&["SYNC", "POLLING", "ASYNC", "FETCH", "sync", "LATER"])),
            ),
            6 | 7 => {
                let doc = self.document();
                set_path(root, &["input", "documentLocationType"], json!("UPLOADED"));
                (vec!["input", "document"], doc)
            }
            8 => (
                vec!["configuration", "region"],
                json!(*self
                    .rng
                    .pick(&["us-east-1", "cn-north-1", "us-east-1\n", "us-east-1.evil.com", ""])),
            ),
            9 => (
                vec!["advanced", "pollTimeout"],
                json!(*self.rng.pick(&["PT1S", "P11574D", "PT0.000000001S", "PT-1S", "P1Y"])),
            ),
            10 => (
                vec![
                    "input",
                    *self
                        .rng
                        .pick(&["documentName", "documentS3Bucket", "jobId", "query", "jobTag"]),
                ],
                self.hostile(),
            ),
            11 => (
                vec![*self.rng.pick(&["input", "authentication", "configuration", "advanced"])],
                self.hostile(),
            ),
            _ => (
                vec!["input", "jobId"],
                json!(*self.rng.pick(&["a0c8a2f4-6d7b-4e8e-9c3f-2f1b5e7d9a10", "", "../x"])),
            ),
        };
        set_path(root, &path, value);
    }

    fn mutate_text(&mut self, text: String) -> String {
        let mut bytes = text.into_bytes();
        match self.rng.below(6) {
            0 => {
                let at = self.rng.below(bytes.len() + 1);
                bytes.truncate(at);
            }
            1 => {
                // A duplicate key that wins (it comes last).
                if let Some(at) = bytes.iter().rposition(|b| *b == b'}') {
                    let entry = format!(
                        r#","input":{{"executionType":"{}"}}"#,
                        self.rng.pick(&["SYNC", "FETCH"])
                    );
                    bytes.splice(at..at, entry.into_bytes());
                }
            }
            2 => {
                bytes = format!(
                    "{}{}{}",
                    "[".repeat(2_000),
                    String::from_utf8_lossy(&bytes),
                    "]".repeat(2_000)
                )
                .into_bytes()
            }
            3 => {
                let at = self.rng.below(bytes.len() + 1);
                let noise: Vec<u8> = (0..8).map(|_| self.rng.next() as u8).collect();
                bytes.splice(at..at, noise);
            }
            4 => {
                bytes = self
                    .rng
                    .pick(&["", "null", "[]", "[{}]", "1e400", "{\"a\":"])
                    .as_bytes()
                    .to_vec()
            }
            _ => {
                bytes.insert(0, b'[');
                bytes.push(b']');
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

struct Case {
    input: String,
    seed: usize,
    /// Replay the scenario's cassette (else an empty one).
    with_cassette: bool,
    /// Replay its never-finishing variant.
    endless: bool,
}

fn generate(seeds: &[Seed], seed: u64, index: usize) -> Case {
    let mut g = Gen {
        rng: Rng(seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)),
        raws: Vec::new(),
    };
    g.rng.next();
    // A job that never finishes, against the poll window the tenant chose: rare,
    // since each such execution may run to the request limit.
    let endless: Vec<usize> = (0..seeds.len()).filter(|i| seeds[*i].endless.is_some()).collect();
    if !endless.is_empty() && g.rng.chance(1) {
        let which = *g.rng.pick(&endless);
        let mut v = seeds[which].value.clone().unwrap_or_else(|| json!({}));
        let window = *g.rng.pick(&["PT10M", "PT1H", "P11574D"]);
        set_path(&mut v, &["advanced", "pollTimeout"], json!(window));
        if g.rng.chance(50) {
            set_path(&mut v, &["advanced", "maxPollInterval"], json!("PT2S"));
        }
        return Case {
            input: g.render(&v),
            seed: which,
            with_cassette: true,
            endless: true,
        };
    }
    let which = g.rng.below(seeds.len());
    let s = &seeds[which];
    let mut input = match &s.value {
        Some(v) if g.rng.chance(90) => {
            let mut v = v.clone();
            for _ in 0..1 + g.rng.below(3) {
                g.mutate(&mut v);
            }
            g.render(&v)
        }
        _ => s.text.clone(),
    };
    if g.rng.chance(15) {
        input = g.mutate_text(input);
    }
    Case {
        input,
        seed: which,
        with_cassette: g.rng.chance(50),
        endless: false,
    }
}

fn options(s: &Seed, case: &Case) -> ExecOptions {
    let cassette = match (&s.cassette, &s.endless, case.with_cassette, case.endless) {
        (_, Some(c), _, true) => c.clone(),
        (Some(c), _, true, _) => c.clone(),
        _ => Cassette::default(),
    };
    let time = cassette.replay_time(None).unwrap_or(1_768_469_400);
    let mut policy = EgressPolicy::implied_by(&case.input);
    s.options.allow_hosts.iter().for_each(|h| policy.allow(h));
    let mut o = ExecOptions::replay(
        Mode::Replay(Arc::new(Mutex::new(Replayer::new(cassette, s.dir.clone())))),
        policy,
        ExecutionClock::pinned(time),
    );
    o.documents = s.documents.as_ref().map(|d| textract_host::engine::documents::FolderStore::shared(d.path().to_path_buf()));
    if s.options.self_managed {
        o.runtime = RuntimeMode::SelfManaged;
        o.grants = Grants {
            env: s
                .options
                .env
                .iter()
                .map(|(k, v)| {
                    let v = if k.ends_with("_FILE") {
                        s.dir.join(v).to_string_lossy().into_owned()
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect(),
            aws_config_dir: s.options.aws_config_dir.as_ref().map(|d| s.dir.join(d)),
        };
    }
    o.limits = Limits {
        timeout: TIME_LIMIT,
        ..Limits::default()
    };
    o
}

#[test]
fn hostile_inputs_never_trap_or_hang_the_component() {
    let harness = common::harness();
    let seeds = seeds();
    assert!(
        seeds.len() >= 20,
        "the scenario inputs (tests/*/input.json) were not found"
    );
    let seed = env_number("FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_number("FUZZ_COMPONENT_CASES").map_or(DEFAULT_CASES, |n| n as usize);
    let rt = common::runtime();

    let started = Instant::now();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut sent = 0usize;
    // One entry per distinct failure: (what, count, first case, input).
    let mut failures: Vec<(String, usize, usize, String)> = Vec::new();
    // `FUZZ_ONLY=N` runs case N alone (a failure's reproduction).
    let only = env_number("FUZZ_ONLY").map(|n| n as usize);
    let indices = match only {
        Some(n) => n..n + 1,
        None => 0..cases,
    };
    let ran = indices.len();
    for index in indices {
        let case = generate(&seeds, seed, index);
        let s = &seeds[case.seed];
        let begun = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(harness.execute(&case.input, options(s, &case)))
        }));
        let took = begun.elapsed();
        let failure = match &result {
            Err(_) => Some("the harness panicked".to_string()),
            Ok(Err(e)) => Some(format!("harness error: {}", clip(&format!("{e:#}"), 200))),
            Ok(Ok(execution)) => {
                sent += usize::from(!execution.journal.sent.is_empty());
                let (label, code) = match &execution.outcome {
                    Ok(_) => ("ok".to_string(), None),
                    Err(e) => (e.kind.clone(), Some(format!("{} {}", e.kind, e.code))),
                };
                *outcomes.entry(label).or_default() += 1;
                if let Some(code) = code {
                    *codes.entry(code).or_default() += 1;
                }
                match &execution.outcome {
                    Err(e) if e.kind == "internal" => Some(format!("internal {}: {}", e.code, clip(&e.message, 160))),
                    Err(e) if e.kind == "limit-exceeded" && e.code != "MemoryLimitExceeded" => {
                        Some(format!("did not finish: {} ({})", e.code, clip(&e.message, 120)))
                    }
                    _ if took > TIME_LIMIT => Some(format!("took {took:?}")),
                    _ => None,
                }
            }
        };
        if let Some(what) = failure {
            // Values differ between cases; the code and the message's start name the defect.
            let key: String = what.chars().take(70).collect();
            match failures.iter_mut().find(|f| f.0.starts_with(&key)) {
                Some(f) => f.1 += 1,
                None => failures.push((what, 1, index, case.input.clone())),
            }
        }
    }
    let elapsed = started.elapsed();

    println!(
        "\nfuzz_component: {ran} cases, seed {seed:#x}, {:.1} s ({:.1} ms/case); {sent} sent a request",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / ran.max(1) as f64
    );
    for (label, n) in &outcomes {
        println!("  {label:<40} {n:>7}");
    }
    let mut by_code: Vec<_> = codes.iter().collect();
    by_code.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("  by code (top 20):");
    for (code, n) in by_code.iter().take(20) {
        println!("    {code:<56} {n:>7}");
    }
    for (what, count, index, input) in &failures {
        println!(
            "\nFAILURE: {what} — {count} case(s); first: case {index} (seed {seed:#x})\n  \
             reproduce: FUZZ_SEED={seed:#x} FUZZ_ONLY={index} cargo test -p textract-host --test fuzz_component -- --nocapture\n  \
             input: {}",
            clip(input, 1200)
        );
    }
    assert!(
        failures.is_empty(),
        "{} distinct failure(s) in {ran} cases:\n  {}",
        failures.len(),
        failures
            .iter()
            .map(|f| format!("{} ({} cases, first {})", f.0, f.1, f.2))
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    // The generator must get past validation and onto the wire, or it proves little.
    if only.is_none() && cases >= 500 {
        assert!(sent * 10 >= cases, "under a tenth of the cases sent a request ({sent})");
        assert!(outcomes.get("ok").copied().unwrap_or(0) > 0, "no case succeeded");
    }
}
