//! A few human lines about a connector result, for `run --summary` and the demo.
//! What a document says (lines, key-values, tables, query answers, signatures)
//! comes from the result's own `summary` object, which the connector builds:
//! `run --summary` asks for it with `advanced.summary: true` ([`ask_for_summary`]),
//! and this file only lays it out for people. It never follows block
//! relationships itself, so the CLI shows what a BPMN model would read.

use serde_json::Value;
use std::collections::BTreeMap;

/// How many items of each list the human summary shows.
const SHOWN: usize = 5;

/// The input with `advanced.summary: true`, for `run --summary`; `None` when the
/// input is not a JSON object (or its `advanced` is not one), which then goes to
/// the connector unchanged so that it reports the problem itself.
pub fn ask_for_summary(input: &str) -> Option<String> {
    let mut value: Value = serde_json::from_str(input).ok()?;
    // Camunda's binding reads a one-element array as its element.
    let root = match &mut value {
        Value::Array(items) if items.len() == 1 => items.first_mut()?,
        other => other,
    };
    let advanced = root
        .as_object_mut()?
        .entry("advanced")
        .or_insert_with(|| Value::Object(Default::default()));
    if advanced.is_null() {
        *advanced = Value::Object(Default::default());
    }
    advanced.as_object_mut()?.insert("summary".into(), Value::Bool(true));
    serde_json::to_string(&value).ok()
}

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
    }
    if let Some(summary) = result.get("summary") {
        describe(summary, &mut lines);
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

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn str_or<'v>(v: &'v Value, absent: &'v str) -> &'v str {
    v.as_str().unwrap_or(absent)
}

/// A confidence as people read it: `95.0` → `95.0%`.
fn percent(v: &Value) -> String {
    v.as_f64().map_or_else(|| "?".into(), |c| format!("{c:.1}%"))
}

/// The connector's `summary` object, laid out.
fn describe(summary: &Value, lines: &mut Vec<String>) {
    let pages = list(&summary["pages"]);
    let first_lines: Vec<&str> = pages
        .iter()
        .flat_map(|p| list(&p["lines"]))
        .filter_map(Value::as_str)
        .take(SHOWN)
        .collect();
    if !first_lines.is_empty() {
        let count: usize = pages.iter().map(|p| list(&p["lines"]).len()).sum();
        lines.push(format!("lines:       {count}, the first:"));
        lines.extend(first_lines.iter().map(|l| format!("  {l}")));
    }
    let key_values = list(&summary["keyValues"]);
    if !key_values.is_empty() {
        lines.push(format!("key-values:  {}, the first:", key_values.len()));
        for kv in key_values.iter().take(SHOWN) {
            let value = match kv["selected"].as_bool() {
                Some(true) => "[x]".to_string(),
                Some(false) => "[ ]".to_string(),
                None => str_or(&kv["value"], "(empty)").to_string(),
            };
            lines.push(format!("  {} {value}", str_or(&kv["key"], "(no key)")));
        }
    }
    let tables = list(&summary["tables"]);
    if !tables.is_empty() {
        lines.push(format!("tables:      {}", tables.len()));
        for t in tables.iter().take(SHOWN) {
            let rows = list(&t["rows"]);
            let columns = rows.iter().map(|r| list(r).len()).max().unwrap_or(0);
            let title = t["title"].as_str().map(|s| format!(", \"{s}\"")).unwrap_or_default();
            lines.push(format!(
                "  page {}: {} rows × {columns} columns{title}",
                t["page"],
                rows.len()
            ));
        }
    }
    if let Some(queries) = summary["queries"].as_object() {
        for (key, q) in queries {
            let answers: Vec<String> = list(&q["answers"])
                .iter()
                .map(|a| format!("{} ({})", str_or(&a["answer"], ""), percent(&a["confidence"])))
                .collect();
            lines.push(format!(
                "query:       {key} → {}",
                if answers.is_empty() {
                    "no answer".into()
                } else {
                    answers.join(", ")
                }
            ));
        }
    }
    let signatures = list(&summary["signatures"]);
    if !signatures.is_empty() {
        let each: Vec<String> = signatures
            .iter()
            .map(|s| format!("page {}, {}", s["page"], percent(&s["confidence"])))
            .collect();
        lines.push(format!("signatures:  {} ({})", signatures.len(), each.join("; ")));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn the_cli_asks_the_connector_for_its_summary() {
        let asked = |input: &str| ask_for_summary(input).map(|s| serde_json::from_str::<Value>(&s).unwrap());
        assert_eq!(
            asked(r#"{"input":{"executionType":"SYNC"},"advanced":{"summary":false,"blocks":false}}"#),
            Some(json!({"input": {"executionType": "SYNC"}, "advanced": {"summary": true, "blocks": false}}))
        );
        assert_eq!(
            asked(r#"[{"input":{}}]"#),
            Some(json!([{"input": {}, "advanced": {"summary": true}}]))
        );
        assert_eq!(
            asked(r#"{"advanced":null}"#),
            Some(json!({"advanced": {"summary": true}}))
        );
        // What the connector must refuse itself goes to it unchanged.
        assert_eq!(asked("[1, 2]"), None);
        assert_eq!(asked(r#"{"advanced":"fast"}"#), None);
        assert_eq!(asked("{"), None);
    }

    #[test]
    fn the_summary_object_is_laid_out_for_people() {
        let result = json!({
            "sdkResponseMetadata": {"requestId": "req-1"},
            "documentMetadata": {"pages": 1},
            "blocks": [{"blockType": "PAGE"}, {"blockType": "LINE"}, {"blockType": "LINE"}],
            "summary": {
                "pages": [{"page": 1, "lines": ["Earnings Statement", "Pay date: 7/25/2008"], "layout": null}],
                "keyValues": [{"key": "Pay date:", "value": "7/25/2008", "selected": null},
                              {"key": "Married", "value": "SELECTED", "selected": true},
                              {"key": "Notes:", "value": null, "selected": null}],
                "tables": [{"page": 1, "title": "Earnings", "rows": [["a", "b"], ["c", "d"], ["e", null]]}],
                "queries": {"gross pay": {"answers": [{"answer": "$ 452.43", "confidence": 95.0}]},
                            "What is the tax?": {"answers": []}},
                "signatures": [{"page": 1, "confidence": 80.82296}]
            }
        });
        assert_eq!(
            summarise(&result),
            "request id:  req-1\n\
             pages:       1\n\
             blocks:      3 (LINE 2, PAGE 1)\n\
             lines:       2, the first:\n  Earnings Statement\n  Pay date: 7/25/2008\n\
             key-values:  3, the first:\n  Pay date: 7/25/2008\n  Married [x]\n  Notes: (empty)\n\
             tables:      1\n  page 1: 3 rows × 2 columns, \"Earnings\"\n\
             query:       gross pay → $ 452.43 (95.0%)\n\
             query:       What is the tax? → no answer\n\
             signatures:  1 (page 1, 80.8%)"
        );
    }
}
