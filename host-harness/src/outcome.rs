//! How an execution failed, as the tenant sees it: the connector's own typed
//! error, or the runtime's when it stopped the execution or refused its input.
//! The engine, the transport and the CLI produce it; the CLI and the worker report it.

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

    /// Input bytes that are not UTF-8 text; `offset` is where the first invalid byte is.
    pub fn input_not_utf8(offset: usize) -> Self {
        GuestError {
            kind: "invalid-input".into(),
            code: "InputNotUtf8".into(),
            message: format!("The input is not UTF-8 text (invalid byte at offset {offset})"),
            retryable: false,
        }
    }
}

/// The input as text, or the tenant's `InputNotUtf8` error: the guest takes a
/// string, so bytes that are not text are refused before it is instantiated.
pub fn input_text(bytes: Vec<u8>) -> Result<String, GuestError> {
    String::from_utf8(bytes).map_err(|e| GuestError::input_not_utf8(e.utf8_error().valid_up_to()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_that_is_not_utf8_names_the_first_bad_byte() {
        assert_eq!(input_text(b"{\"a\":1}".to_vec()).as_deref(), Ok("{\"a\":1}"));
        let e = input_text(b"{\"name\":\"caf\xe9\"}".to_vec()).unwrap_err();
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"kind":"invalid-input","code":"InputNotUtf8","message":"The input is not UTF-8 text (invalid byte at offset 12)","retryable":false}"#
        );
    }
}
