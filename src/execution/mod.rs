//! Runs a validated task by its execution type. Each submodule owns one type;
//! the Textract job calls they share live here.

pub mod asynchronous;
pub mod fetch;
pub mod polling;
pub mod realtime;

use crate::error::{Error, Result};
use crate::http::HttpResponse;
use crate::input::ExecutionType;
use crate::retry;
use crate::runtime::Context;
use crate::textract::{
    self, DocumentLocation, GetDocumentAnalysisRequest, GetDocumentAnalysisResponse, NotificationChannel,
    OutputConfig, QueriesConfig, S3Object, StartDocumentAnalysisRequest, StartDocumentAnalysisResponse,
};
use crate::validation::{Source, Task};

/// The most results GetDocumentAnalysis returns per page.
pub const MAX_RESULTS: u32 = 1000;

pub fn run(ctx: &mut Context<'_>, task: &Task) -> Result<String> {
    match task.execution {
        ExecutionType::Sync => realtime::run(ctx, task),
        ExecutionType::Polling => polling::run(ctx, task),
        ExecutionType::Async => asynchronous::run(ctx, task),
        ExecutionType::Fetch => fetch::run(ctx, task),
    }
}

/// The S3 object a job reads.
fn s3_location(task: &Task) -> Result<S3Object<'_>> {
    match &task.source {
        Some(Source::S3 { bucket, name, version }) => Ok(S3Object { bucket, name, version: version.as_deref() }),
        Some(Source::Document(_)) => Err(Error::InvalidInput {
            code: "DocumentNeedsS3",
            message: "POLLING and ASYNC analyse a document in S3; this connector version takes Camunda documents \
                      only in SYNC. Give documentS3Bucket and documentName instead"
                .into(),
        }),
        None => Err(Error::Internal("job task without a document source".into())),
    }
}

/// The user's ClientRequestToken, or one made for this execution. Either way
/// it is the same on every retry, so a retried Start cannot start a second job.
fn client_request_token(ctx: &mut Context<'_>, task: &Task) -> String {
    match &task.async_options.client_request_token {
        Some(token) => token.clone(),
        None => format!("tc-{:016x}{:016x}", ctx.platform.random_u64(), ctx.platform.random_u64()),
    }
}

/// One StartDocumentAnalysis (with retries); returns the response and the job id.
/// `with_async_options` adds JobTag, KMSKeyId, NotificationChannel and OutputConfig.
fn start_job(ctx: &mut Context<'_>, task: &Task, token: &str, with_async_options: bool) -> Result<(HttpResponse, String)> {
    const OPERATION: &str = "StartDocumentAnalysis";
    let o = &task.async_options;
    let request = StartDocumentAnalysisRequest {
        document_location: DocumentLocation { s3_object: s3_location(task)? },
        feature_types: &task.features,
        queries_config: QueriesConfig::from_query(task.query.as_deref()),
        client_request_token: Some(token),
        job_tag: o.job_tag.as_deref().filter(|_| with_async_options),
        kms_key_id: o.kms_key_id.as_deref().filter(|_| with_async_options),
        notification_channel: o
            .notification
            .as_ref()
            .filter(|_| with_async_options)
            .map(|(role, topic)| NotificationChannel { sns_topic_arn: topic, role_arn: role }),
        output_config: o
            .output
            .as_ref()
            .filter(|_| with_async_options)
            .map(|(bucket, prefix)| OutputConfig { s3_bucket: bucket, s3_prefix: prefix.as_deref() }),
    };
    let body = serde_json::to_vec(&request).map_err(|e| Error::Internal(format!("request encoding: {e}")))?;
    let response = retry::run(ctx, task.retry, OPERATION, |ctx| textract::call(ctx, task, OPERATION, body.clone()))?;
    let parsed: StartDocumentAnalysisResponse = textract::parse_body(OPERATION, &response.body)?;
    let job_id = parsed
        .job_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Error::UnexpectedResponse("StartDocumentAnalysis returned no JobId".into()))?;
    Ok((response, job_id))
}

/// One GetDocumentAnalysis page (with retries).
fn get_page(
    ctx: &mut Context<'_>,
    task: &Task,
    job_id: &str,
    next_token: Option<&str>,
) -> Result<(HttpResponse, GetDocumentAnalysisResponse)> {
    const OPERATION: &str = "GetDocumentAnalysis";
    let request = GetDocumentAnalysisRequest { job_id, max_results: MAX_RESULTS, next_token };
    let body = serde_json::to_vec(&request).map_err(|e| Error::Internal(format!("request encoding: {e}")))?;
    let mut response = retry::run(ctx, task.retry, OPERATION, |ctx| textract::call(ctx, task, OPERATION, body.clone()))?;
    let parsed: GetDocumentAnalysisResponse = textract::parse_body(OPERATION, &response.body)?;
    // The parsed page holds everything; the raw body is not needed any more.
    response.body = Vec::new();
    Ok((response, parsed))
}
