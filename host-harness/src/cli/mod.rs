//! What the CLI's commands do beyond one execution: `run-many` over a folder
//! of inputs, the human summary of a result, and writing to stdout.

pub mod many;
pub mod stdout;
pub mod summary;
