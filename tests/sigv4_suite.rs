//! The AWS SigV4 test suite (v4, header signing), run through the connector's
//! signing module. For each case the canonical request, the string to sign and
//! the signature must equal the suite's files. The canonical request and the
//! string to sign are read from the `aws-sigv4` crate's trace events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};
use textract_connector::aws::credentials::Credentials;
use textract_connector::aws::signing::{sign_with, Options};
use textract_connector::platform::http::HttpRequest;
mod common;
use common::trace::{string_to_sign, Capture};

/// Cases that do not apply, by name, with the reason.
const SKIPPED: &[(&str, &str)] = &[];

/// The CRT suite signs the *decoded* path of these requests, encoding it once;
/// our requests carry the path already encoded, as it travels on the wire, so
/// the equivalent is to sign that encoded path as it is (no second encoding).
const SINGLE_ENCODED: &[&str] = &["get-space-normalized", "get-space-unnormalized", "get-utf8"];

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aws-sigv4-suite/v4")
}

struct Case {
    request: HttpRequest,
    credentials: Credentials,
    options: Options,
    region: String,
    service: String,
    time: std::time::SystemTime,
}

/// A raw path as a client puts it on the wire: spaces and non-ASCII percent-encoded.
fn percent_encode_non_ascii(path: &str) -> String {
    let mut out = String::new();
    for c in path.chars() {
        if c == ' ' {
            out.push_str("%20");
        } else if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn load(dir: &Path) -> Case {
    let ctx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("context.json")).unwrap()).unwrap();
    let raw = std::fs::read_to_string(dir.join("request.txt")).unwrap();
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let (path, _version) = rest.rsplit_once(' ').unwrap();
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut host = String::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // A folded (multi-line) value continues the previous header.
            let last = headers.last_mut().unwrap();
            last.1 = format!("{} {}", last.1.trim_end(), line.trim());
            continue;
        }
        let (k, v) = line.split_once(':').unwrap();
        if k.eq_ignore_ascii_case("host") {
            host = v.trim().to_string();
        } else {
            headers.push((k.to_ascii_lowercase(), v.to_string()));
        }
    }
    let method: &'static str = Box::leak(method.to_string().into_boxed_str());
    let when = ctx["timestamp"].as_str().unwrap();
    assert_eq!(when, "2015-08-30T12:36:00Z");
    let creds = &ctx["credentials"];
    let sign_token = !ctx["omit_session_token"].as_bool().unwrap_or(false);
    Case {
        request: HttpRequest {
            method,
            url: format!("https://{host}{}", percent_encode_non_ascii(path)),
            headers,
            body: body.as_bytes().to_vec(),
            timeout: None,
        },
        credentials: Credentials::new(
            creds["access_key_id"].as_str().unwrap(),
            creds["secret_access_key"].as_str().unwrap(),
            creds["token"].as_str(),
        ),
        options: Options {
            normalize_path: ctx["normalize"].as_bool().unwrap(),
            double_encode_path: !SINGLE_ENCODED.contains(&dir.file_name().unwrap().to_str().unwrap()),
            payload_hash_header: ctx["sign_body"].as_bool().unwrap(),
            sign_session_token: sign_token,
        },
        region: ctx["region"].as_str().unwrap().to_string(),
        service: ctx["service"].as_str().unwrap().to_string(),
        time: UNIX_EPOCH + Duration::from_secs(1_440_938_160),
    }
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim_end().to_string())
}

#[test]
fn every_applicable_suite_case_signs_identically() {
    let mut names: Vec<String> = std::fs::read_dir(suite_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut failures = Vec::new();
    let mut checked = 0;
    for name in &names {
        if let Some((_, why)) = SKIPPED.iter().find(|(n, _)| n == name) {
            println!("skip {name}: {why}");
            continue;
        }
        let dir = suite_dir().join(name);
        if !dir.join("context.json").is_file() {
            println!("skip {name}: no context.json (a legacy case kept for aws-sigv4's own unit tests)");
            continue;
        }
        let mut case = load(&dir);
        let capture = Capture::default();
        let result = tracing::subscriber::with_default(capture.clone(), || {
            sign_with(
                &mut case.request,
                &case.credentials,
                &case.region,
                &case.service,
                case.time,
                case.options,
            )
        });
        if let Err(e) = result {
            failures.push(format!("{name}: signing failed: {e}"));
            continue;
        }
        let mut problems = Vec::new();
        if let Some(expected) = read(&dir, "header-canonical-request.txt") {
            // aws-sigv4 traces the canonical request with the session token masked.
            let expected = match &case.credentials.session_token {
                Some(t) if case.options.sign_session_token => {
                    expected.replace(t, &format!("** redacted (length={}) **", t.len()))
                }
                _ => expected,
            };
            if capture.field("canonical_request").as_deref() != Some(expected.as_str()) {
                problems.push(format!(
                    "canonical request:\n--- expected\n{expected}\n--- got\n{}",
                    capture.field("canonical_request").unwrap_or_default()
                ));
            }
        }
        if let Some(expected) = read(&dir, "header-string-to-sign.txt") {
            // The header path traces no string to sign; derive it from the traced
            // canonical request (token restored) exactly as SigV4 defines it.
            let token = case
                .credentials
                .session_token
                .as_deref()
                .filter(|_| case.options.sign_session_token);
            let canonical = capture.canonical_request(token).unwrap_or_default();
            let got = string_to_sign(&canonical, "20150830T123600Z", &case.region, &case.service);
            if got != expected {
                problems.push(format!("string to sign: expected {expected:?}, got {got:?}"));
            }
        }
        if let Some(expected) = read(&dir, "header-signature.txt") {
            let auth = case.request.header("authorization").unwrap_or_default();
            let got = auth.rsplit("Signature=").next().unwrap_or_default();
            if got != expected {
                problems.push(format!("signature: expected {expected}, got {got}"));
            }
        }
        if problems.is_empty() {
            checked += 1;
            println!("ok   {name}");
        } else {
            failures.push(format!("{name}: {}", problems.join("\n")));
        }
    }
    println!("{checked} suite cases matched");
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(checked >= 30, "only {checked} cases were checked");
}
