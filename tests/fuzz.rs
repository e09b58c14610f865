//! The kept fuzzing tier (issue 10, "Hostile tenants"). A seeded generator turns
//! every input of the scenario folders (`tests/*/input.json`, `examples/*/input.json`)
//! into hostile ones — wrong types, nulls, huge and control-character strings,
//! deep nesting, `1e400`, duplicate keys, truncated JSON, odd endpoints, oversized
//! credentials, every execution type and document kind — and runs each through
//! `textract_connector::execute` natively. The fake AWS behind the HTTP seam answers
//! with real Textract bodies (`shared/fixtures/textract`), garbage, truncated and
//! wrongly typed bodies, error statuses with JSON, XML and binary bodies, and
//! transport failures; the fake platform's `sleep` only moves a virtual clock, so
//! poll windows pass at once.
//!
//! Every input must end (1) without a panic, (2) without an `internal` error,
//! (3) within a bounded number of requests and platform calls (more is a hang), and
//! (4) without sending headers over wasi-http's 128 KiB field limit (a trap in
//! Wasmtime). Other requests wasi-http refuses (a control character in a header,
//! an authority `http::uri::Authority` rejects) are answered here as the
//! component's seam answers them: a typed `RequestRejected` error. (5) A result
//! must be JSON: the runtime stores it as a process variable.
//!
//! `FUZZ_SEED` (decimal or 0x-hex) and `FUZZ_CASES` (default 20,000) choose the run;
//! Before the random cases, a few canaries (hand-written hostile cases, the defects
//! found once) run in every run.
//! `FUZZ_ONLY=N` (or `canaryN`) replays one case with its request log; `FUZZ_SHRINK=0` skips
//! shrinking failures. `make fuzz` is the long run (a million cases, release).
//! Failures print the seed, the case index, the input and a shrunk input (also
//! written under `target/tmp/fuzz-failures/`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/fuzz.rs"]
mod support;

use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::{Duration, Instant, SystemTime};
use support::{clip, env_number, mix, set_path, Rng};
use textract_connector::error::{Error, ErrorKind};
use textract_connector::platform::documents::{DocumentStore, StoreError};
use textract_connector::platform::http::{HttpClient, HttpRequest, HttpResponse};
use textract_connector::{Context, Platform, RuntimeMode};

const DEFAULT_SEED: u64 = 0x7E57_F022_2026_0010;
const DEFAULT_CASES: usize = 20_000;
/// More requests than this in one execution is a hang: a legitimate POLLING run
/// with a long window and a 30 s cap makes a few hundred.
const MAX_REQUESTS: usize = 10_000;
/// The same bound for calls to the platform (clock, sleep, randomness, progress).
const MAX_PLATFORM_CALLS: usize = 1_000_000;
/// wasi-http's default limit on one request's fields (Wasmtime's `DEFAULT_FIELD_SIZE_LIMIT`).
const FIELD_SIZE_LIMIT: usize = 128 * 1024;
const HUGE: usize = 200 * 1024;
const OVER_FIELD_LIMIT: usize = 128 * 1024 + 4096;
const DEEP: usize = 2_000;
/// AWS's SYNC limit plus one byte: a stored document that must be refused.
const SYNC_LIMIT_PLUS_ONE: usize = 10 * 1024 * 1024 + 1;

// ---- randomness -------------------------------------------------------------

fn case_seed(seed: u64, index: usize) -> u64 {
    mix(seed ^ mix(index as u64 + 1))
}

// ---- what the generator and the fake AWS draw from ----------------------------

/// One input from the scenario folders: its text, its JSON when it parses, and
/// the self-managed grants its `scenario.json` names (the default chain's cases).
struct SeedInput {
    name: String,
    text: String,
    value: Option<Value>,
    self_managed: bool,
    env: BTreeMap<String, String>,
    files: BTreeMap<String, Vec<u8>>,
}

/// `scenario.json`'s runtime: self-managed, its `AWS_*` variables (a `*_FILE` one
/// becomes a granted file) and its AWS config folder (granted at `/aws`).
fn scenario_grants(dir: &Path) -> (bool, BTreeMap<String, String>, BTreeMap<String, Vec<u8>>) {
    let mut env = BTreeMap::new();
    let mut files = BTreeMap::new();
    let Some(options) = std::fs::read(dir.join("scenario.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return (false, env, files);
    };
    let self_managed = options["selfManaged"] == json!(true);
    if let Some(vars) = options["env"].as_object() {
        for (k, v) in vars {
            let v = v.as_str().unwrap_or_default().to_string();
            if k.ends_with("_FILE") {
                if let Ok(bytes) = std::fs::read(dir.join(&v)) {
                    files.insert(format!("/granted/{v}"), bytes);
                }
                env.insert(k.clone(), format!("/granted/{v}"));
            } else {
                env.insert(k.clone(), v);
            }
        }
    }
    if let Some(config) = options["awsConfigDir"].as_str() {
        for name in ["config", "credentials"] {
            if let Ok(bytes) = std::fs::read(dir.join(config).join(name)) {
                files.insert(format!("/aws/{name}"), bytes);
            }
        }
    }
    (self_managed, env, files)
}

/// Everything loaded once per run.
struct World {
    inputs: Vec<SeedInput>,
    /// The document store: the scenarios' documents and a few of every format.
    stored: BTreeMap<String, Vec<u8>>,
    /// Real blocks (a few from each fixture), as JSON arrays, for small bodies.
    block_sets: Vec<String>,
    /// Whole fixtures as AnalyzeDocument and as GetDocumentAnalysis bodies (large: rare).
    full_analyze: Vec<Vec<u8>>,
    full_pages: Vec<Vec<u8>>,
    /// The fixtures that are job statuses (IN_PROGRESS, FAILED).
    job_bodies: Vec<Vec<u8>>,
    fixtures: usize,
}

fn sample_documents() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("doc-png", [&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..], b"fuzz png"].concat()),
        ("doc-jpeg", [&[0xFF, 0xD8, 0xFF, 0xE0][..], b"fuzz jpeg"].concat()),
        ("doc-pdf", b"%PDF-1.7\n%fuzz\n1 0 obj\n".to_vec()),
        ("doc-tiff", b"II*\0fuzz tiff".to_vec()),
        ("doc-tiff-be", b"MM\0*fuzz tiff".to_vec()),
        ("doc-gif", b"GIF89a fuzz".to_vec()),
        ("doc-empty", Vec::new()),
        ("doc-text", b"hello, not a document".to_vec()),
        ("doc-png-prefix", b"\x89PNG".to_vec()),
    ]
}

fn load_world() -> World {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = Vec::new();
    let mut stored: BTreeMap<String, Vec<u8>> = sample_documents()
        .into_iter()
        .map(|(id, bytes)| (id.to_string(), bytes))
        .collect();
    for folder in ["tests", "examples"] {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            if let Ok(text) = std::fs::read_to_string(dir.join("input.json")) {
                let (self_managed, env, files) = scenario_grants(&dir);
                inputs.push(SeedInput {
                    name: format!("{folder}/{}", entry.file_name().to_string_lossy()),
                    value: serde_json::from_str(&text).ok(),
                    text,
                    self_managed,
                    env,
                    files,
                });
            }
            if let Ok(docs) = std::fs::read_dir(dir.join("documents")) {
                for doc in docs.flatten() {
                    if let Ok(bytes) = std::fs::read(doc.path()) {
                        stored.insert(doc.file_name().to_string_lossy().into_owned(), bytes);
                    }
                }
            }
        }
    }
    inputs.sort_by(|a, b| a.name.cmp(&b.name));

    let mut world = World {
        inputs,
        stored,
        block_sets: Vec::new(),
        full_analyze: Vec::new(),
        full_pages: Vec::new(),
        job_bodies: Vec::new(),
        fixtures: 0,
    };
    // Read at run time, so the tier still runs (with synthetic bodies) where the
    // shared fixtures are absent.
    let fixtures = root.join("../shared/fixtures/textract");
    let mut files: Vec<_> = std::fs::read_dir(&fixtures)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let Some(mut v) = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        else {
            continue;
        };
        let Some(obj) = v.as_object_mut() else { continue };
        // boto3 adds ResponseMetadata on the client side; it is not on the wire.
        obj.remove("ResponseMetadata");
        world.fixtures += 1;
        match obj.get("Blocks").and_then(Value::as_array) {
            Some(blocks) => {
                for start in [0, blocks.len() / 2] {
                    let end = (start + 8).min(blocks.len());
                    world
                        .block_sets
                        .push(serde_json::to_string(&blocks[start..end]).unwrap());
                }
                world.full_analyze.push(serde_json::to_vec(&v).unwrap());
                let obj = v.as_object_mut().unwrap();
                obj.entry("JobStatus").or_insert_with(|| json!("SUCCEEDED"));
                world.full_pages.push(serde_json::to_vec(&v).unwrap());
            }
            None => world.job_bodies.push(serde_json::to_vec(&v).unwrap()),
        }
    }
    if world.block_sets.is_empty() {
        world.block_sets.push(
            r#"[{"BlockType":"PAGE","Id":"p-1","Confidence":99.5,"Geometry":{"BoundingBox":{"Width":1.0,"Height":1.0,"Left":0.0,"Top":0.0},"Polygon":[{"X":0.0,"Y":0.0},{"X":1.0,"Y":0.0}]},"Relationships":[{"Type":"CHILD","Ids":["l-1"]}],"Page":1},{"BlockType":"LINE","Id":"l-1","Text":"Total 42.00","Confidence":98.25,"Page":1}]"#
                .into(),
        );
    }
    if world.job_bodies.is_empty() {
        world
            .job_bodies
            .push(br#"{"JobStatus":"IN_PROGRESS","StatusMessage":"still going"}"#.to_vec());
        world
            .job_bodies
            .push(br#"{"JobStatus":"FAILED","StatusMessage":"bad document"}"#.to_vec());
    }
    world
}

// ---- the hostile values ---------------------------------------------------------

const ENDPOINTS: &[&str] = &[
    "https://textract.us-east-1.amazonaws.com",
    "http://127.0.0.1:5000",
    "http://127.0.0.1:http://6001/",
    "https://[::1",
    "https://[::1]:4566",
    "http://[::1]]:80",
    "https://[[::1]]",
    "https://host:99999",
    "https://host:-1",
    "https://host:",
    "https://:443",
    "https://ho st",
    "https://host/\r\n",
    " https://host.example.com ",
    "https://host\r\n",
    "https://host\r\nx-injected: 1",
    "https://user@host",
    "https://host?x=1",
    "https://host#frag",
    "HTTPS://HOST.EXAMPLE.COM/BASE/",
    "ftp://x",
    "//host",
    "https://",
    "localhost:4566",
    "https://a..b",
    "https://host_name:1",
    "https://host:443:443",
    "https://host%2F",
    "http://0x7f.1:80",
    "https://host:0",
    "https://ünicode.example",
    "https://host/a b",
    "https://host/%zz",
    "https://host/../..",
    "http://169.254.169.254",
    "https://textract.us-east-1.amazonaws.com:443/",
    "https://h:1:2:3:4:5:6:7:8:9",
    "http://[::1]:5000/base?x#y",
    "https://[::1]x:1",
    "https://[]",
    "http://host:80/base/",
];

const REGIONS: &[&str] = &[
    "us-east-1",
    "eu-west-1",
    "cn-north-1",
    "us-gov-west-1",
    "US-EAST-1",
    " us-east-1 ",
    "us-east-1\n",
    "",
    "us-east-1.evil.com",
    "../us-east-1",
    "xx-yyyy-9",
    "us-east-1:443",
    "us-east-1/",
    "ü-east-1",
    "us-east-1#",
    "eu-west-1\r\nx: y",
];

const BUCKETS: &[&str] = &[
    "textract-demo-docs",
    "my.bucket.name",
    "Legacy_Bucket",
    "",
    "b",
    "bucket/../x",
    "bucket\r\n",
    "bucket name",
    "-bucket",
    "bucket-",
    "192.168.1.1",
    "xn--bucket",
    "ü-bucket",
    "bucket?x=1",
    "bucket#x",
    "bucket%2F",
    "bucket:80",
    "bucket@evil.com",
];

const KEYS: &[&str] = &[
    "scan.png",
    "paystubs/2025-12.png",
    "a/b/../c.pdf",
    "../../etc/passwd",
    " ",
    "key with spaces.pdf",
    "ключ.pdf",
    "a%2Fb",
    "\r\n",
    "?x=1#y",
    "//double//slash",
    ".",
    "..",
    "~",
    "+plus+",
    "",
    "\u{0}.pdf",
    "a\\b.pdf",
    "line\nbreak.pdf",
];

const TOKENS: &[&str] = &[
    "order-4711_retry-1",
    "a0c8a2f4-6d7b-4e8e-9c3f-2f1b5e7d9a10",
    "",
    "tok en",
    "tok\n",
    "ü",
    "../x",
    "a:b",
    "invoices:2026.01",
    "job_1-2",
];

const ARNS: &[&str] = &[
    "arn:aws:iam::123456789012:role/TextractSNS",
    "arn:aws:sns:us-east-1:123456789012:AmazonTextract-done",
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "",
    "arn",
    "arn:aws:iam::1:role/x\r\n",
    "ü",
];

const PREFIXES: &[&str] = &[
    "jobs/2026/",
    "",
    "/",
    "//",
    "a/b",
    "../",
    "..",
    "\r\n/",
    "ü/",
    "a b/",
    "%2F/",
    "?x=1#/",
];

const DURATIONS: &[&str] = &[
    "PT2S",
    "PT1S",
    "PT0.5S",
    "PT0.001S",
    "PT0.000000001S",
    "PT0S",
    "P1D",
    "P11574D",
    "PT999999999S",
    "P1W",
    "PT-1S",
    "pt1s",
    "P1Y",
    "PT1,5S",
    "PT1.5.5S",
    "P1DT",
    "PT",
    "PT1H",
    "PT30S",
    "PT10M",
    "",
];

const FILE_NAMES: &[&str] = &[
    "scan.png",
    "",
    "  ",
    "../../x.pdf",
    "a/b\\c.pdf",
    "\r\n.pdf",
    "ü.pdf",
    "...",
    ".",
    "file\u{0}.pdf",
    "x?y#z.pdf",
    "%2e%2e.pdf",
    "+ .pdf",
];

const EXTERNAL_URLS: &[&str] = &[
    "https://docs.example.com/scans/scan.png?X-Amz-Signature=abc",
    "http://127.0.0.1:http://6001/",
    "https://[::1",
    "file:///etc/passwd",
    "https://docs.example.com/path with space.pdf",
    "https://docs.example.com/\r\nx-injected: 1",
    "HTTPS://DOCS.EXAMPLE.COM/A.PNG",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost/",
    "https://docs.example.com:99999/a.png",
    "https://user:pw@docs.example.com/a.png",
    "https://docs.example.com",
    "https://",
    "https:///a.png",
    "https://docs.example.com/%zz.png",
    "https://docs.example.com/a.png#frag",
];

/// Whether a known field path exists: (path, how it is filled).
const FIELDS: &[&[&str]] = &[
    &["authentication", "type"],
    &["authentication", "accessKey"],
    &["authentication", "secretKey"],
    &["authentication", "sessionToken"],
    &["authentication", "sessionToken"],
    &["awsCredential", "region"],
    &["awsCredential", "authentication", "accessKey"],
    &["awsCredential", "authentication", "sessionToken"],
    &["configuration", "region"],
    &["configuration", "endpoint"],
    &["configuration", "endpoint"],
    &["configuration", "endpoint"],
    &["input", "executionType"],
    &["input", "executionType"],
    &["input", "executionType"],
    &["input", "documentLocationType"],
    &["input", "documentS3Bucket"],
    &["input", "documentName"],
    &["input", "documentVersion"],
    &["input", "document"],
    &["input", "document"],
    &["input", "document"],
    &["input", "analyzeTables"],
    &["input", "analyzeForms"],
    &["input", "analyzeSignatures"],
    &["input", "analyzeLayout"],
    &["input", "analyzeQueries"],
    &["input", "query"],
    &["input", "clientRequestToken"],
    &["input", "jobTag"],
    &["input", "kmsKeyId"],
    &["input", "notificationChannelRoleArn"],
    &["input", "notificationChannelSnsTopicArn"],
    &["input", "outputConfigS3Bucket"],
    &["input", "outputConfigS3Prefix"],
    &["input", "jobId"],
    &["advanced", "pollInterval"],
    &["advanced", "maxPollInterval"],
    &["advanced", "pollTimeout"],
    &["advanced", "maxAttempts"],
    &["advanced", "documentS3Prefix"],
    &["advanced", "resultS3Bucket"],
    &["advanced", "resultS3Prefix"],
    &["advanced", "maxResultBytes"],
    &["input"],
    &["authentication"],
    &["configuration"],
    &["advanced"],
    &["awsCredential"],
];

const DUPLICATE_KEYS: &[&str] = &[
    "executionType",
    "documentLocationType",
    "region",
    "endpoint",
    "accessKey",
    "secretKey",
    "sessionToken",
    "type",
    "document",
    "documentS3Bucket",
    "documentName",
    "input",
    "authentication",
    "configuration",
    "awsCredential",
    "advanced",
    "pollInterval",
    "jobId",
    "analyzeTables",
    "camunda.document.type",
    "content",
    "url",
    "documentId",
];

fn long(n: usize, c: char) -> String {
    c.to_string().repeat(n)
}

fn nested_arrays(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

fn nested_objects(depth: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
}

/// Builds one input from a scenario input, by value (JSON) and by text.
struct Gen<'w> {
    rng: Rng,
    world: &'w World,
    /// Raw JSON tokens no `Value` can hold (`1e400`, deep nesting), put in at render.
    raws: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

impl<'w> Gen<'w> {
    fn raw(&mut self, token: String) -> Value {
        let id = self.raws.len();
        self.raws.push(token);
        Value::String(format!("\u{1}raw{id}\u{1}"))
    }

    /// A long ASCII string, spliced in at render: serialising it through serde_json
    /// is the dearest part of generating in a debug build.
    fn big(&mut self, n: usize, c: char) -> Value {
        self.raw(format!("\"{}\"", long(n, c)))
    }

    fn render(&self, v: &Value) -> String {
        let mut text = serde_json::to_string(v).unwrap();
        for (id, token) in self.raws.iter().enumerate() {
            text = text.replace(&format!("\"\\u0001raw{id}\\u0001\""), token);
        }
        text
    }

    fn s(&mut self, items: &[&str]) -> Value {
        Value::String(self.rng.pick(items).to_string())
    }

    fn hostile(&mut self) -> Value {
        match self.rng.below(30) {
            0 => Value::Null,
            1 => json!(true),
            2 => json!(false),
            3 => json!(0),
            4 => json!(-1),
            5 => json!(u64::MAX),
            6 => json!(i64::MIN),
            7 => json!(1e300),
            8 => json!(0.5),
            9 => json!(""),
            10 => json!(" \t "),
            11 => json!("\r\n"),
            12 => json!("a\u{0}b\u{1}c\u{1b}[31m\u{7f}"),
            // Huge strings are dear to build and parse in a debug build: half as often.
            13 if self.rng.chance(50) => self.big(HUGE, 'A'),
            14 if self.rng.chance(50) => self.big(OVER_FIELD_LIMIT, 'k'),
            13 | 14 => Value::String(long(1000, 'k')),
            15 => {
                let n = 1 + self.rng.below(64);
                let bytes = self.rng.bytes(n);
                Value::String(String::from_utf8_lossy(&bytes).into_owned())
            }
            16 => json!([]),
            17 => json!({}),
            18 => json!([1, 2]),
            19 => json!("\u{feff}\u{202e}🦀 ünïcödé"),
            20 => self.raw("1e400".into()),
            21 => self.raw(nested_arrays(DEEP)),
            22 => self.raw(nested_objects(DEEP)),
            23 => self.raw("123456789012345678901234567890".into()),
            24 => self.raw("\"\\ud800\"".into()),
            25 => json!(" us-east-1\r\n"),
            26 => self.raw("-1e400".into()),
            27 => json!(["x"]),
            28 => json!([{}]),
            _ => self.raw("-0".into()),
        }
    }

    fn secret(&mut self) -> Value {
        match self.rng.below(14) {
            0..=3 => json!("AKIDEXAMPLE"),
            4 => json!(""),
            5 => json!(" "),
            6 => json!("AK\r\nx-injected: 1"),
            7 => json!("AK\n"),
            8 => json!("AK\u{0}"),
            9 => json!("ключ"),
            10 => self.big(OVER_FIELD_LIMIT, 'T'),
            // Lengths that pass alone and may not together (the headers share 128 KiB).
            // (Signing hashes them, which is dear in a debug build: half as often.)
            11 if self.rng.chance(50) => {
                let n = *self.rng.pick(&[4096, 65_536, 100_000, 120_000, 131_000]);
                self.big(n, 'T')
            }
            11 => Value::String(long(128, 'T')),
            12 => self.big(HUGE, 'S'),
            _ => Value::String(long(2048, 't')),
        }
    }

    /// An endpoint put together from odd parts: scheme, host, port and path.
    fn endpoint(&mut self) -> Value {
        let scheme = *self
            .rng
            .pick(&["https://", "http://", "HTTP://", "", "https:/", "hTtPs://"]);
        let label63 = long(63, 'a');
        let label64 = long(64, 'a');
        let long_host = format!("{label63}.{label63}.{label63}.{label63}.com");
        let hosts = [
            "textract.us-east-1.amazonaws.com",
            "textract.us-east-1.amazonaws.com.",
            "TEXTRACT.US-EAST-1.AMAZONAWS.COM",
            "s3.cn-north-1.amazonaws.com.cn",
            "vpce-1.textract.us-east-1.vpce.amazonaws.com",
            "127.0.0.1",
            "127.1",
            "2130706433",
            "0x7f000001",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "[fe80::1%25eth0]",
            "[::1",
            "::1",
            "localhost",
            "-host-",
            "host_",
            "a..b",
            "1.2.3.4.5",
            "169.254.169.254",
            "ünicode.example",
            "xn--nicode-2ya.example",
            label64.as_str(),
            long_host.as_str(),
            "",
        ];
        let host = self.rng.pick(&hosts).to_string();
        let port = *self.rng.pick(&[
            "", "", ":443", ":80", ":0", ":00443", ":65535", ":65536", ":", ":-1", ":4a", ":443:443",
        ]);
        let path = *self.rng.pick(&[
            "",
            "",
            "/",
            "/base/",
            "//",
            "/a b",
            "/%2e%2e/",
            "/ü",
            "/?x=1",
            "#frag",
            "/path;p=1",
            "/a%",
            "\\x",
        ]);
        Value::String(format!("{scheme}{host}{port}{path}"))
    }

    /// A value for a known field: mostly plausible or borderline, sometimes anything.
    fn field_value(&mut self, key: &str) -> Value {
        if self.rng.chance(12) {
            return self.hostile();
        }
        match key {
            "type" => self.s(&[
                "credentials",
                "defaultCredentialsChain",
                "CREDENTIALS",
                " credentials ",
                "",
                "none",
            ]),
            "accessKey" | "secretKey" | "sessionToken" => self.secret(),
            "region" => self.s(REGIONS),
            "endpoint" if self.rng.chance(40) => self.endpoint(),
            "endpoint" => self.s(ENDPOINTS),
            "executionType" => match self.rng.below(12) {
                0 => json!(["ASYNC"]),
                1 => json!(["SYNC", "POLLING"]),
                _ => self.s(&[
                    "SYNC", "POLLING", "ASYNC", "FETCH", "sync", "Polling", " async ", "FETCH\n", "", "LATER",
                ]),
            },
            "documentLocationType" => match self.rng.below(8) {
                0 => json!(["UPLOADED"]),
                _ => self.s(&["S3", "UPLOADED", "s3", "uploaded", "", "FTP"]),
            },
            "documentS3Bucket" | "outputConfigS3Bucket" | "resultS3Bucket" => match self.rng.below(12) {
                0 => Value::String(long(64, 'b')),
                1 => Value::String(long(300, 'b')),
                _ => self.s(BUCKETS),
            },
            "documentName" => match self.rng.below(12) {
                0 => Value::String(long(1025, 'k')),
                1 => self.big(HUGE, 'k'),
                _ => self.s(KEYS),
            },
            "documentVersion" => self.s(&["v1", "3/L4kq+tJ", "null", "", " a b ", "\r\n"]),
            "document" => self.document(),
            "analyzeTables" | "analyzeForms" | "analyzeSignatures" | "analyzeLayout" | "analyzeQueries" => {
                let options = [
                    json!(true),
                    json!(true),
                    json!(false),
                    json!("true"),
                    json!("TRUE"),
                    json!("false"),
                    json!(""),
                    json!("yes"),
                    json!(1),
                    json!(null),
                    json!([true]),
                    json!({}),
                ];
                self.rng.pick(&options).clone()
            }
            "query" => match self.rng.below(8) {
                0 => Value::String(long(200, 'q')),
                1 => Value::String(long(201, 'q')),
                2 => Value::String(long(200, 'é')),
                3 => self.big(HUGE, 'q'),
                _ => self.s(&["What is the total?", "", "q\r\nq", " ", "¿qué?"]),
            },
            "clientRequestToken" | "jobTag" | "jobId" => match self.rng.below(10) {
                0 => Value::String(long(64, 'a')),
                1 => Value::String(long(65, 'a')),
                _ => self.s(TOKENS),
            },
            "kmsKeyId" | "notificationChannelRoleArn" | "notificationChannelSnsTopicArn" => match self.rng.below(10) {
                0 => Value::String(long(2048, 'r')),
                _ => self.s(ARNS),
            },
            "outputConfigS3Prefix" | "documentS3Prefix" | "resultS3Prefix" => match self.rng.below(10) {
                0 => Value::String(long(1100, 'p')),
                _ => self.s(PREFIXES),
            },
            "pollInterval" | "maxPollInterval" | "pollTimeout" => match self.rng.below(12) {
                0 => json!(5),
                _ => self.s(DURATIONS),
            },
            "maxAttempts" => {
                let options = [
                    json!("1"),
                    json!("3"),
                    json!("10"),
                    json!("11"),
                    json!("0"),
                    json!("-1"),
                    json!("3.5"),
                    json!(" 3 "),
                    json!("1e1"),
                    json!(10),
                    json!(4294967296u64),
                ];
                self.rng.pick(&options).clone()
            }
            "maxResultBytes" => {
                let options = [
                    json!("1"),
                    json!("100"),
                    json!("4194304"),
                    json!("0"),
                    json!("-1"),
                    json!("18446744073709551616"),
                    json!("1e3"),
                    json!(1),
                    json!(" 7 "),
                ];
                self.rng.pick(&options).clone()
            }
            "input" | "authentication" | "configuration" | "advanced" | "awsCredential" => {
                let options = [json!([]), json!([{}]), json!("x"), json!(5), json!(null), json!({})];
                self.rng.pick(&options).clone()
            }
            _ => self.hostile(),
        }
    }

    /// A Camunda document reference of any kind, sometimes broken.
    fn document(&mut self) -> Value {
        let mut doc = Map::new();
        match self.rng.below(3) {
            0 => {
                doc.insert(
                    "camunda.document.type".into(),
                    self.s(&["inline", "INLINE", " inline "]),
                );
                let samples = sample_documents();
                let (_, bytes) = self.rng.pick(&samples);
                let content = match self.rng.below(8) {
                    0 => "not base64!".to_string(),
                    1 => String::new(),
                    2 => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
                    3 => {
                        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                        format!("{}\r\n{}", &b64[..b64.len() / 2], &b64[b64.len() / 2..])
                    }
                    _ => base64::engine::general_purpose::STANDARD.encode(bytes),
                };
                doc.insert("content".into(), Value::String(content));
                doc.insert("name".into(), self.s(FILE_NAMES));
            }
            1 => {
                doc.insert("camunda.document.type".into(), json!("external"));
                doc.insert("url".into(), self.s(EXTERNAL_URLS));
                if self.rng.chance(50) {
                    doc.insert("name".into(), self.s(FILE_NAMES));
                }
            }
            _ => {
                doc.insert("camunda.document.type".into(), json!("camunda"));
                doc.insert("storeId".into(), json!("in-memory"));
                let mut ids: Vec<String> = self.world.stored.keys().cloned().collect();
                ids.extend(
                    ["doc-missing", "doc-denied", "doc-unavailable", "../../etc/passwd", ""]
                        .iter()
                        .map(|s| s.to_string()),
                );
                // A document over AWS's limits is large to build: rare.
                if self.rng.chance(3) {
                    ids.push("doc-huge".into());
                }
                let id = self.rng.pick(&ids).clone();
                let hash = match (self.rng.below(5), self.world.stored.get(&id)) {
                    (0 | 1, Some(bytes)) => Some(hex(&Sha256::digest(bytes))),
                    (2, Some(bytes)) => Some(hex(&Sha256::digest(bytes)).to_uppercase()),
                    (3, _) => Some("not-a-hash".into()),
                    _ => None,
                };
                doc.insert("documentId".into(), Value::String(id));
                if let Some(hash) = hash {
                    doc.insert("contentHash".into(), Value::String(hash));
                }
                doc.insert("metadata".into(), json!({"fileName": self.s(FILE_NAMES)}));
            }
        }
        let doc = Value::Object(doc);
        match self.rng.below(10) {
            0 => json!([doc]),
            1 => json!([doc.clone(), doc]),
            2 => json!([]),
            _ => doc,
        }
    }

    fn mutate(&mut self, root: &mut Value) {
        match self.rng.below(20) {
            // A known field set to an interesting value (most mutations).
            0..=9 => {
                let path = *self.rng.pick(FIELDS);
                let value = self.field_value(path[path.len() - 1]);
                set_path(root, path, value);
            }
            // Any node replaced by a hostile value.
            10 | 11 => {
                let paths = paths_of(root);
                if !paths.is_empty() {
                    let path = self.rng.pick(&paths).clone();
                    let value = self.hostile();
                    if let Some(node) = node_mut(root, &path) {
                        *node = value;
                    }
                }
            }
            // Arrays in place of objects, one-element arrays, two elements.
            12 | 13 => {
                let mut paths = paths_of(root);
                paths.push(Vec::new());
                let path = self.rng.pick(&paths).clone();
                let choice = self.rng.below(3);
                if let Some(node) = node_mut(root, &path) {
                    let old = node.take();
                    *node = match (choice, old) {
                        (0, Value::Object(map)) => Value::Array(map.into_iter().map(|(_, v)| v).collect()),
                        (1, old) => json!([old.clone(), old]),
                        (_, old) => json!([old]),
                    };
                }
            }
            // A key removed.
            14 => {
                let paths = paths_of(root);
                if !paths.is_empty() {
                    let path = self.rng.pick(&paths).clone();
                    remove(root, &path);
                }
            }
            15..=18 => self.retarget(root),
            // An endpoint override, odd or not.
            _ => {
                let endpoint = self.s(ENDPOINTS);
                set_path(root, &["configuration", "endpoint"], endpoint);
            }
        }
    }

    /// Another execution type, or another (uploaded) document.
    fn retarget(&mut self, root: &mut Value) {
        match self.rng.below(4) {
            // Another execution type, with what it needs.
            0 | 1 => {
                let kind = *self.rng.pick(&["SYNC", "POLLING", "ASYNC", "FETCH"]);
                set_path(root, &["input", "executionType"], json!(kind));
                if kind == "FETCH" && self.rng.chance(70) {
                    set_path(root, &["input", "jobId"], json!("a0c8a2f4-6d7b-4e8e-9c3f-2f1b5e7d9a10"));
                }
                if matches!(kind, "POLLING" | "ASYNC") && self.rng.chance(50) {
                    set_path(root, &["input", "documentS3Bucket"], json!("textract-staging"));
                }
            }
            // Another document, uploaded.
            _ => {
                let doc = self.document();
                set_path(root, &["input", "documentLocationType"], json!("UPLOADED"));
                set_path(root, &["input", "document"], doc);
                if self.rng.chance(60) {
                    set_path(root, &["input", "documentS3Bucket"], json!("textract-staging"));
                }
            }
        }
    }

    fn mutate_text(&mut self, text: String) -> String {
        let mut bytes = text.into_bytes();
        match self.rng.below(14) {
            0 | 1 => {
                let at = self.rng.below(bytes.len() + 1);
                bytes.truncate(at);
            }
            // A duplicate key right after an object opens (the original, later, wins)
            // or right before it closes (the duplicate wins).
            2..=4 => {
                let opens = structural(&bytes, b'{');
                let closes = structural(&bytes, b'}');
                let key = *self.rng.pick(DUPLICATE_KEYS);
                let value = self.field_value(key);
                let value = self.render(&value);
                if self.rng.chance(50) && !opens.is_empty() {
                    let at = *self.rng.pick(&opens) + 1;
                    let empty = bytes[at..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
                    let entry = format!("\"{key}\":{value}{}", if empty { "" } else { "," });
                    bytes.splice(at..at, entry.into_bytes());
                } else if !closes.is_empty() {
                    let at = *self.rng.pick(&closes);
                    let entry = format!(",\"{key}\":{value}");
                    bytes.splice(at..at, entry.into_bytes());
                }
            }
            5 => {
                if !bytes.is_empty() {
                    let start = self.rng.below(bytes.len());
                    let end = (start + 1 + self.rng.below(16)).min(bytes.len());
                    bytes.drain(start..end);
                }
            }
            6 => {
                let at = self.rng.below(bytes.len() + 1);
                let n = 1 + self.rng.below(8);
                let noise = self.rng.bytes(n);
                bytes.splice(at..at, noise);
            }
            7 => {
                bytes = format!(
                    "{}{}{}",
                    "[".repeat(DEEP),
                    String::from_utf8_lossy(&bytes),
                    "]".repeat(DEEP)
                )
                .into_bytes()
            }
            8 => {
                bytes = format!(
                    "{}{}{}",
                    r#"{"input":"#.repeat(DEEP),
                    String::from_utf8_lossy(&bytes),
                    "}".repeat(DEEP)
                )
                .into_bytes()
            }
            9 => match self.rng.below(4) {
                0 => bytes.splice(0..0, "\u{feff}".bytes()).for_each(drop),
                1 => bytes.extend_from_slice(b" trailing"),
                2 => bytes.extend(std::iter::repeat_n(b' ', HUGE)),
                _ => bytes.splice(0..0, b"\r\n\t ".iter().copied()).for_each(drop),
            },
            10 => {
                let options = [
                    "",
                    "null",
                    "[]",
                    "[{}]",
                    "\"str\"",
                    "1e400",
                    "{}",
                    "[{},{}]",
                    "{\"input\":",
                    "{\"a\":1,}",
                    "{'a':1}",
                    "NaN",
                    "tru",
                    "{\"\\ud800\":1}",
                ];
                bytes = if self.rng.chance(30) {
                    let n = self.rng.below(256);
                    self.rng.bytes(n)
                } else {
                    self.rng.pick(&options).as_bytes().to_vec()
                };
            }
            11 => {
                bytes.insert(0, b'[');
                bytes.push(b']');
            }
            12 => {
                if !bytes.is_empty() {
                    let at = self.rng.below(bytes.len());
                    bytes[at] = *self.rng.pick(b"\"{}[],:\\0");
                }
            }
            _ => {
                // A lone surrogate or NUL escape inside a string.
                let quotes = structural(&bytes, b'"');
                if !quotes.is_empty() {
                    let at = *self.rng.pick(&quotes) + 1;
                    let escape = *self.rng.pick(&["\\ud800", "\\u0000", "\\udfff\\ud800", "\\"]);
                    bytes.splice(at..at, escape.bytes());
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn input(&mut self, seed: &SeedInput) -> String {
        let style = self.rng.below(100);
        let mut text = match &seed.value {
            // Another execution type or document only: these mostly pass
            // validation, so the network paths get their share of cases.
            Some(v) if style < 30 => {
                let mut v = v.clone();
                for _ in 0..1 + self.rng.below(2) {
                    self.retarget(&mut v);
                }
                self.render(&v)
            }
            Some(v) if style < 92 => {
                let mut v = v.clone();
                let n = match self.rng.below(10) {
                    0..=4 => 1,
                    5..=7 => 2,
                    _ => 2 + self.rng.below(5),
                };
                for _ in 0..n {
                    self.mutate(&mut v);
                }
                self.render(&v)
            }
            _ => seed.text.clone(),
        };
        if style >= 80 || seed.value.is_none() {
            for _ in 0..1 + self.rng.below(2) {
                text = self.mutate_text(text);
            }
        }
        text
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Positions of `byte` outside JSON strings (for `"`: the quotes that open strings).
fn structural(bytes: &[u8], byte: u8) -> Vec<usize> {
    let mut out = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            if b == byte {
                out.push(i);
            }
            if b == b'"' {
                in_string = true;
            }
        }
    }
    out
}

/// Every node's path (depth and count bounded: enough to reach every field).
fn paths_of(root: &Value) -> Vec<Vec<Seg>> {
    fn walk(v: &Value, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
        if path.len() > 8 || out.len() > 400 {
            return;
        }
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    path.push(Seg::Key(k.clone()));
                    out.push(path.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate().take(16) {
                    path.push(Seg::Index(i));
                    out.push(path.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(root, &mut Vec::new(), &mut out);
    out
}

fn node_mut<'v>(root: &'v mut Value, path: &[Seg]) -> Option<&'v mut Value> {
    let mut node = root;
    for seg in path {
        node = match (seg, node) {
            (Seg::Key(k), Value::Object(map)) => map.get_mut(k)?,
            (Seg::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

fn remove(root: &mut Value, path: &[Seg]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    match (last, node_mut(root, parent)) {
        (Seg::Key(k), Some(Value::Object(map))) => map.remove(k).is_some(),
        (Seg::Index(i), Some(Value::Array(items))) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    }
}

// ---- one case: its input, the server it meets, the runtime it runs in ----------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    /// Plausible answers, an occasional retryable failure.
    Honest,
    /// Plausible, failing and malformed answers, mixed.
    Chaos,
    /// Every request fails (statuses, bodies, transport).
    ErrorsOnly,
    /// GetDocumentAnalysis always has one more page.
    EndlessPages,
    /// The job never leaves IN_PROGRESS.
    NeverDone,
    /// Every request fails in a way AWS's retry mode retries.
    AlwaysRetry,
    /// Whole fixtures (up to ~1 MB) as bodies.
    Huge,
}

#[derive(Clone)]
struct Case {
    index: usize,
    input: String,
    server: Server,
    server_seed: u64,
    mode: RuntimeMode,
    env: BTreeMap<String, String>,
    files: BTreeMap<String, Vec<u8>>,
    /// Whether the operator admitted every host (`--allow-host`), or none.
    operator_allows: bool,
    memory_limit: Option<u64>,
}

const INI_SAMPLES: &[&str] = &[
    "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = secret\nregion = eu-west-1\n",
    "[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\nsource_profile = default\n[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s\n",
    "[default]\nsource_profile = default\nrole_arn = arn:aws:iam::1:role/loop\naws_access_key_id = A\naws_secret_access_key = B\n",
    "[profile a]\nsource_profile = b\nrole_arn = x\n[profile b]\nsource_profile = a\nrole_arn = y\n",
    "[",
    "=",
    "[default]\naws_access_key_id\n",
    "[default]\nregion = us-east-1\r\naws_access_key_id = AK\r\naws_secret_access_key = S\r\n",
    "[default]\naws_access_key_id = AK\naws_secret_access_key = S\naws_session_token = tok\u{1}en\n",
    "[ops]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = default\n",
];

/// Canaries are numbered from here (`FUZZ_ONLY=canaryN` runs one).
const CANARY_BASE: usize = usize::MAX / 2;

fn case_label(index: usize) -> String {
    match index.checked_sub(CANARY_BASE) {
        Some(k) => format!("canary{k}"),
        None => index.to_string(),
    }
}

/// Hostile cases that run first in every run, whatever the seed: the defects the
/// random search found once (or that need a rare combination of input and server),
/// kept so that the default tier always checks them.
fn canaries() -> Vec<(&'static str, Case)> {
    let base = || {
        json!({
            "authentication": {"type": "credentials", "accessKey": "AKIDEXAMPLE",
                               "secretKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
            "configuration": {"region": "us-east-1"},
            "input": {"executionType": "POLLING", "documentLocationType": "S3",
                      "documentS3Bucket": "textract-demo-docs", "documentName": "paystubs/2025-12.png",
                      "analyzeTables": true}
        })
    };
    let chain = || {
        let mut v = base();
        v["authentication"] = json!({"type": "defaultCredentialsChain"});
        v
    };
    let env = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let mut out = Vec::new();
    let mut add = |name, v: Value, server, mode, env: BTreeMap<String, String>| {
        out.push((
            name,
            Case {
                index: CANARY_BASE + out.len(),
                input: serde_json::to_string(&v).unwrap(),
                server,
                server_seed: 1,
                mode,
                env,
                files: BTreeMap::new(),
                operator_allows: true,
                memory_limit: None,
            },
        ))
    };
    let saas = RuntimeMode::Saas;
    let managed = RuntimeMode::SelfManaged;

    let mut v = base();
    v["advanced"] = json!({"pollTimeout": "P11574D"});
    add(
        "a 31-year poll window; the job never finishes",
        v,
        Server::NeverDone,
        saas,
        env(&[]),
    );
    let mut v = base();
    v["advanced"] = json!({"pollInterval": "PT0.000000001S", "maxPollInterval": "PT0.000000001S"});
    add(
        "a 1 ns poll interval; the job never finishes",
        v,
        Server::NeverDone,
        saas,
        env(&[]),
    );
    add("result pages without end", base(), Server::EndlessPages, saas, env(&[]));
    let mut v = base();
    v["authentication"]["sessionToken"] = Value::String(long(100_000, 'T'));
    v["authentication"]["accessKey"] = Value::String(long(40_000, 'A'));
    add(
        "credentials that fill 128 KiB of headers together",
        v,
        Server::Honest,
        saas,
        env(&[]),
    );
    let mut v = base();
    v["configuration"]["endpoint"] = json!("http://127.0.0.1:http://6001/");
    add(
        "endpoint http://127.0.0.1:http://6001/",
        v,
        Server::Honest,
        saas,
        env(&[]),
    );
    let mut v = base();
    v["configuration"]["endpoint"] = json!("https://[::1");
    add("endpoint https://[::1", v, Server::Honest, saas, env(&[]));
    let mut v = base();
    v["input"] = json!({"executionType": "SYNC", "documentLocationType": "UPLOADED", "analyzeTables": true,
                        "document": {"camunda.document.type": "external",
                                     "url": "https://docs.example.com/\r\nx-injected: 1"}});
    add("an external document URL with CR/LF", v, Server::Honest, saas, env(&[]));
    add(
        "an environment access key with CR/LF (self-managed)",
        chain(),
        Server::Honest,
        managed,
        env(&[("AWS_ACCESS_KEY_ID", "AK\r\nX"), ("AWS_SECRET_ACCESS_KEY", "s")]),
    );
    add(
        "container credentials at https://[::1 (self-managed)",
        chain(),
        Server::Honest,
        managed,
        env(&[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "https://[::1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]),
    );
    add(
        "a container credentials path with CR/LF (self-managed)",
        chain(),
        Server::Honest,
        managed,
        env(&[
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/a\r\nb"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]),
    );
    out
}

fn generate(world: &World, seed: u64, index: usize) -> Case {
    if let Some(k) = index.checked_sub(CANARY_BASE) {
        if let Some((_, case)) = canaries().into_iter().nth(k) {
            return case;
        }
    }
    let mut rng = Rng(case_seed(seed, index));
    let seed_input = &world.inputs[rng.below(world.inputs.len())];
    let server = match rng.below(100) {
        0..=39 => Server::Honest,
        40..=67 => Server::Chaos,
        68..=76 => Server::ErrorsOnly,
        77..=83 => Server::EndlessPages,
        84..=91 => Server::NeverDone,
        92..=98 => Server::AlwaysRetry,
        // Whole fixtures cost ~30 ms a case in a debug build: one case in 200.
        _ if rng.chance(50) => Server::Huge,
        _ => Server::Honest,
    };
    let server_seed = rng.next();
    let operator_allows = rng.chance(50);
    let memory_limit = *rng.pick(&[None, Some(512u64 << 20), Some(16 << 20)]);
    let mut env = seed_input.env.clone();
    let mut files = seed_input.files.clone();
    let self_managed = if seed_input.self_managed {
        rng.chance(90)
    } else {
        rng.chance(8)
    };
    // The default chain's own scenarios keep their grants most of the time.
    if self_managed && (!seed_input.self_managed || rng.chance(30)) {
        // The operator's grants, as the default chain reads them.
        let mut put = |rng: &mut Rng, k: &str, options: &[&str]| {
            env.insert(k.to_string(), rng.pick(options).to_string());
        };
        if rng.chance(40) {
            put(&mut rng, "AWS_ACCESS_KEY_ID", &["AKIAENV", "", "AK\r\nX"]);
            if rng.chance(80) {
                put(&mut rng, "AWS_SECRET_ACCESS_KEY", &["secret", "", "s\u{0}"]);
            }
            if rng.chance(30) {
                put(&mut rng, "AWS_SESSION_TOKEN", &["token", "tok\r\nen"]);
            }
        }
        if rng.chance(40) {
            put(&mut rng, "AWS_REGION", REGIONS);
        }
        if rng.chance(20) {
            put(&mut rng, "AWS_DEFAULT_REGION", REGIONS);
        }
        if rng.chance(30) {
            put(
                &mut rng,
                "AWS_PROFILE",
                &["default", "ops", "a", "missing", "a b", "[x]"],
            );
            files.insert("/aws/config".to_string(), rng.pick(INI_SAMPLES).as_bytes().to_vec());
            files.insert(
                "/aws/credentials".to_string(),
                rng.pick(INI_SAMPLES).as_bytes().to_vec(),
            );
        }
        if rng.chance(15) {
            put(&mut rng, "AWS_WEB_IDENTITY_TOKEN_FILE", &["/token", "/missing"]);
            put(&mut rng, "AWS_ROLE_ARN", ARNS);
            let token = rng.pick(&["eyJhbGciOi.fuzz", "", "tok\r\nen"]).as_bytes().to_vec();
            files.insert("/token".to_string(), token);
        }
        if rng.chance(20) {
            if rng.chance(50) {
                put(
                    &mut rng,
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                    &["/v2/credentials/abc", "v2 creds", "/a\r\nb", "http://x", "//evil.com/x"],
                );
            } else {
                put(
                    &mut rng,
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    &[
                        "http://127.0.0.1:http://6001/",
                        "https://[::1",
                        "http://localhost/creds",
                        "file:///etc/passwd",
                        "not a url",
                        "http://169.254.170.23/v1/credentials",
                    ],
                );
            }
            if rng.chance(50) {
                put(
                    &mut rng,
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                    &["Bearer x", "x\r\ny", ""],
                );
            }
        }
        if rng.chance(30) {
            put(&mut rng, "AWS_EC2_METADATA_DISABLED", &["true"]);
        }
    }
    let mut gen = Gen {
        rng,
        world,
        raws: Vec::new(),
    };
    let mut input = gen.input(seed_input);
    if self_managed && gen.rng.chance(50) {
        if let Ok(mut v) = serde_json::from_str::<Value>(&input) {
            set_path(&mut v, &["authentication"], json!({"type": "defaultCredentialsChain"}));
            input = serde_json::to_string(&v).unwrap();
        }
    }
    Case {
        index,
        input,
        server,
        server_seed,
        mode: if self_managed {
            RuntimeMode::SelfManaged
        } else {
            RuntimeMode::Saas
        },
        env,
        files,
        operator_allows,
        memory_limit,
    }
}

// ---- the fakes ---------------------------------------------------------------

/// The payload of the panic that stops an execution past its bounds.
struct Hang(String);

/// The platform on a virtual clock: `sleep` only moves it.
struct VirtualPlatform {
    start: SystemTime,
    elapsed: Duration,
    counter: u64,
    calls: Cell<usize>,
    env: BTreeMap<String, String>,
    files: BTreeMap<String, Vec<u8>>,
    operator_allows: bool,
    memory_limit: Option<u64>,
}

impl VirtualPlatform {
    fn tick(&self) {
        let n = self.calls.get() + 1;
        self.calls.set(n);
        if n > MAX_PLATFORM_CALLS {
            panic_any(Hang(format!("more than {MAX_PLATFORM_CALLS} platform calls")));
        }
    }
}

impl Platform for VirtualPlatform {
    fn now(&self) -> SystemTime {
        self.tick();
        self.start.checked_add(self.elapsed).unwrap_or(self.start)
    }
    fn monotonic(&self) -> Duration {
        self.tick();
        self.elapsed
    }
    fn sleep(&mut self, duration: Duration) {
        self.tick();
        self.elapsed = self.elapsed.saturating_add(duration);
    }
    fn random_u64(&mut self) -> u64 {
        self.tick();
        self.counter += 1;
        mix(self.counter)
    }
    fn progress(&mut self, _line: &str) {
        self.tick();
    }
    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
    fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        self.files.get(path).cloned().ok_or_else(|| "NotFound".into())
    }
    fn operator_allows(&self, _host: &str, _port: u16) -> bool {
        self.operator_allows
    }
    fn memory_limit(&self) -> Option<u64> {
        self.memory_limit
    }
}

struct Store<'w> {
    stored: &'w BTreeMap<String, Vec<u8>>,
}

impl DocumentStore for Store<'_> {
    fn read(&mut self, _store_id: Option<&str>, id: &str, _hash: Option<&str>) -> Result<Vec<u8>, StoreError> {
        match id {
            "doc-denied" => Err(StoreError::Denied("the process may not read it".into())),
            "doc-unavailable" => Err(StoreError::Unavailable("the store is down".into())),
            "doc-huge" => {
                let mut bytes = vec![0u8; SYNC_LIMIT_PLUS_ONE];
                bytes[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
                Ok(bytes)
            }
            _ => self.stored.get(id).cloned().ok_or(StoreError::NotFound),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Textract(String),
    S3,
    Sts,
    Container,
    ImdsToken,
    ImdsRoles,
    ImdsCredentials,
    External,
}

fn classify(req: &HttpRequest) -> Kind {
    if let Some(op) = req.header("x-amz-target").and_then(|t| t.strip_prefix("Textract.")) {
        return Kind::Textract(op.to_string());
    }
    if req.url.contains("169.254.169.254") {
        return if req.method == "PUT" {
            Kind::ImdsToken
        } else if req.url.ends_with("/security-credentials/") {
            Kind::ImdsRoles
        } else {
            Kind::ImdsCredentials
        };
    }
    if req.timeout.is_some() {
        return Kind::Container;
    }
    if req.body.starts_with(b"Action=") {
        return Kind::Sts;
    }
    if req.header("x-amz-content-sha256").is_some() {
        return Kind::S3;
    }
    Kind::External
}

fn describe(req: &HttpRequest) -> String {
    let what = match classify(req) {
        Kind::Textract(op) => format!("Textract.{op}"),
        other => format!("{other:?}"),
    };
    format!("{} {what} {}", req.method, clip(&req.url, 160))
}

/// What wasi-http refuses when the component builds the request (`Fields::from_list`,
/// `set-authority`, `set-path-with-query`): the component reports each as `internal`.
/// Conservative: only what `http` 1.x and Wasmtime 48 reject for certain.
fn wire_problem(req: &HttpRequest) -> Option<String> {
    let Some((_, rest)) = req.url.split_once("://") else {
        return Some("a URL without a scheme".into());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if let Some(why) = authority_problem(authority) {
        return Some(format!("an authority http::uri::Authority rejects ({why})"));
    }
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Some("a path with a space or control character".into());
    }
    let mut size = 0;
    for (name, value) in &req.headers {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Some(format!("header name {} is not a token", clip(name, 40)));
        }
        if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Some(format!("a control character in header {name}"));
        }
        size += name.len() + value.len();
    }
    if size > FIELD_SIZE_LIMIT {
        return Some(format!("{size} bytes of headers, over wasi-http's 128 KiB field limit"));
    }
    None
}

/// `http::uri::Authority::from_str`'s rules (http 1.x `validate_authority_bytes`).
fn authority_problem(a: &str) -> Option<&'static str> {
    if a.is_empty() {
        return Some("empty");
    }
    let (mut colons, mut open, mut close, mut percent) = (0, false, false, false);
    let mut at = None;
    for (i, b) in a.bytes().enumerate() {
        match b {
            b'?' | b'#' => return Some("a '?' or '#'"),
            b'%' => percent = true,
            b':' => {
                colons += 1;
                if colons > 8 {
                    return Some("too many ':'");
                }
            }
            b'[' => {
                if percent || open {
                    return Some("a misplaced '['");
                }
                open = true;
            }
            b']' => {
                if !open || close {
                    return Some("a misplaced ']'");
                }
                close = true;
                colons = 0;
                percent = false;
            }
            b'@' => {
                at = Some(i);
                colons = 0;
                percent = false;
            }
            b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) => {}
            _ => return Some("a character not allowed in a URI"),
        }
    }
    if open != close {
        return Some("mismatched brackets");
    }
    if colons > 1 {
        return Some("more than one ':' outside brackets");
    }
    if at == Some(a.len() - 1) {
        return Some("nothing after '@'");
    }
    if percent {
        return Some("a '%' in the host");
    }
    None
}

const ERROR_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "AccessDeniedException",
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "ExpiredTokenException",
    "InternalServerError",
    "ServiceUnavailable",
    "InvalidParameterException",
    "InvalidS3ObjectException",
    "UnsupportedDocumentException",
    "DocumentTooLargeException",
    "BadDocumentException",
    "InvalidJobIdException",
    "IdempotentParameterMismatchException",
    "LimitExceededException",
    "ValidationException",
    "com.amazonaws.textract#ThrottlingException:http://internal.amazon.com/coral/",
    "",
    "#",
    ":",
    "a#b#c:d:e",
    "NoSuchBucket",
    "NoSuchKey",
    "SlowDown",
    "AccessDenied",
    "RequestTimeTooSkewed",
    "SignatureDoesNotMatch",
];

const MALFORMED_BODIES: &[&str] = &[
    "{}",
    "[]",
    "null",
    "\"s\"",
    "1e400",
    r#"{"JobId":5}"#,
    r#"{"JobId":""}"#,
    r#"{"JobId":null}"#,
    r#"{"JobStatus":["SUCCEEDED"]}"#,
    r#"{"JobStatus":"SUCCEEDED","Blocks":{}}"#,
    r#"{"JobStatus":"SUCCEEDED","Blocks":[null,1,"x"]}"#,
    r#"{"JobStatus":"SUCCEEDED","Blocks":[{"BlockType":5,"Geometry":"x"}]}"#,
    r#"{"JobStatus":"SUCCEEDED","Blocks":[{}]}"#,
    r#"{"JobStatus":"SUCCEEDED","NextToken":""}"#,
    r#"{"JobStatus":"SUCCEEDED","NextToken":123}"#,
    r#"{"JobStatus":"SUCCEEDED","NextToken":null,"Warnings":"x"}"#,
    r#"{"JobStatus":"SUCCEEDED","Warnings":[{"ErrorCode":1,"Pages":[1e400]}]}"#,
    r#"{"JobStatus":"SUCCEEDED","DocumentMetadata":{"Pages":-1}}"#,
    r#"{"JobStatus":"SUCCEEDED","DocumentMetadata":{"Pages":1e400}}"#,
    r#"{"JobStatus":"SUCCEEDED","DocumentMetadata":{"Pages":18446744073709551616}}"#,
    r#"{"JobStatus":"SUCCEEDED","Blocks":[{"BlockType":"LINE","Id":"x","Confidence":1e39}]}"#,
    r#"{"JobStatus":"SUCCEEDED","Blocks":[{"BlockType":"LINE","Id":"x","Confidence":"NaN"}]}"#,
    r#"{"JobStatus":"SUCCEEDED","Blocks":[{"BlockType":"NEW_TYPE","Id":"x","Geometry":{"Polygon":[{"X":1e38,"Y":-1e38}]}}]}"#,
    r#"{"JobStatus":"IN_PROGRESS","JobStatus":"SUCCEEDED"}"#,
    r#"{"JobStatus":"WEIRD"}"#,
    r#"{"JobStatus":"FAILED"}"#,
    r#"{"JobStatus":"FAILED","StatusMessage":null}"#,
    r#"{"JobStatus":"PARTIAL_SUCCESS","Warnings":[{"ErrorCode":"X","Pages":[1,2]}]}"#,
    r#"{"Blocks":[{"BlockType":"LINE","Id":"x","Relationships":[{"Type":"CHILD","Ids":"notalist"}]}]}"#,
    r#"{"DocumentMetadata":null,"Blocks":null,"HumanLoopActivationOutput":{"HumanLoopActivationReasons":5}}"#,
    "<html><body>502 Bad Gateway</body></html>",
    "<?xml version=\"1.0\"?><Error><Code>",
    "\u{feff}{}",
];

/// The fake AWS (and external document host, STS and metadata endpoints).
struct FakeAws<'w> {
    world: &'w World,
    rng: Rng,
    server: Server,
    requests: usize,
    job: u64,
    wire: Option<String>,
    log: Option<Vec<String>>,
}

type Answer = textract_connector::error::Result<HttpResponse>;

fn response(status: u16, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    Ok(HttpResponse {
        status,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body,
    })
}

fn json_response(status: u16, body: Vec<u8>) -> Answer {
    response(
        status,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-requestid", "7c1b4f0e-fuzz"),
        ],
        body,
    )
}

impl FakeAws<'_> {
    fn answer(&mut self, req: &HttpRequest) -> Answer {
        let kind = classify(req);
        let is_get = kind == Kind::Textract("GetDocumentAnalysis".into());
        match self.server {
            Server::Honest if self.rng.chance(8) => self.failure(&kind),
            Server::Honest => self.plausible(req, &kind, false),
            Server::Chaos => match self.rng.below(4) {
                0 | 1 => self.plausible(req, &kind, false),
                2 => self.failure(&kind),
                _ => self.malformed(req, &kind),
            },
            Server::ErrorsOnly => self.failure(&kind),
            Server::EndlessPages if is_get => {
                self.job += 1;
                let token = if self.rng.chance(50) {
                    "same-token".to_string()
                } else {
                    format!("token-{}", self.job)
                };
                json_response(
                    200,
                    format!(r#"{{"JobStatus":"SUCCEEDED","NextToken":"{token}","Blocks":[]}}"#).into_bytes(),
                )
            }
            Server::NeverDone if is_get => json_response(200, br#"{"JobStatus":"IN_PROGRESS"}"#.to_vec()),
            Server::EndlessPages | Server::NeverDone => self.plausible(req, &kind, false),
            Server::AlwaysRetry => match self.rng.below(4) {
                0 => json_response(503, br#"{"__type":"ServiceUnavailable","message":"busy"}"#.to_vec()),
                1 => json_response(
                    400,
                    br#"{"__type":"ThrottlingException","message":"slow down"}"#.to_vec(),
                ),
                2 => Err(Error::Transport {
                    code: "ConnectionRefused".into(),
                    message: "connection refused".into(),
                }),
                _ => response(
                    500,
                    &[("content-type", "application/xml")],
                    b"<Error><Code>SlowDown</Code><Message>Reduce your request rate</Message></Error>".to_vec(),
                ),
            },
            Server::Huge => self.plausible(req, &kind, true),
        }
    }

    fn plausible(&mut self, req: &HttpRequest, kind: &Kind, huge: bool) -> Answer {
        let blocks = self.rng.pick(&self.world.block_sets).clone();
        match kind {
            Kind::Textract(op) => match op.as_str() {
                "AnalyzeDocument" => {
                    if huge && !self.world.full_analyze.is_empty() {
                        return json_response(200, self.rng.pick(&self.world.full_analyze).clone());
                    }
                    let human = if self.rng.chance(10) {
                        r#","HumanLoopActivationOutput":{"HumanLoopArn":"arn:x","HumanLoopActivationReasons":["r"],"HumanLoopActivationConditionsEvaluationResults":"{}"}"#
                    } else {
                        ""
                    };
                    json_response(
                        200,
                        format!(
                            r#"{{"DocumentMetadata":{{"Pages":1}},"Blocks":{blocks},"AnalyzeDocumentModelVersion":"1.0"{human}}}"#
                        )
                        .into_bytes(),
                    )
                }
                "StartDocumentAnalysis" => {
                    self.job += 1;
                    let id = match self.rng.below(24) {
                        0 => "jöb/../x ?#".to_string(),
                        1 => long(4096, 'j'),
                        2 => "job\r\nx-injected: 1\u{0}".to_string(),
                        3 => long(64 * 1024, 'j'),
                        _ => format!("job-{:016x}", self.job),
                    };
                    json_response(200, serde_json::to_vec(&json!({ "JobId": id })).unwrap())
                }
                "GetDocumentAnalysis" => {
                    if huge && !self.world.full_pages.is_empty() && self.rng.chance(70) {
                        return json_response(200, self.rng.pick(&self.world.full_pages).clone());
                    }
                    let status = match self.rng.below(100) {
                        0..=29 => "IN_PROGRESS",
                        30..=84 => "SUCCEEDED",
                        85..=91 => "PARTIAL_SUCCESS",
                        _ => "FAILED",
                    };
                    if status != "SUCCEEDED" && status != "PARTIAL_SUCCESS" && self.rng.chance(50) {
                        return json_response(200, self.rng.pick(&self.world.job_bodies).clone());
                    }
                    self.job += 1;
                    let next = if self.rng.chance(30) {
                        format!(r#","NextToken":"page-{}""#, self.job)
                    } else {
                        String::new()
                    };
                    let warnings = if self.rng.chance(20) {
                        r#","Warnings":[{"ErrorCode":"PAGE_SKIPPED","Pages":[2]}]"#
                    } else {
                        ""
                    };
                    json_response(
                        200,
                        format!(
                            r#"{{"JobStatus":"{status}","DocumentMetadata":{{"Pages":2}},"Blocks":{blocks},"AnalyzeDocumentModelVersion":"1.0","StatusMessage":"m"{next}{warnings}}}"#
                        )
                        .into_bytes(),
                    )
                }
                _ => json_response(400, br#"{"__type":"UnknownOperationException"}"#.to_vec()),
            },
            Kind::S3 => match req.method {
                "PUT" => {
                    let version =
                        *self
                            .rng
                            .pick(&["", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjV", "null", "v 1/?#%"]);
                    let mut headers = vec![("etag", "\"9b2cf535f27731c974343645a3985328\"")];
                    if !version.is_empty() {
                        headers.push(("x-amz-version-id", version));
                    }
                    response(200, &headers, Vec::new())
                }
                "DELETE" => response(204, &[], Vec::new()),
                "HEAD" => response(200, &[("content-length", "77")], Vec::new()),
                _ => response(200, &[], self.document_bytes()),
            },
            Kind::Sts => {
                let token = *self.rng.pick(&["FwoGZXIvYXdzEFuzz", "tok\r\nen", "", "&lt;&amp;"]);
                response(
                    200,
                    &[("content-type", "text/xml")],
                    format!(
                        "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAFUZZ</AccessKeyId>\
                         <SecretAccessKey>secret</SecretAccessKey><SessionToken>{token}</SessionToken>\
                         <Expiration>2026-01-15T10:30:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>"
                    )
                    .into_bytes(),
                )
            }
            Kind::Container | Kind::ImdsCredentials => {
                let token = *self.rng.pick(&["FwoGZXIvYXdzEFuzz", "tok\r\nen", ""]);
                response(
                    200,
                    &[("content-type", "application/json")],
                    serde_json::to_vec(&json!({
                        "Code": "Success",
                        "AccessKeyId": "ASIAMETA",
                        "SecretAccessKey": "secret",
                        "Token": token,
                        "Expiration": "2026-01-15T10:30:00Z"
                    }))
                    .unwrap(),
                )
            }
            Kind::ImdsToken => {
                let token = *self.rng.pick(&["AQAEAFuzzToken==", "tok\r\nen", ""]);
                response(200, &[], token.as_bytes().to_vec())
            }
            Kind::ImdsRoles => {
                let role = *self.rng.pick(&["fuzz-role\n", "role with space\n", "../../x\n", ""]);
                response(200, &[], role.as_bytes().to_vec())
            }
            Kind::External => response(
                200,
                &[("content-type", "application/octet-stream")],
                self.document_bytes(),
            ),
        }
    }

    fn document_bytes(&mut self) -> Vec<u8> {
        let samples = sample_documents();
        self.rng.pick(&samples).1.clone()
    }

    fn failure(&mut self, kind: &Kind) -> Answer {
        let code = *self.rng.pick(ERROR_CODES);
        let status = *self
            .rng
            .pick(&[400u16, 400, 403, 500, 503, 429, 501, 502, 504, 404, 301, 409]);
        match self.rng.below(10) {
            0 => Err(Error::Transport {
                code: "ConnectionRefused".into(),
                message: "connection refused".into(),
            }),
            1 => Err(Error::Transport {
                code: "ConnectionTimeout".into(),
                message: "timed out".into(),
            }),
            2 => Err(Error::EgressDenied {
                host: "textract.us-east-1.amazonaws.com".into(),
            }),
            3 | 4 => json_response(
                status,
                serde_json::to_vec(&json!({"__type": code, "message": "fuzzed failure"})).unwrap(),
            ),
            5 => response(
                status,
                &[("content-type", "application/xml"), ("x-amz-request-id", "4442587FB7D0A2F9")],
                format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>fuzzed &amp; failed</Message><RequestId>r</RequestId></Error>")
                    .into_bytes(),
            ),
            6 => {
                let n = self.rng.below(512);
                let body = self.rng.bytes(n);
                response(status, &[("content-type", "application/octet-stream")], body)
            }
            7 => response(status, &[("x-amzn-errortype", code)], Vec::new()),
            8 => json_response(status, br#"{"__type":5,"message":null,"Message":["x"]}"#.to_vec()),
            _ => {
                // S3 HEAD-style: a status alone; or an error for the kind that cannot parse.
                let body = if *kind == Kind::S3 { Vec::new() } else { b"{\"__type\":\"Throt".to_vec() };
                response(status, &[], body)
            }
        }
    }

    fn malformed(&mut self, req: &HttpRequest, kind: &Kind) -> Answer {
        let status = *self
            .rng
            .pick(&[200u16, 200, 200, 200, 201, 204, 206, 100, 199, 304, 0, 999]);
        match self.rng.below(6) {
            0 => {
                let n = self.rng.below(512);
                let body = self.rng.bytes(n);
                json_response(status, body)
            }
            1 => {
                // A plausible body cut short.
                let mut body = match self.plausible(req, kind, false) {
                    Ok(r) => r.body,
                    Err(_) => Vec::new(),
                };
                let cut = self.rng.below(body.len() + 1);
                body.truncate(cut);
                json_response(status, body)
            }
            2 => json_response(status, nested_arrays(5_000).into_bytes()),
            3 => {
                // Odd headers on a plausible answer: request ids and version ids.
                let mut answer = self.plausible(req, kind, false)?;
                let odd = match self.rng.below(3) {
                    0 => long(100_000, 'r'),
                    1 => "../../r ?#%".into(),
                    _ => "ünï".into(),
                };
                answer.headers.insert(0, ("x-amzn-requestid".into(), odd.clone()));
                answer.headers.push(("x-amz-version-id".into(), odd));
                Ok(answer)
            }
            _ => json_response(status, self.rng.pick(MALFORMED_BODIES).as_bytes().to_vec()),
        }
    }
}

impl HttpClient for FakeAws<'_> {
    fn send(&mut self, req: &HttpRequest) -> Answer {
        self.requests += 1;
        if self.requests > MAX_REQUESTS {
            let what = match classify(req) {
                Kind::Textract(op) => format!("Textract.{op}"),
                other => format!("{other:?}"),
            };
            panic_any(Hang(format!(
                "more than {MAX_REQUESTS} requests (the last: {} {what})",
                req.method
            )));
        }
        // The component's seam turns what wasi-http refuses into a typed
        // `RequestRejected` error, as here; only headers over the 128 KiB field
        // limit trap inside Wasmtime, and those must never be sent.
        let answer = match wire_problem(req) {
            Some(p) if p.contains("field limit") => {
                if self.wire.is_none() {
                    self.wire = Some(format!("{p}|{}", describe(req)));
                }
                self.answer(req)
            }
            Some(p) => Err(Error::InvalidInput {
                code: "RequestRejected",
                message: format!("The call could not be made: {p}"),
            }),
            None => self.answer(req),
        };
        if let Some(log) = &mut self.log {
            let summary = match &answer {
                Ok(r) => format!("{} ({} bytes)", r.status, r.body.len()),
                Err(e) => format!("error {}", e.code()),
            };
            log.push(format!("{} -> {summary}", describe(req)));
        }
        answer
    }
}

// ---- running a case --------------------------------------------------------------

#[derive(Debug, Clone)]
enum Outcome {
    Ok,
    Failed {
        kind: ErrorKind,
        code: String,
        message: String,
    },
    Panic(String),
    Hang(String),
}

struct Run {
    outcome: Outcome,
    requests: usize,
    /// The first request wasi-http would refuse: `problem|request`.
    wire: Option<String>,
    /// Why a successful result is not JSON (the runtime stores it as a JSON variable).
    bad_result: Option<String>,
    log: Vec<String>,
}

thread_local! {

    /// Set on the fuzz worker: panics are recorded, not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let location = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{message} (at {location})")));
            } else {
                previous(info);
            }
        }));
    });
}

fn run_case(world: &World, case: &Case, input: &str, trace: bool) -> Run {
    let mut http = FakeAws {
        world,
        rng: Rng(case.server_seed),
        server: case.server,
        requests: 0,
        job: 0,
        wire: None,
        log: trace.then(Vec::new),
    };
    let mut platform = VirtualPlatform {
        start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_768_469_400),
        elapsed: Duration::ZERO,
        counter: 0,
        calls: Cell::new(0),
        env: case.env.clone(),
        files: case.files.clone(),
        operator_allows: case.operator_allows,
        memory_limit: case.memory_limit,
    };
    let mut store = Store { stored: &world.stored };
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut ctx = Context {
            http: &mut http,
            platform: &mut platform,
            documents: &mut store,
            mode: case.mode,
        };
        textract_connector::execute(&mut ctx, input)
    }));
    let mut bad_result = None;
    let outcome = match result {
        Ok(Ok(text)) => {
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
                let at = e.column().saturating_sub(1);
                let near: String = text.chars().skip(at.saturating_sub(40)).take(60).collect();
                bad_result = Some(format!("{e}|near {near:?}"));
            }
            Outcome::Ok
        }
        Ok(Err(e)) => Outcome::Failed {
            kind: e.kind(),
            code: e.code(),
            message: e.message(),
        },
        Err(payload) => match payload.downcast::<Hang>() {
            Ok(hang) => Outcome::Hang(hang.0),
            Err(_) => Outcome::Panic(LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default()),
        },
    };
    Run {
        outcome,
        requests: http.requests,
        wire: http.wire,
        bad_result,
        log: http.log.unwrap_or_default(),
    }
}

/// Digits collapsed, so one defect is one signature whatever its values.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out.chars().take(140).collect()
}

/// `None` when the run kept every rule.
fn signature(run: &Run) -> Option<String> {
    match &run.outcome {
        Outcome::Panic(m) => Some(format!("panic: {}", normalize(m))),
        Outcome::Hang(m) => Some(format!("hang: {}", normalize(m))),
        Outcome::Failed {
            kind: ErrorKind::Internal,
            message,
            ..
        } => Some(format!("internal: {}", normalize(message))),
        _ => match (&run.wire, &run.bad_result) {
            (Some(w), _) => Some(format!(
                "refused by wasi-http: {}",
                normalize(w.split('|').next().unwrap_or(w))
            )),
            (None, Some(b)) => Some(format!(
                "the result is not JSON: {}",
                normalize(b.split(" at line").next().unwrap_or(b))
            )),
            (None, None) => None,
        },
    }
}

fn detail(run: &Run) -> String {
    let mut out = match &run.outcome {
        Outcome::Ok => "ok".to_string(),
        Outcome::Failed { kind, code, message } => {
            format!("{} {code}: {}", kind.as_str(), clip(message, 400))
        }
        Outcome::Panic(m) => format!("panic: {m}"),
        Outcome::Hang(m) => format!("hang: {m}"),
    };
    if let Some(b) = &run.bad_result {
        let _ = write!(out, "; the result is not JSON: {}", b.replace('|', " — "));
    }
    if let Some(w) = &run.wire {
        let _ = write!(out, "; first request wasi-http refuses: {}", w.replace('|', " — "));
    }
    let _ = write!(out, "; {} request(s)", run.requests);
    out
}

// ---- shrinking ------------------------------------------------------------------

/// A smaller input with the same failure signature (greedy; bounded in time).
fn shrink(world: &World, case: &Case, sig: &str, budget: Duration) -> String {
    let deadline = Instant::now() + budget;
    let fails = |candidate: &str| signature(&run_case(world, case, candidate, false)).as_deref() == Some(sig);
    if let Ok(mut value) = serde_json::from_str::<Value>(&case.input) {
        if fails(&serde_json::to_string(&value).unwrap()) {
            'outer: loop {
                let mut paths = paths_of(&value);
                paths.reverse();
                for path in paths {
                    if Instant::now() > deadline {
                        break 'outer;
                    }
                    let mut candidate = value.clone();
                    if remove(&mut candidate, &path) && fails(&serde_json::to_string(&candidate).unwrap()) {
                        value = candidate;
                        continue 'outer;
                    }
                    let shorter = match node_mut(&mut value.clone(), &path) {
                        Some(Value::String(s)) if s.chars().count() > 8 => {
                            Some(s.chars().take(s.chars().count() / 2).collect::<String>())
                        }
                        _ => None,
                    };
                    if let Some(shorter) = shorter {
                        let mut candidate = value.clone();
                        if let Some(node) = node_mut(&mut candidate, &path) {
                            *node = Value::String(shorter);
                        }
                        if fails(&serde_json::to_string(&candidate).unwrap()) {
                            value = candidate;
                            continue 'outer;
                        }
                    }
                }
                break;
            }
            return serde_json::to_string(&value).unwrap();
        }
    }
    // Not JSON (or only its exact text fails): drop ever smaller chunks of text.
    let mut text = case.input.clone().into_bytes();
    let mut chunk = text.len() / 2;
    while chunk > 0 && Instant::now() < deadline {
        let mut at = 0;
        while at + chunk <= text.len() && Instant::now() < deadline {
            let mut candidate = text.clone();
            candidate.drain(at..at + chunk);
            match String::from_utf8(candidate) {
                Ok(s) if fails(&s) => text = s.into_bytes(),
                _ => at += chunk,
            }
        }
        chunk /= 2;
    }
    String::from_utf8(text).unwrap_or_default()
}

/// Long strings shortened, for printing: the full input is in the written file.
fn abbreviate(input: &str) -> String {
    fn walk(v: &mut Value) {
        match v {
            Value::String(s) if s.chars().count() > 120 => {
                let head: String = s.chars().take(24).collect();
                *s = format!("{head}…({} chars)", s.chars().count());
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            Value::Object(map) => map.values_mut().for_each(walk),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(input) {
        Ok(mut v) => {
            walk(&mut v);
            clip(&serde_json::to_string(&v).unwrap(), 1500)
        }
        Err(_) => clip(input, 600),
    }
}

// ---- the run -------------------------------------------------------------------

struct Failure {
    signature: String,
    count: usize,
    case: Case,
    detail: String,
    shrunk: Option<String>,
}

#[derive(Default)]
struct Tally {
    cases: usize,
    outcomes: BTreeMap<String, usize>,
    codes: HashMap<String, usize>,
    reached_network: usize,
    ok_by_type: BTreeMap<String, usize>,
    kinds_seen: BTreeMap<String, usize>,
    wire: usize,
    bad_results: usize,
}

struct Report {
    tally: Tally,
    failures: Vec<Failure>,
    elapsed: Duration,
}

struct Progress {
    case: usize,
    started: Instant,
    shrinking: bool,
}

fn execution_type(input: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(input) else {
        return "-".into();
    };
    let v = match &v {
        Value::Array(items) if items.len() == 1 => &items[0],
        other => other,
    };
    let t = v.pointer("/input/executionType").map(|t| match t {
        Value::Array(items) if items.len() == 1 => items[0].clone(),
        other => other.clone(),
    });
    match t {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_ascii_uppercase(),
        _ => "POLLING".into(),
    }
}

fn fuzz(world: &World, seed: u64, cases: usize, shrink_failures: bool, progress: &Mutex<Progress>) -> Report {
    QUIET.with(|q| q.set(true));
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut failures: Vec<Failure> = Vec::new();
    let canaries = (0..canaries().len()).map(|k| CANARY_BASE + k);
    for index in canaries.chain(0..cases) {
        let case = generate(world, seed, index);
        *progress.lock().unwrap() = Progress {
            case: index,
            started: Instant::now(),
            shrinking: false,
        };
        let run = run_case(world, &case, &case.input, false);
        tally.cases += 1;
        if run.requests > 0 {
            tally.reached_network += 1;
        }
        if run.wire.is_some() {
            tally.wire += 1;
        }
        if run.bad_result.is_some() {
            tally.bad_results += 1;
        }
        let (label, code) = match &run.outcome {
            Outcome::Ok => {
                *tally.ok_by_type.entry(execution_type(&case.input)).or_default() += 1;
                ("ok".to_string(), None)
            }
            Outcome::Failed { kind, code, .. } => (kind.as_str().to_string(), Some(code.clone())),
            Outcome::Panic(_) => ("panic".into(), Some("(panic)".into())),
            Outcome::Hang(_) => ("hang".into(), Some("(hang)".into())),
        };
        *tally.outcomes.entry(label.clone()).or_default() += 1;
        *tally.kinds_seen.entry(format!("{:?}", case.server)).or_default() += 1;
        if let Some(code) = code {
            *tally.codes.entry(format!("{label} {code}")).or_default() += 1;
        }
        if let Some(sig) = signature(&run) {
            match failures.iter_mut().find(|f| f.signature == sig) {
                Some(f) => f.count += 1,
                None => failures.push(Failure {
                    signature: sig,
                    count: 1,
                    detail: detail(&run),
                    case,
                    shrunk: None,
                }),
            }
        }
    }
    let elapsed = started.elapsed();
    if shrink_failures {
        for f in &mut failures {
            *progress.lock().unwrap() = Progress {
                case: f.case.index,
                started: Instant::now(),
                shrinking: true,
            };
            f.shrunk = Some(shrink(world, &f.case, &f.signature, Duration::from_secs(10)));
        }
    }
    Report {
        tally,
        failures,
        elapsed,
    }
}

fn print_table(report: &Report, seed: u64) {
    let t = &report.tally;
    println!(
        "\nfuzz: {} cases, seed {seed:#x}, {:.1} s ({:.0} cases/s); {} reached the network",
        t.cases,
        report.elapsed.as_secs_f64(),
        t.cases as f64 / report.elapsed.as_secs_f64().max(1e-9),
        t.reached_network
    );
    println!("\n  {:<40} {:>9}", "outcome", "cases");
    for label in [
        "ok",
        "invalid-input",
        "unauthorized",
        "throttled",
        "upstream",
        "internal",
        "panic",
        "hang",
    ] {
        println!("  {label:<40} {:>9}", t.outcomes.get(label).copied().unwrap_or(0));
    }
    println!("  {:<40} {:>9}", "(headers over wasi-http's 128 KiB)", t.wire);
    println!("  {:<40} {:>9}", "(an ok result that is not JSON)", t.bad_results);
    println!("\n  {:<40} {:>9}", "ok by execution type", "cases");
    for (k, n) in &t.ok_by_type {
        println!("  {k:<40} {n:>9}");
    }
    let mut codes: Vec<_> = t.codes.iter().collect();
    codes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("\n  {:<60} {:>9}", "error by code (top 20)", "cases");
    for (code, n) in codes.iter().take(20) {
        println!("  {:<60} {n:>9}", clip(code, 56).trim_matches('"'));
    }
    println!("\n  {:<40} {:>9}", "server behaviour", "cases");
    for (k, n) in &t.kinds_seen {
        println!("  {k:<40} {n:>9}");
    }
}

fn reproduce(world: &World, seed: u64, index: usize) {
    QUIET.with(|q| q.set(true));
    let case = generate(world, seed, index);
    let run = run_case(world, &case, &case.input, true);
    println!(
        "case {} (seed {seed:#x}): server {:?}, runtime {:?}, env {:?}",
        case_label(index),
        case.server,
        case.mode,
        case.env.keys().collect::<Vec<_>>()
    );
    println!("input ({} bytes): {}", case.input.len(), abbreviate(&case.input));
    for line in &run.log {
        println!("  {line}");
    }
    println!("outcome: {}", detail(&run));
    assert!(
        signature(&run).is_none(),
        "case {} breaks a rule: {}",
        case_label(index),
        detail(&run)
    );
}

#[test]
fn hostile_inputs_never_panic_hang_or_fail_internally() {
    install_panic_hook();
    let seed = env_number("FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_number("FUZZ_CASES").map_or(DEFAULT_CASES, |n| n as usize);
    let world = Arc::new(load_world());
    assert!(
        world.inputs.iter().filter(|i| i.value.is_some()).count() >= 20,
        "the scenario inputs (tests/*/input.json) were not found"
    );
    if world.fixtures == 0 {
        println!("note: no Textract fixtures at ../shared/fixtures/textract; synthetic bodies only");
    }
    let only = std::env::var("FUZZ_ONLY")
        .ok()
        .and_then(|raw| match raw.trim().strip_prefix("canary") {
            Some(k) => k.parse::<usize>().ok().map(|k| CANARY_BASE + k),
            None => env_number("FUZZ_ONLY").map(|n| n as usize),
        });
    if let Some(index) = only {
        reproduce(&world, seed, index);
        return;
    }
    let shrink_failures = env_number("FUZZ_SHRINK") != Some(0);
    let case_limit = Duration::from_secs(env_number("FUZZ_CASE_SECONDS").unwrap_or(120));

    // The worker runs the cases; this thread watches it, so a loop that never
    // reaches a seam (and so escapes the request bound) still fails the test.
    let progress = Arc::new(Mutex::new(Progress {
        case: 0,
        started: Instant::now(),
        shrinking: false,
    }));
    let (tx, rx) = mpsc::channel();
    let (w, p) = (world.clone(), progress.clone());
    std::thread::Builder::new()
        .name("fuzz-worker".into())
        .stack_size(64 << 20)
        .spawn(move || {
            let report = fuzz(&w, seed, cases, shrink_failures, &p);
            let _ = tx.send(report);
        })
        .unwrap();
    let report = loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(report) => break report,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let p = progress.lock().unwrap();
                if p.started.elapsed() >= case_limit {
                    let case = generate(&world, seed, p.case);
                    panic!(
                        "hang: case {} (seed {seed:#x}{}) ran over {case_limit:?} without returning or calling a seam\n\
                         reproduce: FUZZ_SEED={seed:#x} FUZZ_ONLY={} cargo test -p textract-connector --test fuzz -- --nocapture\n\
                         server {:?}, runtime {:?}, input: {}",
                        case_label(p.case),
                        if p.shrinking { ", while shrinking it" } else { "" },
                        case_label(p.case),
                        case.server,
                        case.mode,
                        abbreviate(&case.input)
                    );
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the fuzz worker died (a defect in the fuzzer)"),
        }
    };

    print_table(&report, seed);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    let mut summary = Vec::new();
    for (n, f) in report.failures.iter().enumerate() {
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("{n:02}.json"));
        let shrunk = f.shrunk.clone().unwrap_or_else(|| f.case.input.clone());
        let _ = std::fs::write(&file, &shrunk);
        println!(
            "\nFAILURE {n}: {} — {} case(s)\n  first: case {} (seed {:#x}), server {:?}, runtime {:?}\n  reproduce: FUZZ_SEED={:#x} FUZZ_ONLY={} cargo test -p textract-connector --test fuzz -- --nocapture\n  observed: {}\n  input: {}\n  shrunk ({}): {}",
            f.signature,
            f.count,
            case_label(f.case.index),
            seed,
            f.case.server,
            f.case.mode,
            seed,
            case_label(f.case.index),
            f.detail,
            abbreviate(&f.case.input),
            file.display(),
            abbreviate(&shrunk),
        );
        summary.push(format!(
            "{} ({} cases, first {})",
            f.signature,
            f.count,
            case_label(f.case.index)
        ));
    }

    // The generator must reach past validation, or the tier proves little.
    let t = &report.tally;
    assert!(
        report.failures.is_empty(),
        "{} distinct failure(s) in {} cases (seed {seed:#x}):\n  {}",
        report.failures.len(),
        t.cases,
        summary.join("\n  ")
    );
    if cases >= 2_000 {
        assert!(
            t.reached_network * 8 >= t.cases,
            "under an eighth of the cases reached the network"
        );
        for kind in ["SYNC", "POLLING", "ASYNC", "FETCH"] {
            assert!(
                t.ok_by_type.get(kind).copied().unwrap_or(0) > 0,
                "no {kind} case succeeded"
            );
        }
        for outcome in ["ok", "invalid-input", "unauthorized", "throttled", "upstream"] {
            assert!(
                t.outcomes.get(outcome).copied().unwrap_or(0) > 0,
                "no case ended {outcome}"
            );
        }
    }
}
