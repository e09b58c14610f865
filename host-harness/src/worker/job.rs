//! One activated job and what the worker answers for it: the pure mapping from
//! an execution's outcome to a completion, a failure or a BPMN error, after
//! Camunda's connector runtime (no variables unless `resultVariable` asks; a
//! retryable error spends one retry after the `retryBackoff` header; one that
//! cannot pass on a retry goes straight to an incident).

use crate::outcome::GuestError;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// A job as `POST /v2/jobs/activation` hands it out (the fields the worker uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivatedJob {
    #[serde(deserialize_with = "key")]
    pub job_key: String,
    #[serde(rename = "type")]
    pub job_type: String,
    #[serde(default, deserialize_with = "optional_key")]
    pub process_instance_key: Option<String>,
    #[serde(default)]
    pub element_id: Option<String>,
    #[serde(default)]
    pub custom_headers: BTreeMap<String, Value>,
    pub retries: i32,
    /// When the broker gives the job to someone else (epoch milliseconds).
    pub deadline: i64,
    #[serde(default)]
    pub variables: Value,
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// Keys are strings since 8.8 and int64 numbers before; both are read as text.
fn key<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("a key must be a string or a number, not {other}"))),
    }
}

fn optional_key<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!("a key must be a string or a number, not {other}"))),
    }
}

impl ActivatedJob {
    /// A custom header's text, when set and not blank.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.custom_headers
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// The tenant as logs and metrics show it (`<default>` without multi-tenancy).
    pub fn tenant(&self) -> &str {
        self.tenant_id.as_deref().filter(|t| !t.is_empty()).unwrap_or("<default>")
    }
}

/// What the worker sends the cluster for one job.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Complete {
        variables: Value,
    },
    Fail {
        retries: i32,
        message: String,
        backoff: Duration,
        variables: Option<Value>,
    },
    Error {
        code: String,
        message: String,
        variables: Option<Value>,
    },
}

impl Reply {
    /// The outcome as logs and metrics name it.
    pub fn label(&self) -> &'static str {
        match self {
            Reply::Complete { .. } => "completed",
            Reply::Fail { retries: 0, .. } => "incident",
            Reply::Fail { .. } => "failed",
            Reply::Error { .. } => "bpmn-error",
        }
    }
}

/// Whether a new attempt of the same input could succeed: AWS throttling, AWS
/// or the network failing, and running out of time. Bad input, refused
/// credentials, a memory limit and defects fail the same way again.
pub fn worth_retrying(error: &GuestError) -> bool {
    match error.kind.as_str() {
        "throttled" | "upstream" => true,
        "limit-exceeded" => error.code == "TimeLimitExceeded",
        _ => false,
    }
}

/// The `retryBackoff` custom header (ISO-8601, e.g. `PT30S`); none means at once.
pub fn retry_backoff(job: &ActivatedJob) -> Result<Duration, String> {
    match job.header("retryBackoff") {
        None => Ok(Duration::ZERO),
        Some(text) => textract_connector::duration::parse(text).ok_or_else(|| {
            format!("The retryBackoff header {text:?} is not an ISO-8601 duration such as PT30S")
        }),
    }
}

/// A failure with a retry spent (or none left to spend).
pub fn failure(job: &ActivatedJob, error: &GuestError) -> Reply {
    let message = format!("{}: {}", error.code, error.message);
    if !worth_retrying(error) {
        return Reply::Fail {
            retries: 0,
            message,
            backoff: Duration::ZERO,
            variables: None,
        };
    }
    match retry_backoff(job) {
        Ok(backoff) => Reply::Fail {
            retries: (job.retries - 1).max(0),
            message,
            backoff,
            variables: None,
        },
        // A model whose header cannot be read is the model's mistake: an incident that says so.
        Err(why) => Reply::Fail {
            retries: 0,
            message: format!("{message} ({why})"),
            backoff: Duration::ZERO,
            variables: None,
        },
    }
}

/// The completion's variables: none, or the whole result under `resultVariable`
/// (copied only then).
pub fn completion(job: &ActivatedJob, result: &Value) -> Map<String, Value> {
    let mut variables = Map::new();
    if let Some(name) = job.header("resultVariable") {
        variables.insert(name.to_string(), result.clone());
    }
    variables
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(headers: Value, retries: i32) -> ActivatedJob {
        serde_json::from_value(json!({
            "jobKey": "2251799813685249", "type": "io.camunda:aws-textract:1", "processInstanceKey": 2251799813685248u64,
            "customHeaders": headers, "retries": retries, "deadline": 1, "variables": {}, "tenantId": "<default>"
        }))
        .unwrap()
    }

    fn error(kind: &str, code: &str) -> GuestError {
        GuestError {
            kind: kind.into(),
            code: code.into(),
            message: "went wrong".into(),
            retryable: kind == "throttled",
        }
    }

    #[test]
    fn keys_are_read_as_strings_or_numbers() {
        let j = job(json!({}), 3);
        assert_eq!(j.job_key, "2251799813685249");
        assert_eq!(j.process_instance_key.as_deref(), Some("2251799813685248"));
        assert_eq!(j.tenant(), "<default>");
    }

    #[test]
    fn completion_carries_variables_only_under_result_variable() {
        let result = json!({"blocks": []});
        assert_eq!(Value::Object(completion(&job(json!({}), 3), &result)), json!({}));
        assert_eq!(
            Value::Object(completion(&job(json!({"resultVariable": "textract"}), 3), &result)),
            json!({"textract": result})
        );
        assert_eq!(Value::Object(completion(&job(json!({"resultVariable": "  "}), 3), &json!(1))), json!({}));
    }

    #[test]
    fn retryable_errors_spend_one_retry_after_the_backoff_header() {
        let j = job(json!({"retryBackoff": "PT1M"}), 3);
        assert_eq!(
            failure(&j, &error("throttled", "ThrottlingException")),
            Reply::Fail {
                retries: 2,
                message: "ThrottlingException: went wrong".into(),
                backoff: Duration::from_secs(60),
                variables: None
            }
        );
        let upstream = failure(&job(json!({}), 1), &error("upstream", "Http503"));
        assert_eq!(upstream.label(), "incident", "the last retry spent is an incident");
        let time = failure(&job(json!({}), 3), &error("limit-exceeded", "TimeLimitExceeded"));
        assert!(matches!(time, Reply::Fail { retries: 2, backoff, .. } if backoff == Duration::ZERO));
    }

    #[test]
    fn errors_a_retry_cannot_fix_become_incidents_at_once() {
        for (kind, code) in [
            ("invalid-input", "ValidationFailed"),
            ("unauthorized", "AccessDeniedException"),
            ("limit-exceeded", "MemoryLimitExceeded"),
            ("internal", "GuestTrap"),
        ] {
            let reply = failure(&job(json!({"retryBackoff": "PT1M"}), 3), &error(kind, code));
            assert!(matches!(reply, Reply::Fail { retries: 0, .. }), "{kind}");
        }
    }

    #[test]
    fn an_unreadable_backoff_header_is_an_incident_that_names_it() {
        let reply = failure(&job(json!({"retryBackoff": "soon"}), 3), &error("throttled", "ThrottlingException"));
        let Reply::Fail { retries, message, .. } = reply else { panic!() };
        assert_eq!(retries, 0);
        assert!(message.contains("\"soon\" is not an ISO-8601 duration"), "{message}");
    }
}
