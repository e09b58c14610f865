//! The runtime's document store, as the connector sees it: read a stored
//! document's bytes (and, for results, store new ones). In the component this is
//! the `document-store` WIT import; in tests an in-memory map.

/// The document store behind `camunda` documents (a WIT import in the component).
pub trait DocumentStore {
    /// `content_hash` is passed on to the store; the connector checks the bytes against it too.
    fn read(
        &mut self,
        store_id: Option<&str>,
        document_id: &str,
        content_hash: Option<&str>,
    ) -> std::result::Result<Vec<u8>, StoreError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    NotFound,
    Denied(String),
    Unavailable(String),
}
