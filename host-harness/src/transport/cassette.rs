//! Cassettes: recorded HTTP interactions, in order, in one JSON file.
//!
//! A request is served the first unused interaction that matches it on method,
//! URL, the headers the interaction lists, and the body (compared as JSON when
//! both sides are JSON). Signatures, dates, tokens and user agents never take
//! part in matching; an interaction may still *assert* them under
//! `expectSigned`, which is how scenarios check the exact signature that went out.
//!
//! Recording redacts every credential, in headers, presigned URLs and bodies of
//! every format (JSON, XML, form-encoded, the bare IMDS token), as `REDACTED`;
//! replay accepts any sent value where a recording holds `REDACTED` for one.

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

/// Headers that vary per run or carry secrets: never matched, dropped when recorded.
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
    // A recording's presigned query holds REDACTED where the credentials were.
    if recorded.url != seen.url && recorded.url != redact_url(&seen.url) {
        diffs.push(format!("url: recorded {}, sent {}", recorded.url, seen.url));
    }
    for (name, value) in &recorded.headers {
        if VOLATILE_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let want = value.as_str().unwrap_or_default();
        match seen.header(name) {
            Some(got) if got == want => {}
            // A recorded credential matches whatever the guest sends in its place.
            Some(_) if want == REDACTED && is_secret_header(name) => {}
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

/// Bodies match as they are, or, for a recording whose credentials were
/// redacted, once the sent body's credentials are redacted the same way.
fn diff_bodies(want: &[u8], got: &[u8], diffs: &mut Vec<String>) {
    let mut found = Vec::new();
    compare_bodies(want, got, &mut found);
    if found.is_empty() {
        return;
    }
    let mut after_redaction = Vec::new();
    compare_bodies(want, &redact_bytes(got), &mut after_redaction);
    if !after_redaction.is_empty() {
        diffs.extend(found);
    }
}

fn compare_bodies(want: &[u8], got: &[u8], diffs: &mut Vec<String>) {
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

/// What a recorded credential is replaced with.
pub const REDACTED: &str = "REDACTED";

/// Names whose values are credentials, in every format a recording holds: JSON
/// keys, XML elements, form fields and URL query parameters (compared
/// case-insensitively). STS answers in XML, the container and IMDS endpoints in
/// JSON; web identity sends its token as a form field; presigned URLs carry
/// their credential and signature in the query.
const SECRET_NAMES: &[&str] = &[
    "AccessKeyId",
    "SecretAccessKey",
    "SessionToken",
    "Token",
    "WebIdentityToken",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
];

/// Headers whose values are credentials. Request headers among
/// [`VOLATILE_HEADERS`] are dropped; the others are recorded as [`REDACTED`].
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-amz-security-token",
    "x-aws-ec2-metadata-token",
    "cookie",
    "set-cookie",
];

/// The IMDSv2 session-token call: its answer is the bare token.
const IMDS_TOKEN_PATH: &str = "/latest/api/token";

fn is_secret_name(name: &str) -> bool {
    SECRET_NAMES.iter().any(|s| s.eq_ignore_ascii_case(name))
}

fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Builds a cassette entry from a live exchange, with every credential redacted:
/// in the URL's query, the headers and the bodies, whatever their format.
pub fn record(seen: &SeenRequest, status: u16, headers: &[(String, String)], body: &[u8]) -> Interaction {
    let mut request_headers = Map::new();
    for (k, v) in &seen.headers {
        if !VOLATILE_HEADERS.contains(&k.as_str()) {
            request_headers.insert(k.clone(), Value::String(redact_header(k, v)));
        }
    }
    let mut response_headers = Map::new();
    for (k, v) in headers {
        let v = redact_header(k, v);
        match response_headers.get_mut(k) {
            Some(Value::Array(values)) => values.push(Value::String(v)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v)]);
            }
            None => {
                response_headers.insert(k.clone(), Value::String(v));
            }
        }
    }
    let is_imds_token = seen.method.eq_ignore_ascii_case("PUT") && url_path(&seen.url).ends_with(IMDS_TOKEN_PATH);
    let response_body = if is_imds_token && (200..300).contains(&status) && !body.is_empty() {
        Body::Text(REDACTED.into())
    } else {
        redact_body(Body::from_bytes(body))
    };
    Interaction {
        request: RecordedRequest {
            method: seen.method.clone(),
            url: redact_url(&seen.url),
            headers: request_headers,
            body: redact_body(Body::from_bytes(&seen.body)),
            expect_signed: Map::new(),
        },
        response: RecordedResponse {
            status,
            headers: response_headers,
            body: response_body,
        },
    }
}

fn redact_header(name: &str, value: &str) -> String {
    if is_secret_header(name) {
        REDACTED.into()
    } else {
        value.into()
    }
}

/// The path of a URL, without scheme, authority or query.
fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path_on = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    path_on.split(['?', '#']).next().unwrap_or("")
}

/// A URL with the values of its secret query parameters redacted.
fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) => format!("{base}?{}", redact_form(query)),
        None => url.to_string(),
    }
}

/// Credentials in bodies: JSON (container and IMDS answers), XML (STS answers)
/// and form-encoded text (STS requests).
fn redact_body(body: Body) -> Body {
    match body {
        Body::Json(mut v) => {
            redact_json(&mut v);
            Body::Json(v)
        }
        Body::Text(text) if text.trim_start().starts_with('<') => Body::Text(redact_xml(&text)),
        Body::Text(text) if looks_like_form(&text) => Body::Text(redact_form(&text)),
        other => other,
    }
}

fn redact_json(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret_name(k) && val.is_string() {
                    *val = Value::String(REDACTED.into());
                } else {
                    redact_json(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// `name=value&...` with no whitespace: a form body or a query string.
fn looks_like_form(text: &str) -> bool {
    text.contains('=') && !text.contains(char::is_whitespace)
}

/// Redacts the values of secret fields in `name=value&name=value`.
fn redact_form(text: &str) -> String {
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !value.is_empty() && is_secret_name(name) => format!("{name}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Redacts the text of secret elements (`<SecretAccessKey>...</SecretAccessKey>`,
/// with or without a namespace prefix, CDATA included). Secret elements are
/// leaves; an element with children keeps them.
fn redact_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>').map(|i| open + i) else {
            break;
        };
        let tag = &rest[open..=close];
        out.push_str(tag);
        rest = &rest[close + 1..];
        if is_secret_start_tag(tag) {
            let end = if rest.starts_with("<![CDATA[") {
                rest.find("]]>").map_or(rest.len(), |i| i + 3)
            } else {
                rest.find('<').unwrap_or(rest.len())
            };
            if !rest[..end].trim().is_empty() {
                out.push_str(REDACTED);
            } else {
                out.push_str(&rest[..end]);
            }
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Whether `<...>` opens an element with a secret name (not a closing, empty,
/// declaration or comment tag).
fn is_secret_start_tag(tag: &str) -> bool {
    let inner = &tag[1..tag.len() - 1];
    if inner.starts_with(['/', '?', '!']) || inner.ends_with('/') {
        return false;
    }
    let name = inner.split(|c: char| c.is_whitespace()).next().unwrap_or("");
    let local = name.rsplit(':').next().unwrap_or(name);
    is_secret_name(local)
}

/// A sent body with the same redaction a recording gets.
fn redact_bytes(bytes: &[u8]) -> Vec<u8> {
    redact_body(Body::from_bytes(bytes))
        .bytes(Path::new(""))
        .unwrap_or_else(|_| bytes.to_vec())
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

    fn sent(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> SeenRequest {
        SeenRequest {
            method: method.into(),
            url: url.into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn answer(headers: &[(&str, &str)]) -> Vec<(String, String)> {
        headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
    const WEB_IDENTITY_FORM: &str = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15\
        &RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fweb&RoleSessionName=textract-connector\
        &WebIdentityToken=SECRET-WEB-IDENTITY-JWT";

    fn sts_xml(action: &str) -> String {
        format!(
            "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{action}Result><Credentials>\
             <AccessKeyId>SECRET-XML-KEY-ID</AccessKeyId><SecretAccessKey>SECRET-XML-SECRET</SecretAccessKey>\
             <SessionToken>SECRET-XML-SESSION</SessionToken><Expiration>2026-01-15T10:30:00Z</Expiration>\
             </Credentials></{action}Result><ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata>\
             </{action}Response>"
        )
    }

    /// Every credential source of the default chain, request and answer, as `record` sees them.
    fn credential_exchanges() -> Vec<Interaction> {
        let web_identity = record(
            &sent(
                "POST",
                "https://sts.us-east-1.amazonaws.com/",
                &[("content-type", FORM)],
                WEB_IDENTITY_FORM,
            ),
            200,
            &answer(&[("content-type", "text/xml")]),
            sts_xml("AssumeRoleWithWebIdentity").as_bytes(),
        );
        let assume_role = record(
            &sent(
                "POST",
                "https://sts.us-east-1.amazonaws.com/",
                &[
                    ("content-type", FORM),
                    ("x-amz-date", "20260115T093000Z"),
                    ("x-amz-security-token", "SECRET-SOURCE-SESSION"),
                    (
                        "authorization",
                        "AWS4-HMAC-SHA256 Credential=SECRET-SOURCE-KEY-ID/20260115/us-east-1/sts/aws4_request",
                    ),
                ],
                "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fops\
                 &RoleSessionName=textract-connector",
            ),
            200,
            &answer(&[("content-type", "text/xml")]),
            sts_xml("AssumeRole").as_bytes(),
        );
        let container = record(
            &sent(
                "GET",
                "http://169.254.170.2/v2/credentials/task-1",
                &[("authorization", "SECRET-CONTAINER-AUTH")],
                "",
            ),
            200,
            &answer(&[("content-type", "application/json")]),
            br#"{"AccessKeyId":"SECRET-JSON-KEY-ID","SecretAccessKey":"SECRET-JSON-SECRET","Token":"SECRET-JSON-TOKEN","Expiration":"2026-01-15T10:30:00Z"}"#,
        );
        let imds_token = record(
            &sent(
                "PUT",
                "http://169.254.169.254/latest/api/token",
                &[("x-aws-ec2-metadata-token-ttl-seconds", "21600")],
                "",
            ),
            200,
            &answer(&[("x-aws-ec2-metadata-token-ttl-seconds", "21600")]),
            b"SECRET-IMDS-SESSION==",
        );
        let imds_role = record(
            &sent(
                "GET",
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                &[("x-aws-ec2-metadata-token", "SECRET-IMDS-SESSION==")],
                "",
            ),
            200,
            &[],
            b"instance-role",
        );
        let imds_credentials = record(
            &sent(
                "GET",
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/instance-role",
                &[("x-aws-ec2-metadata-token", "SECRET-IMDS-SESSION==")],
                "",
            ),
            200,
            &[],
            br#"{"Code":"Success","AccessKeyId":"SECRET-IMDS-KEY-ID","SecretAccessKey":"SECRET-IMDS-SECRET","Token":"SECRET-IMDS-TOKEN","Expiration":"2026-01-15T10:30:00Z"}"#,
        );
        let cookies_and_presigned = record(
            &sent(
                "GET",
                "https://docs.example.com/a.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256\
                 &X-Amz-Credential=SECRET-PRESIGNED-KEY-ID%2F20260115%2Fus-east-1%2Fs3%2Faws4_request\
                 &X-Amz-Security-Token=SECRET-PRESIGNED-SESSION&X-Amz-Signature=SECRET-PRESIGNED-SIGNATURE\
                 &X-Amz-Expires=300",
                &[("cookie", "session=SECRET-COOKIE")],
                "",
            ),
            200,
            &answer(&[
                ("set-cookie", "a=SECRET-SET-COOKIE-1; HttpOnly"),
                ("set-cookie", "b=SECRET-SET-COOKIE-2"),
                ("content-type", "application/pdf"),
            ]),
            b"%PDF-1.7",
        );
        vec![
            web_identity,
            assume_role,
            container,
            imds_token,
            imds_role,
            imds_credentials,
            cookies_and_presigned,
        ]
    }

    #[test]
    fn recording_leaves_no_credential_of_any_source_in_the_cassette() {
        let cassette = Cassette {
            recorded_at: None,
            interactions: credential_exchanges(),
        };
        let text = serde_json::to_string_pretty(&cassette).unwrap();
        assert!(!text.contains("SECRET"), "{text}");
        // What is not a credential stays, so the recording still replays and reads.
        for kept in [
            "RoleSessionName=textract-connector",
            "<Expiration>2026-01-15T10:30:00Z</Expiration>",
            "<RequestId>sts-1</RequestId>",
            "\"Expiration\": \"2026-01-15T10:30:00Z\"",
            "\"x-aws-ec2-metadata-token-ttl-seconds\": \"21600\"",
            "instance-role",
            "X-Amz-Expires=300",
        ] {
            assert!(text.contains(kept), "{kept} is gone: {text}");
        }
    }

    #[test]
    fn each_body_format_is_redacted_exactly() {
        let [web, role, container, imds_token, imds_role, imds_credentials, other] =
            <[Interaction; 7]>::try_from(credential_exchanges()).unwrap();
        assert_eq!(
            web.request.body,
            Body::Text(WEB_IDENTITY_FORM.replace("SECRET-WEB-IDENTITY-JWT", "REDACTED"))
        );
        let xml = |action| {
            sts_xml(action)
                .replace("SECRET-XML-KEY-ID", "REDACTED")
                .replace("SECRET-XML-SECRET", "REDACTED")
                .replace("SECRET-XML-SESSION", "REDACTED")
        };
        assert_eq!(web.response.body, Body::Text(xml("AssumeRoleWithWebIdentity")));
        assert_eq!(role.response.body, Body::Text(xml("AssumeRole")));
        // Signed requests lose their signature and token headers altogether.
        assert_eq!(Value::Object(role.request.headers), json!({"content-type": FORM}));
        assert_eq!(Value::Object(container.request.headers), json!({}));
        assert_eq!(
            container.response.body,
            Body::Json(
                json!({"AccessKeyId":"REDACTED","SecretAccessKey":"REDACTED","Token":"REDACTED",
                              "Expiration":"2026-01-15T10:30:00Z"})
            )
        );
        assert_eq!(imds_token.response.body, Body::Text("REDACTED".into()));
        assert_eq!(
            Value::Object(imds_role.request.headers),
            json!({"x-aws-ec2-metadata-token": "REDACTED"})
        );
        assert_eq!(imds_role.response.body, Body::Text("instance-role".into()));
        assert_eq!(
            imds_credentials.response.body,
            Body::Json(
                json!({"Code":"Success","AccessKeyId":"REDACTED","SecretAccessKey":"REDACTED",
                              "Token":"REDACTED","Expiration":"2026-01-15T10:30:00Z"})
            )
        );
        assert_eq!(
            other.request.url,
            "https://docs.example.com/a.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED\
             &X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Expires=300"
        );
        assert_eq!(Value::Object(other.request.headers), json!({"cookie": "REDACTED"}));
        assert_eq!(
            Value::Object(other.response.headers),
            json!({"set-cookie": ["REDACTED", "REDACTED"], "content-type": "application/pdf"})
        );
        assert_eq!(other.response.body, Body::Text("%PDF-1.7".into()));
    }

    #[test]
    fn xml_redaction_keeps_structure_prefixes_and_empty_elements() {
        assert_eq!(
            redact_xml("<?xml version=\"1.0\"?><a:Token x=\"1\">t</a:Token><Token/><Token></Token><Token><![CDATA[c<d]]></Token><Tokens>k</Tokens>"),
            "<?xml version=\"1.0\"?><a:Token x=\"1\">REDACTED</a:Token><Token/><Token></Token><Token>REDACTED</Token><Tokens>k</Tokens>"
        );
    }

    #[test]
    fn a_redacted_recording_replays_the_real_credentials_and_nothing_else() {
        let base = Path::new(".");
        let interactions = credential_exchanges();
        let web_identity = sent(
            "POST",
            "https://sts.us-east-1.amazonaws.com/",
            &[("content-type", FORM)],
            WEB_IDENTITY_FORM,
        );
        assert_eq!(
            differences(&interactions[0].request, &web_identity, base),
            Vec::<String>::new()
        );
        let imds_role = sent(
            "GET",
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            &[("x-aws-ec2-metadata-token", "another-session")],
            "",
        );
        assert_eq!(
            differences(&interactions[4].request, &imds_role, base),
            Vec::<String>::new()
        );
        let presigned = sent(
            "GET",
            "https://docs.example.com/a.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=K\
             &X-Amz-Security-Token=T&X-Amz-Signature=S&X-Amz-Expires=300",
            &[("cookie", "c")],
            "",
        );
        assert_eq!(
            differences(&interactions[6].request, &presigned, base),
            Vec::<String>::new()
        );

        // Anything but a credential still has to match.
        let other_role = sent(
            "POST",
            "https://sts.us-east-1.amazonaws.com/",
            &[("content-type", FORM)],
            &WEB_IDENTITY_FORM.replace("role%2Fweb", "role%2Fother"),
        );
        assert_eq!(differences(&interactions[0].request, &other_role, base).len(), 1);
        let longer = sent("GET", &format!("{}&x=1", presigned.url), &[("cookie", "c")], "");
        assert_eq!(differences(&interactions[6].request, &longer, base).len(), 1);
        // A credential a cassette holds in clear is still compared.
        let clear = RecordedRequest {
            body: Body::Text(WEB_IDENTITY_FORM.into()),
            ..interactions[0].request.clone()
        };
        let wrong_token = sent(
            "POST",
            "https://sts.us-east-1.amazonaws.com/",
            &[("content-type", FORM)],
            &WEB_IDENTITY_FORM.replace("SECRET-WEB-IDENTITY-JWT", "another"),
        );
        assert_eq!(differences(&clear, &wrong_token, base).len(), 1);
        assert_eq!(differences(&clear, &web_identity, base), Vec::<String>::new());
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
