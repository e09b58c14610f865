//! Cassettes: recorded HTTP interactions, in order, in one JSON file.
//!
//! A request is served the first unused interaction that matches it on method,
//! URL, the headers the interaction lists, and the body (compared as JSON when
//! both sides are JSON). Signatures, dates, tokens and user agents never take
//! part in matching; an interaction may still *assert* them under
//! `expectSigned`, which is how scenarios check the exact signature that went out.

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

/// Headers that vary per run or carry secrets: never matched, redacted when recorded.
pub const VOLATILE_HEADERS: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "user-agent",
    "x-amz-user-agent",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "content-length",
    "host",
    "date",
];

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Cassette {
    /// The wall-clock time at which the interactions were recorded (RFC 3339, UTC).
    /// Replay pins the guest's clock to it, so signatures are reproducible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<String>,
    #[serde(default)]
    pub interactions: Vec<Interaction>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interaction {
    pub request: RecordedRequest,
    pub response: RecordedResponse,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    pub method: String,
    pub url: String,
    /// Headers that must match (names compared case-insensitively).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub headers: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Body::is_empty")]
    pub body: Body,
    /// Headers asserted after matching (the signature, the date, the token).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub expect_signed: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedResponse {
    pub status: u16,
    /// Header values: a string, or a list of strings for a repeated header.
    #[serde(default)]
    pub headers: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Body::is_empty")]
    pub body: Body,
}

/// A body as JSON, text, base64 or a file beside the cassette.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub enum Body {
    #[default]
    Empty,
    Json(Value),
    Text(String),
    Base64(String),
    /// A path relative to the cassette's folder (a large recorded response).
    File(String),
}

impl Body {
    pub fn is_empty(&self) -> bool {
        *self == Body::Empty
    }

    /// The bytes of the body; `base` resolves `File` bodies.
    pub fn bytes(&self, base: &Path) -> Result<Vec<u8>> {
        Ok(match self {
            Body::Empty => Vec::new(),
            Body::Json(v) => serde_json::to_vec(v)?,
            Body::Text(t) => t.as_bytes().to_vec(),
            Body::Base64(b) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .context("cassette body is not valid base64")?,
            Body::File(f) => {
                let path = base.join(f);
                let bytes = std::fs::read(&path).with_context(|| format!("reading body file {}", path.display()))?;
                strip_client_metadata(bytes)
            }
        })
    }

    /// The best representation of recorded bytes.
    pub fn from_bytes(bytes: &[u8]) -> Body {
        if bytes.is_empty() {
            return Body::Empty;
        }
        if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
            return Body::Json(v);
        }
        match std::str::from_utf8(bytes) {
            Ok(t) => Body::Text(t.to_string()),
            Err(_) => Body::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }
}

/// boto3 adds `ResponseMetadata` on the client side; it is never on the wire.
fn strip_client_metadata(bytes: Vec<u8>) -> Vec<u8> {
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut map)) if map.contains_key("ResponseMetadata") => {
            map.remove("ResponseMetadata");
            serde_json::to_vec(&Value::Object(map)).unwrap_or(bytes)
        }
        _ => bytes,
    }
}

/// The replay clock's instant when a cassette does not pin one.
pub const DEFAULT_REPLAY_TIME: &str = "2026-01-15T09:30:00Z";

impl Cassette {
    /// Seconds since the epoch at which a replay of this cassette starts: `pinned`
    /// (the CLI's `--clock`), else `recordedAt`, else [`DEFAULT_REPLAY_TIME`].
    pub fn replay_time(&self, pinned: Option<u64>) -> Result<u64> {
        match pinned {
            Some(t) => Ok(t),
            None => parse_rfc3339_utc(self.recorded_at.as_deref().unwrap_or(DEFAULT_REPLAY_TIME)),
        }
    }

    pub fn load(path: &Path) -> Result<Cassette> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading cassette {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing cassette {}", path.display()))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        std::fs::write(path, text).with_context(|| format!("writing cassette {}", path.display()))
    }
}

/// The request that the guest actually sent, as the harness saw it.
#[derive(Debug, Clone, Serialize)]
pub struct SeenRequest {
    pub method: String,
    pub url: String,
    /// Lower-case names, in the order sent.
    pub headers: Vec<(String, String)>,
    #[serde(skip)]
    pub body: Vec<u8>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// One line for messages: `POST https://host/ (Textract.AnalyzeDocument)`.
    pub fn summary(&self) -> String {
        match self.header("x-amz-target") {
            Some(t) => format!("{} {} ({t})", self.method, self.url),
            None => format!("{} {}", self.method, self.url),
        }
    }
}

/// Why a recorded request does not match a seen one; empty when it matches.
pub fn differences(recorded: &RecordedRequest, seen: &SeenRequest, base: &Path) -> Vec<String> {
    let mut diffs = Vec::new();
    if !recorded.method.eq_ignore_ascii_case(&seen.method) {
        diffs.push(format!("method: recorded {}, sent {}", recorded.method, seen.method));
    }
    if recorded.url != seen.url {
        diffs.push(format!("url: recorded {}, sent {}", recorded.url, seen.url));
    }
    for (name, value) in &recorded.headers {
        if VOLATILE_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let want = value.as_str().unwrap_or_default();
        match seen.header(name) {
            Some(got) if got == want => {}
            Some(got) => diffs.push(format!("header {name}: recorded {want:?}, sent {got:?}")),
            None => diffs.push(format!("header {name}: recorded {want:?}, not sent")),
        }
    }
    match recorded.body.bytes(base) {
        Err(e) => diffs.push(format!("body: {e:#}")),
        Ok(want) => diff_bodies(&want, &seen.body, &mut diffs),
    }
    diffs
}

fn diff_bodies(want: &[u8], got: &[u8], diffs: &mut Vec<String>) {
    if want == got {
        return;
    }
    match (
        serde_json::from_slice::<Value>(want),
        serde_json::from_slice::<Value>(got),
    ) {
        (Ok(w), Ok(g)) => diff_json("body", &w, &g, ("recorded", "sent"), diffs),
        _ => diffs.push(format!(
            "body: recorded {} bytes ({}), sent {} bytes ({})",
            want.len(),
            preview(want),
            got.len(),
            preview(got)
        )),
    }
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).into_owned();
    format!("{text:?}")
}

/// Lists the paths where two JSON values differ (at most 8); `labels` name the
/// two sides in messages, e.g. ("recorded", "sent").
pub fn diff_json(path: &str, want: &Value, got: &Value, labels: (&str, &str), diffs: &mut Vec<String>) {
    let (w_label, g_label) = labels;
    if diffs.len() >= 8 || want == got {
        return;
    }
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => diff_json(&format!("{path}.{k}"), wv, gv, labels, diffs),
                    None => diffs.push(format!("{path}.{k}: {w_label} {}, not {g_label}", short(wv))),
                }
            }
            for (k, gv) in g {
                if !w.contains_key(k) {
                    diffs.push(format!("{path}.{k}: not {w_label}, {g_label} {}", short(gv)));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff_json(&format!("{path}[{i}]"), wv, gv, labels, diffs);
            }
        }
        _ => diffs.push(format!("{path}: {w_label} {}, {g_label} {}", short(want), short(got))),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// Checks the `expectSigned` assertions of a matched interaction.
pub fn signed_differences(recorded: &RecordedRequest, seen: &SeenRequest) -> Vec<String> {
    recorded
        .expect_signed
        .iter()
        .filter_map(|(name, value)| {
            let want = value.as_str();
            let got = seen.header(name);
            (want != got).then(|| format!("signed header {name}: expected {want:?}, sent {got:?}"))
        })
        .collect()
}

/// Builds a cassette entry from a live exchange, with every credential redacted.
pub fn record(seen: &SeenRequest, status: u16, headers: &[(String, String)], body: &[u8]) -> Interaction {
    let mut request_headers = Map::new();
    for (k, v) in &seen.headers {
        if !VOLATILE_HEADERS.contains(&k.as_str()) {
            request_headers.insert(k.clone(), Value::String(v.clone()));
        }
    }
    let mut response_headers = Map::new();
    for (k, v) in headers {
        match response_headers.get_mut(k) {
            Some(Value::Array(values)) => values.push(Value::String(v.clone())),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v.clone())]);
            }
            None => {
                response_headers.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    Interaction {
        request: RecordedRequest {
            method: seen.method.clone(),
            url: seen.url.clone(),
            headers: request_headers,
            body: redact_body(Body::from_bytes(&seen.body)),
            expect_signed: Map::new(),
        },
        response: RecordedResponse {
            status,
            headers: response_headers,
            body: redact_body(Body::from_bytes(body)),
        },
    }
}

/// STS and credential endpoints answer with secrets in their bodies: mask them.
fn redact_body(body: Body) -> Body {
    const SECRET_KEYS: &[&str] = &[
        "SecretAccessKey",
        "SessionToken",
        "Token",
        "secretAccessKey",
        "sessionToken",
        "AccessKeyId",
        "accessKeyId",
    ];
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    if SECRET_KEYS.contains(&k.as_str()) && val.is_string() {
                        *val = Value::String("REDACTED".into());
                    } else {
                        walk(val);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    match body {
        Body::Json(mut v) => {
            walk(&mut v);
            Body::Json(v)
        }
        other => other,
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` into seconds since the Unix epoch.
pub fn parse_rfc3339_utc(text: &str) -> Result<u64> {
    let t = text.trim();
    let bad = || anyhow::anyhow!("{t:?} is not a UTC time like 2026-01-15T09:30:00Z");
    let t = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix("+00:00"))
        .ok_or_else(bad)?;
    let (date, time) = t.split_once('T').ok_or_else(bad)?;
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_>>()?;
    let time = time.split('.').next().unwrap_or(time);
    let h: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_>>()?;
    let [y, m, day] = <[i64; 3]>::try_from(d).map_err(|_| bad())?;
    let [hh, mm, ss] = <[i64; 3]>::try_from(h).map_err(|_| bad())?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        bail!(bad());
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_parse() {
        assert_eq!(parse_rfc3339_utc("2015-08-30T12:36:00Z").unwrap(), 1_440_938_160);
        assert_eq!(parse_rfc3339_utc("1970-01-01T00:00:00Z").unwrap(), 0);
        assert!(parse_rfc3339_utc("2015-08-30 12:36").is_err());
    }

    #[test]
    fn json_bodies_match_regardless_of_formatting() {
        let recorded = RecordedRequest {
            method: "POST".into(),
            url: "https://x/".into(),
            headers: json!({"x-amz-target":"T.Op","authorization":"ignored"})
                .as_object()
                .unwrap()
                .clone(),
            body: Body::Json(json!({"a":1,"b":[1,2]})),
            expect_signed: Map::new(),
        };
        let mut seen = SeenRequest {
            method: "POST".into(),
            url: "https://x/".into(),
            headers: vec![
                ("x-amz-target".into(), "T.Op".into()),
                ("authorization".into(), "sig".into()),
            ],
            body: br#"{"b":[1,2],"a":1}"#.to_vec(),
        };
        assert!(differences(&recorded, &seen, Path::new(".")).is_empty());
        seen.body = br#"{"b":[1,3],"a":1}"#.to_vec();
        assert_eq!(
            differences(&recorded, &seen, Path::new(".")),
            vec!["body.b[1]: recorded 2, sent 3"]
        );
    }

    #[test]
    fn recording_redacts_secrets() {
        let seen = SeenRequest {
            method: "POST".into(),
            url: "https://sts/".into(),
            headers: vec![
                ("authorization".into(), "AWS4 Credential=AKIA".into()),
                ("x-amz-security-token".into(), "t".into()),
            ],
            body: vec![],
        };
        let i = record(
            &seen,
            200,
            &[],
            br#"{"Credentials":{"SecretAccessKey":"s","SessionToken":"t","Expiration":"e"}}"#,
        );
        let text = serde_json::to_string(&i).unwrap();
        assert!(
            !text.contains("AKIA") && !text.contains("\"s\"") && !text.contains("\"t\""),
            "{text}"
        );
        assert!(text.contains("\"Expiration\":\"e\""));
    }
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_rfc3339_utc(epoch_seconds: u64) -> String {
    let secs = epoch_seconds as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod format_tests {
    #[test]
    fn round_trips() {
        for t in [0, 1_440_938_160, 1_795_000_000, 951_782_400] {
            assert_eq!(super::parse_rfc3339_utc(&super::format_rfc3339_utc(t)).unwrap(), t);
        }
        assert_eq!(super::format_rfc3339_utc(1_440_938_160), "2015-08-30T12:36:00Z");
    }
}
