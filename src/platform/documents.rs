//! The runtime's document store, as the connector sees it: read a stored
//! document's bytes, and store a new one (a result, with `documentReturnFormat`
//! DOCUMENT). In the component this is the `document-store` WIT import; in tests
//! an in-memory map.

/// A document's `contentHash` as Camunda's document store writes it: the SHA-256
/// of its bytes in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The document store behind `camunda` documents (a WIT import in the component).
pub trait DocumentStore {
    /// `content_hash` is passed on to the store; the connector checks the bytes against it too.
    fn read(
        &mut self,
        store_id: Option<&str>,
        document_id: &str,
        content_hash: Option<&str>,
    ) -> std::result::Result<Vec<u8>, StoreError>;

    /// Stores `content` as a new document; the answer is its Camunda document
    /// reference as JSON text (`{"camunda.document.type": "camunda", "storeId", "documentId",
    /// "contentHash", "metadata": {...}}`). A store that only reads cannot.
    fn create(
        &mut self,
        _content: &[u8],
        _content_type: &str,
        _file_name: &str,
    ) -> std::result::Result<String, CreateError> {
        Err(CreateError::Unsupported("this document store only reads documents".into()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    NotFound,
    Denied(String),
    Unavailable(String),
}

/// Why a store did not create a document (the WIT `create-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateError {
    /// The runtime has no store that can create documents.
    Unsupported(String),
    /// The store refuses this document (its size, type, or this execution).
    Denied(String),
    /// The store cannot answer now (it may later).
    Unavailable(String),
}
