//! The runtime's side of the `document-store` import: where an execution's
//! `camunda` documents come from, and where a result asked for as a document
//! reference (`documentReturnFormat` DOCUMENT) goes. The CLI serves one folder
//! (`--documents`); the worker serves the cluster's document API. Both refuse ids
//! that could name anything but one document, and documents larger than any
//! Textract call takes.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The largest document a store hands out: Textract's 500 MB async limit, and some.
pub const MAX_DOCUMENT_BYTES: u64 = 512 * 1024 * 1024;

/// Why a store refuses a document over [`MAX_DOCUMENT_BYTES`], read or created.
pub fn too_large() -> String {
    format!("the document is larger than {MAX_DOCUMENT_BYTES} bytes")
}

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

/// Why a store did not create a document (the `create-error` of the WIT import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateError {
    /// This runtime cannot store documents.
    Unsupported(String),
    /// The store refuses this document (its size, its type, this execution).
    Denied(String),
    /// The store cannot answer now (it may later).
    Unavailable(String),
}

/// The reference of a created document, as JSON text.
pub type CreateFuture<'a> = Pin<Box<dyn Future<Output = Result<String, CreateError>> + Send + 'a>>;

/// A store of Camunda documents, shared by the executions of one runtime.
pub trait DocumentStore: Send + Sync {
    /// The bytes of one document (the reference's `storeId`, `documentId` and `contentHash`).
    fn read<'a>(&'a self, store_id: Option<&'a str>, document_id: &'a str, content_hash: Option<&'a str>)
        -> ReadFuture<'a>;

    /// Stores a new document; its Camunda document reference as JSON text
    /// (`camunda.document.type`, `storeId`, `documentId`, `contentHash`, `metadata`).
    fn create<'a>(&'a self, content: Vec<u8>, content_type: &'a str, file_name: &'a str) -> CreateFuture<'a>;
}

/// The `storeId` of the documents a [`FolderStore`] creates.
pub const FOLDER_STORE_ID: &str = "local";

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
                    return Err(ReadError::Denied(too_large()))
                }
                Ok(_) => {}
            }
            std::fs::read(&path).map_err(|e| ReadError::Unavailable(e.kind().to_string()))
        })
    }

    /// Stores the bytes in the folder under their SHA-256 (hex) as the id, so the
    /// same result is one file and a replay creates the same reference, and answers
    /// `{"camunda.document.type": "camunda", "storeId": "local", "documentId", "contentHash",
    /// "metadata": {"contentType", "size", "fileName"}}`.
    fn create<'a>(&'a self, content: Vec<u8>, content_type: &'a str, file_name: &'a str) -> CreateFuture<'a> {
        Box::pin(async move {
            if content.len() as u64 > MAX_DOCUMENT_BYTES {
                return Err(CreateError::Denied(too_large()));
            }
            let hash = textract_connector::platform::documents::sha256_hex(&content);
            let path = self.dir.join(&hash);
            let stored = std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == content.len() as u64);
            if !stored {
                // Written beside it under a hidden name (never a document id), then renamed:
                // a reader sees the whole document or none.
                static WRITES: AtomicU64 = AtomicU64::new(0);
                let n = WRITES.fetch_add(1, Ordering::Relaxed);
                let temporary = self.dir.join(format!(".{hash}.{}.{n}.tmp", std::process::id()));
                std::fs::write(&temporary, &content)
                    .and_then(|()| std::fs::rename(&temporary, &path))
                    .map_err(|e| {
                        std::fs::remove_file(&temporary).ok();
                        CreateError::Unavailable(format!("the document folder cannot be written: {}", e.kind()))
                    })?;
            }
            let reference = serde_json::json!({
                "camunda.document.type": "camunda",
                "storeId": FOLDER_STORE_ID,
                "documentId": hash,
                "contentHash": hash,
                "metadata": {"contentType": content_type, "size": content.len(), "fileName": file_name},
            });
            Ok(reference.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("textract-folder-store-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn a_created_document_is_stored_under_its_hash_and_read_back() {
        let dir = folder("create");
        let store = FolderStore { dir: dir.clone() };
        let content = br#"{"blocks":[]}"#.to_vec();
        let reference = block_on(store.create(content.clone(), "application/json", "textract-result-1.json")).unwrap();
        let hash = textract_connector::platform::documents::sha256_hex(&content);
        assert_eq!(
            reference,
            format!(
                r#"{{"camunda.document.type":"camunda","storeId":"local","documentId":"{hash}","contentHash":"{hash}","metadata":{{"contentType":"application/json","size":13,"fileName":"textract-result-1.json"}}}}"#
            )
        );
        assert_eq!(std::fs::read(dir.join(&hash)).unwrap(), content);
        assert_eq!(block_on(store.read(Some("local"), &hash, Some(&hash))).unwrap(), content);
        // The same bytes again: the same document, and nothing left beside it.
        let again = block_on(store.create(content.clone(), "application/json", "other.json")).unwrap();
        assert!(again.contains(&format!(r#""documentId":"{hash}""#)) && again.contains("other.json"));
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from(&hash)]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_folder_that_cannot_be_written_is_unavailable() {
        let store = FolderStore {
            dir: std::env::temp_dir().join(format!("textract-folder-store-missing-{}", std::process::id())),
        };
        let e = block_on(store.create(b"{}".to_vec(), "application/json", "r.json")).unwrap_err();
        assert_eq!(
            e,
            CreateError::Unavailable("the document folder cannot be written: entity not found".into())
        );
    }
}
