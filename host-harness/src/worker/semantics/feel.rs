//! FEEL, as the connector runtime's expressions need it: DecisionToolkit's
//! engine (`dsntk-feel-*`) evaluates one expression against a JSON context and
//! the answer comes back as JSON. Camunda's `bpmnError(...)` and `jobError(...)`
//! are overloaded by arity, which dsntk's functions are not, so each call is
//! renamed to the definition for its number of arguments before parsing. An
//! expression is tenant code: it runs on its own thread and is given up on
//! after a time limit.

use dsntk_feel::context::FeelContext;
use dsntk_feel::values::Value as Feel;
use dsntk_feel::{FeelNumber, FeelScope, Name};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The longest one expression may run.
pub const EVALUATION_LIMIT: Duration = Duration::from_secs(10);

/// The connector runtime's functions, one definition per arity. Each returns
/// a context the semantics module reads (`errorType` says which it was).
const FUNCTIONS: &str = r#"{
  bpmnError1: function(errorCode) {errorType: "bpmnError", errorCode: errorCode},
  bpmnError2: function(errorCode, errorMessage) {errorType: "bpmnError", errorCode: errorCode, errorMessage: errorMessage},
  bpmnError3: function(errorCode, errorMessage, variables) {errorType: "bpmnError", errorCode: errorCode, errorMessage: errorMessage, variables: variables},
  jobError1: function(errorMessage) {errorType: "jobError", errorMessage: errorMessage},
  jobError2: function(errorMessage, variables) {errorType: "jobError", errorMessage: errorMessage, variables: variables},
  jobError3: function(errorMessage, variables, retries) {errorType: "jobError", errorMessage: errorMessage, variables: variables, retries: retries},
  jobError4: function(errorMessage, variables, retries, retryBackoff) {errorType: "jobError", errorMessage: errorMessage, variables: variables, retries: retries, retryBackoff: retryBackoff}
}"#;

/// Evaluates `expression` (a leading `=` is allowed) with the entries of
/// `context` as names. Errors are the evaluator's reason, in plain words.
pub fn evaluate(expression: &str, context: Arc<Map<String, Value>>) -> Result<Value, String> {
    let expression = expression.trim();
    let expression = expression.strip_prefix('=').unwrap_or(expression).trim().to_string();
    if expression.is_empty() {
        return Err("the expression is empty".into());
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("feel".into())
        .stack_size(16 << 20)
        .spawn(move || {
            let _ = sender.send(evaluate_here(&expression, &context));
        });
    if spawned.is_err() {
        return Err("no thread to evaluate it on".into());
    }
    match receiver.recv_timeout(EVALUATION_LIMIT) {
        Ok(result) => result,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "it ran longer than {} s and was abandoned",
            EVALUATION_LIMIT.as_secs()
        )),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err("the evaluator failed".into()),
    }
}

fn evaluate_here(expression: &str, context: &Map<String, Value>) -> Result<Value, String> {
    let scope = FeelScope::default();
    let functions = dsntk_feel_parser::parse_expression(&scope, FUNCTIONS, false)
        .map_err(|e| format!("the runtime's functions do not parse: {e}"))?;
    match dsntk_feel_evaluator::evaluate(&scope, &functions) {
        Feel::Context(defined) => scope.push(defined),
        other => return Err(format!("the runtime's functions did not evaluate: {other}")),
    }
    let mut names = FeelContext::default();
    for (key, value) in context {
        names.set_entry(&Name::from(key.as_str()), to_feel(value));
    }
    scope.push(names);
    let source = overloads(expression);
    let ast = dsntk_feel_parser::parse_expression(&scope, &source, false)
        .map_err(|e| format!("it does not parse: {}", plain(&e.to_string())))?;
    match dsntk_feel_evaluator::evaluate(&scope, &ast) {
        Feel::Null(Some(reason)) => Err(format!("it failed: {}", plain(&reason))),
        value => from_feel(&value),
    }
}

/// dsntk's messages carry a type prefix (`<FeelEvaluatorError> ...`): the reason alone.
fn plain(message: &str) -> String {
    let text = message.trim();
    let text = match text.strip_prefix('<').and_then(|t| t.split_once('>')) {
        Some((_, rest)) => rest.trim(),
        None => text,
    };
    text.chars().take(300).collect()
}

/// Renames `bpmnError(` and `jobError(` calls by their number of arguments,
/// outside string literals: `bpmnError("C", "m")` becomes `bpmnError2("C", "m")`.
pub fn overloads(expression: &str) -> String {
    let chars: Vec<char> = expression.chars().collect();
    let mut out = String::with_capacity(expression.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            let end = string_end(&chars, i);
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        let boundary = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == '.');
        let name = ["bpmnError", "jobError"]
            .into_iter()
            .find(|n| boundary && chars[i..].iter().take(n.len()).copied().eq(n.chars()));
        if let Some(name) = name {
            let mut j = i + name.len();
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if j < chars.len() && chars[j] == '(' {
                out.push_str(name);
                out.push_str(&arguments(&chars, j).to_string());
                i += name.len();
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The index just past the string literal that starts at `start`.
fn string_end(chars: &[char], start: usize) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// How many arguments the call whose `(` is at `open` has.
fn arguments(chars: &[char], open: usize) -> usize {
    let (mut depth, mut commas, mut any) = (0usize, 0usize, false);
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '"' => {
                any = true;
                i = string_end(chars, i);
                continue;
            }
            '(' | '[' | '{' => {
                if depth > 0 {
                    any = true;
                }
                depth += 1;
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => commas += 1,
            c if !c.is_whitespace() && depth >= 1 => any = true,
            _ => {}
        }
        i += 1;
    }
    if any || commas > 0 {
        commas + 1
    } else {
        0
    }
}

pub fn to_feel(value: &Value) -> Feel {
    match value {
        Value::Null => Feel::Null(None),
        Value::Bool(b) => Feel::Boolean(*b),
        Value::Number(n) => number(n).map_or(Feel::Null(None), Feel::Number),
        Value::String(s) => Feel::String(s.clone()),
        Value::Array(items) => Feel::List(items.iter().map(to_feel).collect()),
        Value::Object(entries) => {
            let mut context = FeelContext::default();
            for (key, value) in entries {
                context.set_entry(&Name::from(key.as_str()), to_feel(value));
            }
            Feel::Context(context)
        }
    }
}

fn number(n: &serde_json::Number) -> Option<FeelNumber> {
    if let Some(i) = n.as_i64() {
        return i.to_string().parse().ok();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string().parse().ok();
    }
    // Scientific notation with a capital E, which the decimal library reads.
    n.as_f64().and_then(|f| format!("{f:E}").parse().ok())
}

pub fn from_feel(value: &Feel) -> Result<Value, String> {
    Ok(match value {
        Feel::Null(_) => Value::Null,
        Feel::Boolean(b) => Value::Bool(*b),
        Feel::Number(n) => serde_json::from_str::<serde_json::Number>(&n.to_string())
            .map(Value::Number)
            .map_err(|_| format!("the number {n} cannot be a JSON number"))?,
        Feel::String(s) => Value::String(s.clone()),
        Feel::List(items) => Value::Array(items.iter().map(from_feel).collect::<Result<_, _>>()?),
        Feel::Context(context) => {
            let mut map = Map::new();
            for (name, value) in context.iter() {
                map.insert(name.to_string(), from_feel(value)?);
            }
            Value::Object(map)
        }
        Feel::DaysAndTimeDuration(d) => Value::String(d.to_string()),
        Feel::YearsAndMonthsDuration(_) | Feel::Date(_) | Feel::DateTime(_) | Feel::Time(_) => {
            Value::String(value.to_string().trim_matches('"').to_string())
        }
        other => return Err(format!("a value of type {} cannot become a process variable", other.type_of())),
    })
}

/// A FEEL duration as the JSON the semantics module reads it back from
/// (`from_feel` turns it into ISO-8601 text).
pub fn duration_millis(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => textract_connector::duration::parse(text).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(expression: &str, context: Value) -> Result<Value, String> {
        evaluate(expression, Arc::new(context.as_object().unwrap().clone()))
    }

    #[test]
    fn overloaded_calls_are_renamed_by_their_arguments() {
        assert_eq!(overloads(r#"bpmnError("C")"#), r#"bpmnError1("C")"#);
        assert_eq!(overloads(r#"bpmnError("C", "a, b")"#), r#"bpmnError2("C", "a, b")"#);
        assert_eq!(
            overloads(r#"if x then jobError("m", {a: [1, 2]}, 3, @"PT1M") else null"#),
            r#"if x then jobError4("m", {a: [1, 2]}, 3, @"PT1M") else null"#
        );
        assert_eq!(overloads(r#""bpmnError(1)" + mybpmnError(1)"#), r#""bpmnError(1)" + mybpmnError(1)"#);
    }

    #[test]
    fn expressions_read_json_and_answer_json() {
        let response = json!({"blocks": [
            {"blockType": "PAGE", "text": null},
            {"blockType": "LINE", "text": "Pay Stub", "confidence": 99.5},
            {"blockType": "LINE", "text": "Gross", "confidence": 9.333211e-17}
        ], "count": 3});
        let context = json!({"response": response});
        assert_eq!(eval(r#"=response.blocks[blockType = "LINE"][1].text"#, context.clone()), Ok(json!("Pay Stub")));
        assert_eq!(
            eval(r#"{lines: for b in response.blocks[blockType = "LINE"] return b.text, n: response.count + 1}"#, context.clone()),
            Ok(json!({"lines": ["Pay Stub", "Gross"], "n": 4}))
        );
        let tiny = eval(r#"response.blocks[3].confidence"#, context.clone()).unwrap();
        assert!((tiny.as_f64().unwrap() - 9.333211e-17).abs() < 1e-25, "{tiny}");
        assert_eq!(
            eval(r#"bpmnError("UNSUPPORTED", "no", {x: 1})"#, context.clone()),
            Ok(json!({"errorType": "bpmnError", "errorCode": "UNSUPPORTED", "errorMessage": "no", "variables": {"x": 1}}))
        );
        let job_error = eval(r#"jobError("slow down", {}, 2, @"PT1M")"#, context.clone()).unwrap();
        assert_eq!(job_error["retries"], json!(2));
        assert_eq!(duration_millis(&job_error["retryBackoff"]), Some(60_000));
    }

    #[test]
    fn bad_expressions_say_why() {
        let e = eval("response.", json!({"response": {}})).unwrap_err();
        assert!(e.starts_with("it does not parse"), "{e}");
        assert!(eval("  ", json!({})).unwrap_err().contains("empty"));
    }
}
