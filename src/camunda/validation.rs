//! Turns a bound [`ConnectorInput`] into a [`Task`] that is safe to execute, or
//! into one error that lists every violation in Camunda's combined format. It
//! runs before any network call and checks what Camunda leaves to its modeler
//! template too: blank bucket or key, blank region, no feature, a missing query,
//! malformed tokens and tags, and the ASYNC option pairs.

use crate::aws::credentials::Credentials;
use crate::aws::endpoint::{is_aws_service_host, partition_suffixes, Endpoint};
use crate::aws::retry::RetryPolicy;
use crate::aws::Target;
use crate::camunda::input::{
    Advanced, Auth, ConnectorInput, ExecutionType, LocationType, QueryEntry, ReturnFormat, TaskInput,
};
use crate::error::{Error, Result, Violation};
use crate::platform::{printable, Platform, RuntimeMode};
use serde_json::Value;
use std::time::Duration;

pub const NOTIFICATION_PAIR_MSG: &str =
    "Either both notification values role ARN and topic ARN must be filled in or none of them.";
pub const OUTPUT_PREFIX_MSG: &str = "Output S3 bucket must be filled in if output S3 prefix is filled in";
pub const NO_FEATURE_MSG: &str = "At least one analyze type should be selected";
pub const QUERY_MISSING_MSG: &str = "The 'query' field must be provided when 'analyzeQueries' is set to true.";
pub const AUTH_REQUIRED_MSG: &str = "Authentication is required";
pub const DEFAULT_CHAIN_SAAS_MSG: &str = "The default credentials chain is not supported in SaaS.";
const BLANK: &str = "must not be blank";
/// The shortest wait between two polls of a job.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The longest POLLING window: a task that waits longer belongs to ASYNC + FETCH.
pub const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// AWS's limit for an access key id (IAM: 16 to 128 characters).
pub const MAX_ACCESS_KEY_CHARS: usize = 128;
/// Secret keys are 40 characters; anything near this is not one.
pub const MAX_SECRET_KEY_CHARS: usize = 1024;
/// STS does not fix a session token's size, but real ones are a few KiB, and
/// the runtime refuses header fields of 128 KiB.
pub const MAX_SESSION_TOKEN_BYTES: usize = 16 * 1024;

/// Textract's limits for a query (API `Query`): text and alias 1–200 characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Queries one page may be asked: 15 in real time (AnalyzeDocument), 30 in a job.
pub const MAX_QUERIES_SYNC: usize = 15;
pub const MAX_QUERIES_JOB: usize = 30;
/// The largest page number a page range may name (Textract reads up to 3,000 pages).
const MAX_QUERY_PAGE: u32 = 3_000;

/// One query sent to Textract: `input.query` (text only) or an `input.queries` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySpec {
    pub text: String,
    pub alias: Option<String>,
    /// `None` lets Textract apply its default (page 1).
    pub pages: Option<Vec<String>>,
}

/// Where the document comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    S3 {
        bucket: String,
        name: String,
        version: Option<String>,
    },
    /// A Camunda document reference (JSON), resolved by `document`, and the
    /// bucket where POLLING and ASYNC stage it.
    Document(Value, Option<String>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsyncOptions {
    pub client_request_token: Option<String>,
    pub job_tag: Option<String>,
    pub kms_key_id: Option<String>,
    /// (role ARN, SNS topic ARN): both or neither.
    pub notification: Option<(String, String)>,
    /// (bucket, prefix).
    pub output: Option<(String, Option<String>)>,
}

/// How POLLING waits for a job: a first interval that doubles up to a cap,
/// within a total window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSettings {
    pub interval: Duration,
    pub max_interval: Duration,
    pub timeout: Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            interval: Duration::from_secs(2),
            max_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(600),
        }
    }
}

/// Where documents are staged and large results are stored (beyond Camunda).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    /// Key prefix for staged documents, ending in `/` (default `textract-connector/`).
    pub staging_prefix: String,
    /// Results over `max_result_bytes` go to this bucket when it is set.
    pub result_bucket: Option<String>,
    /// Key prefix for stored results (default `textract-connector/results/`).
    pub result_prefix: String,
    pub max_result_bytes: usize,
}

pub const DEFAULT_STAGING_PREFIX: &str = "textract-connector/";
pub const DEFAULT_RESULT_PREFIX: &str = "textract-connector/results/";
/// Camunda's limit for one process variable is about 4 MB.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 4 * 1024 * 1024;

/// `advanced.summary` and `advanced.blocks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputOptions {
    pub summary: bool,
    pub blocks: bool,
}

impl Default for OutputOptions {
    /// Today's result, byte for byte: blocks and no summary.
    fn default() -> Self {
        OutputOptions {
            summary: false,
            blocks: true,
        }
    }
}

/// A validated task, ready to execute.
#[derive(Debug, Clone)]
pub struct Task {
    pub credentials: Credentials,
    pub region: String,
    /// `configuration.endpoint`, when given: it replaces every service's AWS endpoint.
    pub endpoint_override: Option<Endpoint>,
    pub execution: ExecutionType,
    pub source: Option<Source>,
    pub features: Vec<&'static str>,
    /// `input.query` first, then `input.queries`; empty unless analyzeQueries.
    pub queries: Vec<QuerySpec>,
    pub async_options: AsyncOptions,
    pub job_id: Option<String>,
    pub poll: PollSettings,
    pub retry: RetryPolicy,
    pub storage: Storage,
    /// What the result carries beyond Camunda's fields: the summary, and the blocks.
    pub output: OutputOptions,
    /// `documentReturnFormat.choice`: DOCUMENT stores the result in the runtime's
    /// document store and returns its reference instead.
    pub return_format: ReturnFormat,
    /// `credentials` are still to be found by the default chain (self-managed only).
    pub default_chain: bool,
}

impl Task {
    /// Where and as whom AWS is called for this task.
    pub fn aws(&self) -> Target<'_> {
        Target {
            credentials: &self.credentials,
            region: &self.region,
            endpoint_override: self.endpoint_override.as_ref(),
            retry: self.retry,
        }
    }
}

pub fn validate(parsed: ConnectorInput, mode: RuntimeMode) -> Result<Task> {
    if parsed.auth == Some(Auth::DefaultChain) && mode == RuntimeMode::Saas {
        return Err(Error::InvalidInput {
            code: "DefaultCredentialsChainNotSupported",
            message: DEFAULT_CHAIN_SAAS_MSG.into(),
        });
    }
    let mut v = parsed.binding_violations.clone();
    let credentials = check_auth(&parsed, &mut v);

    let region = parsed.region.clone().unwrap_or_default();
    if region.trim().is_empty() {
        v.push(Violation::new(parsed.region_path, parsed.region_missing));
    } else if !is_region(region.trim()) {
        v.push(Violation::new(
            parsed.region_path,
            format!("must be an AWS region such as us-east-1 (got '{}')", region.trim()),
        ));
    }
    let endpoint_override = match &parsed.endpoint {
        Some(raw) => match Endpoint::parse("configuration.endpoint", raw) {
            Ok(e) => Some(e),
            Err(Error::Validation(mut found)) => {
                v.append(&mut found);
                None
            }
            Err(other) => return Err(other),
        },
        None => None,
    };

    let i = &parsed.input;
    let execution = i.execution_type();
    let source = if execution == ExecutionType::Fetch {
        if i.job_id.is_none() {
            v.push(Violation::new("input.jobId", BLANK));
        } else if let Some(id) = &i.job_id {
            check_pattern(&mut v, "input.jobId", id, is_token_char, "a-zA-Z0-9-_");
        }
        None
    } else {
        Some(check_source(i, &mut v))
    };

    let mut features = Vec::new();
    if execution != ExecutionType::Fetch {
        for (on, name) in [
            (i.analyze_tables, "TABLES"),
            (i.analyze_forms, "FORMS"),
            (i.analyze_queries, "QUERIES"),
            (i.analyze_signatures, "SIGNATURES"),
            (i.analyze_layout, "LAYOUT"),
        ] {
            if on {
                features.push(name);
            }
        }
        if features.is_empty() {
            v.push(Violation::new("input.analyzeTypes", NO_FEATURE_MSG));
        }
    }
    let queries = if execution == ExecutionType::Fetch {
        Vec::new()
    } else {
        check_queries(i, execution, &mut v)
    };

    let async_options = if execution == ExecutionType::Async {
        check_async(i, &mut v)
    } else {
        AsyncOptions::default()
    };

    let (poll, retry) = check_advanced(&parsed.advanced, &mut v);
    let storage = check_storage(&parsed.advanced, &mut v);
    if matches!(execution, ExecutionType::Polling | ExecutionType::Async)
        && i.location_type() == LocationType::Uploaded
        && i.bucket.as_deref().is_none_or(|b| b.trim().is_empty())
    {
        v.push(Violation::new(
            "input.documentS3Bucket",
            "must not be blank: POLLING and ASYNC upload the document to this bucket first",
        ));
    }

    if !v.is_empty() {
        return Err(Error::Validation(v));
    }
    let credentials = credentials.ok_or_else(|| Error::Internal("credentials missing after validation".into()))?;
    Ok(Task {
        credentials,
        region: region.trim().to_string(),
        endpoint_override,
        execution,
        source,
        features,
        queries,
        async_options,
        job_id: i.job_id.clone().map(|j| j.trim().to_string()),
        poll,
        retry,
        storage,
        output: OutputOptions {
            summary: parsed.advanced.summary.unwrap_or(false),
            blocks: parsed.advanced.blocks.unwrap_or(true),
        },
        return_format: parsed.return_format.unwrap_or_default(),
        default_chain: parsed.auth == Some(Auth::DefaultChain),
    })
}

/// `input.query` and `input.queries` (beyond Camunda): what Textract accepts
/// (text and alias of 1–200 characters of its character set; pages `N`, `N-M`,
/// `N-*` or `*` alone; at most 15 queries a page in SYNC, 30 in a job), and one
/// summary entry per query: aliases, or texts without one, must be unique.
fn check_queries(i: &TaskInput, execution: ExecutionType, v: &mut Vec<Violation>) -> Vec<QuerySpec> {
    let given = i.queries.as_deref().unwrap_or_default();
    if !i.analyze_queries {
        if i.queries.is_some() {
            v.push(Violation::new(
                "input.queries",
                "needs 'analyzeQueries' set to true (queries are asked only when it is)",
            ));
        }
        return Vec::new();
    }
    let mut specs = Vec::new();
    match &i.query {
        None if given.is_empty() => v.push(Violation::new("input.query", QUERY_MISSING_MSG)),
        None => {}
        Some(q) if q.trim().chars().count() > MAX_QUERY_CHARS => v.push(Violation::new(
            "input.query",
            "size must be between 1 and 200 characters (Textract's limit for a query)",
        )),
        Some(q) => specs.push(QuerySpec {
            text: q.trim().to_string(),
            alias: None,
            pages: None,
        }),
    }
    // Each summary key, with the property that named it first.
    let mut keys: Vec<(String, String)> = specs.iter().map(|q| (q.text.clone(), "input.query".into())).collect();
    for entry in given {
        if let Some(spec) = check_query(entry, v) {
            let (key, path) = match &spec.alias {
                Some(alias) => (alias.clone(), format!("input.queries[{}].alias", entry.index)),
                None => (spec.text.clone(), format!("input.queries[{}].text", entry.index)),
            };
            match keys.iter().find(|(k, _)| *k == key) {
                Some((_, first)) => v.push(Violation::new(
                    path,
                    format!(
                        "must be unique: '{}' already names the query of {first} (the summary lists queries by \
                         alias, or by text when there is none)",
                        printable(&key)
                    ),
                )),
                None => keys.push((key, path)),
            }
            specs.push(spec);
        }
    }
    let (limit, kind) = if execution == ExecutionType::Sync {
        (MAX_QUERIES_SYNC, "SYNC")
    } else {
        (MAX_QUERIES_JOB, "POLLING and ASYNC")
    };
    if let Some((count, page)) = busiest_page(&specs).filter(|(count, _)| *count > limit) {
        v.push(Violation::new(
            "input.queries",
            format!(
                "asks {count} queries of page {page}: Textract takes at most {limit} queries a page in {kind} \
                 (input.query included)"
            ),
        ));
    }
    specs
}

/// One `input.queries` entry, or `None` (with its violations) when it is unusable.
fn check_query(entry: &QueryEntry, v: &mut Vec<Violation>) -> Option<QuerySpec> {
    let path = format!("input.queries[{}]", entry.index);
    let before = v.len();
    let text = entry.text.as_deref().map(str::trim).unwrap_or_default();
    if text.is_empty() {
        v.push(Violation::new(format!("{path}.text"), BLANK));
    } else {
        check_query_chars(v, &format!("{path}.text"), text);
    }
    let alias = entry.alias.as_deref().map(str::trim);
    if let Some(alias) = alias {
        check_query_chars(v, &format!("{path}.alias"), alias);
    }
    if let Some(pages) = &entry.pages {
        let pages_path = format!("{path}.pages");
        if pages.is_empty() {
            v.push(Violation::new(pages_path.as_str(), "must hold at least one page"));
        }
        for page in pages {
            if page_range(page).is_none() {
                v.push(Violation::new(
                    pages_path.as_str(),
                    format!(
                        "'{}' is not a page: use \"N\", \"N-M\" or \"N-*\" with pages from 1 to {MAX_QUERY_PAGE}, \
                         or \"*\" for every page",
                        printable(page)
                    ),
                ));
            }
        }
        if pages.len() > 1 && pages.iter().any(|p| p == "*") {
            v.push(Violation::new(
                pages_path.as_str(),
                "\"*\" (every page) must be the only element",
            ));
        }
    }
    (v.len() == before).then(|| QuerySpec {
        text: text.to_string(),
        alias: alias.map(str::to_string),
        pages: entry.pages.clone(),
    })
}

/// Textract's character set for a query's text and alias (its API pattern):
/// letters and digits of ASCII, whitespace, and ASCII punctuation.
fn check_query_chars(v: &mut Vec<Violation>, path: &str, value: &str) {
    if value.chars().count() > MAX_QUERY_CHARS {
        v.push(Violation::new(
            path,
            "size must be between 1 and 200 characters (Textract's limit for a query)",
        ));
    } else if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || c.is_ascii_punctuation() || c.is_whitespace()))
    {
        v.push(Violation::new(
            path,
            format!(
                "must hold only ASCII letters, digits, spaces and punctuation (Textract's rule for queries); \
                 found '{}'",
                printable(&c.to_string())
            ),
        ));
    }
}

/// A query's page entry as the pages it covers: `N`, `N-M`, `N-*` (to the last
/// page, `u32::MAX` here) or `*`.
fn page_range(page: &str) -> Option<(u32, u32)> {
    const LAST: u32 = u32::MAX;
    let number = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u32>().ok().filter(|n| (1..=MAX_QUERY_PAGE).contains(n))
    };
    match page.split_once('-') {
        _ if page == "*" => Some((1, LAST)),
        None => number(page).map(|n| (n, n)),
        Some((from, "*")) => number(from).map(|n| (n, LAST)),
        Some((from, to)) => {
            let (from, to) = (number(from)?, number(to)?);
            (from <= to).then_some((from, to))
        }
    }
}

/// The page that the most queries ask about, and how many (default pages: page 1).
fn busiest_page(specs: &[QuerySpec]) -> Option<(usize, u32)> {
    // How many queries start and stop at each page (a range to the last page
    // never stops): summed page by page, no sort needed.
    let mut change = vec![0i64; MAX_QUERY_PAGE as usize + 2];
    let mut add = |from: u32, to: u32| {
        if let Some(c) = change.get_mut(from as usize) {
            *c += 1;
        }
        if let Some(c) = change.get_mut(to.saturating_add(1) as usize) {
            *c -= 1;
        }
    };
    for spec in specs {
        match &spec.pages {
            None => add(1, 1),
            Some(pages) => pages
                .iter()
                .filter_map(|p| page_range(p))
                .for_each(|(from, to)| add(from, to)),
        }
    }
    let (mut open, mut best) = (0i64, None::<(usize, u32)>);
    for (page, delta) in change.iter().enumerate() {
        open += delta;
        if open > 0 && best.is_none_or(|(count, _)| open as usize > count) {
            best = Some((open as usize, page as u32));
        }
    }
    best
}

fn check_storage(a: &Advanced, v: &mut Vec<Violation>) -> Storage {
    let prefix = |raw: &Option<String>, default: &str| match raw.as_deref().map(str::trim) {
        None | Some("") => default.to_string(),
        Some(p) if p.ends_with('/') => p.trim_start_matches('/').to_string(),
        Some(p) => format!("{}/", p.trim_start_matches('/')),
    };
    let result_bucket = a.result_bucket.as_ref().map(|b| b.trim().to_string());
    if let Some(bucket) = &result_bucket {
        if !is_bucket_name(bucket) {
            v.push(Violation::new(
                "advanced.resultS3Bucket",
                format!("must be an S3 bucket name (got '{bucket}')"),
            ));
        }
    }
    let max_result_bytes = match &a.max_result_bytes {
        None => DEFAULT_MAX_RESULT_BYTES,
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                v.push(Violation::new(
                    "advanced.maxResultBytes",
                    "must be a positive whole number of bytes",
                ));
                DEFAULT_MAX_RESULT_BYTES
            }
        },
    };
    Storage {
        staging_prefix: prefix(&a.staging_prefix, DEFAULT_STAGING_PREFIX),
        result_bucket,
        result_prefix: prefix(&a.result_prefix, DEFAULT_RESULT_PREFIX),
        max_result_bytes,
    }
}

/// The SaaS rule for `configuration.endpoint`: an `https` URL of an AWS service
/// host of the region's partition, or a target the operator admitted by name.
/// A tenant cannot point the connector at the metadata service, a private
/// address or any other host of the runtime's network.
pub fn check_endpoint_allowed(task: &Task, mode: RuntimeMode, platform: &dyn Platform) -> Result<()> {
    let Some(endpoint) = &task.endpoint_override else {
        return Ok(());
    };
    if mode == RuntimeMode::SelfManaged {
        return Ok(());
    }
    let host = endpoint.host();
    let aws = endpoint.scheme == "https" && is_aws_service_host(host, &task.region);
    if aws || platform.operator_allows(host, endpoint.port()) {
        return Ok(());
    }
    let suffixes = partition_suffixes(&task.region)
        .iter()
        .map(|s| format!("*{s}"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(Error::InvalidInput {
        code: "EndpointNotAllowed",
        message: format!(
            "The endpoint host '{}' is not allowed: in this runtime configuration.endpoint must be an https URL \
             of an AWS service host of the region's partition ({suffixes}), unless the operator allows that host",
            printable(host)
        ),
    })
}

fn check_advanced(a: &Advanced, v: &mut Vec<Violation>) -> (PollSettings, RetryPolicy) {
    let defaults = PollSettings::default();
    let mut duration = |raw: &Option<String>, path: &str, default: Duration| match raw {
        None => default,
        Some(text) => match crate::duration::parse(text) {
            Some(d) if !d.is_zero() => d,
            _ => {
                v.push(Violation::new(
                    path,
                    format!(
                        "must be a positive ISO-8601 duration such as PT2S (got '{}')",
                        text.trim()
                    ),
                ));
                default
            }
        },
    };
    let poll = PollSettings {
        interval: duration(&a.poll_interval, "advanced.pollInterval", defaults.interval),
        max_interval: duration(&a.max_poll_interval, "advanced.maxPollInterval", defaults.max_interval),
        timeout: duration(&a.poll_timeout, "advanced.pollTimeout", defaults.timeout),
    };
    // A hostile or careless model must not turn a poll loop into a request flood.
    if poll.interval < MIN_POLL_INTERVAL && a.poll_interval.is_some() {
        v.push(Violation::new("advanced.pollInterval", "must be at least PT1S"));
    }
    if poll.timeout > MAX_POLL_TIMEOUT {
        v.push(Violation::new(
            "advanced.pollTimeout",
            "must be at most P1D; collect longer jobs with ASYNC and FETCH",
        ));
    }
    if poll.max_interval < poll.interval {
        v.push(Violation::new(
            "advanced.maxPollInterval",
            "must not be shorter than advanced.pollInterval",
        ));
    }
    let retry = match &a.max_attempts {
        None => RetryPolicy::default(),
        Some(text) => match text.trim().parse::<u32>() {
            Ok(n) if (1..=10).contains(&n) => RetryPolicy { max_attempts: n },
            _ => {
                v.push(Violation::new(
                    "advanced.maxAttempts",
                    "must be a whole number from 1 to 10",
                ));
                RetryPolicy::default()
            }
        },
    };
    (poll, retry)
}

fn check_auth(parsed: &ConnectorInput, v: &mut Vec<Violation>) -> Option<Credentials> {
    match &parsed.auth {
        None => {
            v.push(Violation::new(parsed.auth_path, AUTH_REQUIRED_MSG));
            None
        }
        // Self-managed: the chain is resolved at run time, from what the runtime grants.
        Some(Auth::DefaultChain) => Some(Credentials::default()),
        Some(Auth::Credentials {
            access_key,
            secret_key,
            session_token,
        }) => {
            let ak = access_key.as_deref().unwrap_or("").trim();
            let sk = secret_key.as_deref().unwrap_or("").trim();
            if ak.is_empty() {
                v.push(Violation::new(format!("{}.accessKey", parsed.auth_path), BLANK));
            }
            if sk.is_empty() {
                v.push(Violation::new(format!("{}.secretKey", parsed.auth_path), BLANK));
            }
            if ak.chars().any(|c| c.is_whitespace() || c.is_control()) {
                v.push(Violation::new(
                    format!("{}.accessKey", parsed.auth_path),
                    "must not contain whitespace",
                ));
            }
            // Credentials travel in header fields: lengths and characters are checked
            // here, before the runtime would have to refuse a field.
            if ak.chars().count() > MAX_ACCESS_KEY_CHARS {
                v.push(Violation::new(
                    format!("{}.accessKey", parsed.auth_path),
                    format!("must be at most {MAX_ACCESS_KEY_CHARS} characters (AWS's limit for an access key id)"),
                ));
            }
            if sk.chars().count() > MAX_SECRET_KEY_CHARS {
                v.push(Violation::new(
                    format!("{}.secretKey", parsed.auth_path),
                    format!("must be at most {MAX_SECRET_KEY_CHARS} characters"),
                ));
            }
            if let Some(token) = session_token.as_deref() {
                let path = format!("{}.sessionToken", parsed.auth_path);
                if token.len() > MAX_SESSION_TOKEN_BYTES {
                    v.push(Violation::new(
                        path,
                        format!("must be at most {MAX_SESSION_TOKEN_BYTES} bytes"),
                    ));
                } else if token.trim().chars().any(|c| c.is_whitespace() || c.is_control()) {
                    v.push(Violation::new(
                        path,
                        "must not contain whitespace or control characters",
                    ));
                }
            }
            (!ak.is_empty() && !sk.is_empty()).then(|| Credentials::new(ak, sk, session_token.as_deref()))
        }
    }
}

fn check_source(i: &crate::camunda::input::TaskInput, v: &mut Vec<Violation>) -> Source {
    match i.location_type() {
        LocationType::Uploaded => match &i.document {
            Some(doc) => {
                let bucket = i.bucket.clone().map(|b| b.trim().to_string());
                // The staging bucket, when given, must be one S3 can name.
                if let Some(b) = bucket.as_deref().filter(|b| !b.is_empty() && !is_bucket_name(b)) {
                    v.push(Violation::new(
                        "input.documentS3Bucket",
                        format!("must be an S3 bucket name (got '{}')", printable(b)),
                    ));
                }
                Source::Document(doc.clone(), bucket)
            }
            None => {
                v.push(Violation::new("input.document", "must not be null"));
                Source::Document(Value::Null, None)
            }
        },
        LocationType::S3 => {
            let bucket = i.bucket.clone().unwrap_or_default().trim().to_string();
            let name = i.name.clone().unwrap_or_default();
            if bucket.is_empty() {
                v.push(Violation::new("input.documentS3Bucket", BLANK));
            } else if !is_bucket_name(&bucket) {
                v.push(Violation::new(
                    "input.documentS3Bucket",
                    format!("must be an S3 bucket name (got '{bucket}')"),
                ));
            }
            if name.trim().is_empty() {
                v.push(Violation::new("input.documentName", BLANK));
            } else if name.len() > 1024 {
                v.push(Violation::new(
                    "input.documentName",
                    "must be at most 1024 bytes (S3's key limit)",
                ));
            }
            Source::S3 {
                bucket,
                name,
                version: i.version.clone().map(|s| s.trim().to_string()),
            }
        }
    }
}

fn check_async(i: &crate::camunda::input::TaskInput, v: &mut Vec<Violation>) -> AsyncOptions {
    if let Some(token) = &i.client_request_token {
        check_pattern(v, "input.clientRequestToken", token, is_token_char, "a-zA-Z0-9-_");
    }
    if let Some(tag) = &i.job_tag {
        check_pattern(v, "input.jobTag", tag, is_tag_char, "a-zA-Z0-9_.\\-:");
    }
    if let Some(kms) = &i.kms_key_id {
        if kms.trim().chars().count() > 2048 {
            v.push(Violation::new("input.kmsKeyId", "size must be between 1 and 2048"));
        }
    }
    let notification = match (&i.notification_role_arn, &i.notification_topic_arn) {
        (Some(role), Some(topic)) => Some((role.trim().to_string(), topic.trim().to_string())),
        (None, None) => None,
        _ => {
            v.push(Violation::new(
                "input.validNotificationProperties",
                NOTIFICATION_PAIR_MSG,
            ));
            None
        }
    };
    let output = match (&i.output_bucket, &i.output_prefix) {
        (Some(bucket), prefix) => {
            if !is_bucket_name(bucket.trim()) {
                v.push(Violation::new(
                    "input.outputConfigS3Bucket",
                    format!("must be an S3 bucket name (got '{}')", bucket.trim()),
                ));
            }
            Some((bucket.trim().to_string(), prefix.clone().map(|p| p.trim().to_string())))
        }
        (None, Some(_)) => {
            v.push(Violation::new("input.validOutputConfigProperties", OUTPUT_PREFIX_MSG));
            None
        }
        (None, None) => None,
    };
    AsyncOptions {
        client_request_token: i.client_request_token.clone().map(|s| s.trim().to_string()),
        job_tag: i.job_tag.clone().map(|s| s.trim().to_string()),
        kms_key_id: i.kms_key_id.clone().map(|s| s.trim().to_string()),
        notification,
        output,
    }
}

fn check_pattern(v: &mut Vec<Violation>, path: &str, value: &str, ok: fn(char) -> bool, class: &str) {
    let value = value.trim();
    let len = value.chars().count();
    if !(1..=64).contains(&len) || !value.chars().all(ok) {
        v.push(Violation::new(path, format!("must match \"^[{class}]{{1,64}}$\"")));
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':')
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`: lower-case
/// letters, digits and dashes, so a region can never inject into a host name.
fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

/// S3's naming rules, loosely: 3–255 characters (legacy names included) of letters, digits, `.`, `-`, `_`
/// (legacy buckets allow upper case and underscores).
pub fn is_bucket_name(bucket: &str) -> bool {
    (3..=255).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camunda::input::parse;

    fn run(json: &str) -> Result<Task> {
        validate(parse(json).unwrap(), RuntimeMode::Saas)
    }

    fn violations(json: &str) -> Vec<(String, String)> {
        match run(json) {
            Err(Error::Validation(v)) => v.into_iter().map(|v| (v.property, v.message)).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    const AUTH: &str = r#""authentication":{"accessKey":"AK","secretKey":"SK"},"configuration":{"region":"us-east-1"}"#;

    #[test]
    fn valid_sync_s3_task() {
        let t = run(&format!(
            r#"{{{AUTH},"input":{{"executionType":"SYNC","documentS3Bucket":"bucket","documentName":"a/b.png",
                "documentVersion":"v1","analyzeTables":true,"analyzeQueries":true,"query":"Who?"}}}}"#
        ))
        .unwrap();
        assert_eq!(t.features, vec!["TABLES", "QUERIES"]);
        assert_eq!(
            t.queries,
            vec![QuerySpec {
                text: "Who?".into(),
                alias: None,
                pages: None
            }]
        );
        assert_eq!(t.output, OutputOptions::default());
        assert_eq!(
            t.source,
            Some(Source::S3 {
                bucket: "bucket".into(),
                name: "a/b.png".into(),
                version: Some("v1".into())
            })
        );
        assert_eq!(
            t.aws().endpoint("textract").authority,
            "textract.us-east-1.amazonaws.com"
        );
    }

    #[test]
    fn everything_missing_is_reported_together() {
        let v = violations(r#"{"input":{"executionType":"SYNC"}}"#);
        let props: Vec<&str> = v.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            props,
            vec![
                "authentication",
                "configuration.region",
                "input.documentS3Bucket",
                "input.documentName",
                "input.analyzeTypes"
            ]
        );
        assert_eq!(v[0].1, AUTH_REQUIRED_MSG);
        assert_eq!(v[4].1, NO_FEATURE_MSG);
    }

    #[test]
    fn default_chain_is_refused_in_saas() {
        let e = run(r#"{"authentication":{"type":"defaultCredentialsChain"},"configuration":{"region":"us-east-1"}}"#)
            .unwrap_err();
        assert_eq!(e.message(), DEFAULT_CHAIN_SAAS_MSG);
    }

    #[test]
    fn async_rules() {
        let v = violations(&format!(
            r#"{{{AUTH},"input":{{"executionType":"ASYNC","documentS3Bucket":"bucket","documentName":"k",
                "analyzeForms":true,"clientRequestToken":"bad token!","jobTag":"{}",
                "notificationChannelRoleArn":"arn:role","outputConfigS3Prefix":"out/"}}}}"#,
            "t".repeat(65)
        ));
        let props: Vec<&str> = v.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            props,
            vec![
                "input.clientRequestToken",
                "input.jobTag",
                "input.validNotificationProperties",
                "input.validOutputConfigProperties"
            ]
        );
    }

    #[test]
    fn region_override_beside_a_credential() {
        let cred = |region: &str| {
            format!(r#""awsCredential":{{"authentication":{{"accessKey":"AK","secretKey":"SK"}}{region}}}"#)
        };
        let input = r#""input":{"documentS3Bucket":"bucket","documentName":"k","analyzeForms":true}"#;
        // A credential without a region plus the override: valid, in the override's region.
        for region in ["", r#","region":"""#, r#","region":null"#] {
            let t = run(&format!(
                r#"{{{},"configuration":{{"region":"eu-west-3"}},{input}}}"#,
                cred(region)
            ))
            .unwrap();
            assert_eq!(t.region, "eu-west-3", "{region}");
        }
        // Both: the override wins. Neither: the override is what is missing.
        let t = run(&format!(
            r#"{{{},"configuration":{{"region":"eu-west-3"}},{input}}}"#,
            cred(r#","region":"us-west-2""#)
        ))
        .unwrap();
        assert_eq!(t.region, "eu-west-3");
        let t = run(&format!(r#"{{{},{input}}}"#, cred(r#","region":"us-west-2""#))).unwrap();
        assert_eq!(t.region, "us-west-2");
        let v = violations(&format!(
            r#"{{{},"configuration":{{"region":" "}},{input}}}"#,
            cred(r#","region":"""#)
        ));
        assert_eq!(
            v,
            vec![(
                "configuration.region".to_string(),
                crate::camunda::input::REGION_FOR_CREDENTIAL.to_string()
            )]
        );
        // The region that applies is the one checked: a malformed override is reported
        // even when the credential's own region is fine.
        let v = violations(&format!(
            r#"{{{},"configuration":{{"region":"EU"}},{input}}}"#,
            cred(r#","region":"us-west-2""#)
        ));
        assert_eq!(v[0].0, "configuration.region");
    }

    #[test]
    fn an_uploaded_document_without_execution_type_runs_sync() {
        // Templates v4-v6 hide the execution type when the document source is
        // "Camunda Document": the model writes none, and means real time (v7+ writes SYNC).
        let doc = r#"{"camunda.document.type":"inline","content":"iVBORw0KGgo=","name":"a.png"}"#;
        let t = run(&format!(
            r#"{{{AUTH},"input":{{"documentLocationType":"UPLOADED","document":{doc},"analyzeForms":true}}}}"#
        ))
        .unwrap();
        assert_eq!(t.execution, ExecutionType::Sync);
        // S3 keeps Camunda's default, POLLING; an explicit type is kept as given.
        let t = run(&format!(
            r#"{{{AUTH},"input":{{"documentS3Bucket":"bucket","documentName":"k","analyzeForms":true}}}}"#
        ))
        .unwrap();
        assert_eq!(t.execution, ExecutionType::Polling);
        let v = violations(&format!(
            r#"{{{AUTH},"input":{{"executionType":"POLLING","documentLocationType":"UPLOADED","document":{doc},
                "analyzeForms":true}}}}"#
        ));
        assert_eq!(v[0].0, "input.documentS3Bucket");
    }

    #[test]
    fn query_required_and_region_shape() {
        let v = violations(
            r#"{"authentication":{"accessKey":"AK","secretKey":"SK"},"configuration":{"region":"us-east-1.evil.com/"},
                "input":{"documentS3Bucket":"bucket","documentName":"k","analyzeQueries":true}}"#,
        );
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].0, "configuration.region");
        assert_eq!(v[1], ("input.query".to_string(), QUERY_MISSING_MSG.to_string()));
    }

    fn with_input(execution: &str, fields: serde_json::Value) -> String {
        let mut input = serde_json::json!({"executionType": execution, "documentS3Bucket": "bucket",
                                           "documentName": "k"});
        for (k, v) in fields.as_object().unwrap() {
            input[k] = v.clone();
        }
        serde_json::json!({"authentication": {"accessKey": "AK", "secretKey": "SK"},
                           "configuration": {"region": "us-east-1"}, "input": input})
        .to_string()
    }

    #[test]
    fn queries_join_the_single_query_in_order() {
        let t = run(&with_input(
            "POLLING",
            serde_json::json!({"analyzeQueries": true, "query": " What is the total? ",
                "queries": [{"text": "What is the gross pay?", "alias": "gross", "pages": ["1", "3-*"]},
                            {"text": " Who is the employee? ", "pages": [2]}]}),
        ))
        .unwrap();
        let spec = |text: &str, alias: Option<&str>, pages: Option<&[&str]>| QuerySpec {
            text: text.into(),
            alias: alias.map(Into::into),
            pages: pages.map(|p| p.iter().map(|s| s.to_string()).collect()),
        };
        assert_eq!(
            t.queries,
            vec![
                spec("What is the total?", None, None),
                spec("What is the gross pay?", Some("gross"), Some(&["1", "3-*"])),
                spec("Who is the employee?", None, Some(&["2"])),
            ]
        );
        assert_eq!(t.features, vec!["QUERIES"]);
        // A single object stands for a list of one; queries alone satisfy analyzeQueries.
        let t = run(&with_input(
            "SYNC",
            serde_json::json!({"analyzeQueries": true, "queries": {"text": "Net pay?", "pages": "*"}}),
        ))
        .unwrap();
        assert_eq!(t.queries, vec![spec("Net pay?", None, Some(&["*"]))]);
    }

    #[test]
    fn bad_queries_are_reported_together() {
        let v = violations(&with_input(
            "SYNC",
            serde_json::json!({"analyzeQueries": true, "query": "Gross pay?",
            "queries": [
                {"text": "  "},
                {"text": "Wie hoch ist der Bruttolohn für März?"},
                {"text": "Net pay?", "alias": "a".repeat(201)},
                {"text": "Tax?", "pages": ["0", "2-1", "x", "1-*", "*"]},
                {"text": "Gross pay?"},
                {"text": "Bonus?", "alias": "net"},
                {"text": "Overtime?", "alias": "net"},
                {"text": "Pages?", "pages": []},
                "not an object",
                {"text": "Deductions?", "pages": [{"from": 1}]}
            ]}),
        ));
        let chars = "must hold only ASCII letters, digits, spaces and punctuation (Textract's rule for queries); \
                     found 'ü'";
        let page = |p: &str| {
            format!(
                "'{p}' is not a page: use \"N\", \"N-M\" or \"N-*\" with pages from 1 to 3000, or \"*\" for every page"
            )
        };
        let expected: Vec<(String, String)> = [
            ("input.queries[8]", "must be an object {text, alias, pages}".to_string()),
            (
                "input.queries[9].pages",
                "must be a list of page strings such as \"1\", \"2-4\" or \"*\"".to_string(),
            ),
            ("input.queries[0].text", "must not be blank".to_string()),
            ("input.queries[1].text", chars.to_string()),
            (
                "input.queries[2].alias",
                "size must be between 1 and 200 characters (Textract's limit for a query)".to_string(),
            ),
            ("input.queries[3].pages", page("0")),
            ("input.queries[3].pages", page("2-1")),
            ("input.queries[3].pages", page("x")),
            (
                "input.queries[3].pages",
                "\"*\" (every page) must be the only element".to_string(),
            ),
            (
                "input.queries[4].text",
                "must be unique: 'Gross pay?' already names the query of input.query (the summary lists queries \
                 by alias, or by text when there is none)"
                    .to_string(),
            ),
            (
                "input.queries[6].alias",
                "must be unique: 'net' already names the query of input.queries[5].alias (the summary lists \
                 queries by alias, or by text when there is none)"
                    .to_string(),
            ),
            ("input.queries[7].pages", "must hold at least one page".to_string()),
        ]
        .into_iter()
        .map(|(p, m)| (p.to_string(), m))
        .collect();
        assert_eq!(v, expected);
    }

    #[test]
    fn queries_need_analyze_queries_and_fit_textracts_page_limit() {
        let v = violations(&with_input(
            "SYNC",
            serde_json::json!({"analyzeTables": true, "queries": [{"text": "Gross pay?"}]}),
        ));
        assert_eq!(
            v,
            vec![(
                "input.queries".to_string(),
                "needs 'analyzeQueries' set to true (queries are asked only when it is)".to_string()
            )]
        );

        let many = |n: usize, pages: &str| {
            (0..n)
                .map(|i| serde_json::json!({"text": format!("Question {i}?"), "pages": [pages]}))
                .collect::<Vec<_>>()
        };
        // SYNC: 15 a page, input.query included.
        let v = violations(&with_input(
            "SYNC",
            serde_json::json!({"analyzeQueries": true, "query": "Total?", "queries": many(15, "1")}),
        ));
        assert_eq!(
            v,
            vec![(
                "input.queries".to_string(),
                "asks 16 queries of page 1: Textract takes at most 15 queries a page in SYNC (input.query included)"
                    .to_string()
            )]
        );
        // A job: 30 a page; queries on different pages do not add up.
        let mut spread = many(30, "1-2");
        spread.extend(many(30, "3-*").into_iter().enumerate().map(|(i, mut q)| {
            q["text"] = serde_json::json!(format!("Later {i}?"));
            q
        }));
        assert!(run(&with_input(
            "POLLING",
            serde_json::json!({"analyzeQueries": true, "queries": spread}),
        ))
        .is_ok());
        let mut crowded = many(29, "2-4");
        crowded.push(serde_json::json!({"text": "Everywhere?", "pages": ["*"]}));
        crowded.push(serde_json::json!({"text": "From three?", "pages": ["3-*"]}));
        let v = violations(&with_input(
            "ASYNC",
            serde_json::json!({"analyzeQueries": true, "queries": crowded}),
        ));
        assert_eq!(
            v,
            vec![(
                "input.queries".to_string(),
                "asks 31 queries of page 3: Textract takes at most 30 queries a page in POLLING and ASYNC \
                 (input.query included)"
                    .to_string()
            )]
        );
    }

    #[test]
    fn the_return_format_and_its_violations() {
        let mut input: serde_json::Value =
            serde_json::from_str(&with_input("SYNC", serde_json::json!({"analyzeTables": true}))).unwrap();
        assert_eq!(run(&input.to_string()).unwrap().return_format, ReturnFormat::Json);
        input["documentReturnFormat"] = serde_json::json!({"choice": "DOCUMENT"});
        assert_eq!(run(&input.to_string()).unwrap().return_format, ReturnFormat::Document);
        // An unknown choice is reported with the other violations, naming the allowed values.
        input["documentReturnFormat"] = serde_json::json!({"choice": "PDF"});
        input["input"]["analyzeTables"] = serde_json::json!(false);
        assert_eq!(
            violations(&input.to_string()),
            vec![
                (
                    "documentReturnFormat.choice".to_string(),
                    "must be one of JSON, DOCUMENT (got 'PDF')".to_string()
                ),
                ("input.analyzeTypes".to_string(), NO_FEATURE_MSG.to_string()),
            ]
        );
    }

    #[test]
    fn summary_and_blocks_options() {
        let mut input: serde_json::Value =
            serde_json::from_str(&with_input("SYNC", serde_json::json!({"analyzeTables": true}))).unwrap();
        input["advanced"] = serde_json::json!({"summary": "true", "blocks": false});
        let t = run(&input.to_string()).unwrap();
        assert_eq!(
            t.output,
            OutputOptions {
                summary: true,
                blocks: false
            }
        );
        input["advanced"] = serde_json::json!({"summary": "yes", "blocks": [true]});
        let v = violations(&input.to_string());
        assert_eq!(
            v,
            vec![("advanced.summary".to_string(), "must be true or false".to_string())]
        );
    }
}
