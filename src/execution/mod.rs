//! Runs a validated task by its execution type. Each submodule owns one type;
//! `job` holds the Textract job calls POLLING, ASYNC and FETCH share,
//! `result_store` the offload of large results, and `result_document` the
//! DOCUMENT return format.

pub mod asynchronous;
pub mod fetch;
pub mod job;
pub mod polling;
pub mod realtime;
pub mod result_document;
pub mod result_store;

use crate::camunda::input::{ExecutionType, ReturnFormat};
use crate::camunda::validation::Task;
use crate::error::Result;
use crate::platform::Context;

pub fn run(ctx: &mut Context<'_>, task: &Task) -> Result<String> {
    let result = match task.execution {
        ExecutionType::Sync => realtime::run(ctx, task),
        ExecutionType::Polling => polling::run(ctx, task),
        ExecutionType::Async => asynchronous::run(ctx, task),
        ExecutionType::Fetch => fetch::run(ctx, task),
    }?;
    match task.return_format {
        ReturnFormat::Json => Ok(result),
        ReturnFormat::Document => result_document::store(ctx, result),
    }
}
