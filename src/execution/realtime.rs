//! SYNC ("real-time"): one `AnalyzeDocument` call on an S3 object or on the
//! bytes of a Camunda document, returned in Camunda's SYNC result shape.

use super::result_store::{self, StoredResult};
use crate::aws::retry;
use crate::aws::textract::{
    self, AnalyzeDocumentRequest, AnalyzeDocumentResponse, DocumentInput, QueriesConfig, S3Object,
};
use crate::camunda::document;
use crate::camunda::output::{self, JsonOut};
use crate::camunda::validation::{Source, Task};
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
        queries_config: QueriesConfig::from_query(task.query.as_deref()),
    };
    let body = serde_json::to_vec(&request).map_err(|e| Error::Internal(format!("request encoding: {e}")))?;
    drop(request);

    let response = retry::run(ctx, task.retry, OPERATION, |ctx| {
        textract::call(ctx, &task.aws(), OPERATION, body.clone())
    })?;
    drop(body);
    let parsed: AnalyzeDocumentResponse = textract::parse_body(OPERATION, &response.body)?;

    let full = render(&response, &parsed, None);
    result_store::check_size(ctx, task, full.len())?;
    let name = response
        .header("x-amzn-requestid")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{:016x}", ctx.platform.random_u64()));
    let blocks = parsed.blocks.as_ref().map_or(0, Vec::len);
    match result_store::store_if_too_large(ctx, task, &full, &name, blocks)? {
        Some(stored) => Ok(render(&response, &parsed, Some(&stored))),
        None => Ok(full),
    }
}

/// The SYNC result; with `stored`, a summary whose blocks live in S3.
fn render(response: &HttpResponse, parsed: &AnalyzeDocumentResponse, stored: Option<&StoredResult>) -> String {
    let mut out = JsonOut::with_capacity(if stored.is_some() { 2048 } else { response.body.len() });
    out.raw("{");
    output::write_sdk_metadata(&mut out, response);
    out.raw(",");
    output::write_document_metadata(&mut out, parsed.document_metadata.as_ref());
    out.raw(",");
    out.key("blocks");
    match (&parsed.blocks, stored) {
        (Some(blocks), None) => {
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
    if let Some(stored) = stored {
        out.raw(",");
        stored.write(&mut out);
    }
    out.raw("}");
    out.buf
}
