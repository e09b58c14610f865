//! The entry point: JSON variables in, Camunda-shaped JSON result out. It ties
//! the Camunda side (binding, validation), the AWS side (the default credentials
//! chain) and execution together; the WIT glue in `lib.rs` calls it, and so do
//! native tests and the bench.

use crate::aws::credentials::chain;
use crate::camunda::{input, validation};
use crate::error::Result;
use crate::execution;
use crate::platform::{Context, RuntimeMode};

/// Runs one task: JSON variables in, Camunda-shaped JSON result out.
pub fn execute(ctx: &mut Context<'_>, raw_input: &str) -> Result<String> {
    let mut parsed = input::parse(raw_input)?;
    let chain = parsed.auth == Some(input::Auth::DefaultChain) && ctx.mode == RuntimeMode::SelfManaged;
    if chain && parsed.region.as_deref().is_none_or(|r| r.trim().is_empty()) {
        // The chain's grants may name the region (AWS_REGION, the profile).
        parsed.region = chain::resolve_region(ctx.platform);
    }
    let mut task = validation::validate(parsed, ctx.mode)?;
    if task.default_chain {
        let (credentials, source) = chain::resolve(ctx, &task.region, task.endpoint_override.as_ref())?;
        ctx.platform.progress(&format!(
            "textract: using credentials from {source} (access key {})",
            credentials.redacted_key_id()
        ));
        task.credentials = credentials;
    }
    execution::run(ctx, &task)
}
