//! The connector's input model and its binding from JSON, following Camunda's
//! rules: unknown keys are ignored, enum values are case-insensitive, a
//! one-element array stands for its single value, and scalars coerce to the
//! string or boolean a field expects. Binding problems are collected as
//! violations so that `validation` can report them together with the rest.

use crate::error::{Error, Result, Violation};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Credentials {
        access_key: Option<String>,
        secret_key: Option<String>,
        session_token: Option<String>,
    },
    DefaultChain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionType {
    Sync,
    Polling,
    Async,
    /// Beyond Camunda: collect the results of an earlier ASYNC job by id.
    Fetch,
}

/// `documentReturnFormat.choice` (templates v7+): the result as JSON in the
/// process variables, or stored in the runtime's document store with its
/// reference as the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnFormat {
    #[default]
    Json,
    Document,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationType {
    S3,
    Uploaded,
}

/// The `input` object of the task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskInput {
    pub location_type: Option<LocationType>,
    pub bucket: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub document: Option<Value>,
    pub execution_type: Option<ExecutionType>,
    pub analyze_tables: bool,
    pub analyze_forms: bool,
    pub analyze_signatures: bool,
    pub analyze_layout: bool,
    pub analyze_queries: bool,
    pub query: Option<String>,
    /// Beyond Camunda: several queries in Textract's own shape.
    pub queries: Option<Vec<QueryEntry>>,
    pub client_request_token: Option<String>,
    pub job_tag: Option<String>,
    pub kms_key_id: Option<String>,
    pub notification_role_arn: Option<String>,
    pub notification_topic_arn: Option<String>,
    pub output_bucket: Option<String>,
    pub output_prefix: Option<String>,
    pub job_id: Option<String>,
}

/// One element of `input.queries`, as bound: Textract's `Query` shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryEntry {
    /// Its position in `input.queries`, for property paths in messages.
    pub index: usize,
    pub text: Option<String>,
    pub alias: Option<String>,
    pub pages: Option<Vec<String>>,
}

impl TaskInput {
    /// The execution type given, else Camunda's default: POLLING for an S3
    /// object, SYNC for an uploaded document. Templates v4–v6 hide the execution
    /// type when the document source is "Camunda Document", so such a model writes
    /// none and means real time, which v7+ writes explicitly.
    pub fn execution_type(&self) -> ExecutionType {
        self.execution_type.unwrap_or(match self.location_type() {
            LocationType::S3 => ExecutionType::Polling,
            LocationType::Uploaded => ExecutionType::Sync,
        })
    }

    pub fn location_type(&self) -> LocationType {
        self.location_type.unwrap_or(LocationType::S3)
    }
}

/// `advanced`: settings beyond Camunda's, all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advanced {
    /// ISO-8601 durations.
    pub poll_interval: Option<String>,
    pub max_poll_interval: Option<String>,
    pub poll_timeout: Option<String>,
    /// Attempts per AWS call, retries included.
    pub max_attempts: Option<String>,
    /// Where POLLING and ASYNC stage a Camunda document in `input.documentS3Bucket`.
    pub staging_prefix: Option<String>,
    /// Results larger than `max_result_bytes` go to this bucket instead.
    pub result_bucket: Option<String>,
    pub result_prefix: Option<String>,
    pub max_result_bytes: Option<String>,
    /// Beyond Camunda: add the `summary` object to the result (default false).
    pub summary: Option<bool>,
    /// Beyond Camunda: `false` returns `blocks: null` (default true).
    pub blocks: Option<bool>,
}

/// The whole input, bound but not yet validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorInput {
    /// `None` when neither `authentication` nor `awsCredential` is given.
    pub auth: Option<Auth>,
    /// Where `auth` came from, for property paths in messages.
    pub auth_path: &'static str,
    /// The region that applies, with the path it came from: `configuration.region`
    /// when set (beside an `awsCredential` it overrides the credential's region),
    /// else the credential's region.
    pub region: Option<String>,
    pub region_path: &'static str,
    /// What a blank region is told: plain "must not be blank", or, beside a
    /// credential without a region, that the override is required.
    pub region_missing: &'static str,
    pub endpoint: Option<String>,
    pub input: TaskInput,
    pub advanced: Advanced,
    /// `documentReturnFormat.choice`; `None` when absent or blank (JSON).
    pub return_format: Option<ReturnFormat>,
    /// Type and coercion problems found while binding.
    pub binding_violations: Vec<Violation>,
}

/// Binds the raw JSON text of a task's variables.
pub fn parse(raw: &str) -> Result<ConnectorInput> {
    let value: Value = serde_json::from_str(raw).map_err(|e| Error::MalformedInput(e.to_string()))?;
    let root = match unwrap_single(&value) {
        Value::Object(map) => map,
        _ => return Err(Error::MalformedInput("the input must be a JSON object".into())),
    };
    let mut b = Binder::default();

    let credential = b.object(root, "awsCredential");
    let configured_region = b
        .object(root, "configuration")
        .and_then(|c| b.string(c, "region", "configuration.region"));
    let (auth, auth_path, region, region_path, region_missing) = match credential {
        Some(cred) => {
            // A credential object without authentication is reported by validation.
            let auth = b
                .object(cred, "authentication")
                .map(|a| b.auth(a, "awsCredential.authentication"));
            let credential_region = b.string(cred, "region", "awsCredential.region");
            // configuration.region overrides the credential's region when set (v8's
            // "Region" beside a saved credential); the credential's is the fallback.
            let (region, path) = match configured_region.filter(|r| !r.trim().is_empty()) {
                Some(r) => (Some(r), "configuration.region"),
                None => match credential_region.filter(|r| !r.trim().is_empty()) {
                    Some(r) => (Some(r), "awsCredential.region"),
                    None => (None, "configuration.region"),
                },
            };
            (
                auth,
                "awsCredential.authentication",
                region,
                path,
                REGION_FOR_CREDENTIAL,
            )
        }
        None => {
            let auth = b.object(root, "authentication").map(|a| b.auth(a, "authentication"));
            (
                auth,
                "authentication",
                configured_region,
                "configuration.region",
                REGION_BLANK,
            )
        }
    };
    let endpoint = b
        .object(root, "configuration")
        .and_then(|c| b.string(c, "endpoint", "configuration.endpoint"))
        .filter(|e| !e.trim().is_empty());

    let input = match b.object(root, "input") {
        Some(i) => b.task_input(i),
        None => TaskInput::default(),
    };

    let advanced = match b.object(root, "advanced") {
        Some(a) => Advanced {
            poll_interval: b.opt_string(a, "pollInterval", "advanced.pollInterval"),
            max_poll_interval: b.opt_string(a, "maxPollInterval", "advanced.maxPollInterval"),
            poll_timeout: b.opt_string(a, "pollTimeout", "advanced.pollTimeout"),
            max_attempts: b.opt_string(a, "maxAttempts", "advanced.maxAttempts"),
            staging_prefix: b.opt_string(a, "documentS3Prefix", "advanced.documentS3Prefix"),
            result_bucket: b.opt_string(a, "resultS3Bucket", "advanced.resultS3Bucket"),
            result_prefix: b.opt_string(a, "resultS3Prefix", "advanced.resultS3Prefix"),
            max_result_bytes: b.opt_string(a, "maxResultBytes", "advanced.maxResultBytes"),
            summary: b.opt_boolean(a, "summary", "advanced.summary"),
            blocks: b.opt_boolean(a, "blocks", "advanced.blocks"),
        },
        None => Advanced::default(),
    };

    let return_format = b.object(root, "documentReturnFormat").and_then(|f| {
        b.enumeration(
            f,
            "choice",
            "documentReturnFormat.choice",
            &[("JSON", ReturnFormat::Json), ("DOCUMENT", ReturnFormat::Document)],
        )
    });

    Ok(ConnectorInput {
        auth,
        auth_path,
        region,
        region_path,
        region_missing,
        endpoint,
        input,
        advanced,
        return_format,
        binding_violations: b.violations,
    })
}

/// What validation says of a blank region.
pub const REGION_BLANK: &str = "must not be blank";
/// v8's "Region" beside a saved credential: "Required when the credential has no default region."
pub const REGION_FOR_CREDENTIAL: &str =
    "must not be blank when the AWS credential has no region (this region overrides the credential's)";

/// A one-element array stands for its element.
fn unwrap_single(value: &Value) -> &Value {
    match value {
        Value::Array(items) if items.len() == 1 => &items[0],
        other => other,
    }
}

#[derive(Default)]
struct Binder {
    violations: Vec<Violation>,
}

impl Binder {
    fn object<'a>(&mut self, parent: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
        match parent.get(key).map(unwrap_single) {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(_) => {
                self.violations.push(Violation::new(key, "must be an object"));
                None
            }
        }
    }

    fn string(&mut self, parent: &Map<String, Value>, key: &str, path: &str) -> Option<String> {
        match parent.get(key).map(unwrap_single) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(_) => {
                self.violations.push(Violation::new(path, "must be a string"));
                None
            }
        }
    }

    /// A blank string is treated as absent, as the modeler leaves empty fields.
    fn opt_string(&mut self, parent: &Map<String, Value>, key: &str, path: &str) -> Option<String> {
        self.string(parent, key, path).filter(|s| !s.trim().is_empty())
    }

    fn boolean(&mut self, parent: &Map<String, Value>, key: &str, path: &str) -> bool {
        self.opt_boolean(parent, key, path).unwrap_or(false)
    }

    /// A boolean whose absence (null, blank) is told apart, for fields that default to true.
    fn opt_boolean(&mut self, parent: &Map<String, Value>, key: &str, path: &str) -> Option<bool> {
        match parent.get(key).map(unwrap_single) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(_) => {
                self.violations.push(Violation::new(path, "must be true or false"));
                None
            }
        }
    }

    /// `input.queries`: a list of `{text, alias, pages}` (a single object stands
    /// for a list of one, as Camunda's binding unwraps the other way round).
    fn queries(&mut self, parent: &Map<String, Value>) -> Option<Vec<QueryEntry>> {
        const PATH: &str = "input.queries";
        let items: Vec<&Value> = match parent.get("queries") {
            None | Some(Value::Null) => return None,
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            Some(_) => {
                self.violations
                    .push(Violation::new(PATH, "must be a list of {text, alias, pages} objects"));
                return None;
            }
        };
        let mut entries = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let path = format!("{PATH}[{i}]");
            let Value::Object(map) = item else {
                self.violations
                    .push(Violation::new(path, "must be an object {text, alias, pages}"));
                continue;
            };
            let pages_path = format!("{path}.pages");
            let pages = match map.get("pages") {
                None | Some(Value::Null) => None,
                Some(Value::Array(pages)) => {
                    let list: Option<Vec<String>> = pages
                        .iter()
                        .map(|page| match page {
                            Value::String(s) => Some(s.clone()),
                            Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        })
                        .collect();
                    if list.is_none() {
                        self.violations.push(Violation::new(
                            pages_path.as_str(),
                            "must be a list of page strings such as \"1\", \"2-4\" or \"*\"",
                        ));
                    }
                    list
                }
                Some(Value::String(s)) => Some(vec![s.clone()]),
                Some(Value::Number(n)) => Some(vec![n.to_string()]),
                Some(_) => {
                    self.violations.push(Violation::new(
                        pages_path.as_str(),
                        "must be a list of page strings such as \"1\", \"2-4\" or \"*\"",
                    ));
                    None
                }
            };
            entries.push(QueryEntry {
                index: i,
                text: self.opt_string(map, "text", &format!("{path}.text")),
                alias: self.opt_string(map, "alias", &format!("{path}.alias")),
                pages,
            });
        }
        Some(entries)
    }

    fn enumeration<T: Copy>(
        &mut self,
        parent: &Map<String, Value>,
        key: &str,
        path: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let raw = self.string(parent, key, path)?;
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        match options.iter().find(|(name, _)| name.eq_ignore_ascii_case(raw)) {
            Some((_, value)) => Some(*value),
            None => {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.violations.push(Violation::new(
                    path,
                    format!("must be one of {} (got '{raw}')", names.join(", ")),
                ));
                None
            }
        }
    }

    fn auth(&mut self, map: &Map<String, Value>, path: &str) -> Auth {
        let kind = self.enumeration(
            map,
            "type",
            &format!("{path}.type"),
            &[("credentials", false), ("defaultCredentialsChain", true)],
        );
        if kind == Some(true) {
            return Auth::DefaultChain;
        }
        Auth::Credentials {
            access_key: self.string(map, "accessKey", &format!("{path}.accessKey")),
            secret_key: self.string(map, "secretKey", &format!("{path}.secretKey")),
            session_token: self.opt_string(map, "sessionToken", &format!("{path}.sessionToken")),
        }
    }

    fn task_input(&mut self, i: &Map<String, Value>) -> TaskInput {
        TaskInput {
            location_type: self.enumeration(
                i,
                "documentLocationType",
                "input.documentLocationType",
                &[("S3", LocationType::S3), ("UPLOADED", LocationType::Uploaded)],
            ),
            bucket: self.string(i, "documentS3Bucket", "input.documentS3Bucket"),
            name: self.string(i, "documentName", "input.documentName"),
            version: self.opt_string(i, "documentVersion", "input.documentVersion"),
            document: i.get("document").filter(|d| !d.is_null()).cloned(),
            execution_type: self.enumeration(
                i,
                "executionType",
                "input.executionType",
                &[
                    ("SYNC", ExecutionType::Sync),
                    ("POLLING", ExecutionType::Polling),
                    ("ASYNC", ExecutionType::Async),
                    ("FETCH", ExecutionType::Fetch),
                ],
            ),
            analyze_tables: self.boolean(i, "analyzeTables", "input.analyzeTables"),
            analyze_forms: self.boolean(i, "analyzeForms", "input.analyzeForms"),
            analyze_signatures: self.boolean(i, "analyzeSignatures", "input.analyzeSignatures"),
            analyze_layout: self.boolean(i, "analyzeLayout", "input.analyzeLayout"),
            analyze_queries: self.boolean(i, "analyzeQueries", "input.analyzeQueries"),
            query: self.opt_string(i, "query", "input.query"),
            queries: self.queries(i),
            client_request_token: self.opt_string(i, "clientRequestToken", "input.clientRequestToken"),
            job_tag: self.opt_string(i, "jobTag", "input.jobTag"),
            kms_key_id: self.opt_string(i, "kmsKeyId", "input.kmsKeyId"),
            notification_role_arn: self.opt_string(i, "notificationChannelRoleArn", "input.notificationChannelRoleArn"),
            notification_topic_arn: self.opt_string(
                i,
                "notificationChannelSnsTopicArn",
                "input.notificationChannelSnsTopicArn",
            ),
            output_bucket: self.opt_string(i, "outputConfigS3Bucket", "input.outputConfigS3Bucket"),
            output_prefix: self.opt_string(i, "outputConfigS3Prefix", "input.outputConfigS3Prefix"),
            job_id: self.opt_string(i, "jobId", "input.jobId"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_camunda_shapes_leniently() {
        let parsed = parse(
            r#"{"authentication":{"accessKey":"AK","secretKey":"SK"},
                "configuration":[{"region":"eu-west-1"}],
                "input":{"executionType":"sync","documentLocationType":["s3"],
                         "analyzeTables":"true","analyzeForms":["TRUE"],"analyzeLayout":false,
                         "documentS3Bucket":"b","documentName":"k","unknown":1},
                "extra":{"x":1}}"#,
        )
        .unwrap();
        assert!(parsed.binding_violations.is_empty(), "{:?}", parsed.binding_violations);
        assert_eq!(parsed.region.as_deref(), Some("eu-west-1"));
        assert_eq!(parsed.input.execution_type(), ExecutionType::Sync);
        assert_eq!(parsed.input.location_type(), LocationType::S3);
        assert!(parsed.input.analyze_tables && parsed.input.analyze_forms && !parsed.input.analyze_layout);
        assert_eq!(
            parsed.auth,
            Some(Auth::Credentials {
                access_key: Some("AK".into()),
                secret_key: Some("SK".into()),
                session_token: None
            })
        );
    }

    #[test]
    fn aws_credential_wins_over_authentication_and_the_override_over_its_region() {
        // v8's "Region" beside a saved credential: "Overrides the default region in the
        // selected credential". The credential's authentication still wins.
        let parsed = parse(
            r#"{"authentication":{"accessKey":"A1","secretKey":"S1"},"configuration":{"region":"us-east-1"},
                "awsCredential":{"authentication":{"type":"credentials","accessKey":"A2","secretKey":"S2"},"region":"eu-central-1"}}"#,
        )
        .unwrap();
        assert_eq!(parsed.region.as_deref(), Some("us-east-1"));
        assert_eq!(parsed.region_path, "configuration.region");
        assert!(matches!(parsed.auth, Some(Auth::Credentials { access_key: Some(ref a), .. }) if a == "A2"));
    }

    #[test]
    fn the_credential_region_is_the_fallback() {
        for configuration in [
            r#""#,
            r#","configuration":{}"#,
            r#","configuration":{"region":"  "}"#,
            r#","configuration":{"region":null}"#,
        ] {
            let parsed = parse(&format!(
                r#"{{"awsCredential":{{"authentication":{{"accessKey":"A2","secretKey":"S2"}},"region":"eu-central-1"}}{configuration}}}"#
            ))
            .unwrap();
            assert_eq!(parsed.region.as_deref(), Some("eu-central-1"), "{configuration}");
            assert_eq!(parsed.region_path, "awsCredential.region");
        }
        // A credential without a region (v8's "Default region" is optional) takes the override.
        let parsed = parse(
            r#"{"awsCredential":{"authentication":{"accessKey":"A2","secretKey":"S2"}},"configuration":{"region":"ap-south-1"}}"#,
        )
        .unwrap();
        assert_eq!(parsed.region.as_deref(), Some("ap-south-1"));
        assert_eq!(parsed.region_path, "configuration.region");
    }

    #[test]
    fn defaults_and_type_errors() {
        let parsed = parse(r#"{"input":{"executionType":"LATER","analyzeTables":{"a":1}}}"#).unwrap();
        assert_eq!(parsed.input.execution_type(), ExecutionType::Polling);
        assert_eq!(parsed.binding_violations.len(), 2);
        assert_eq!(parsed.auth, None);
        assert!(matches!(parse("[1,2]"), Err(Error::MalformedInput(_))));
        assert!(matches!(parse("{"), Err(Error::MalformedInput(_))));
    }

    #[test]
    fn the_return_format_is_json_unless_the_model_chooses_document() {
        let format = |json: &str| {
            let parsed = parse(json).unwrap();
            (parsed.return_format, parsed.binding_violations)
        };
        assert_eq!(format(r#"{}"#), (None, vec![]));
        assert_eq!(format(r#"{"documentReturnFormat":null}"#), (None, vec![]));
        assert_eq!(format(r#"{"documentReturnFormat":{"choice":""}}"#), (None, vec![]));
        assert_eq!(
            format(r#"{"documentReturnFormat":{"choice":"JSON"}}"#),
            (Some(ReturnFormat::Json), vec![])
        );
        assert_eq!(
            format(r#"{"documentReturnFormat":{"choice":"DOCUMENT"}}"#),
            (Some(ReturnFormat::Document), vec![])
        );
        // Camunda's binding: enum values are case-insensitive.
        assert_eq!(
            format(r#"{"documentReturnFormat":{"choice":"document"}}"#),
            (Some(ReturnFormat::Document), vec![])
        );
        assert_eq!(
            format(r#"{"documentReturnFormat":{"choice":"XML"}}"#),
            (
                None,
                vec![Violation::new(
                    "documentReturnFormat.choice",
                    "must be one of JSON, DOCUMENT (got 'XML')"
                )]
            )
        );
    }

    #[test]
    fn default_chain_is_recognised_case_insensitively() {
        let parsed = parse(r#"{"authentication":{"type":"DEFAULTCREDENTIALSCHAIN"}}"#).unwrap();
        assert_eq!(parsed.auth, Some(Auth::DefaultChain));
    }
}
