//! The runtime's side of the `document-store` import: where an execution's
//! `camunda` documents come from. The CLI serves one folder (`--documents`); the
//! worker serves the cluster's document API. Both refuse ids that could name
//! anything but one document, and documents larger than any Textract call takes.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

/// The largest document a store hands out: Textract's 500 MB async limit, and some.
pub const MAX_DOCUMENT_BYTES: u64 = 512 * 1024 * 1024;

/// Why a store did not hand a document out (the `read-error` of the WIT import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// No document with that id in that store.
    NotFound,
    /// This execution may not have it.
    Denied(String),
    /// The store cannot answer now (it may later).
    Unavailable(String),
}

pub type ReadFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, ReadError>> + Send + 'a>>;

/// A store of Camunda documents, shared by the executions of one runtime.
pub trait DocumentStore: Send + Sync {
    /// The bytes of one document (the reference's `storeId`, `documentId` and `contentHash`).
    fn read<'a>(&'a self, store_id: Option<&'a str>, document_id: &'a str, content_hash: Option<&'a str>)
        -> ReadFuture<'a>;
}

/// Whether an id can only name one document: no separators, no parent or
/// hidden entries, no control characters, and not absurdly long.
pub fn plain_id(document_id: &str) -> Result<(), ReadError> {
    let plain = !document_id.is_empty()
        && document_id.len() <= 1024
        && !document_id.starts_with('.')
        && !document_id.contains(['/', '\\'])
        && !document_id.chars().any(char::is_control);
    match plain {
        true => Ok(()),
        false => Err(ReadError::Denied(format!(
            "'{}' is not a document id",
            crate::engine::runtime_log::escape_controls(&document_id.chars().take(100).collect::<String>())
        ))),
    }
}

/// One file per document id in a folder (the CLI's `--documents DIR`).
pub struct FolderStore {
    dir: PathBuf,
}

impl FolderStore {
    pub fn shared(dir: PathBuf) -> Arc<dyn DocumentStore> {
        Arc::new(FolderStore { dir })
    }
}

impl DocumentStore for FolderStore {
    fn read<'a>(&'a self, _store_id: Option<&'a str>, document_id: &'a str, _hash: Option<&'a str>) -> ReadFuture<'a> {
        Box::pin(async move {
            plain_id(document_id)?;
            let path = self.dir.join(document_id);
            match std::fs::metadata(&path) {
                Err(_) => return Err(ReadError::NotFound),
                Ok(meta) if !meta.is_file() => return Err(ReadError::NotFound),
                Ok(meta) if meta.len() > MAX_DOCUMENT_BYTES => {
                    return Err(ReadError::Denied(format!(
                        "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
                    )))
                }
                Ok(_) => {}
            }
            std::fs::read(&path).map_err(|e| ReadError::Unavailable(e.kind().to_string()))
        })
    }
}
