//! What the CLI's commands do beyond one execution: `run-many` over a folder
//! of inputs, and the human summary of a result.

pub mod many;
pub mod summary;
