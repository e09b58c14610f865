//! SYNC ("real-time"): one `AnalyzeDocument` call on an S3 object or on the
//! bytes of a Camunda document, returned in Camunda's SYNC result shape (with,
//! beyond Camunda, the `summary` and without the blocks when the task asks).

use super::result_store::{self, StoredResult};
use crate::aws::retry;
use crate::aws::textract::{self, AnalyzeDocumentRequest, AnalyzeDocumentResponse, DocumentInput, S3Object};
use crate::camunda::document;
use crate::camunda::output::{self, JsonOut};
use crate::camunda::summary::Collector;
use crate::camunda::validation::{OutputOptions, Source, Task};
use crate::error::{Error, Result};
use crate::platform::http::HttpResponse;
use crate::platform::Context;
use base64::Engine as _;

const OPERATION: &str = "AnalyzeDocument";

pub fn run(ctx: &mut Context<'_>, task: &Task) -> Result<String> {
    let document = match &task.source {
        Some(Source::S3 { bucket, name, version }) => DocumentInput::S3Object(S3Object {
            bucket,
            name,
            version: version.as_deref(),
        }),
        Some(Source::Document(reference, _)) => {
            let doc = document::load(ctx, reference)?;
            document::check_sync_size(&doc)?;
            DocumentInput::Bytes(base64::engine::general_purpose::STANDARD.encode(&doc.bytes))
        }
        None => return Err(Error::Internal("SYNC task without a document source".into())),
    };
    let request = AnalyzeDocumentRequest {
        document,
        feature_types: &task.features,
        queries_config: super::job::queries_config(task),
    };
    let body = serde_json::to_vec(&request).map_err(|e| Error::Internal(format!("request encoding: {e}")))?;
    drop(request);

    let response = retry::run(ctx, task.retry, OPERATION, |ctx| {
        textract::call(ctx, &task.aws(), OPERATION, body.clone())
    })?;
    drop(body);
    let parsed: AnalyzeDocumentResponse = textract::parse_body(OPERATION, &response.body)?;

    // Rendered once: a result stored in S3 returns the same summary inline.
    let summary = task.output.summary.then(|| {
        let mut out = JsonOut::with_capacity(response.body.len() / 8);
        Collector::of(parsed.blocks.as_deref().unwrap_or_default()).write(&mut out);
        out.buf
    });
    let parts = Parts {
        response: &response,
        parsed: &parsed,
        options: task.output,
        summary: summary.as_deref(),
    };
    let full = parts.render(None);
    result_store::check_size(ctx, task, full.len())?;
    let name = response
        .header("x-amzn-requestid")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{:016x}", ctx.platform.random_u64()));
    let blocks = parsed.blocks.as_ref().map_or(0, Vec::len);
    match result_store::store_if_too_large(ctx, task, &full, &name, blocks)? {
        Some(stored) => Ok(parts.render(Some(&stored))),
        None => Ok(full),
    }
}

/// What a SYNC result is made of.
struct Parts<'r, 'b> {
    response: &'r HttpResponse,
    parsed: &'r AnalyzeDocumentResponse<'b>,
    options: OutputOptions,
    /// `"summary":{...}`, already rendered, when the task asked for it.
    summary: Option<&'r str>,
}

impl Parts<'_, '_> {
    /// The SYNC result; with `stored`, one whose blocks live in S3.
    fn render(&self, stored: Option<&StoredResult>) -> String {
        let (response, parsed) = (self.response, self.parsed);
        let with_blocks = stored.is_none() && self.options.blocks;
        let capacity = if with_blocks { response.body.len() } else { 2048 } + self.summary.map_or(0, str::len);
        let mut out = JsonOut::with_capacity(capacity);
        out.raw("{");
        output::write_sdk_metadata(&mut out, response);
        out.raw(",");
        output::write_document_metadata(&mut out, parsed.document_metadata.as_ref());
        out.raw(",");
        out.key("blocks");
        match &parsed.blocks {
            Some(blocks) if with_blocks => {
                out.raw("[");
                output::write_blocks(&mut out, blocks, true);
                out.raw("]");
            }
            _ => out.null(),
        }
        out.raw(",");
        output::write_human_loop(&mut out, parsed.human_loop_activation_output.as_ref());
        out.raw(",");
        out.key("analyzeDocumentModelVersion");
        out.opt_str(parsed.analyze_document_model_version.as_deref());
        if let Some(summary) = self.summary {
            out.raw(",");
            out.raw(summary);
        }
        if let Some(stored) = stored {
            out.raw(",");
            stored.write(&mut out);
        }
        out.raw("}");
        out.buf
    }
}

#[cfg(test)]
mod tests {
    //! The result's options beyond Camunda, end to end over the fake host.
    use crate::execute;
    use crate::platform::fake::FakeHost;
    use crate::platform::http::HttpResponse;
    use serde_json::{json, Value};

    fn run(advanced: Value, answers: Vec<Value>) -> (String, FakeHost) {
        let input = json!({
            "authentication": {"accessKey": "AKIDEXAMPLE", "secretKey": "secret"},
            "configuration": {"region": "us-east-1"},
            "input": {"executionType": "SYNC", "documentS3Bucket": "docs", "documentName": "a.png",
                      "analyzeForms": true, "analyzeQueries": true, "query": "Gross pay?",
                      "queries": [{"text": "Net pay?", "alias": "net", "pages": ["1"]}]},
            "advanced": advanced
        });
        let mut host = FakeHost::answering(
            answers
                .into_iter()
                .map(|body| {
                    Ok(HttpResponse {
                        status: 200,
                        headers: vec![("x-amzn-requestid".into(), "req-1".into())],
                        body: body.to_string().into_bytes(),
                    })
                })
                .collect(),
        );
        let out = host.run(|ctx| execute(ctx, &input.to_string())).unwrap();
        (out, host)
    }

    fn analyzed() -> Value {
        json!({"DocumentMetadata": {"Pages": 1}, "Blocks": [
            {"BlockType": "PAGE", "Id": "p"},
            {"BlockType": "LINE", "Id": "l", "Text": "Net pay 10.00", "Confidence": 99.0},
            {"BlockType": "QUERY", "Id": "q", "Query": {"Text": "Net pay?", "Alias": "net"},
             "Relationships": [{"Type": "ANSWER", "Ids": ["r"]}]},
            {"BlockType": "QUERY_RESULT", "Id": "r", "Text": "10.00", "Confidence": 97.5}
        ], "AnalyzeDocumentModelVersion": "1.0"})
    }

    const SUMMARY: &str = r#""summary":{"pages":[{"page":1,"lines":["Net pay 10.00"],"layout":null}],"keyValues":[],"tables":[],"queries":{"net":{"text":"Net pay?","answer":"10.00","confidence":97.5,"page":1,"answers":[{"answer":"10.00","confidence":97.5,"page":1}]}},"signatures":[]}"#;

    #[test]
    fn the_summary_is_added_after_camundas_fields_which_stay_as_they_were() {
        let (plain, host) = run(json!({}), vec![analyzed()]);
        assert!(!plain.contains("\"summary\""));
        // Both query forms, in order, in one QueriesConfig.
        let sent: Value = serde_json::from_slice(&host.http.requests[0].body).unwrap();
        assert_eq!(
            sent["QueriesConfig"],
            json!({"Queries": [{"Text": "Gross pay?"}, {"Text": "Net pay?", "Alias": "net", "Pages": ["1"]}]})
        );

        let (with_summary, _) = run(json!({"summary": true}), vec![analyzed()]);
        let camunda = plain.strip_suffix('}').unwrap();
        assert_eq!(with_summary, format!("{camunda},{SUMMARY}}}"));

        let (without_blocks, _) = run(json!({"summary": true, "blocks": false}), vec![analyzed()]);
        let blocks_at = camunda.find(r#""blocks":["#).unwrap();
        let after_blocks = camunda.find(r#","humanLoopActivationOutput""#).unwrap();
        assert_eq!(
            without_blocks,
            format!(
                "{}\"blocks\":null{},{SUMMARY}}}",
                &camunda[..blocks_at],
                &camunda[after_blocks..]
            )
        );
    }

    #[test]
    fn a_stored_result_keeps_its_summary_inline() {
        let stored = json!({});
        let (out, host) = run(
            json!({"summary": true, "resultS3Bucket": "results", "maxResultBytes": 100}),
            vec![analyzed(), stored],
        );
        let full = String::from_utf8(host.http.requests[1].body.clone()).unwrap();
        assert!(full.contains(r#""blocks":[{"#) && full.ends_with(&format!(",{SUMMARY}}}")));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["blocks"], Value::Null);
        assert_eq!(v["summary"]["queries"]["net"]["answer"], "10.00");
        let at = |key: &str| out.find(&format!("\"{key}\":")).unwrap();
        assert!(at("analyzeDocumentModelVersion") < at("summary"));
        assert!(at("summary") < at("blockCount") && at("blockCount") < at("resultS3Object"));
    }
}
