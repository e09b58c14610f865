//! Test support shared by the integration tests and the bench: the runner of
//! the recorded scenarios under `tests/`, large recordings generated from
//! real Textract responses instead of committed, and a strict stand-in for the
//! Camunda 8 REST API that the job worker's tests run against, with a local
//! AWS that answers them.

pub mod aws_standin;
pub mod camunda;
pub mod generated;
pub mod scenario;
