//! Runs a validated task by its execution type. Each submodule owns one type.

pub mod realtime;

use crate::error::{Error, Result};
use crate::input::ExecutionType;
use crate::validation::Task;
use crate::runtime::Context;

pub fn run(ctx: &mut Context<'_>, task: &Task) -> Result<String> {
    match task.execution {
        ExecutionType::Sync => realtime::run(ctx, task),
        other => Err(Error::InvalidInput {
            code: "ExecutionTypeNotSupported",
            message: format!("The execution type {other:?} is not supported by this connector version yet; use SYNC"),
        }),
    }
}
