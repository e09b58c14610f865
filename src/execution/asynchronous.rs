//! ASYNC: one StartDocumentAnalysis with every optional field the input gives,
//! returning the job id without waiting (Camunda's ASYNC result shape). A
//! Camunda document is staged in S3 first and left there for Textract to read;
//! the result then also names the staged object.

use crate::camunda::output::{self, JsonOut};
use crate::camunda::validation::Task;
use crate::error::Result;
use crate::platform::Context;

pub fn run(ctx: &mut Context<'_>, task: &Task) -> Result<String> {
    let token = super::job::client_request_token(ctx, task);
    let document = super::job::job_document(ctx, task, &token)?;
    let (response, job_id) = super::job::start_job(ctx, task, &document, &token, true)?;
    ctx.platform.progress(&format!("textract: started job {job_id}"));
    let mut out = JsonOut::with_capacity(768);
    out.raw("{");
    output::write_sdk_metadata(&mut out, &response);
    out.raw(",");
    out.key("jobId");
    out.str(&job_id);
    if document.staged {
        out.raw(",");
        out.key("stagedDocument");
        out.raw("{");
        out.key("bucket");
        out.str(&document.bucket);
        out.raw(",");
        out.key("key");
        out.str(&document.key);
        out.raw(",");
        out.key("versionId");
        out.opt_str(document.version.as_deref());
        out.raw("}");
    }
    out.raw("}");
    Ok(out.buf)
}
