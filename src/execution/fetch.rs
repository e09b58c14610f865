//! FETCH (beyond Camunda): collect the results of an earlier ASYNC job by its
//! id, in the POLLING result shape. A job still running is a retryable error.

use crate::camunda::validation::Task;
use crate::error::{Error, Result};
use crate::platform::Context;

pub fn run(ctx: &mut Context<'_>, task: &Task) -> Result<String> {
    let job_id = task
        .job_id
        .as_deref()
        .ok_or_else(|| Error::Internal("FETCH task without a job id".into()))?;
    let response = super::job::get_page(ctx, task, job_id, None)?;
    let page = super::job::parse_page(&response)?;
    match page.job_status.as_deref() {
        Some("IN_PROGRESS") => Err(Error::JobPending {
            code: "JobInProgress",
            message: format!("Textract job {job_id} is still IN_PROGRESS; fetch its results again later"),
        }),
        _ => super::polling::finish(ctx, task, job_id, &response, page),
    }
}
