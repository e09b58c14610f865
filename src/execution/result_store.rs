//! Results too large for a process variable (beyond Camunda). Camunda users hit
//! a limit of about 4 MB per variable with multi-page results: when a result is
//! over `advanced.maxResultBytes` and `advanced.resultS3Bucket` is set, the full
//! JSON goes to S3 and the task returns a summary that points at it.

use crate::camunda::output::JsonOut;
use crate::camunda::validation::Task;
use crate::error::{Error, Result};
use crate::platform::documents::sha256_hex;
use crate::platform::Context;

/// The share of the execution's memory a result may take while it is built:
/// the response, its parsed blocks and the growing output share the rest.
const MEMORY_SHARE: u64 = 4;
/// The budget when the runtime does not say (native runs and tests).
const DEFAULT_BUDGET: usize = 256 * 1024 * 1024;

/// The most bytes a result may grow to in this execution.
pub fn budget(ctx: &Context<'_>) -> usize {
    match ctx.platform.memory_limit() {
        Some(limit) => usize::try_from(limit / MEMORY_SHARE).unwrap_or(usize::MAX),
        None => DEFAULT_BUDGET,
    }
}

/// Fails with a plain error once a result being built passes [`budget`],
/// before the execution's memory runs out.
pub fn check_size(ctx: &Context<'_>, task: &Task, bytes: usize) -> Result<()> {
    let limit = budget(ctx);
    if bytes <= limit {
        return Ok(());
    }
    let advice = if task.storage.result_bucket.is_some() {
        "too large to build even for advanced.resultS3Bucket; analyse fewer pages per task, or ask the operator \
         for a larger memory limit"
    } else {
        "set advanced.resultS3Bucket to store large results in S3, or analyse fewer pages per task"
    };
    Err(Error::InvalidInput {
        code: "ResultTooLarge",
        message: format!(
            "The result grew past {limit} bytes, the most this runtime builds for one execution: {advice}"
        ),
    })
}

/// Where a full result was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    pub bucket: String,
    pub key: String,
    pub bytes: usize,
    pub sha256: String,
    pub block_count: usize,
}

impl StoredResult {
    /// Writes `"blockCount":N,"resultS3Object":{bucket,key,bytes,sha256}`.
    pub fn write(&self, out: &mut JsonOut) {
        out.key("blockCount");
        out.int(self.block_count as i64);
        out.raw(",");
        out.key("resultS3Object");
        out.raw("{");
        out.key("bucket");
        out.str(&self.bucket);
        out.raw(",");
        out.key("key");
        out.str(&self.key);
        out.raw(",");
        out.key("bytes");
        out.int(self.bytes as i64);
        out.raw(",");
        out.key("sha256");
        out.str(&self.sha256);
        out.raw("}");
    }
}

/// Stores `full` when it is too large and a bucket is configured; returns where.
/// `name` makes the key unique (a job id or a request id).
pub fn store_if_too_large(
    ctx: &mut Context<'_>,
    task: &Task,
    full: &str,
    name: &str,
    block_count: usize,
) -> Result<Option<StoredResult>> {
    let Some(bucket) = task.storage.result_bucket.as_deref() else {
        return Ok(None);
    };
    if full.len() <= task.storage.max_result_bytes {
        return Ok(None);
    }
    let key = format!("{}{name}.json", task.storage.result_prefix);
    ctx.platform.progress(&format!(
        "textract: the result is {} bytes, over advanced.maxResultBytes ({}); storing it at s3://{bucket}/{key}",
        full.len(),
        task.storage.max_result_bytes
    ));
    super::job::s3_client(task).put_object(ctx, bucket, &key, full.as_bytes(), "application/json")?;
    Ok(Some(StoredResult {
        bucket: bucket.to_string(),
        key,
        bytes: full.len(),
        sha256: sha256_hex(full.as_bytes()),
        block_count,
    }))
}
