//! ASYNC: one StartDocumentAnalysis with every optional field the input gives,
//! returning the job id without waiting (Camunda's ASYNC result shape).

use crate::error::Result;
use crate::output::{self, JsonOut};
use crate::runtime::Context;
use crate::validation::Task;

pub fn run(ctx: &mut Context<'_>, task: &Task) -> Result<String> {
    let token = super::client_request_token(ctx, task);
    let (response, job_id) = super::start_job(ctx, task, &token, true)?;
    ctx.platform.progress(&format!("textract: started job {job_id}"));
    let mut out = JsonOut::with_capacity(512);
    out.raw("{");
    output::write_sdk_metadata(&mut out, &response);
    out.raw(",");
    out.key("jobId");
    out.str(&job_id);
    out.raw("}");
    Ok(out.buf)
}
