//! Test support shared by the integration tests and the bench: the runner of
//! the recorded scenarios under `tests/`, and large recordings generated from
//! real Textract responses instead of committed.

pub mod generated;
pub mod scenario;
