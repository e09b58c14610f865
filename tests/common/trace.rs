//! Reads the canonical request that the `aws-sigv4` crate computed from its
//! trace events (it traces it, with the session token masked, and no string to
//! sign on the header path).

use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{span, Event, Metadata, Subscriber};

#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<(String, String)>>>);

struct Fields<'a>(&'a Mutex<Vec<(String, String)>>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .lock()
            .unwrap()
            .push((field.name().to_string(), format!("{value:?}")));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        event.record(&mut Fields(&self.0));
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

impl Capture {
    /// The last value of a traced field.
    pub fn field(&self, name: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// The canonical request with the session token put back.
    pub fn canonical_request(&self, session_token: Option<&str>) -> Option<String> {
        let mut canonical = self.field("canonical_request")?;
        if let Some(t) = session_token {
            canonical = canonical.replace(&format!("** redacted (length={}) **", t.len()), t);
        }
        Some(canonical)
    }
}

/// SigV4's string to sign for a canonical request.
pub fn string_to_sign(canonical: &str, amz_date: &str, region: &str, service: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}/{region}/{service}/aws4_request\n{hash}",
        &amz_date[..8]
    )
}
