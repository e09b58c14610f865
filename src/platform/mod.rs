//! The platform seam: everything an execution needs from its host (HTTP, time,
//! randomness, progress output, granted environment and files, the document
//! store, the runtime mode), as traits. It is the bottom layer: it depends on
//! nothing above it, and everything above reaches the host only through it.
//! `wasi` implements it in the component; `fake` in unit tests.

pub mod documents;
#[cfg(test)]
pub mod fake;
pub mod http;
#[cfg(target_arch = "wasm32")]
pub mod wasi;

use documents::DocumentStore;
use http::HttpClient;
use std::time::{Duration, SystemTime};

/// Whether the runtime is multi-tenant (SaaS) or run by the customer (self-managed).
/// The runtime says so (a WIT import); the input never can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeMode {
    #[default]
    Saas,
    SelfManaged,
}

/// Time, randomness and progress output, as the host grants them. In the
/// component these are wasi's clocks, `wasi:random` and stderr.
pub trait Platform {
    /// Wall-clock time, for `x-amz-date`.
    fn now(&self) -> SystemTime;
    /// Monotonic time since an arbitrary origin, for poll windows.
    fn monotonic(&self) -> Duration;
    fn sleep(&mut self, duration: Duration);
    fn random_u64(&mut self) -> u64;
    /// One short progress line for the operator (stderr in the component).
    fn progress(&mut self, line: &str);
    /// An environment variable the runtime granted (none in SaaS mode).
    fn env(&self, name: &str) -> Option<String>;
    /// A file the runtime granted (none in SaaS mode); the error says why not.
    fn read_file(&self, path: &str) -> std::result::Result<Vec<u8>, String>;
    /// Whether the operator admitted `host:port` explicitly (`--allow-host`).
    fn operator_allows(&self, host: &str, port: u16) -> bool;
    /// The execution's memory limit in bytes, when the runtime says.
    fn memory_limit(&self) -> Option<u64>;
}

/// A value from the input or the network, made safe for one line of the
/// operator's log: control characters (a forged newline, an ANSI escape) are
/// written as `\u{..}` escapes.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The host services of one execution.
pub struct Context<'a> {
    pub http: &'a mut dyn HttpClient,
    pub platform: &'a mut dyn Platform,
    pub documents: &'a mut dyn DocumentStore,
    pub mode: RuntimeMode,
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn log_values_cannot_forge_lines() {
        assert_eq!(printable("job-1"), "job-1");
        assert_eq!(printable("a\nINFO forged\u{1b}[31m"), "a\\u{a}INFO forged\\u{1b}[31m");
    }
}
