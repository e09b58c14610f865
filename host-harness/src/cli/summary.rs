//! A few human lines about a connector result, for `run --summary` and the demo.

use serde_json::Value;
use std::collections::BTreeMap;

pub fn summarise(result: &Value) -> String {
    let mut lines = Vec::new();
    let text = |v: &Value| v.as_str().map(str::to_string);
    if let Some(id) = result.pointer("/sdkResponseMetadata/requestId").and_then(text) {
        lines.push(format!("request id:  {id}"));
    }
    if let Some(job) = result.get("jobId").and_then(text) {
        lines.push(format!("job id:      {job}"));
    }
    if let Some(status) = result.get("jobStatus").and_then(text) {
        lines.push(format!("job status:  {status}"));
    }
    if let Some(pages) = result.pointer("/documentMetadata/pages").and_then(Value::as_i64) {
        lines.push(format!("pages:       {pages}"));
    }
    let blocks: &[Value] = result
        .get("blocks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if !blocks.is_empty() {
        let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
        for b in blocks {
            *by_type
                .entry(b.get("blockType").and_then(Value::as_str).unwrap_or("?"))
                .or_default() += 1;
        }
        let counts: Vec<String> = by_type.iter().map(|(t, n)| format!("{t} {n}")).collect();
        lines.push(format!("blocks:      {} ({})", blocks.len(), counts.join(", ")));
        let first_lines: Vec<&str> = blocks
            .iter()
            .filter(|b| b.get("blockType").and_then(Value::as_str) == Some("LINE"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .take(5)
            .collect();
        if !first_lines.is_empty() {
            lines.push("first lines:".into());
            lines.extend(first_lines.iter().map(|l| format!("  {l}")));
        }
        let by_id: BTreeMap<&str, &Value> = blocks
            .iter()
            .filter_map(|b| Some((b.get("id")?.as_str()?, b)))
            .collect();
        for q in blocks
            .iter()
            .filter(|b| b.get("blockType").and_then(Value::as_str) == Some("QUERY"))
        {
            let question = q
                .pointer("/query/alias")
                .or_else(|| q.pointer("/query/text"))
                .and_then(Value::as_str);
            let answers: Vec<String> = q
                .get("relationships")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| r.get("type").and_then(Value::as_str) == Some("ANSWER"))
                .flat_map(|r| r.get("ids").and_then(Value::as_array).cloned().unwrap_or_default())
                .filter_map(|id| by_id.get(id.as_str()?).copied())
                .map(|a| {
                    let conf = a.get("confidence").and_then(Value::as_f64).unwrap_or(0.0);
                    format!("{} ({conf:.1}%)", a.get("text").and_then(Value::as_str).unwrap_or(""))
                })
                .collect();
            if let Some(question) = question {
                lines.push(format!(
                    "query:       {question} → {}",
                    if answers.is_empty() {
                        "no answer".into()
                    } else {
                        answers.join(", ")
                    }
                ));
            }
        }
    }
    if let Some(e) = result.get("error") {
        lines.push(format!(
            "error:       {} {} (retryable: {})\n  {}",
            e.get("kind").and_then(Value::as_str).unwrap_or(""),
            e.get("code").and_then(Value::as_str).unwrap_or(""),
            e.get("retryable").and_then(Value::as_bool).unwrap_or(false),
            e.get("message").and_then(Value::as_str).unwrap_or("")
        ));
    }
    lines.join("\n")
}
