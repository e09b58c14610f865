//! The Textract job calls that POLLING, ASYNC and FETCH share: the document a
//! job reads (staged to S3 when it is a Camunda document), the request token,
//! StartDocumentAnalysis and one GetDocumentAnalysis page.

use crate::aws::retry;
use crate::aws::s3::S3Client;
use crate::aws::textract::{
    self, DocumentLocation, GetDocumentAnalysisRequest, GetDocumentAnalysisResponse, NotificationChannel, OutputConfig,
    QueriesConfig, QueryInput, S3Object, StartDocumentAnalysisRequest, StartDocumentAnalysisResponse,
};
use crate::camunda::document;
use crate::camunda::validation::{Source, Task};
use crate::error::{Error, Result};
use crate::platform::http::HttpResponse;
use crate::platform::Context;

/// The most results GetDocumentAnalysis returns per page.
pub const MAX_RESULTS: u32 = 1000;

/// The S3 object a job reads, and whether this execution put it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobDocument {
    pub bucket: String,
    pub key: String,
    pub version: Option<String>,
    /// Uploaded by this execution from a Camunda document.
    pub staged: bool,
}

impl JobDocument {
    fn s3_object(&self) -> S3Object<'_> {
        S3Object {
            bucket: &self.bucket,
            name: &self.key,
            version: self.version.as_deref(),
        }
    }
}

pub(crate) fn s3_client(task: &Task) -> S3Client<'_> {
    let aws = task.aws();
    S3Client {
        credentials: aws.credentials,
        region: aws.region,
        endpoint_override: aws.endpoint_override,
        retry: aws.retry,
    }
}

/// The object a job analyses: the task's S3 location, or its Camunda document
/// uploaded (beyond Camunda) to `documentS3Bucket` under the staging prefix, a
/// per-execution token and the document's file name.
pub(crate) fn job_document(ctx: &mut Context<'_>, task: &Task, token: &str) -> Result<JobDocument> {
    match &task.source {
        Some(Source::S3 { bucket, name, version }) => Ok(JobDocument {
            bucket: bucket.clone(),
            key: name.clone(),
            version: version.clone(),
            staged: false,
        }),
        Some(Source::Document(reference, bucket)) => {
            let bucket = bucket
                .clone()
                .ok_or_else(|| Error::Internal("a staged document without a bucket passed validation".into()))?;
            let doc = document::load(ctx, reference)?;
            document::check_async_size(&doc)?;
            let key = format!("{}{token}/{}", task.storage.staging_prefix, doc.key_name());
            ctx.platform.progress(&format!(
                "textract: uploading the {} document ({} bytes) to s3://{bucket}/{key}",
                doc.format.name(),
                doc.bytes.len()
            ));
            let stored = s3_client(task).put_object(ctx, &bucket, &key, &doc.bytes, doc.format.content_type())?;
            Ok(JobDocument {
                bucket,
                key,
                version: stored.version_id,
                staged: true,
            })
        }
        None => Err(Error::Internal("job task without a document source".into())),
    }
}

/// The user's ClientRequestToken, or one made for this execution. Either way
/// it is the same on every retry, so a retried Start cannot start a second job.
pub(crate) fn client_request_token(ctx: &mut Context<'_>, task: &Task) -> String {
    match &task.async_options.client_request_token {
        Some(token) => token.clone(),
        None => format!(
            "tc-{:016x}{:016x}",
            ctx.platform.random_u64(),
            ctx.platform.random_u64()
        ),
    }
}

/// The task's queries (`input.query`, then `input.queries`) as Textract's
/// QueriesConfig, for AnalyzeDocument and StartDocumentAnalysis alike.
pub(crate) fn queries_config(task: &Task) -> Option<QueriesConfig<'_>> {
    QueriesConfig::from_queries(
        task.queries
            .iter()
            .map(|q| QueryInput {
                text: &q.text,
                alias: q.alias.as_deref(),
                pages: q.pages.as_deref(),
            })
            .collect(),
    )
}

/// One StartDocumentAnalysis (with retries); returns the response and the job id.
/// `with_async_options` adds JobTag, KMSKeyId, NotificationChannel and OutputConfig.
pub(crate) fn start_job(
    ctx: &mut Context<'_>,
    task: &Task,
    document: &JobDocument,
    token: &str,
    with_async_options: bool,
) -> Result<(HttpResponse, String)> {
    const OPERATION: &str = "StartDocumentAnalysis";
    let o = &task.async_options;
    let request = StartDocumentAnalysisRequest {
        document_location: DocumentLocation {
            s3_object: document.s3_object(),
        },
        feature_types: &task.features,
        queries_config: queries_config(task),
        client_request_token: Some(token),
        job_tag: o.job_tag.as_deref().filter(|_| with_async_options),
        kms_key_id: o.kms_key_id.as_deref().filter(|_| with_async_options),
        notification_channel: o
            .notification
            .as_ref()
            .filter(|_| with_async_options)
            .map(|(role, topic)| NotificationChannel {
                sns_topic_arn: topic,
                role_arn: role,
            }),
        output_config: o
            .output
            .as_ref()
            .filter(|_| with_async_options)
            .map(|(bucket, prefix)| OutputConfig {
                s3_bucket: bucket,
                s3_prefix: prefix.as_deref(),
            }),
    };
    let body = serde_json::to_vec(&request).map_err(|e| Error::Internal(format!("request encoding: {e}")))?;
    let response = retry::run(ctx, task.retry, OPERATION, |ctx| {
        textract::call(ctx, &task.aws(), OPERATION, body.clone())
    })?;
    let parsed: StartDocumentAnalysisResponse = textract::parse_body(OPERATION, &response.body)?;
    let job_id = parsed
        .job_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Error::UnexpectedResponse("StartDocumentAnalysis returned no JobId".into()))?;
    Ok((response, job_id))
}

/// One GetDocumentAnalysis page (with retries). The caller parses the body
/// with `textract::parse_body`, borrowing from it while it renders the page.
pub(crate) fn get_page(
    ctx: &mut Context<'_>,
    task: &Task,
    job_id: &str,
    next_token: Option<&str>,
) -> Result<HttpResponse> {
    const OPERATION: &str = "GetDocumentAnalysis";
    let request = GetDocumentAnalysisRequest {
        job_id,
        max_results: MAX_RESULTS,
        next_token,
    };
    let body = serde_json::to_vec(&request).map_err(|e| Error::Internal(format!("request encoding: {e}")))?;
    retry::run(ctx, task.retry, OPERATION, |ctx| {
        textract::call(ctx, &task.aws(), OPERATION, body.clone())
    })
}

/// Parses a page fetched by [`get_page`].
pub(crate) fn parse_page(response: &HttpResponse) -> Result<GetDocumentAnalysisResponse<'_>> {
    textract::parse_body("GetDocumentAnalysis", &response.body)
}
