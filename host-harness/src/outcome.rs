//! How an execution failed, as the tenant sees it: the connector's own typed
//! error, or the runtime's when it stopped the execution. The engine and the
//! transport both produce it; the CLI and the worker report it.

use serde::Serialize;

/// The execution's error, as the CLI prints it: the connector's own, or the
/// runtime's when it stopped the execution (kind `limit-exceeded` or `internal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct GuestError {
    pub kind: String,
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

impl GuestError {
    pub fn limit(code: &str, message: String) -> Self {
        GuestError {
            kind: "limit-exceeded".into(),
            code: code.into(),
            message,
            retryable: false,
        }
    }
}
