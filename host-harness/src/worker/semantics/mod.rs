//! What Camunda's connector runtime does around every connector call, done the
//! same way here so that a model runs unchanged: secrets into the input
//! (`secrets`), and out of it the completion, a failure or a BPMN error,
//! shaped by the task's `resultVariable`, `resultExpression` and
//! `errorExpression` headers (FEEL, `feel`). Where the runtime and its
//! documentation differ, this follows the runtime (README, "Camunda's runtime
//! and ours").

pub mod feel;
pub mod secrets;

use super::job::{self, ActivatedJob, Reply};
use crate::outcome::GuestError;
use secrets::Used;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// Camunda truncates a BPMN error's message to this many characters.
const BPMN_MESSAGE_LIMIT: usize = 6000;

/// The reply for one execution's outcome, with every secret value masked.
pub fn reply(job: &ActivatedJob, outcome: Result<Value, GuestError>, used: &Used) -> Reply {
    let reply = match outcome {
        Ok(result) => success(job, result),
        Err(error) => {
            let error = GuestError {
                message: used.mask(&error.message),
                ..error
            };
            failure(job, &error)
        }
    };
    mask(reply, used)
}

fn success(job: &ActivatedJob, result: Value) -> Reply {
    let mut variables = job::completion(job, &result);
    if let Some(expression) = job.header("resultExpression") {
        let context = with_response(&result, None);
        match feel::evaluate(expression, context) {
            Ok(Value::Null) => {}
            Ok(Value::Object(map)) => variables.extend(map),
            Ok(other) => {
                return incident(format!(
                    "The resultExpression {} must return a context (variable names to values), not {}",
                    quoted(expression),
                    kind_of(&other)
                ))
            }
            Err(reason) => return incident(format!("The resultExpression {} failed: {reason}", quoted(expression))),
        }
    }
    if let Some(expression) = job.header("errorExpression") {
        let response = match variables.is_empty() {
            true => result,
            false => Value::Object(variables.clone()),
        };
        let context = with_response(&response, Some(job));
        match error_expression(expression, context) {
            Ok(Some(reply)) => return reply,
            Ok(None) => {}
            Err(reply) => return reply,
        }
    }
    Reply::Complete {
        variables: Value::Object(variables),
    }
}

fn failure(job: &ActivatedJob, error: &GuestError) -> Reply {
    let Some(expression) = job.header("errorExpression") else {
        return job::failure(job, error);
    };
    let error_value = json!({
        "code": error.code,
        "message": error.message,
        "kind": error.kind,
        "retryable": error.retryable,
        "type": error.kind,
    });
    let mut context = Map::new();
    context.insert("response".into(), json!({ "error": error_value }));
    context.insert("error".into(), error_value);
    context.insert("job".into(), json!({ "retries": job.retries }));
    match error_expression(expression, Arc::new(context)) {
        Ok(Some(reply)) => reply,
        Ok(None) => job::failure(job, error),
        Err(reply) => reply,
    }
}

/// `response`, its own top-level entries, and `job` when given.
fn with_response(response: &Value, job: Option<&ActivatedJob>) -> Arc<Map<String, Value>> {
    let mut context = match response {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    context.insert("response".into(), response.clone());
    if let Some(job) = job {
        context.insert("job".into(), json!({ "retries": job.retries }));
    }
    Arc::new(context)
}

/// The error expression's verdict: a reply of its own, none (carry on), or
/// the incident its failure is.
fn error_expression(expression: &str, context: Arc<Map<String, Value>>) -> Result<Option<Reply>, Reply> {
    let value = feel::evaluate(expression, context)
        .map_err(|reason| incident(format!("The errorExpression {} failed: {reason}", quoted(expression))))?;
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(map) if map.is_empty() => return Ok(None),
        Value::Object(map) => map,
        other => {
            return Err(incident(format!(
                "The errorExpression {} must return bpmnError(...), jobError(...) or null, not {}",
                quoted(expression),
                kind_of(&other)
            )))
        }
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
    let variables = map.get("variables").filter(|v| v.is_object()).cloned();
    match text("errorType").as_deref() {
        Some("bpmnError") => match text("errorCode").filter(|c| !c.trim().is_empty()) {
            // Camunda's runtime ignores a bpmnError without a code.
            None => Ok(None),
            Some(code) => Ok(Some(Reply::Error {
                code,
                message: text("errorMessage")
                    .unwrap_or_default()
                    .chars()
                    .take(BPMN_MESSAGE_LIMIT)
                    .collect(),
                variables,
            })),
        },
        Some("jobError") => {
            let retries = map
                .get("retries")
                .and_then(Value::as_i64)
                .map_or(0, |r| i32::try_from(r.max(0)).unwrap_or(i32::MAX));
            let backoff = map.get("retryBackoff").and_then(feel::duration_millis).unwrap_or(0);
            Ok(Some(Reply::Fail {
                retries,
                message: text("errorMessage").unwrap_or_else(|| "Job failed (jobError)".into()),
                backoff: Duration::from_millis(backoff),
                variables,
            }))
        }
        _ => Err(incident(format!(
            "The errorExpression {} must return bpmnError(...), jobError(...) or null, not a context without errorType",
            quoted(expression)
        ))),
    }
}

/// The model's mistake: an incident at once, saying what to fix.
fn incident(message: String) -> Reply {
    Reply::Fail {
        retries: 0,
        message,
        backoff: Duration::ZERO,
        variables: None,
    }
}

fn quoted(expression: &str) -> String {
    let short: String = expression.chars().take(200).collect();
    match short.len() < expression.len() {
        true => format!("\"{short}...\""),
        false => format!("\"{short}\""),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a context",
    }
}

fn mask(reply: Reply, used: &Used) -> Reply {
    if used.is_empty() {
        return reply;
    }
    let masked = |v: Option<Value>| {
        v.map(|mut v| {
            used.mask_value(&mut v);
            v
        })
    };
    match reply {
        Reply::Complete { mut variables } => {
            used.mask_value(&mut variables);
            Reply::Complete { variables }
        }
        Reply::Fail {
            retries,
            message,
            backoff,
            variables,
        } => Reply::Fail {
            retries,
            message: used.mask(&message),
            backoff,
            variables: masked(variables),
        },
        Reply::Error {
            code,
            message,
            variables,
        } => Reply::Error {
            code: used.mask(&code),
            message: used.mask(&message),
            variables: masked(variables),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(headers: Value) -> ActivatedJob {
        serde_json::from_value(json!({
            "jobKey": "1", "type": "io.camunda:aws-textract:1", "customHeaders": headers,
            "retries": 3, "deadline": 1, "variables": {}
        }))
        .unwrap()
    }

    fn result() -> Value {
        json!({"blocks": [
            {"blockType": "PAGE", "text": null},
            {"blockType": "LINE", "text": "EMPLOYMENT APPLICATION"},
            {"blockType": "QUERY", "id": "q1", "query": {"text": "What is the name?", "alias": "NAME"}, "relationships": [{"type": "ANSWER", "ids": ["a1"]}]},
            {"blockType": "QUERY_RESULT", "id": "a1", "text": "Jane Doe"},
            {"blockType": "QUERY", "id": "q2", "query": {"text": "What is the phone?", "alias": "PHONE"}, "relationships": [{"type": "ANSWER", "ids": ["a2"]}]},
            {"blockType": "QUERY_RESULT", "id": "a2", "text": "555-0100"}
        ], "jobId": null})
    }

    fn error(kind: &str, code: &str) -> GuestError {
        GuestError {
            kind: kind.into(),
            code: code.into(),
            message: format!("{code} happened"),
            retryable: kind == "throttled",
        }
    }

    #[test]
    fn result_variable_and_result_expression_combine_as_camundas_runtime_does() {
        let j = job(json!({
            "resultVariable": "textract",
            "resultExpression": r#"={firstLine: blocks[blockType = "LINE"][1].text}"#
        }));
        let Reply::Complete { variables } = reply(&j, Ok(result()), &Used::default()) else { panic!() };
        assert_eq!(variables["firstLine"], json!("EMPLOYMENT APPLICATION"));
        assert_eq!(variables["textract"], result());
    }

    #[test]
    fn every_query_result_by_its_alias() {
        // `(q.query).alias`: dsntk 0.2 does not resolve `q.query.alias` (README, "FEEL").
        let expression = r#"={answers: context(for q in response.blocks[blockType = "QUERY"] return {key: (q.query).alias, value: response.blocks[item.id = q.relationships[1].ids[1]][1].text})}"#;
        let Reply::Complete { variables } = reply(&job(json!({"resultExpression": expression})), Ok(result()), &Used::default()) else {
            panic!()
        };
        assert_eq!(variables, json!({"answers": {"NAME": "Jane Doe", "PHONE": "555-0100"}}));
    }

    #[test]
    fn the_error_expression_throws_bpmn_errors_and_job_errors() {
        let expression = r#"=if error.code = "UnsupportedDocumentException" then bpmnError("UNSUPPORTED_DOCUMENT", error.message, {reason: error.code})
            else if error.kind = "throttled" then jobError("AWS throttled us", {}, job.retries - 1, @"PT1M")
            else null"#;
        let j = job(json!({"errorExpression": expression, "retryBackoff": "PT5S"}));
        assert_eq!(
            reply(&j, Err(error("invalid-input", "UnsupportedDocumentException")), &Used::default()),
            Reply::Error {
                code: "UNSUPPORTED_DOCUMENT".into(),
                message: "UnsupportedDocumentException happened".into(),
                variables: Some(json!({"reason": "UnsupportedDocumentException"})),
            }
        );
        assert_eq!(
            reply(&j, Err(error("throttled", "ThrottlingException")), &Used::default()),
            Reply::Fail {
                retries: 2,
                message: "AWS throttled us".into(),
                backoff: Duration::from_secs(60),
                variables: Some(json!({})),
            }
        );
        // Neither: the usual failure, with the header's backoff.
        let Reply::Fail { retries, backoff, .. } = reply(&j, Err(error("upstream", "Http503")), &Used::default()) else {
            panic!()
        };
        assert_eq!((retries, backoff), (2, Duration::from_secs(5)));
        // On success the expression sees the response and may still throw.
        let on_success = job(json!({"errorExpression": r#"if count(response.blocks) > 3 then bpmnError("TOO_MANY", "many") else null"#}));
        assert!(matches!(reply(&on_success, Ok(result()), &Used::default()), Reply::Error { code, .. } if code == "TOO_MANY"));
    }

    #[test]
    fn an_expression_that_fails_is_an_incident_quoting_it() {
        let Reply::Fail { retries, message, .. } =
            reply(&job(json!({"resultExpression": "={a: "})), Ok(result()), &Used::default())
        else {
            panic!()
        };
        assert_eq!(retries, 0);
        assert!(message.starts_with(r#"The resultExpression "={a:" failed: it does not parse"#), "{message}");
        let Reply::Fail { message, .. } = reply(&job(json!({"resultExpression": "=\"text\""})), Ok(result()), &Used::default())
        else {
            panic!()
        };
        assert!(message.contains("must return a context"), "{message}");
        let Reply::Fail { message, .. } = reply(&job(json!({"errorExpression": "={x: 1}"})), Err(error("upstream", "X")), &Used::default())
        else {
            panic!()
        };
        assert!(message.contains("without errorType"), "{message}");
    }

    #[test]
    fn the_job_id_of_an_async_result() {
        let Reply::Complete { variables } = reply(
            &job(json!({"resultExpression": "={textractJobId: response.jobId}"})),
            Ok(json!({"jobId": "a1b2c3", "status": "SUBMITTED"})),
            &Used::default(),
        ) else {
            panic!()
        };
        assert_eq!(variables, json!({"textractJobId": "a1b2c3"}));
    }
}
