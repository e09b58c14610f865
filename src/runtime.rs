//! What an execution needs from its host, and the entry point that ties input
//! parsing, validation and execution together. Everything here is pure over the
//! [`HttpClient`] and [`Clock`] seams, so it runs natively in unit tests.

use crate::error::Result;
use crate::http::HttpClient;
use crate::validation::RuntimeMode;
use crate::{execution, input, validation};
use std::time::SystemTime;

/// Time as the host grants it. In the component this is wasi's wall clock.
pub trait Clock {
    fn now(&self) -> SystemTime;
}

/// The host services of one execution.
pub struct Context<'a> {
    pub http: &'a mut dyn HttpClient,
    pub clock: &'a dyn Clock,
    pub mode: RuntimeMode,
}

/// Runs one task: JSON variables in, Camunda-shaped JSON result out.
pub fn execute(ctx: &mut Context<'_>, raw_input: &str) -> Result<String> {
    let parsed = input::parse(raw_input)?;
    let task = validation::validate(parsed, ctx.mode)?;
    execution::run(ctx, &task)
}
